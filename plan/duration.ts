import ms, { type StringValue } from 'ms';
import { z } from 'zod';

const durationPattern = /^\d+(\.\d+)?(ms|s|m|h)$/;

/** A duration written as in Go and Prometheus ("250ms", "30s", "5m", "1h"), parsed to milliseconds. */
export function duration(bounds: { min?: string; max?: string } = {}) {
  const min = bounds.min === undefined ? 0 : ms(bounds.min as StringValue);
  const max = bounds.max === undefined ? Number.MAX_SAFE_INTEGER : ms(bounds.max as StringValue);
  return z
    .string()
    .max(20, 'must be a duration such as "500ms", "30s", "5m" or "1h"')
    .regex(durationPattern, 'must be a duration such as "500ms", "30s", "5m" or "1h"')
    .transform((text) => ms(text as StringValue))
    .pipe(
      z
        .number()
        .min(min, `must be at least ${bounds.min ?? '0'}`)
        .max(max, `must be at most ${bounds.max ?? 'unbounded'}`),
    );
}

/** Milliseconds back to the short form used in plans and reports. */
export function formatDuration(milliseconds: number): string {
  return ms(milliseconds);
}
