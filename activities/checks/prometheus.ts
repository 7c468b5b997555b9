import ms, { type StringValue } from 'ms';
import { z } from 'zod';
import { duration, formatDuration } from '../../plan/duration';
import { freeText } from '../../plan/safeValues';
import { redact } from '../redact';
import type { CheckContext, CheckKind, ProbeResult } from './contract';
import {
  displayUrl,
  instantQuery,
  PrometheusError,
  rangeQuery,
  seriesName,
  type PrometheusEndpoint,
  type QueryOptions,
  type Series,
} from './prometheusApi';

// ---- the plan's words ------------------------------------------------------------------------------------

/** "> 100", ">= 0.9", "< 0.05", "<= 5", "== 0", "!= 0", "between 0.9 and 1". */
export type Comparison =
  | { readonly op: '>' | '>=' | '<' | '<=' | '==' | '!='; readonly bound: number }
  | { readonly op: 'between'; readonly min: number; readonly max: number };

const number = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;
const comparisonPattern = new RegExp(`^(>=|<=|==|!=|>|<)\\s*(${number})$`);
const betweenPattern = new RegExp(`^between\\s+(${number})\\s+and\\s+(${number})$`);

const comparisonText = freeText(100);
const comparison = comparisonText.transform((text, ctx): Comparison => {
  const trimmed = text.trim();
  const simple = comparisonPattern.exec(trimmed);
  if (simple) return { op: simple[1] as '>', bound: Number(simple[2]) };
  const between = betweenPattern.exec(trimmed);
  if (between && Number(between[1]) <= Number(between[2])) {
    return { op: 'between', min: Number(between[1]), max: Number(between[2]) };
  }
  ctx.addIssue({
    code: 'custom',
    message: 'must be a comparison such as "> 100", "<= 0.05", "!= 0" or "between 0.9 and 1" (min ≤ max)',
  });
  return z.NEVER;
});

/** Durations up to weeks, as PromQL writes them ("1d", "1w", "36h"). */
const longDuration = (max: string) =>
  z
    .string()
    .max(20, 'must be a duration such as "30s", "1h", "1d" or "1w"')
    .regex(/^\d+(ms|s|m|h|d|w)$/, 'must be a duration such as "30s", "1h", "1d" or "1w"')
    .transform((text) => ms(text as StringValue))
    .pipe(
      z
        .number()
        .min(1000, 'must be at least 1s')
        .max(ms(max as StringValue), `must be at most ${max}`),
    );

const tolerance = z
  .union(
    [
      z
        .string()
        .max(20)
        .regex(/^\d+(\.\d+)?%$/)
        .transform((text) => ({ ratio: Number(text.slice(0, -1)) / 100 })),
      z
        .number()
        .min(0)
        .transform((absolute) => ({ absolute })),
    ],
    { error: 'must be a percentage such as "10%" (of the baseline) or a number (an absolute difference)' },
  )
  .describe('"10%" of the baseline value, or an absolute difference such as 50');

const summaries = z
  .union([
    z.enum(['min', 'max', 'avg', 'last']),
    z
      .string()
      .max(10)
      .regex(/^p(100|\d{1,2}(\.\d+)?)$/, 'must be min, max, avg, last or a percentile such as p99 or p99.9'),
  ])
  .describe('how the samples of each series are summarised: min, max, avg, last, or a percentile (p50, p99)');

const outcomeWhen = z
  .enum(['fail', 'pass', 'unknown'])
  .describe('fail; pass; unknown: reported as unknown and not held against the steady state');

const spec = z
  .strictObject({
    endpoint: z
      .string()
      .max(63)
      .regex(/^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$/, 'must be a name under prometheus.endpoints of the worker')
      .default('default')
      .describe("a Prometheus endpoint by name from the worker's configuration"),
    query: freeText(10_000, { multiLine: true }).min(1).describe('PromQL'),
    condition: comparison
      .optional()
      .describe(
        'every series (or its range summary) must satisfy it: "> 100", "< 0.05", "between 0.9 and 1"',
      ),
    range: z
      .strictObject({
        over: z
          .union([z.literal('window'), longDuration('31d')])
          .describe('how far back: a duration, or "window" (the observation window so far; during only)'),
        step: duration({ min: '1s', max: '1h' })
          .optional()
          .describe('resolution (default: about 300 points)'),
        summary: summaries.default('max'),
      })
      .optional()
      .describe('summarise each series over a range (query_range), then apply the condition'),
    baseline: z
      .strictObject({
        offset: longDuration('31d').describe('compare with the same query this long ago: "1d", "1w"'),
        tolerance,
        deviation: z
          .enum(['both', 'below', 'above'])
          .default('both')
          .describe(
            'which way a difference beyond the tolerance fails: both, below (drops) or above (rises)',
          ),
      })
      .optional()
      .describe('the same query now and at an offset in the past must agree within a tolerance'),
    onEmpty: outcomeWhen.default('fail').describe('when the query returns no series'),
    onNaN: outcomeWhen.default('fail').describe('for a series whose value is NaN (e.g. 0/0)'),
    timeout: duration({ min: '100ms', max: '2m' }).default(5000).describe('per request'),
    attempts: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(3)
      .describe('tries when Prometheus cannot be reached, before the check fails'),
  })
  .refine((s) => (s.condition === undefined) !== (s.baseline === undefined), {
    message: 'give either condition (instant or range) or baseline',
  })
  .refine((s) => s.range === undefined || s.baseline === undefined, {
    message: 'range and baseline cannot be combined',
    path: ['range'],
  });
export type PrometheusSpec = z.infer<typeof spec>;

/** "1w", "1d" as PromQL writes them (ms would say "7d" for a week). */
function offsetText(milliseconds: number): string {
  const day = 24 * 3600 * 1000;
  if (milliseconds % (7 * day) === 0) return `${milliseconds / (7 * day)}w`;
  if (milliseconds % day === 0) return `${milliseconds / day}d`;
  return formatDuration(milliseconds);
}

// ---- judging -----------------------------------------------------------------------------------------------

function describeComparison(c: Comparison): string {
  return c.op === 'between' ? `between ${c.min} and ${c.max}` : `${c.op} ${c.bound}`;
}

/** How far inside the bound a value is: negative means it fails, smaller means worse. */
export function margin(c: Comparison, value: number): number {
  switch (c.op) {
    case '>':
      return value > c.bound ? value - c.bound : Math.min(value - c.bound, -Number.EPSILON);
    case '>=':
      return value - c.bound;
    case '<':
      return value < c.bound ? c.bound - value : Math.min(c.bound - value, -Number.EPSILON);
    case '<=':
      return c.bound - value;
    case '==':
      return value === c.bound ? 0 : -Math.abs(value - c.bound);
    case '!=':
      return value !== c.bound ? Math.abs(value - c.bound) : -Number.EPSILON;
    case 'between':
      return Math.min(value - c.min, c.max - value);
  }
}

function summarise(summary: string, values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  switch (summary) {
    case 'min':
      return sorted[0] as number;
    case 'max':
      return sorted[sorted.length - 1] as number;
    case 'avg':
      return values.reduce((sum, v) => sum + v, 0) / values.length;
    case 'last':
      return values[values.length - 1] as number;
    default: {
      // Nearest-rank percentile of the samples.
      const p = Number(summary.slice(1));
      return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number;
    }
  }
}

const round = (value: number) => (Number.isFinite(value) ? Number(value.toPrecision(6)) : value);

/** A few series by name, then how many more: messages stay readable with hundreds of series. */
function listed(items: readonly string[], limit = 5): string {
  const shown = items.slice(0, limit).join('; ');
  return items.length > limit ? `${shown}; and ${items.length - limit} more` : shown;
}

interface Judged {
  readonly name: string;
  readonly value: number;
  /** Negative: fails. NaN values are judged by onNaN instead. */
  readonly margin: number;
  readonly text: string;
}

/** The verdict over every judged series, with onNaN applied to those whose value is NaN. */
function verdict(s: PrometheusSpec, judged: readonly Judged[], expectation: string): ProbeResult {
  const nan = judged.filter((j) => Number.isNaN(j.value));
  const numeric = judged.filter((j) => !Number.isNaN(j.value));
  const failing = numeric.filter((j) => j.margin < 0);
  if (s.onNaN === 'fail') failing.push(...nan);
  const worst = [...numeric].sort((a, b) => a.margin - b.margin)[0];
  const value = worst === undefined ? undefined : round(worst.value);
  const of = judged.length === 1 ? '' : ` (${failing.length} of ${judged.length} series)`;
  if (failing.length > 0) {
    return {
      ok: false,
      ...(value === undefined ? {} : { value }),
      detail: `${listed(failing.map((j) => j.text))}; expected ${expectation}${of}`,
    };
  }
  const valueField = value === undefined ? {} : { value };
  if (nan.length > 0 && s.onNaN === 'unknown') {
    return {
      ok: true,
      status: 'unknown',
      ...valueField,
      detail: `unknown: ${listed(nan.map((j) => j.text))} (onNaN: unknown)`,
    };
  }
  const shown = worst ?? nan[0];
  const lead = judged.length === 1 ? '' : `${judged.length} series, worst `;
  return { ok: true, ...valueField, detail: `${lead}${shown?.text ?? ''}; expected ${expectation}` };
}

function empty(s: PrometheusSpec, what: string): ProbeResult {
  const detail = `${what} (onEmpty: ${s.onEmpty})`;
  if (s.onEmpty === 'unknown') return { ok: true, status: 'unknown', detail: `unknown: ${detail}` };
  return { ok: s.onEmpty === 'pass', detail };
}

const show = (value: number) => (Number.isNaN(value) ? 'NaN' : String(round(value)));
const lastValue = (series: Series) => series.samples[series.samples.length - 1]?.[1] ?? Number.NaN;

function judgeInstant(s: PrometheusSpec, condition: Comparison, series: readonly Series[]): ProbeResult {
  if (series.length === 0) return empty(s, 'the query returned no series');
  const judged = series.map((one): Judged => {
    const value = lastValue(one);
    return {
      name: seriesName(one.labels),
      value,
      margin: margin(condition, value),
      text: `${seriesName(one.labels)} = ${show(value)}`,
    };
  });
  return verdict(s, judged, describeComparison(condition));
}

function judgeRange(
  s: PrometheusSpec,
  condition: Comparison,
  summary: string,
  overText: string,
  series: readonly Series[],
): ProbeResult {
  if (series.length === 0) return empty(s, `the query returned no series over ${overText}`);
  const judged = series.map((one): Judged => {
    const values = one.samples.map(([, v]) => v).filter((v) => !Number.isNaN(v));
    const value = values.length === 0 ? Number.NaN : summarise(summary, values);
    return {
      name: seriesName(one.labels),
      value,
      margin: margin(condition, value),
      text: `${summary} over ${overText} of ${seriesName(one.labels)} = ${show(value)} (${one.samples.length} samples)`,
    };
  });
  return verdict(s, judged, `${summary} ${describeComparison(condition)}`);
}

function judgeBaseline(
  s: PrometheusSpec,
  baseline: NonNullable<PrometheusSpec['baseline']>,
  now: readonly Series[],
  then: readonly Series[],
): ProbeResult {
  const offset = offsetText(baseline.offset);
  if (now.length === 0) return empty(s, 'the query returned no series now');
  if (then.length === 0) return empty(s, `the query returned no series ${offset} ago (no baseline)`);
  const before = new Map(then.map((one) => [seriesName(one.labels), lastValue(one)]));
  const allowed = (base: number) =>
    'ratio' in baseline.tolerance ? baseline.tolerance.ratio * Math.abs(base) : baseline.tolerance.absolute;
  const judged = now.map((one): Judged => {
    const name = seriesName(one.labels);
    const value = lastValue(one);
    const base = before.get(name);
    if (base === undefined) {
      return { name, value, margin: -1, text: `${name} = ${show(value)} has no baseline ${offset} ago` };
    }
    const diff = value - base;
    const limit = allowed(base);
    const beyond =
      baseline.deviation === 'below'
        ? -diff - limit
        : baseline.deviation === 'above'
          ? diff - limit
          : Math.abs(diff) - limit;
    const change = base === 0 ? '' : ` (${diff >= 0 ? '+' : ''}${round((diff / Math.abs(base)) * 100)} %)`;
    return {
      name,
      // A NaN on either side is judged by onNaN.
      value: Number.isNaN(base) ? Number.NaN : value,
      margin: -beyond,
      text: `${name} = ${show(value)} vs ${show(base)} ${offset} ago${change}`,
    };
  });
  const within =
    'ratio' in baseline.tolerance
      ? `${round(baseline.tolerance.ratio * 100)} %`
      : String(baseline.tolerance.absolute);
  const direction = { both: '±', below: 'a drop of at most ', above: 'a rise of at most ' }[
    baseline.deviation
  ];
  return verdict(s, judged, `${direction}${within} of ${offset} ago`);
}

// ---- asking, with retries ----------------------------------------------------------------------------------

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}

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
      await sleep(250 * 2 ** (attempt - 1), signal);
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

async function probe(ctx: CheckContext, s: PrometheusSpec): Promise<ProbeResult> {
  let endpoint: PrometheusEndpoint | undefined;
  try {
    endpoint = endpointFor(ctx, s.endpoint);
    const target = endpoint;
    const options: QueryOptions = { timeoutMs: s.timeout, ...(ctx.signal ? { signal: ctx.signal } : {}) };
    const ask = <T>(query: () => Promise<T>) => withRetries(s.attempts, ctx.signal, query);
    const nowMs = Date.now();
    if (s.baseline !== undefined) {
      const baseline = s.baseline;
      const [now, then] = await Promise.all([
        ask(() => instantQuery(target, s.query, nowMs / 1000, options)),
        ask(() => instantQuery(target, s.query, (nowMs - baseline.offset) / 1000, options)),
      ]);
      return judgeBaseline(s, baseline, now, then);
    }
    const condition = s.condition as Comparison;
    if (s.range !== undefined) {
      const range = s.range;
      const startMs = rangeStart(ctx, range.over, nowMs);
      const spanSeconds = (nowMs - startMs) / 1000;
      const stepSeconds =
        range.step !== undefined ? range.step / 1000 : Math.max(1, Math.ceil(spanSeconds / 300));
      const series = await ask(() =>
        rangeQuery(
          target,
          s.query,
          { startSeconds: startMs / 1000, endSeconds: nowMs / 1000, stepSeconds },
          options,
        ),
      );
      const overText =
        range.over === 'window' ? `the window (${formatDuration(nowMs - startMs)})` : offsetText(range.over);
      return judgeRange(s, condition, range.summary, overText, series);
    }
    return judgeInstant(s, condition, await ask(() => instantQuery(target, s.query, nowMs / 1000, options)));
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
  spec,
  describe(s) {
    const on = s.endpoint === 'default' ? '' : ` on ${s.endpoint}`;
    const special = [
      ...(s.onEmpty === 'fail' ? [] : [`no data: ${s.onEmpty}`]),
      ...(s.onNaN === 'fail' ? [] : [`NaN: ${s.onNaN}`]),
    ];
    const notes = special.length === 0 ? '' : ` (${special.join(', ')})`;
    if (s.baseline !== undefined) {
      const t = s.baseline.tolerance;
      const within = 'ratio' in t ? `${round(t.ratio * 100)} %` : String(t.absolute);
      const how = { both: 'within', below: 'at most', above: 'at most' }[s.baseline.deviation];
      const side = { both: 'of', below: 'below', above: 'above' }[s.baseline.deviation];
      return `PromQL${on} \`${s.query}\` ${how} ${within} ${side} its value ${offsetText(s.baseline.offset)} ago${notes}`;
    }
    const condition = describeComparison(s.condition as Comparison);
    if (s.range !== undefined) {
      const over = s.range.over === 'window' ? 'the window' : offsetText(s.range.over);
      return `PromQL${on} \`${s.query}\`: ${s.range.summary} over ${over} ${condition}${notes}`;
    }
    return `PromQL${on} \`${s.query}\` ${condition}${notes}`;
  },
  probe,
};
