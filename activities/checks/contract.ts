import type { z } from 'zod';
import type { CheckBaseline, ValueBound } from '../../workflows/definitions';
import type { Executor } from '../executors/executor';
import type { KubernetesClusters } from '../kubernetes/clusters';
import type { PrometheusEndpoints } from './prometheusApi';

export interface CheckContext {
  readonly exec: Executor;
  readonly signal?: AbortSignal;
  /** The worker's named Prometheus endpoints (absent: none configured). */
  readonly prometheus?: PrometheusEndpoints;
  /** Set while the observation window runs: when it started (epoch ms). */
  readonly window?: { readonly startMs: number };
  /** The worker's Kubernetes contexts and their allow-lists (absent: none configured). */
  readonly kubernetes?: KubernetesClusters;
  /** Set within a game day: when it started (epoch ms), for checks that look back to it. */
  readonly gameDay?: { readonly startMs: number };
  /** What this check's kind read at the game day's start (its `baseline`), when it took one. */
  readonly baseline?: CheckBaseline;
}

/** What one probe saw. `ok` is the probe's own verdict; whether that was expected is decided by the caller. */
export interface ProbeResult {
  readonly ok: boolean;
  readonly detail: string;
  /** A number worth plotting: latency in ms, exit code, … */
  readonly value?: number;
  /**
   * What a command printed (stdout then stderr), whole: `evaluate` keeps its end in a result that does not
   * hold (`CheckResult.output`) and drops it otherwise.
   */
  readonly output?: string;
  /**
   * When the probe saw nothing to judge: `unknown` (e.g. no data, and the plan says that is unknown) holds
   * whatever the plan expected and is reported as unknown; `error` (the probe could not ask at all) deviates
   * whatever the plan expected, even with `expect: fail`. A probe may also throw: that is `error` too.
   */
  readonly status?: 'unknown' | 'error';
}

/**
 * The probe could not ask the system at all (command not found, connection to the host failed, a name did
 * not resolve, its own transport timed out): no evidence either way. Never the answer a plan expected — not
 * even `expect: fail` — and counted towards a guardrail breach. `evaluate` treats every error a probe throws
 * the same way; this class is for probes that detect the case themselves.
 */
export class CouldNotAsk extends Error {
  override readonly name = 'CouldNotAsk';
  /** What the command printed, when one ran (exit 126, 127): kept like a result's `output`. */
  readonly output?: string;

  constructor(message: string, options: { readonly output?: string } = {}) {
    super(message);
    if (options.output !== undefined) this.output = options.output;
  }
}

/** A could-not-ask result, for probes that return rather than throw. */
export function couldNotAsk(detail: string): ProbeResult {
  return { ok: false, status: 'error', detail };
}

/** One kind of steady-state probe, keyed in plans by its name (`http:`, `tcp:`, `command:`, `prometheus:`). */
export interface CheckKind<Spec> {
  readonly key: string;
  readonly description: string;
  /** Which outcomes mean "the system answered no": these can satisfy `expect: fail`. */
  readonly answeredNo: string;
  /** Which outcomes mean "could not ask": these never hold, whatever the plan expects. */
  readonly couldNotAsk: string;
  readonly spec: z.ZodType<Spec>;
  describe(spec: Spec): string;
  probe(ctx: CheckContext, spec: Spec): Promise<ProbeResult>;
  /** The numbers this spec's `value` must stay within, when it has them: what the report plots it against. */
  valueBound?(spec: Spec): ValueBound | undefined;
  /**
   * What later samples are judged against, read once when the game day starts (before preflight, nothing
   * injected yet): e.g. restart counts. Undefined when this spec needs none. A failure leaves the check
   * without a baseline, which its probe then reports as could-not-ask.
   */
  baseline?(ctx: BaselineContext, spec: Spec): Promise<CheckBaseline | undefined>;
}

/** What a kind may use to read its baseline: the clusters it asks, nothing on a host. */
export type BaselineContext = Pick<CheckContext, 'kubernetes' | 'signal'>;

/** A kind's description with both lists of outcomes, for the JSON Schema, docs and `gameday schema`. */
export function describedOutcomes(kind: CheckKind<unknown>): string {
  return `${kind.description} Answered no: ${kind.answeredNo} Could not ask (never holds, even with expect: fail): ${kind.couldNotAsk}`;
}
