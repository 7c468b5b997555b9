import type { IoPressure } from './evidence';
import { round } from './units';

interface PressureLine {
  readonly avg10: number;
  /** Total stall time, µs. */
  readonly total: number;
}

export interface PressureCounters {
  readonly some: PressureLine;
  readonly full?: PressureLine;
}

/** Parses /proc/pressure/io: `some avg10=0.44 avg60=0.66 avg300=0.71 total=4903259`, and a `full` line. */
export function parsePressure(lines: readonly string[]): PressureCounters | undefined {
  const parsed: Partial<Record<'some' | 'full', PressureLine>> = {};
  for (const line of lines) {
    const match = /^(some|full) avg10=([\d.]+) .*total=(\d+)/.exec(line.trim());
    if (match) parsed[match[1] as 'some' | 'full'] = { avg10: Number(match[2]), total: Number(match[3]) };
  }
  if (parsed.some === undefined) return undefined;
  return { some: parsed.some, ...(parsed.full ? { full: parsed.full } : {}) };
}

/** The share of the window in which some (all) non-idle tasks were stalled on IO, from the totals' delta. */
export function pressureOver(first: PressureCounters, second: PressureCounters, seconds: number): IoPressure {
  const share = (a: PressureLine, b: PressureLine) =>
    round(Math.min(100, Math.max(0, (b.total - a.total) / (seconds * 1e6)) * 100), 1);
  return {
    somePercent: share(first.some, second.some),
    ...(first.full && second.full ? { fullPercent: share(first.full, second.full) } : {}),
    someAvg10: second.some.avg10,
  };
}
