import ms from 'ms';
import { z } from 'zod';

/** Units as Go and Prometheus write them; PromQL adds days and weeks. */
const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
export type DurationUnit = keyof typeof unitMs;

export interface DurationRule {
  /** Bounds, written as durations ("1s", "24h"). */
  readonly min?: string;
  readonly max?: string;
  /** Units a plan may use here (default ms, s, m, h). */
  readonly units?: readonly DurationUnit[];
  /** Whether "1.5s" is allowed (default: yes, unless d or w are). */
  readonly fractions?: boolean;
}

const timeUnits: readonly DurationUnit[] = ['ms', 's', 'm', 'h'];

/** Milliseconds of a duration such as "250ms", "1.5s" or "1w"; undefined when it is not one in these units. */
export function parseDuration(
  text: string,
  units: readonly DurationUnit[] = timeUnits,
  fractions = true,
): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(text);
  const unit = match?.[2] as DurationUnit | undefined;
  if (match === null || unit === undefined || !units.includes(unit)) return undefined;
  if (!fractions && match[1]?.includes('.')) return undefined;
  return Number(match[1]) * unitMs[unit];
}

function examples(units: readonly DurationUnit[]): string {
  if (units.length === 1 && units[0] === 'ms') return 'milliseconds, such as "100ms"';
  const known: Record<DurationUnit, string> = {
    ms: '"500ms"',
    s: '"30s"',
    m: '"5m"',
    h: '"1h"',
    d: '"1d"',
    w: '"1w"',
  };
  const shown = units.includes('d') ? units.filter((u) => u !== 'ms' && u !== 'm') : units;
  const words = shown.map((unit) => known[unit]);
  return `a duration such as ${words.slice(0, -1).join(', ')} or ${words[words.length - 1] ?? ''}`;
}

/**
 * The one parser behind every duration in a plan: syntax, units and bounds checked, the text kept (for
 * fields passed on as written, such as tc's "100ms").
 */
export function durationText(rule: DurationRule = {}) {
  const units = rule.units ?? timeUnits;
  const fractions = rule.fractions ?? !(units.includes('d') || units.includes('w'));
  const bound = (text: string | undefined) =>
    text === undefined ? undefined : parseDuration(text, Object.keys(unitMs) as DurationUnit[]);
  const min = bound(rule.min) ?? 0;
  const max = bound(rule.max) ?? Number.MAX_SAFE_INTEGER;
  const syntax = `must be ${examples(units)}`;
  return z
    .string()
    .max(20, syntax)
    .superRefine((text, ctx) => {
      const value = parseDuration(text, units, fractions);
      if (value === undefined) ctx.addIssue({ code: 'custom', message: syntax });
      else if (value < min) ctx.addIssue({ code: 'custom', message: `must be at least ${rule.min ?? '0'}` });
      else if (value > max)
        ctx.addIssue({ code: 'custom', message: `must be at most ${rule.max ?? 'unbounded'}` });
    });
}

/** A duration written as in Go and Prometheus ("250ms", "30s", "5m", "1h"), parsed to milliseconds. */
export function duration(rule: DurationRule = {}) {
  const units = rule.units ?? timeUnits;
  return durationText(rule).transform((text) => parseDuration(text, units) ?? Number.NaN);
}

/** Milliseconds back to the short form used in plans and reports. */
export function formatDuration(milliseconds: number): string {
  return ms(milliseconds);
}
