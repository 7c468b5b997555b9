import type { ProbeSpec } from '../../plan/schema';
import type { CheckResult } from '../../workflows/definitions';
import type { ActivityDeps } from '../deps';
import type { Executor } from '../executors/executor';
import type { CheckKind, ProbeResult } from './contract';
import type { PrometheusEndpoints } from './prometheusApi';
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

/** Where checks run: on the worker, or on a host of its SSH inventory (`on:`); what they may ask. */
export interface ProbeEnvironment {
  executorOn(host: string | undefined): Executor;
  readonly signal?: AbortSignal;
  readonly prometheus?: PrometheusEndpoints;
  readonly window?: { readonly startMs: number };
}

export function probeEnvironment(
  deps: Pick<ActivityDeps, 'executorFor' | 'checkExecutor' | 'prometheus'>,
  signal?: AbortSignal,
  window?: { readonly startMs: number },
): ProbeEnvironment {
  return {
    executorOn: (host) =>
      host === undefined
        ? deps.checkExecutor
        : deps.executorFor({ group: 'checks', kind: 'ssh', name: host }),
    ...(signal ? { signal } : {}),
    ...(deps.prometheus ? { prometheus: deps.prometheus } : {}),
    ...(window ? { window } : {}),
  };
}

/** Runs one check and judges it against the plan's expectation. A probe that throws has failed. */
export async function evaluate(env: ProbeEnvironment, check: ProbeSpec): Promise<CheckResult> {
  const { kind, spec } = probeOf(check);
  const ctx = {
    exec: env.executorOn(check.on),
    ...(env.signal ? { signal: env.signal } : {}),
    ...(env.prometheus ? { prometheus: env.prometheus } : {}),
    ...(env.window ? { window: env.window } : {}),
  };
  let ok: boolean;
  let detail: string;
  let value: number | undefined;
  let status: ProbeResult['status'];
  try {
    ({ ok, detail, value, status } = await kind.probe(ctx, spec));
  } catch (error) {
    ok = false;
    detail = error instanceof Error ? error.message : String(error);
  }
  // An unknown result is no evidence either way, and a probe that could not ask is never what a plan expects.
  const holds = status === 'unknown' ? true : status === 'error' ? false : ok === (check.expect === 'pass');
  return {
    name: check.name,
    holds,
    expect: check.expect,
    detail,
    ...(value === undefined ? {} : { value }),
    ...(status === 'unknown' ? { unknown: true } : {}),
    at: new Date().toISOString(),
  };
}
