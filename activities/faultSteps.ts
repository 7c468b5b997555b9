import { ApplicationFailure } from '@temporalio/common';
import type { Context } from '@temporalio/activity';
import type { FaultActivityInput, RollbackResult, SavedFaultInput } from '../workflows/definitions';
import { armDeadMan, disarmDeadMan } from './deadMan';
import type { ActivityDeps } from './deps';
import { faultContext } from './faults/context';
import { FaultUserError, type FaultContext, type FaultState } from './faults/contract';
import { faultKindFor } from './faults/inContainer';
import { heartbeat, withHeartbeats } from './heartbeat';

function contextFor(deps: ActivityDeps, ctx: Context, { step, tag }: FaultActivityInput): FaultContext {
  return faultContext({
    exec: deps.executorFor(step.target),
    target: step.target,
    fault: step.fault,
    tag,
    protectedPids: step.target.kind === 'local' ? deps.protectedPids : [],
    heartbeat: (details) => heartbeat(ctx, details),
    sleep: (ms) => ctx.sleep(ms),
  });
}

/** Names one fault of one run (by the run's tag), so metrics count it once however often activities retry. */
const faultKey = ({ step, tag }: FaultActivityInput): string => `${tag}/${step.id}`;

const secondsSince = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;

/** A mistake in the plan is reported once, clearly, instead of being retried. */
function asUserFailure(error: unknown): unknown {
  if (error instanceof FaultUserError) {
    return ApplicationFailure.create({ type: 'FaultUserError', message: error.message, nonRetryable: true });
  }
  return error;
}

async function step<T>(
  deps: ActivityDeps,
  input: FaultActivityInput,
  body: (ctx: FaultContext) => Promise<T>,
): Promise<T> {
  return withHeartbeats(async (ctx) => {
    try {
      return await body(contextFor(deps, ctx, input));
    } catch (error) {
      throw asUserFailure(error);
    }
  });
}

export function prepareFault(deps: ActivityDeps, input: FaultActivityInput): Promise<unknown> {
  const kind = faultKindFor(input.step);
  return step(deps, input, (ctx) => kind.prepare(ctx, input.step.params));
}

export function injectFault(deps: ActivityDeps, input: SavedFaultInput): Promise<void> {
  const kind = faultKindFor(input.step);
  deps.log.info({ step: input.step.id, tag: input.tag }, input.step.inject);
  return step(deps, input, async (ctx) => {
    const started = process.hrtime.bigint();
    const { deadMan, step: faultStep } = input;
    await armDeadMan(ctx.exec, deadMan, kind.hostRevert(faultStep.params, input.saved, ctx));
    await kind.inject(ctx, faultStep.params, input.saved);
    deps.metrics.faultInjected(faultKey(input), faultStep.kind, secondsSince(started));
  });
}

/** Reads the real state back; throws (and so is retried a few times) while it differs from what is expected. */
export function verifyFault(
  deps: ActivityDeps,
  input: SavedFaultInput & { expectActive: boolean },
): Promise<FaultState> {
  const kind = faultKindFor(input.step);
  return step(deps, input, async (ctx) => {
    const state = await kind.verify(ctx, input.step.params, input.saved);
    if (state.active !== input.expectActive) {
      throw new Error(`${input.step.id} is ${state.active ? 'still active' : 'not active'}: ${state.detail}`);
    }
    return state;
  });
}

/** A one-shot disturbance is rolled back once the target recovered; any other fault once it is gone. */
export const rolledBack = (state: FaultState): boolean => state.recovered ?? !state.active;

/** Rolls back and verifies that the fault is gone; every error is retried, because rollbacks must finish. */
export function rollbackFault(deps: ActivityDeps, input: SavedFaultInput): Promise<RollbackResult> {
  const kind = faultKindFor(input.step);
  return withHeartbeats(async (ctx) => {
    const faultCtx = contextFor(deps, ctx, input);
    const attempt = ctx.info.attempt;
    const started = process.hrtime.bigint();
    const recordAttempt = (result: 'success' | 'failure') =>
      deps.metrics.rollbackAttempted(faultKey(input), input.step.kind, result, secondsSince(started));
    try {
      await kind.rollback(faultCtx, input.step.params, input.saved);
      const state = await kind.verify(faultCtx, input.step.params, input.saved);
      if (!rolledBack(state)) throw new Error(`still active after rollback: ${state.detail}`);
      // Only a verified rollback disarms the switch: until then the host can still revert by itself.
      const disarmed = await disarmDeadMan(faultCtx.exec, input.deadMan);
      deps.log.info({ step: input.step.id, attempt }, input.step.rollback);
      recordAttempt('success');
      return {
        attempt,
        detail: state.detail,
        ...(disarmed.firedLog !== undefined ? { revertedByHost: disarmed.firedLog } : {}),
      };
    } catch (error) {
      recordAttempt('failure');
      deps.log.warn({ step: input.step.id, attempt, err: error }, 'rollback attempt failed');
      throw error instanceof Error ? new Error(`${input.step.rollback}: ${error.message}`) : error;
    }
  });
}
