import { setTimeout as sleep } from 'node:timers/promises';
import { formatDuration } from '../../plan/duration';
import { redact } from '../redact';
import type { CheckContext, CheckKind, ProbeResult } from './contract';
import {
  displayUrl,
  instantQuery,
  PrometheusError,
  rangeQuery,
  type PrometheusEndpoint,
  type QueryOptions,
} from './prometheusApi';
import { describeComparison, judgeBaseline, judgeInstant, judgeRange, round } from './prometheusJudge';
import { offsetText, prometheusSpec, queryOf, type PrometheusSpec } from './prometheusSpec';

/** Tries a query up to `attempts` times when Prometheus cannot answer; a query it rejects is not retried. */
async function withRetries<T>(
  attempts: number,
  signal: AbortSignal | undefined,
  ask: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ask();
    } catch (error) {
      const retryable = error instanceof PrometheusError && error.retryable;
      if (!retryable || attempt >= attempts) {
        const message = error instanceof Error ? error.message : String(error);
        throw new PrometheusError(retryable ? `${message} (after ${attempt} attempts)` : message, retryable);
      }
      await sleep(250 * 2 ** (attempt - 1), undefined, signal ? { signal } : {});
    }
  }
}

/** The range's start: a duration back from now, or the start of the observation window. */
function rangeStart(ctx: CheckContext, over: number | 'window', nowMs: number): number {
  if (over !== 'window') return nowMs - over;
  if (ctx.window === undefined) {
    throw new PrometheusError(
      'range over "window" is only known while the observation window runs (use a duration such as 10m)',
      false,
    );
  }
  return Math.min(ctx.window.startMs, nowMs - 1000);
}

function endpointFor(ctx: CheckContext, name: string): PrometheusEndpoint {
  const endpoint = ctx.prometheus?.endpoint(name);
  if (endpoint === undefined) {
    const known = ctx.prometheus?.names.join(', ') || 'none';
    throw new PrometheusError(
      `no Prometheus endpoint "${name}" in this worker's configuration (known: ${known}); ` +
        'add it under prometheus.endpoints or set GAMEDAY_PROMETHEUS_URL for "default"',
      false,
    );
  }
  return endpoint;
}

/** Asks Prometheus what the check needs (retrying transport failures) and judges the answer. */
async function probe(ctx: CheckContext, s: PrometheusSpec): Promise<ProbeResult> {
  let endpoint: PrometheusEndpoint | undefined;
  try {
    endpoint = endpointFor(ctx, s.endpoint);
    const target = endpoint;
    const options: QueryOptions = { timeoutMs: s.timeout, ...(ctx.signal ? { signal: ctx.signal } : {}) };
    const ask = <T>(query: () => Promise<T>) => withRetries(s.attempts, ctx.signal, query);
    const instantAt = (atMs: number) => ask(() => instantQuery(target, s.query, atMs / 1000, options));
    const nowMs = Date.now();
    const query = queryOf(s);
    switch (query.mode) {
      case 'baseline': {
        const [now, then] = await Promise.all([instantAt(nowMs), instantAt(nowMs - query.baseline.offset)]);
        return judgeBaseline(s, query.baseline, now, then);
      }
      case 'range': {
        const { range } = query;
        const startMs = rangeStart(ctx, range.over, nowMs);
        const spanSeconds = (nowMs - startMs) / 1000;
        const stepSeconds =
          range.step !== undefined ? range.step / 1000 : Math.max(1, Math.ceil(spanSeconds / 300));
        const window = { startSeconds: startMs / 1000, endSeconds: nowMs / 1000, stepSeconds };
        const series = await ask(() => rangeQuery(target, s.query, window, options));
        const overText =
          range.over === 'window'
            ? `the window (${formatDuration(nowMs - startMs)})`
            : offsetText(range.over);
        return judgeRange(s, query.condition, range.summary, overText, series);
      }
      case 'instant':
        return judgeInstant(s, query.condition, await instantAt(nowMs));
    }
  } catch (error) {
    if (ctx.signal?.aborted) throw error;
    const where =
      endpoint === undefined ? '' : `Prometheus endpoint "${endpoint.name}" (${displayUrl(endpoint.url)}): `;
    // Not an observation of the system at all: the check deviates whatever the plan expected. The detail is
    // stored in history: redacted, whatever threw (fetch echoes URLs, error pages echo headers).
    return {
      ok: false,
      status: 'error',
      detail: redact(`${where}${error instanceof Error ? error.message : String(error)}`),
    };
  }
}

export const prometheusCheck: CheckKind<PrometheusSpec> = {
  key: 'prometheus',
  description:
    'A PromQL query on a named Prometheus endpoint: every series must satisfy a condition (now, or summarised over a range), or agree with its own value an offset ago within a tolerance.',
  answeredNo:
    'a series fails the condition or the baseline tolerance; no series or NaN when onEmpty/onNaN is fail ' +
    '(pass and unknown are judged as the plan says).',
  couldNotAsk:
    'Prometheus cannot be reached, times out or answers 5xx/429 (after `attempts`), rejects the query ' +
    '(bad_data) or the credentials (401/403), or the endpoint is not configured on the worker.',
  spec: prometheusSpec,
  valueBound(s) {
    const c = s.condition;
    if (c === undefined) return undefined; // a baseline's bound moves with the past value
    if (c.op === 'between') return { min: c.min, max: c.max };
    if (c.op === '<' || c.op === '<=') return { max: c.bound };
    if (c.op === '>' || c.op === '>=') return { min: c.bound };
    return undefined; // == and != have no side to plot
  },
  describe(s) {
    const on = s.endpoint === 'default' ? '' : ` on ${s.endpoint}`;
    const special = [
      ...(s.onEmpty === 'fail' ? [] : [`no data: ${s.onEmpty}`]),
      ...(s.onNaN === 'fail' ? [] : [`NaN: ${s.onNaN}`]),
    ];
    const notes = special.length === 0 ? '' : ` (${special.join(', ')})`;
    const query = queryOf(s);
    switch (query.mode) {
      case 'baseline': {
        const { tolerance: t, deviation, offset } = query.baseline;
        const within = 'ratio' in t ? `${round(t.ratio * 100)} %` : String(t.absolute);
        const how = { both: 'within', below: 'at most', above: 'at most' }[deviation];
        const side = { both: 'of', below: 'below', above: 'above' }[deviation];
        return `PromQL${on} \`${s.query}\` ${how} ${within} ${side} its value ${offsetText(offset)} ago${notes}`;
      }
      case 'range': {
        const over = query.range.over === 'window' ? 'the window' : offsetText(query.range.over);
        return `PromQL${on} \`${s.query}\`: ${query.range.summary} over ${over} ${describeComparison(query.condition)}${notes}`;
      }
      case 'instant':
        return `PromQL${on} \`${s.query}\` ${describeComparison(query.condition)}${notes}`;
    }
  },
  probe,
};
