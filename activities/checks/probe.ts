import type { ProbeSpec } from '../../plan/schema';
import type {
  CheckBaseline,
  CheckResult,
  GameDayCheckContext,
  ValueBound,
} from '../../workflows/definitions';
import type { ActivityDeps } from '../deps';
import type { Executor } from '../executors/executor';
import type { KubernetesClusters } from '../kubernetes/clusters';
import type { GameDayMetrics } from '../metrics';
import {
  couldNotAsk,
  CouldNotAsk,
  type BaselineContext,
  type CheckContext,
  type CheckKind,
  type ProbeResult,
} from './contract';
import type { PrometheusEndpoints } from './prometheusApi';
import { storedOutput } from './outputExcerpt';
import { checkKeys, checkKinds } from './registry';

function probeOf(check: ProbeSpec): { kind: CheckKind<unknown>; spec: unknown } {
  for (const key of checkKeys) {
    const spec = check[key];
    if (spec !== undefined) return { kind: checkKinds[key], spec };
  }
  throw new Error(`check ${check.name} has no probe`);
}

export function describeProbe(check: ProbeSpec): string {
  const { kind, spec } = probeOf(check);
  const words = kind.describe(spec);
  return check.expect === 'fail' ? `expected to fail: ${words}` : words;
}

/** The numbers a check's value must stay within, when its kind judges it so (see `CheckKind.valueBound`). */
export function valueBoundOf(check: ProbeSpec): ValueBound | undefined {
  const { kind, spec } = probeOf(check);
  return kind.valueBound?.(spec);
}

/** Where checks run: on the worker, or on a host of its SSH inventory (`on:`); what they may ask. */
export interface ProbeEnvironment {
  executorOn(host: string | undefined): Executor;
  readonly signal?: AbortSignal;
  readonly prometheus?: PrometheusEndpoints;
  readonly window?: { readonly startMs: number };
  readonly kubernetes?: KubernetesClusters;
  /** The game day the checks run in: its start, and each check's baseline. */
  readonly gameDay?: GameDayCheckContext;
  /** Counts every judged result; absent where checks run outside a worker (e.g. probing in tests). */
  readonly metrics?: Pick<GameDayMetrics, 'checkEvaluated'>;
}

export interface ProbeOptions {
  readonly signal?: AbortSignal;
  readonly window?: { readonly startMs: number };
  readonly gameDay?: GameDayCheckContext;
}

export function probeEnvironment(
  deps: Pick<ActivityDeps, 'executorFor' | 'checkExecutor' | 'prometheus'> &
    Partial<Pick<ActivityDeps, 'metrics' | 'kubernetes'>>,
  { signal, window, gameDay }: ProbeOptions = {},
): ProbeEnvironment {
  return {
    executorOn: (host) =>
      host === undefined
        ? deps.checkExecutor
        : deps.executorFor({ group: 'checks', kind: 'ssh', name: host }),
    ...(signal ? { signal } : {}),
    ...(deps.prometheus ? { prometheus: deps.prometheus } : {}),
    ...(deps.kubernetes ? { kubernetes: deps.kubernetes } : {}),
    ...(window ? { window } : {}),
    ...(gameDay ? { gameDay } : {}),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  };
}

/** What a probe of `check` is handed in this environment. */
function checkContext(env: ProbeEnvironment, check: ProbeSpec): CheckContext {
  const baseline = env.gameDay?.baselines?.[check.name];
  return {
    exec: env.executorOn(check.on),
    ...(env.signal ? { signal: env.signal } : {}),
    ...(env.prometheus ? { prometheus: env.prometheus } : {}),
    ...(env.kubernetes ? { kubernetes: env.kubernetes } : {}),
    ...(env.window ? { window: env.window } : {}),
    ...(env.gameDay ? { gameDay: { startMs: env.gameDay.startMs } } : {}),
    ...(baseline ? { baseline } : {}),
  };
}

/**
 * The baselines of the checks whose kinds take one, read now (at the game day's start). A check whose
 * baseline cannot be read is left without one: its probe then says it could not ask, and the run goes on.
 */
export async function takeBaselines(
  ctx: BaselineContext,
  checks: readonly ProbeSpec[],
): Promise<Record<string, CheckBaseline>> {
  const taken = await Promise.all(
    checks.map(async (check) => {
      const { kind, spec } = probeOf(check);
      if (kind.baseline === undefined) return undefined;
      try {
        const baseline = await kind.baseline(ctx, spec);
        return baseline === undefined ? undefined : ([check.name, baseline] as const);
      } catch {
        return undefined;
      }
    }),
  );
  return Object.fromEntries(taken.filter((entry) => entry !== undefined));
}

/**
 * Runs one check and judges it against the plan's expectation. This is the one place that decides what a
 * probe's outcome means: a probe that threw, or reported `error`, could not ask — that never holds, whatever
 * `expect` says, so a check that cannot see can neither pass a game day nor hide a guardrail breach.
 */
export async function evaluate(env: ProbeEnvironment, check: ProbeSpec): Promise<CheckResult> {
  const { kind, spec } = probeOf(check);
  const ctx = checkContext(env, check);
  let result: ProbeResult;
  try {
    result = await kind.probe(ctx, spec);
  } catch (error) {
    if (env.signal?.aborted) throw error;
    result = couldNotAsk(error instanceof Error ? error.message : String(error));
    if (error instanceof CouldNotAsk && error.output !== undefined)
      result = { ...result, output: error.output };
  }
  const { ok, value, status } = result;
  const unasked = status === 'error';
  // An unknown result is no evidence either way, and a probe that could not ask is never what a plan expects.
  const holds = status === 'unknown' ? true : unasked ? false : ok === (check.expect === 'pass');
  env.metrics?.checkEvaluated(check.name, status === 'unknown' ? 'unknown' : holds ? 'held' : 'deviated');
  return {
    name: check.name,
    holds,
    expect: check.expect,
    detail: unasked ? `could not ask: ${result.detail}` : result.detail,
    ...(value === undefined ? {} : { value }),
    ...(status === 'unknown' ? { unknown: true } : {}),
    ...(unasked ? { couldNotAsk: true } : {}),
    // The whole story of a result that does not hold (bounded); a held one's output is left out.
    ...(holds || result.output === undefined ? {} : { output: storedOutput(result.output) }),
    at: new Date().toISOString(),
  };
}
