import type { z } from 'zod';
import type { HostTarget, KubernetesResource, KubernetesTarget, TargetKind } from '../../plan/targets';
import type { CommandResult, Executor, RunOptions } from '../executors/executor';
import type { CommandStep } from '../executors/hostCommand';
import type { KubernetesClient } from '../kubernetes/client';
import type { KubernetesContextPolicy } from '../kubernetes/clusters';
import type { ExecInPod } from '../kubernetes/podExec';

/** What every fault step has, whatever it acts on: its names and its activity's heartbeat and sleep. */
export interface StepEnvironment {
  /** The plan's name for this fault: with the tag, it names what the fault leaves behind. */
  readonly fault: string;
  /** The run's short tag: everything a fault leaves carries it, so it can be found by the tag. */
  readonly tag: string;
  heartbeat(details?: unknown): void;
  /** Sleeps, but rejects as soon as the activity is cancelled. */
  sleep(ms: number): Promise<void>;
}

/** Where a host fault step runs: its host's executor and target. A host kind never sees a Kubernetes client. */
export interface FaultEnvironment extends StepEnvironment {
  readonly exec: Executor;
  readonly target: HostTarget;
  /** Processes a fault must never touch (the worker itself). */
  readonly protectedPids: readonly number[];
}

/** How long to wait for a condition, and how often to look. */
export interface PollTiming {
  readonly timeoutMs: number;
  readonly intervalMs: number;
}

/** What a fault module is handed for one target (built by `faultContext` in `context.ts`). */
export interface FaultContext extends FaultEnvironment {
  /**
   * Runs a command and throws, naming it (or `what`), the host and its output, unless it exits 0. For a
   * non-zero exit a kind must interpret itself, use `exec.run`.
   */
  run(argv: readonly string[], options?: RunOptions & { readonly what?: string }): Promise<CommandResult>;
  /**
   * Reads until `done` holds or the time is up, heartbeating between reads (cancellable); returns the last
   * reading either way, for the caller to judge.
   */
  pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, timing: PollTiming): Promise<T>;
  /** `<dir>/.gameday-<tag>-<what>-<fault>`: a file of this fault's own on the host, found by its tag. */
  artifactPath(what: string, dir?: string): string;
}

/**
 * What a Kubernetes fault step is handed: the client of its target's context and the object (or namespace).
 * A Kubernetes kind never sees an executor or SSH details.
 */
export interface KubernetesFaultContext extends StepEnvironment {
  readonly kube: KubernetesClient;
  readonly target: KubernetesTarget;
  /**
   * What the worker allows in the target's context: a kind acting on a cluster-wide object (a node) touches
   * namespaced objects (its pods) only in the allowed namespaces.
   */
  readonly policy: KubernetesContextPolicy;
  pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, timing: PollTiming): Promise<T>;
  /** The plan's observation window: what a fault that ends by itself (a Chaos Mesh duration) must outlast. */
  readonly windowMs: number | undefined;
  /** Runs argv in a pod's container through the exec subresource (no shell); a non-zero exit is an answer. */
  readonly execInPod: ExecInPod;
  /**
   * Says something in the step's detail (the report): what it found and let be. Kept across the attempts of
   * the step (sent with its heartbeats), and added to the detail of its verify or rollback.
   */
  note(text: string): void;
  /** Like `note`, for what a person would otherwise have done by hand (a finalizer removed, a pod restarted). */
  intervene(text: string): void;
  /** The last `checkpoint` of this step: of this attempt, or of an earlier one that died or failed. */
  readonly resumed: unknown;
  /** Saves what a later attempt of this step needs to finish the work (sent with its heartbeats). */
  checkpoint(progress: unknown): void;
}

/** The fault's real state on the target, read back from the system. */
export interface FaultState {
  /**
   * Whether any part of the fault is in place. Rollback is verified against this, so a half-removed fault
   * counts as active; inject fails loudly on any step it cannot complete.
   */
  readonly active: boolean;
  /**
   * Only for one-shot disturbances (a restart), of which nothing stays in place: `active` then says the
   * disturbance happened, and this says the target is whole again. Rollback is verified by `recovered`
   * when a kind gives it, by `active` being false otherwise.
   */
  readonly recovered?: boolean;
  readonly detail: string;
}

/** What a fault's host-side revert may use: it is computed without I/O, before the fault is injected. */
export interface RevertContext {
  readonly target: HostTarget;
  readonly fault: string;
  readonly tag: string;
}

/** A command of a host-side revert; the dead-man switch runs each one whatever the others do. */
export type RevertCommand = readonly string[];

/** What a kind may know of the plan around its fault, at validation. */
export interface PlanFacts {
  readonly windowMs: number;
  /** The namespace of the fault's Kubernetes target group, when it has one. */
  readonly namespace?: string;
}

/** A problem with a fault's params in the light of the whole plan; `path` is inside `params`. */
export interface PlanProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/**
 * A kind's inject, state read and rollback as one host command each, given as data (pure, like `hostRevert`):
 * the worker then sends arm + inject + read in one round trip and rollback + read in another (issue 14). A kind
 * that has them builds its inject, verify and rollback from them (`commandSteps`), so both paths run the same
 * commands and read their answers the same way.
 */
export interface CommandSteps<Params, Saved> {
  /** Its judge throws unless the change is in place (or the plan is at fault: `FaultUserError`). */
  inject(params: Params, saved: Saved, ctx: RevertContext): CommandStep<void>;
  /** Changes nothing; its judge throws when the host could not tell (no evidence is never a pass). */
  read(params: Params, saved: Saved, ctx: RevertContext): CommandStep<FaultState>;
  /** Its judge throws unless the fault is gone or was never there; the read that follows verifies it. */
  rollback(params: Params, saved: Saved, ctx: RevertContext): CommandStep<void>;
}

export interface FaultDescription {
  readonly inject: string;
  readonly rollback: string;
}

/**
 * One fault kind, in one file: its parameters, plain words, and four idempotent steps.
 * `prepare` reads (and returns) what `rollback` must restore, before anything changes; the workflow records
 * it as the rollback before `inject` runs. A rollback of something already gone succeeds.
 */
export interface FaultKind<Params, Saved> {
  readonly kind: string;
  /** What the fault does, in plain words, for `gameday schema`, docs and dry runs. */
  readonly description: string;
  readonly targetKinds: readonly TargetKind[];
  /**
   * The kind acts on one network namespace (tc, iptables): a plan may aim it at a container on the host
   * (`container:` beside `kind`), and it then runs inside that container's network namespace.
   */
  readonly networkNamespace?: boolean;
  readonly params: z.ZodType<Params>;
  /** What the kind needs of the rest of the plan (e.g. to last the window), checked at validation. */
  planProblems?(params: Params, plan: PlanFacts): readonly PlanProblem[];
  describe(params: Params, target: HostTarget): FaultDescription;
  prepare(ctx: FaultContext, params: Params): Promise<Saved>;
  inject(ctx: FaultContext, params: Params, saved: Saved): Promise<void>;
  verify(ctx: FaultContext, params: Params, saved: Saved): Promise<FaultState>;
  rollback(ctx: FaultContext, params: Params, saved: Saved): Promise<void>;
  /** Given when inject, verify and rollback are one host command each: they then share round trips. */
  readonly commands?: CommandSteps<Params, Saved>;
  /**
   * The commands that undo the fault on the host with no orchestrator: the host's dead-man switch runs them
   * when its lease expires (the worker was cut off or died for good). Each must succeed, or do no harm, when
   * the fault is already gone. Pure: built from params and saved alone.
   */
  hostRevert(params: Params, saved: Saved, ctx: RevertContext): readonly RevertCommand[];
}

/**
 * One fault kind acting on Kubernetes objects, in one file, with the same four idempotent steps and the same
 * rule (prepare reads what rollback restores; rollback of something gone succeeds). Its host-side dead-man
 * switch is Kubernetes' own, where there is one (a Chaos Mesh experiment's duration).
 */
export interface KubernetesFaultKind<Params, Saved> {
  readonly kind: string;
  readonly description: string;
  readonly targetKinds: readonly ['kubernetes'];
  /** What one step acts on: each selected object of these resources, or its group's namespace (once). */
  readonly kubernetes:
    | { readonly scope: 'objects'; readonly resources: readonly KubernetesResource[] }
    | { readonly scope: 'namespace' };
  readonly params: z.ZodType<Params>;
  planProblems?(params: Params, plan: PlanFacts): readonly PlanProblem[];
  describe(params: Params, target: KubernetesTarget): FaultDescription;
  prepare(ctx: KubernetesFaultContext, params: Params): Promise<Saved>;
  inject(ctx: KubernetesFaultContext, params: Params, saved: Saved): Promise<void>;
  verify(ctx: KubernetesFaultContext, params: Params, saved: Saved): Promise<FaultState>;
  rollback(ctx: KubernetesFaultContext, params: Params, saved: Saved): Promise<void>;
}

/** Any registered kind: on hosts, or on Kubernetes objects. */
export type AnyFaultKind = FaultKind<unknown, unknown> | KubernetesFaultKind<unknown, unknown>;

export const isKubernetesKind = (kind: AnyFaultKind): kind is KubernetesFaultKind<unknown, unknown> =>
  'kubernetes' in kind;

/** A problem the plan's author must fix (no such process, bad path): retrying will not help. */
export class FaultUserError extends Error {
  override readonly name = 'FaultUserError';
}
