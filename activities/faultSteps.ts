import { ApplicationFailure } from '@temporalio/common';
import type { Context } from '@temporalio/activity';
import { isHostTarget } from '../plan/targets';
import type {
  DeadManSwitch,
  FaultActivityInput,
  FaultOnTargetsInput,
  InjectedOutcome,
  InjectOnTargetsInput,
  InjectOnTargetsResult,
  PreparedOutcome,
  PrepareOnTargetsResult,
  RollbackInOrderInput,
  RollbackInOrderResult,
  RollbackOutcome,
  RollbackResult,
  SavedFaultInput,
} from '../workflows/definitions';
import { armStep, disarmDeadMan, type Disarmed } from './deadMan';
import { runStep, runStepsInOrder } from './executors/hostCommand';
import type { ActivityDeps } from './deps';
import {
  faultContext,
  kubernetesFaultContext,
  resumedProgress,
  withProgress,
  type StepProgress,
} from './faults/context';
import {
  FaultUserError,
  isKubernetesKind,
  type FaultContext,
  type FaultKind,
  type FaultState,
} from './faults/contract';
import { faultKindFor } from './faults/inContainer';
import { heartbeat, withHeartbeats } from './heartbeat';
import { KubernetesError } from './kubernetes/client';
import { podExec } from './kubernetes/podExec';
import { redact } from './redact';

/** One step's kind bound to its target's context: hosts get an executor, Kubernetes objects a client. */
interface BoundStep {
  /** What the step said and saved so far (Kubernetes kinds), sent with every heartbeat. */
  readonly progress?: StepProgress;
  prepare(): Promise<unknown>;
  /** Arms the host's dead-man switch, then injects (Kubernetes kinds have no switch of their own here). */
  armAndInject(saved: unknown, deadMan: DeadManSwitch): Promise<void>;
  /** The same, then reads the fault's state back. */
  injectAndVerify(saved: unknown, deadMan: DeadManSwitch): Promise<FaultState>;
  verify(saved: unknown): Promise<FaultState>;
  /** Rolls back, then reads the fault's state back (the caller judges it). */
  rollbackAndVerify(saved: unknown): Promise<FaultState>;
  disarm(deadMan: DeadManSwitch): Promise<Disarmed>;
}

/**
 * `beat` replaces the step's own heartbeat where one activity serves several steps: their details are the
 * activity's, not one step's.
 */
function bind(
  deps: ActivityDeps,
  ctx: Context,
  { step, tag }: FaultActivityInput,
  beat?: () => void,
): BoundStep {
  const kind = faultKindFor(step);
  const { params, target } = step;
  const env = {
    fault: step.fault,
    tag,
    heartbeat: beat ?? ((details?: unknown) => heartbeat(ctx, details)),
    sleep: (ms: number) => ctx.sleep(ms),
  };
  if (isKubernetesKind(kind)) {
    if (target.kind !== 'kubernetes')
      throw new Error(`${step.id}: ${kind.kind} acts on Kubernetes objects only`);
    const clusters = deps.kubernetes;
    if (clusters === undefined) throw new Error(`${step.id}: this worker has no Kubernetes contexts`);
    const policy = clusters.policy(target.context);
    if (policy === undefined)
      throw new Error(`${step.id}: this worker has no Kubernetes context "${target.context}"`);
    const kube = clusters.client(target.context);
    const progress = resumedProgress(ctx.info.heartbeatDetails);
    const kctx = kubernetesFaultContext({
      ...env,
      // The step's progress goes with every heartbeat: each one replaces the details of the one before.
      heartbeat: () => heartbeat(ctx, progress),
      kube,
      target,
      policy,
      windowMs: step.windowMs,
      execInPod: podExec(kube),
      progress,
    });
    return {
      progress,
      prepare: () => kind.prepare(kctx, params),
      armAndInject: (saved) => kind.inject(kctx, params, saved),
      async injectAndVerify(saved) {
        await kind.inject(kctx, params, saved);
        return kind.verify(kctx, params, saved);
      },
      verify: (saved) => kind.verify(kctx, params, saved),
      async rollbackAndVerify(saved) {
        await kind.rollback(kctx, params, saved);
        return kind.verify(kctx, params, saved);
      },
      disarm: () => Promise.resolve({}),
    };
  }
  if (!isHostTarget(target)) throw new Error(`${step.id}: ${kind.kind} acts on hosts only`);
  const hctx = faultContext({
    ...env,
    exec: deps.executorFor(target),
    target,
    protectedPids: target.kind === 'local' ? deps.protectedPids : [],
  });
  return hostSteps(kind, hctx, params);
}

/**
 * A host kind's steps on one target. A kind that gives its commands as data (`commands`) gets the switch armed,
 * the fault injected and its state read in one round trip, and the rollback and its read in another (issue
 * 14); any other runs them one after another. The disarm stays a round trip of its own, after a verified read.
 */
export function hostSteps(
  kind: FaultKind<unknown, unknown>,
  ctx: FaultContext,
  params: unknown,
): Omit<BoundStep, 'progress'> {
  const { exec } = ctx;
  const arm = (saved: unknown, deadMan: DeadManSwitch) => ({
    ...armStep(deadMan, kind.hostRevert(params, saved, ctx), exec.host),
    // Nothing is injected on a host whose switch could not be armed.
    gate: true,
  });
  const { commands } = kind;
  if (commands === undefined) {
    const armAndInject = async (saved: unknown, deadMan: DeadManSwitch) => {
      await runStep(exec, arm(saved, deadMan));
      await kind.inject(ctx, params, saved);
    };
    return {
      prepare: () => kind.prepare(ctx, params),
      armAndInject,
      async injectAndVerify(saved, deadMan) {
        await armAndInject(saved, deadMan);
        return kind.verify(ctx, params, saved);
      },
      verify: (saved) => kind.verify(ctx, params, saved),
      async rollbackAndVerify(saved) {
        await kind.rollback(ctx, params, saved);
        return kind.verify(ctx, params, saved);
      },
      disarm: (deadMan) => disarmDeadMan(exec, deadMan),
    };
  }
  return {
    prepare: () => kind.prepare(ctx, params),
    armAndInject: (saved, deadMan) =>
      runStepsInOrder(exec, [arm(saved, deadMan)], commands.inject(params, saved, ctx)),
    injectAndVerify: (saved, deadMan) =>
      runStepsInOrder(
        exec,
        [arm(saved, deadMan), commands.inject(params, saved, ctx)],
        commands.read(params, saved, ctx),
      ),
    verify: (saved) => runStep(exec, commands.read(params, saved, ctx)),
    rollbackAndVerify: (saved) =>
      runStepsInOrder(exec, [commands.rollback(params, saved, ctx)], commands.read(params, saved, ctx)),
    disarm: (deadMan) => disarmDeadMan(exec, deadMan),
  };
}

/** Names one fault of one run (by the run's tag), so metrics count it once however often activities retry. */
const faultKey = ({ step, tag }: FaultActivityInput): string => `${tag}/${step.id}`;

const secondsSince = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;

/** A mistake in the plan (or a permission the worker lacks) is reported once, clearly, instead of retried. */
function asUserFailure(error: unknown): unknown {
  if (error instanceof FaultUserError || (error instanceof KubernetesError && error.refused)) {
    return ApplicationFailure.create({ type: 'FaultUserError', message: error.message, nonRetryable: true });
  }
  return error;
}

async function step<T>(
  deps: ActivityDeps,
  input: FaultActivityInput,
  body: (bound: BoundStep) => Promise<T>,
): Promise<T> {
  let bound: BoundStep | undefined;
  return withHeartbeats(
    async (ctx) => {
      try {
        bound = bind(deps, ctx, input);
        return await body(bound);
      } catch (error) {
        throw asUserFailure(error);
      }
    },
    () => bound?.progress,
  );
}

/** A step's detail, with what a Kubernetes kind said on the way (its interventions and notes). */
const detailOf = (bound: BoundStep, state: FaultState): string =>
  bound.progress === undefined ? state.detail : withProgress(state.detail, bound.progress);

export function prepareFault(deps: ActivityDeps, input: FaultActivityInput): Promise<unknown> {
  return step(deps, input, (bound) => bound.prepare());
}

export function injectFault(deps: ActivityDeps, input: SavedFaultInput): Promise<void> {
  deps.log.info({ step: input.step.id, tag: input.tag }, input.step.inject);
  return step(deps, input, async (bound) => {
    const started = process.hrtime.bigint();
    await bound.armAndInject(input.saved, input.deadMan);
    deps.metrics.faultInjected(faultKey(input), input.step.kind, secondsSince(started));
  });
}

/** A target's single try inside an activity serving several, as the one line handed back to the workflow. */
const tryFailed = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Host kinds only: a Kubernetes kind keeps its progress in the heartbeats of an activity of its own. */
function onHost(input: FaultActivityInput): void {
  if (!isHostTarget(input.step.target))
    throw new Error(`${input.step.id} acts on Kubernetes: not served together`);
}

/**
 * The prepare of every target of one host fault in one activity: one dispatch instead of one per target, all
 * targets at once. Each is tried once; a failure is handed back for the workflow to give that target its own
 * retried `prepareFault`.
 */
export function prepareFaultOnTargets(
  deps: ActivityDeps,
  { steps }: FaultOnTargetsInput,
): Promise<PrepareOnTargetsResult> {
  return withHeartbeats(async (ctx) => {
    const outcomes = await Promise.all(
      steps.map(async (input): Promise<PreparedOutcome> => {
        try {
          onHost(input);
          return { prepared: true, saved: await bind(deps, ctx, input, () => undefined).prepare() };
        } catch (error) {
          // This result bypasses the redacting interceptor (its saved states must stay as they are).
          return { prepared: false, error: redact(tryFailed(error)) };
        }
      }),
    );
    return { outcomes };
  });
}

/** What an earlier attempt of an activity serving several steps finished, by step id, from its heartbeats. */
function doneEarlier<T extends object>(
  heartbeatDetails: unknown,
  done: (outcome: T) => boolean,
): Map<string, T> {
  const earlier = new Map<string, T>();
  if (typeof heartbeatDetails !== 'object' || heartbeatDetails === null) return earlier;
  for (const [id, outcome] of Object.entries(heartbeatDetails as Record<string, T>)) {
    if (typeof outcome === 'object' && outcome !== null && done(outcome)) earlier.set(id, outcome);
  }
  return earlier;
}

/**
 * Arms, injects and verifies one host fault on every target at once, in one activity: the fault starts on all
 * of them together instead of trickling in one dispatch at a time. Each target is tried once; a failure is
 * handed back for the workflow to retry with that target's own `injectFault` and `verifyFault`. What is in
 * place rides in the heartbeats, so a retry after a lost worker does not touch those targets again.
 */
export function injectFaultOnTargets(
  deps: ActivityDeps,
  { steps }: InjectOnTargetsInput,
): Promise<InjectOnTargetsResult> {
  let done = new Map<string, InjectedOutcome>();
  const details = () => Object.fromEntries(done);
  return withHeartbeats(async (ctx) => {
    done = doneEarlier<InjectedOutcome>(ctx.info.heartbeatDetails, (o) => o.injected);
    const inject = async (input: SavedFaultInput): Promise<InjectedOutcome> => {
      const earlier = done.get(input.step.id);
      if (earlier !== undefined) return earlier;
      try {
        onHost(input);
        deps.log.info({ step: input.step.id, tag: input.tag }, input.step.inject);
        const bound = bind(deps, ctx, input, () => heartbeat(ctx, details()));
        const started = process.hrtime.bigint();
        const state = await bound.injectAndVerify(input.saved, input.deadMan);
        deps.metrics.faultInjected(faultKey(input), input.step.kind, secondsSince(started));
        if (!state.active) throw new Error(`${input.step.id} is not active: ${state.detail}`);
        const outcome: InjectedOutcome = {
          injected: true,
          detail: state.detail,
          at: new Date().toISOString(),
        };
        done.set(input.step.id, outcome);
        return outcome;
      } catch (error) {
        return { injected: false, error: tryFailed(error) };
      }
    };
    return { outcomes: await Promise.all(steps.map(inject)) };
  }, details);
}

/** Reads the real state back; throws (and so is retried a few times) while it differs from what is expected. */
export function verifyFault(
  deps: ActivityDeps,
  input: SavedFaultInput & { expectActive: boolean },
): Promise<FaultState> {
  return step(deps, input, async (bound) => {
    const state = await bound.verify(input.saved);
    if (state.active !== input.expectActive) {
      throw new Error(`${input.step.id} is ${state.active ? 'still active' : 'not active'}: ${state.detail}`);
    }
    return { ...state, detail: detailOf(bound, state) };
  });
}

/** A one-shot disturbance is rolled back once the target recovered; any other fault once it is gone. */
export const rolledBack = (state: FaultState): boolean => state.recovered ?? !state.active;

/** One try at one rollback: undo, verify the fault is gone, then disarm the host's switch. */
async function rollBackOnce(
  deps: ActivityDeps,
  bound: BoundStep,
  input: SavedFaultInput,
  attempt: number,
): Promise<RollbackResult> {
  const started = process.hrtime.bigint();
  const recordAttempt = (result: 'success' | 'failure') =>
    deps.metrics.rollbackAttempted(faultKey(input), input.step.kind, result, secondsSince(started));
  try {
    const state = await bound.rollbackAndVerify(input.saved);
    if (!rolledBack(state)) throw new Error(`still active after rollback: ${state.detail}`);
    // Only a verified rollback disarms the switch: until then the host can still revert by itself.
    const disarmed = await bound.disarm(input.deadMan);
    deps.log.info({ step: input.step.id, attempt }, input.step.rollback);
    recordAttempt('success');
    return {
      attempt,
      detail: detailOf(bound, state),
      ...(disarmed.firedLog !== undefined ? { revertedByHost: disarmed.firedLog } : {}),
    };
  } catch (error) {
    recordAttempt('failure');
    deps.log.warn({ step: input.step.id, attempt, err: error }, 'rollback attempt failed');
    throw error instanceof Error ? new Error(`${input.step.rollback}: ${error.message}`) : error;
  }
}

/** Rolls back and verifies that the fault is gone; every error is retried, because rollbacks must finish. */
export function rollbackFault(deps: ActivityDeps, input: SavedFaultInput): Promise<RollbackResult> {
  let progress: StepProgress | undefined;
  return withHeartbeats(
    async (ctx) => {
      const bound = bind(deps, ctx, input);
      progress = bound.progress;
      return rollBackOnce(deps, bound, input, ctx.info.attempt);
    },
    () => progress,
  );
}

/**
 * Host rollbacks in one activity, so an abort costs one dispatch instead of one per fault: the groups in order,
 * the targets of a group together, each rollback tried once. A failure is returned, not retried: the workflow
 * hands it to its own retried `rollbackFault` before the next group, so the order stays last in first out. What
 * is done rides in the heartbeats: a retry after a lost worker skips it.
 */
export function rollBackFaultsInOrder(
  deps: ActivityDeps,
  { groups }: RollbackInOrderInput,
): Promise<RollbackInOrderResult> {
  let done = new Map<string, RollbackOutcome>();
  const details = () => Object.fromEntries(done);
  return withHeartbeats(async (ctx) => {
    done = doneEarlier<RollbackOutcome>(ctx.info.heartbeatDetails, (o) => o.rolledBack);
    const attempt = ctx.info.attempt;
    const rollBack = async (input: SavedFaultInput): Promise<RollbackOutcome> => {
      const earlier = done.get(input.step.id);
      if (earlier !== undefined) return earlier;
      let outcome: RollbackOutcome;
      try {
        if (!isHostTarget(input.step.target)) throw new Error('acts on Kubernetes: rolled back on its own');
        const result = await rollBackOnce(
          deps,
          bind(deps, ctx, input, () => heartbeat(ctx, details())),
          input,
          attempt,
        );
        outcome = {
          rolledBack: true,
          detail: result.detail,
          ...(result.revertedByHost !== undefined ? { revertedByHost: result.revertedByHost } : {}),
          at: new Date().toISOString(),
        };
        done.set(input.step.id, outcome);
      } catch (error) {
        outcome = { rolledBack: false, error: error instanceof Error ? error.message : String(error) };
      }
      return outcome;
    };
    const handled: RollbackOutcome[][] = [];
    for (const group of groups) {
      const outcomes = await Promise.all(group.map(rollBack));
      handled.push(outcomes);
      if (outcomes.some((outcome) => !outcome.rolledBack)) break;
    }
    return { attempt, groups: handled };
  }, details);
}

/**
 * Reads a recorded fault's real state as its rollback's verification would, changing nothing: the janitor asks
 * whether a step a closed run never rolled back is still in place.
 */
export function inspectFault(deps: ActivityDeps, input: SavedFaultInput): Promise<FaultState> {
  return step(deps, input, async (bound) => {
    const state = await bound.verify(input.saved);
    return { ...state, detail: detailOf(bound, state) };
  });
}
