// Shared between the janitor workflow, its activities and the CLI. Pure: types and names only.
import type { HostTarget } from '../plan/targets';
import type { SavedFaultInput } from './definitions';

export const janitorWorkflowType = 'janitor';

/** What a sweep looks at: every host of the worker, or only some (by host name or target group). */
export interface JanitorScope {
  /** Host names (or a recorded step's target group); absent: everything the worker can reach. */
  readonly targets?: readonly string[];
  /** Also what runs of this plan recorded, wherever it was (a scheduled run of the plan asks so). */
  readonly plan?: string;
  /** Only what runs with these tags left (one run's mess, and nobody else's files). */
  readonly tags?: readonly string[];
}

export interface JanitorInput extends JanitorScope {
  /** False (the default) lists only; true removes each finding through its fault kind's rollback. */
  readonly apply?: boolean;
  /** Webhooks of the worker's configuration told when the sweep finds leftovers (event janitor-findings). */
  readonly notify?: readonly string[];
}

/** The run that left a finding, as Temporal's visibility knows it. */
export interface LeftoverRun {
  readonly workflowId: string;
  readonly runId: string;
  /** Lower-case execution status: terminated, timed-out, failed, canceled, completed. */
  readonly status: string;
  readonly plan?: string;
  readonly closedAt?: string;
}

/**
 * How a finding is removed: never by ad-hoc commands.
 * - `rollback`: the run's history records the step and what it saved; the fault kind's own rollback (the
 *   rollbackFault activity, verified, dead-man switch disarmed) removes it.
 * - `host-revert`: only a dead-man switch is left and no history says what made it; the switch is fired as its
 *   watcher would fire it (the lease claimed, its recorded revert run), then its files are removed.
 * - `fault-revert`: a fault in place that only its name on the host explains (`HostFaultLeftover`).
 * - `cluster-revert`: an object of a Kubernetes context of the worker that only gameday's label or
 *   annotations on it explain (`ClusterLeftover`).
 * - `none`: files no history explains; listed for a person, never touched.
 */
export type LeftoverRemoval =
  | { readonly kind: 'rollback'; readonly fault: SavedFaultInput }
  | { readonly kind: 'host-revert'; readonly target: HostTarget; readonly base: string }
  | { readonly kind: 'fault-revert'; readonly target: HostTarget; readonly leftover: HostFaultLeftover }
  | { readonly kind: 'cluster-revert'; readonly context: string; readonly leftover: ClusterLeftover }
  | { readonly kind: 'none'; readonly why: string };

/**
 * A fault found in place on a host by what gameday names it with, when no history records the step that made
 * it (its run's history is gone, or in another namespace) and no live dead-man switch still watches it. Each is
 * removed by its fault kind's own rollback helper, given what the name says:
 * - an iptables chain `GD-<tag>-<fault hash>-<I|O>` and its jump, commented `gameday:<tag>:<fault>`
 *   (network-partition, network-loss): removed as the kind's rollback removes it;
 * - a root qdisc with gameday's fixed handle `7a6d:` (the tc kinds): deleted, the kernel's default comes back;
 * - a stress-ng started with `--temp-path …/.gameday-<tag>-stress-<hash>` (stress): stopped with its workers.
 */
export type HostFaultLeftover =
  | {
      readonly type: 'iptables-chain';
      readonly tag: string;
      readonly fault: string;
      readonly hook: 'INPUT' | 'OUTPUT';
    }
  | { readonly type: 'tc-root'; readonly iface: string }
  | { readonly type: 'stress'; readonly tag: string; readonly dir: string; readonly argv: readonly string[] };

/**
 * What a Kubernetes fault kind left in a cluster, found by the label or annotations gameday puts on it, when no
 * history records the step that made it. Each is removed by its kind's own rollback helper:
 * - a Chaos Mesh experiment labelled `gameday.dev/run=<tag>` (chaos-mesh): deleted and waited on until gone
 *   (`removeExperiment`, its finalizer removed if Chaos Mesh cannot let go);
 * - a node annotated `gameday.dev/cordoned-by=<tag>` (node-cordon, node-drain): uncordoned, annotations removed
 *   (`uncordon`);
 * - a Deployment or StatefulSet annotated `gameday.dev/run=<tag>` and `gameday.dev/scaled-from=<n>` (scale):
 *   scaled back to n, annotations removed, its replicas waited on until Ready (`scaleBack`).
 * `uid`s make sure a re-created object of the same name is never touched.
 */
export type ClusterLeftover =
  | {
      readonly type: 'chaos-mesh';
      readonly tag: string;
      /** The Chaos Mesh kind (PodChaos, IOChaos, …). */
      readonly kind: string;
      readonly namespace: string;
      readonly name: string;
      /** IOChaos: where leftover `__chaosfs__` directories are looked for after the deletion. */
      readonly volumePath?: string;
    }
  | { readonly type: 'cordon'; readonly tag: string; readonly node: string; readonly uid: string }
  | {
      readonly type: 'scale';
      readonly tag: string;
      readonly resource: 'deployment' | 'statefulset';
      readonly namespace: string;
      readonly name: string;
      readonly uid: string;
      /** The replicas it had before the run (its scaled-from annotation). */
      readonly replicas: number;
    };

/** One thing a finished run left behind on one host (or Kubernetes object). */
export interface JanitorFinding {
  /** Host name (or Kubernetes target name). */
  readonly host: string;
  readonly tag: string;
  /** Plain words: "pause pidfile /run/x.pid on local (SIGSTOP), still in place (pid 42: T)". */
  readonly what: string;
  /** Since when it has been there, as far as can be told (the inject, or the lease's last renewal), ISO. */
  readonly since?: string;
  /** The run that left it, when Temporal still knows it. */
  readonly run?: LeftoverRun;
  /** The files of it on the host (dead-man switch, artifacts). */
  readonly files?: readonly string[];
  /**
   * Only files are left; nothing of the fault is in place (a switch that fired, files no fault explains):
   * listed and removable, but no reason to keep a scheduled game day from starting.
   */
  readonly inert?: true;
  readonly removal: LeftoverRemoval;
}

/** What one removal did. */
export interface JanitorRemoval {
  readonly host: string;
  readonly tag: string;
  readonly what: string;
  /** Set when it removed it: what the rollback or revert said. */
  readonly detail?: string;
  /** Set when it could not: why (the finding stays, and the next sweep lists it again). */
  readonly error?: string;
}

export interface JanitorReport {
  readonly apply: boolean;
  readonly startedAt: string;
  /** What the sweep found before it removed anything. */
  readonly findings: readonly JanitorFinding[];
  readonly removed: readonly JanitorRemoval[];
  readonly failed: readonly JanitorRemoval[];
  /** Findings that need a person (no history says how to remove them). */
  readonly skipped: readonly JanitorFinding[];
  /** With `apply`: what a second look found afterwards (empty when the hosts are clean). */
  readonly remaining: readonly JanitorFinding[];
  /** What became of the sweep's notifications (`notified oncall: janitor-findings`, `notification not sent: …`). */
  readonly notes?: readonly string[];
}
