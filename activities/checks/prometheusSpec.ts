import { z } from 'zod';
import { duration, formatDuration } from '../../plan/duration';
import { freeText } from '../../plan/safeValues';

// The plan's words for a PromQL check: comparisons, tolerances, summaries, durations up to weeks.

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
const longDuration = (max: string) => duration({ min: '1s', max, units: ['ms', 's', 'm', 'h', 'd', 'w'] });

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

export const prometheusSpec = z
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
export type PrometheusSpec = z.infer<typeof prometheusSpec>;

/** What a check asks, by mode: the spec's optional fields as the one combination validation allows. */
export type PrometheusQuery =
  | { readonly mode: 'instant'; readonly condition: Comparison }
  | {
      readonly mode: 'range';
      readonly condition: Comparison;
      readonly range: NonNullable<PrometheusSpec['range']>;
    }
  | { readonly mode: 'baseline'; readonly baseline: NonNullable<PrometheusSpec['baseline']> };

export function queryOf(s: PrometheusSpec): PrometheusQuery {
  if (s.baseline !== undefined) return { mode: 'baseline', baseline: s.baseline };
  if (s.condition === undefined) throw new Error('a prometheus check has a condition or a baseline');
  return s.range === undefined
    ? { mode: 'instant', condition: s.condition }
    : { mode: 'range', condition: s.condition, range: s.range };
}

/** "1w", "1d" as PromQL writes them (ms would say "7d" for a week). */
export function offsetText(milliseconds: number): string {
  const day = 24 * 3600 * 1000;
  if (milliseconds % (7 * day) === 0) return `${milliseconds / (7 * day)}w`;
  if (milliseconds % day === 0) return `${milliseconds / day}d`;
  return formatDuration(milliseconds);
}
