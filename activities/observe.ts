import type { Context } from '@temporalio/activity';
import type { ProbeSpec } from '../plan/schema';
import {
  maxSamplePoints,
  type CheckResult,
  type GameDayCheckContext,
  type ObserveInput,
  type ObserveResult,
  type RecoveryResult,
  type SamplePoint,
  type SampleState,
  type SampleSummary,
} from '../workflows/definitions';
import { evaluate, probeEnvironment, valueBoundOf } from './checks/probe';
import type { ActivityDeps } from './deps';
import { heartbeat, withHeartbeats } from './heartbeat';

function stateOf(result: CheckResult): SampleState {
  if (result.couldNotAsk) return 'could-not-ask';
  if (result.unknown) return 'unknown';
  return result.holds ? 'held' : 'deviated';
}

/**
 * Every `stride`-th sample is kept, the stride doubling whenever that would exceed `maxSamplePoints` (one place
 * is left for the newest sample, kept whatever its index until the next one arrives).
 */
function strideFor(index: number): number {
  let stride = 1;
  while (Math.floor(index / stride) + 1 > maxSamplePoints - 1) stride *= 2;
  return stride;
}

/** The points so far plus the sample with this index (0-based): evenly spaced, the newest always there. */
export function withPoint(points: readonly SamplePoint[], point: SamplePoint, index: number): SamplePoint[] {
  let kept = [...points];
  if (index > 0) {
    const previous = index - 1;
    // The previous sample was kept only for being the newest.
    if (previous % strideFor(previous) !== 0) kept.pop();
    // A doubled stride keeps every other point of the old one: 0, 2s, 4s…
    if (strideFor(index) !== strideFor(previous)) kept = kept.filter((_, i) => i % 2 === 0);
  }
  kept.push(point);
  return kept;
}

function summarise(previous: SampleSummary | undefined, spec: ProbeSpec, result: CheckResult): SampleSummary {
  const bound = valueBoundOf(spec);
  const base: SampleSummary = previous ?? {
    name: spec.name,
    samples: 0,
    held: 0,
    ...(bound ? { bound } : {}),
  };
  const value = result.value;
  const point: SamplePoint = {
    atMs: Date.parse(result.at),
    ...(value === undefined ? {} : { value }),
    state: stateOf(result),
  };
  return {
    ...base,
    samples: base.samples + 1,
    held: base.held + (result.holds ? 1 : 0),
    points: withPoint(base.points ?? [], point, base.samples),
    ...(result.unknown ? { unknown: (base.unknown ?? 0) + 1 } : {}),
    ...(result.couldNotAsk ? { couldNotAsk: (base.couldNotAsk ?? 0) + 1 } : {}),
    last: result,
    ...(base.firstDeviation === undefined && !result.holds ? { firstDeviation: result } : {}),
    ...(value === undefined
      ? {}
      : { min: Math.min(base.min ?? value, value), max: Math.max(base.max ?? value, value) }),
  };
}

/**
 * What the observation activity heartbeats: its summaries so far. A retry resumes from them; `gameday run` and
 * `status` show them mid-window (client/progress.ts).
 */
export interface ObserveProgress {
  checks: Record<string, SampleSummary>;
  guardrails: Record<string, SampleSummary>;
  /** Consecutive failing samples per guardrail. */
  streaks: Record<string, number>;
}

/** Sleeps until the next sample, or less when the window ends first; rejects when cancelled. */
async function pause(ctx: Context, until: number): Promise<void> {
  const wait = until - Date.now();
  if (wait > 0) await ctx.sleep(wait);
}

/**
 * Samples `during` checks and guardrails for the whole observation window inside one activity, returning a
 * summary: a one-hour window costs a handful of history events, not one per sample. A worker that dies is
 * replaced by a retry that resumes from the last heartbeat towards the same deadline.
 */
export async function observe(deps: ActivityDeps, input: ObserveInput): Promise<ObserveResult> {
  let progress: ObserveProgress = { checks: {}, guardrails: {}, streaks: {} };
  return withHeartbeats(
    async (ctx) => {
      const resumed = ctx.info.heartbeatDetails as ObserveProgress | undefined;
      if (resumed) progress = resumed;
      // The window started when this activity was first scheduled (a retry keeps that time).
      const probeCtx = probeEnvironment(deps, {
        signal: ctx.cancellationSignal,
        window: { startMs: ctx.info.scheduledTimestampMs },
        ...(input.gameDay ? { gameDay: input.gameDay } : {}),
      });
      let nextSample = Date.now();
      while (Date.now() < input.deadline) {
        // Both sampled together, but a breach is acted on as soon as the guardrails are in: a slow `during`
        // probe (e.g. an HTTP timeout against a paused service) must not delay the rollback.
        const sampling = Promise.all(input.checks.map((check) => evaluate(probeCtx, check)));
        sampling.catch(() => undefined);
        const guardrails = await Promise.all(
          input.guardrails.map((guardrail) => evaluate(probeCtx, guardrail)),
        );
        let breach: CheckResult | undefined;
        input.guardrails.forEach((guardrail, i) => {
          const result = guardrails[i] as CheckResult;
          progress.guardrails[result.name] = summarise(progress.guardrails[result.name], guardrail, result);
          progress.streaks[result.name] = result.holds ? 0 : (progress.streaks[result.name] ?? 0) + 1;
          if ((progress.streaks[result.name] ?? 0) >= guardrail.breachAfter) breach ??= result;
        });
        if (breach) {
          heartbeat(ctx, progress);
          deps.log.warn({ guardrail: breach.name, detail: breach.detail }, 'guardrail breached');
          return { ...finalSummaries(input, progress), breach };
        }
        (await sampling).forEach((result, i) => {
          const check = input.checks[i] as ProbeSpec;
          progress.checks[result.name] = summarise(progress.checks[result.name], check, result);
        });
        heartbeat(ctx, progress);
        nextSample += input.intervalMs;
        await pause(ctx, Math.min(nextSample, input.deadline));
      }
      return finalSummaries(input, progress);
    },
    () => progress,
  );
}

function finalSummaries(input: ObserveInput, progress: ObserveProgress): ObserveResult {
  const pick = (specs: readonly ProbeSpec[], found: Record<string, SampleSummary>) =>
    specs.map((spec) => {
      const bound = valueBoundOf(spec);
      return found[spec.name] ?? { name: spec.name, samples: 0, held: 0, ...(bound ? { bound } : {}) };
    });
  return {
    checks: pick(input.checks, progress.checks),
    guardrails: pick(input.guardrails, progress.guardrails),
  };
}

export interface RecoveryInput {
  readonly checks: readonly ProbeSpec[];
  readonly withinMs: number;
  readonly intervalMs: number;
  readonly gameDay?: GameDayCheckContext;
  /** Recovery actions that ran before this wait (reported with the result). */
  readonly afterActions?: number;
}

/** Polls the `after` checks until all hold together, or the recovery budget runs out. */
export async function awaitRecovery(deps: ActivityDeps, input: RecoveryInput): Promise<RecoveryResult> {
  let startedAt = Date.now();
  return withHeartbeats(
    async (ctx) => {
      startedAt = (ctx.info.heartbeatDetails as number | undefined) ?? startedAt;
      const probeCtx = probeEnvironment(deps, {
        signal: ctx.cancellationSignal,
        ...(input.gameDay ? { gameDay: input.gameDay } : {}),
      });
      const actions = input.afterActions ? { afterActions: input.afterActions } : {};
      for (;;) {
        const results = await Promise.all(input.checks.map((check) => evaluate(probeCtx, check)));
        const elapsed = Date.now() - startedAt;
        if (results.every((result) => result.holds))
          return { recovered: true, afterMs: elapsed, results, ...actions };
        if (elapsed >= input.withinMs) return { recovered: false, afterMs: elapsed, results, ...actions };
        await pause(ctx, Math.min(Date.now() + input.intervalMs, startedAt + input.withinMs));
      }
    },
    () => startedAt,
  );
}
