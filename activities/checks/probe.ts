import type { ProbeSpec } from '../../plan/schema';
import type { CheckResult } from '../../workflows/definitions';
import type { ActivityDeps } from '../deps';
import type { Executor } from '../executors/executor';
import type { GameDayMetrics } from '../metrics';
import type { CheckKind } from './contract';
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

/** Where checks run: on the worker, or on a host of its SSH inventory (`on:`). */
export interface ProbeEnvironment {
  executorOn(host: string | undefined): Executor;
  readonly signal?: AbortSignal;
  /** Counts every judged result; absent where checks run outside a worker (e.g. probing in tests). */
  readonly metrics?: Pick<GameDayMetrics, 'checkEvaluated'>;
}

export function probeEnvironment(
  deps: Pick<ActivityDeps, 'executorFor' | 'checkExecutor'> & Partial<Pick<ActivityDeps, 'metrics'>>,
  signal?: AbortSignal,
): ProbeEnvironment {
  return {
    executorOn: (host) =>
      host === undefined
        ? deps.checkExecutor
        : deps.executorFor({ group: 'checks', kind: 'ssh', name: host }),
    ...(signal ? { signal } : {}),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  };
}

/** Runs one check and judges it against the plan's expectation. A probe that throws has failed. */
export async function evaluate(env: ProbeEnvironment, check: ProbeSpec): Promise<CheckResult> {
  const { kind, spec } = probeOf(check);
  const ctx = { exec: env.executorOn(check.on), ...(env.signal ? { signal: env.signal } : {}) };
  let ok: boolean;
  let detail: string;
  let value: number | undefined;
  try {
    ({ ok, detail, value } = await kind.probe(ctx, spec));
  } catch (error) {
    ok = false;
    detail = error instanceof Error ? error.message : String(error);
  }
  const holds = ok === (check.expect === 'pass');
  env.metrics?.checkEvaluated(check.name, holds);
  return {
    name: check.name,
    holds,
    expect: check.expect,
    detail,
    ...(value === undefined ? {} : { value }),
    at: new Date().toISOString(),
  };
}
