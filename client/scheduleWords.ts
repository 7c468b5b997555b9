import type { ScheduleDescription } from '@temporalio/client';
import type { Calendar, Skip } from '../plan/schedule';
import { formatDuration } from '../plan/duration';
import type { AppliedSpec } from './scheduleSpec';

type Loose = string | number | { start: string | number; end?: string | number; step?: number };

function rangeWords(value: Loose): string {
  if (typeof value !== 'object') return String(value);
  const span =
    value.end === undefined || value.end === value.start ? `${value.start}` : `${value.start}–${value.end}`;
  return value.step !== undefined && value.step > 1 ? `${span} every ${value.step}` : span;
}

function fieldWords(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (value === '*') return 'every';
  const values = (Array.isArray(value) ? value : [value]) as Loose[];
  return values.map(rangeWords).join(', ');
}

const pad = (text: string | undefined) => (text !== undefined && /^\d$/.test(text) ? `0${text}` : text);

/** "at 03:00 on MONDAY–FRIDAY", "at 02:30 on day 1 of JANUARY, JULY" */
export function calendarWords(calendar: Calendar, { wholeDays = false } = {}): string {
  const hour = fieldWords(calendar.hour) ?? (wholeDays ? undefined : '0');
  const minute = fieldWords(calendar.minute) ?? (wholeDays ? undefined : '0');
  const parts: string[] = [];
  if (hour !== undefined && minute !== undefined && /^\d+$/.test(hour) && /^\d+$/.test(minute)) {
    parts.push(`at ${pad(hour)}:${pad(minute)}`);
  } else {
    if (hour !== undefined) parts.push(`hour ${hour}`);
    if (minute !== undefined) parts.push(`minute ${minute}`);
  }
  const second = fieldWords(calendar.second);
  if (second !== undefined && second !== '0' && !wholeDays) parts.push(`second ${second}`);
  const day = fieldWords(calendar.dayOfMonth);
  if (day !== undefined && day !== 'every') parts.push(`on day ${day}`);
  const weekday = fieldWords(calendar.dayOfWeek);
  if (weekday !== undefined && weekday !== 'every') parts.push(`on ${weekday}`);
  const month = fieldWords(calendar.month);
  if (month !== undefined && month !== 'every') parts.push(`in ${month}`);
  const year = fieldWords(calendar.year);
  if (year !== undefined && year !== 'every') parts.push(`in ${year}`);
  if (parts.length === 0) parts.push('every day');
  return `${parts.join(' ')}${calendar.comment ? ` (${calendar.comment})` : ''}`;
}

function skipWords(skip: Skip): string {
  if (skip.freeze !== undefined) {
    return `freeze ${skip.freeze.from} to ${skip.freeze.to}${skip.comment ? ` (${skip.comment})` : ''}`;
  }
  return calendarWords(skip, { wholeDays: true });
}

/** The schedule's spec in words, one line per rule: when it runs, in which zone, what it skips. */
export function specWords(applied: AppliedSpec | undefined, description: ScheduleDescription): string[] {
  const { spec } = description;
  const lines: string[] = [];
  if (applied !== undefined) {
    for (const cron of applied.cron) lines.push(`cron "${cron}"`);
    for (const calendar of applied.calendars) lines.push(calendarWords(calendar));
  } else {
    for (const calendar of spec.calendars ?? []) lines.push(calendarWords(calendar));
  }
  lines.push(`time zone ${spec.timezone ?? 'UTC'}`);
  if (spec.jitter)
    lines.push(`each run starts up to ${formatDuration(spec.jitter)} late, at random (jitter)`);
  const skips = applied !== undefined ? applied.skip.map(skipWords) : [];
  if (skips.length > 0) lines.push(`skipped: ${skips.join('; ')}`);
  const { policies } = description;
  lines.push(
    `overlap ${policies.overlap ?? 'SKIP'}, catch-up window ${formatDuration(policies.catchupWindow)}` +
      (policies.pauseOnFailure ? ', pauses when a run fails' : ''),
  );
  return lines;
}
