import type { ProbeResult } from './contract';
import { seriesName, type Series } from './prometheusApi';
import { offsetText, type Comparison, type PrometheusSpec } from './prometheusSpec';

// Judging what Prometheus answered against the plan: pure functions of the series and the spec.

export function describeComparison(c: Comparison): string {
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

export const round = (value: number) => (Number.isFinite(value) ? Number(value.toPrecision(6)) : value);

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

export function judgeInstant(
  s: PrometheusSpec,
  condition: Comparison,
  series: readonly Series[],
): ProbeResult {
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

export function judgeRange(
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

export function judgeBaseline(
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
