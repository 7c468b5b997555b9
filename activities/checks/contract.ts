import type { z } from 'zod';
import type { Executor } from '../executors/executor';
import type { PrometheusEndpoints } from './prometheusApi';

export interface CheckContext {
  readonly exec: Executor;
  readonly signal?: AbortSignal;
  /** The worker's named Prometheus endpoints (absent: none configured). */
  readonly prometheus?: PrometheusEndpoints;
  /** Set while the observation window runs: when it started (epoch ms). */
  readonly window?: { readonly startMs: number };
}

/** What one probe saw. `ok` is the probe's own verdict; whether that was expected is decided by the caller. */
export interface ProbeResult {
  readonly ok: boolean;
  readonly detail: string;
  /** A number worth plotting: latency in ms, exit code, … */
  readonly value?: number;
  /**
   * When the probe saw nothing to judge: `unknown` (e.g. no data, and the plan says that is unknown) holds
   * whatever the plan expected and is reported as unknown; `error` (the probe could not ask at all, e.g. its
   * Prometheus is down) deviates whatever the plan expected, even with `expect: fail`.
   */
  readonly status?: 'unknown' | 'error';
}

/** One kind of steady-state probe, keyed in plans by its name (`http:`, `tcp:`, `command:`, `prometheus:`). */
export interface CheckKind<Spec> {
  readonly key: string;
  readonly description: string;
  readonly spec: z.ZodType<Spec>;
  describe(spec: Spec): string;
  probe(ctx: CheckContext, spec: Spec): Promise<ProbeResult>;
}
