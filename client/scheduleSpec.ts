import type { CalendarSpec, ScheduleOptions, ScheduleSpec } from '@temporalio/client';
import type { LoadedSchedule } from '../plan/loadSchedule';
import { dateParts, months, scheduleDuration, type Calendar, type Skip } from '../plan/schedule';
import { gameDayWorkflowType, type GameDayInput } from '../workflows/definitions';
import { gameDayStartOptions } from './gameDays';

/** Schedules gameday applied carry this in their (create-time) memo: `--prune` deletes only those. */
export const managedByMemo = { managedBy: 'gameday' } as const;

/** What gameday applied, kept in the action's memo (updated with it) so `apply` can say what changes. */
export interface AppliedSpec {
  readonly cron: readonly string[];
  readonly calendars: readonly Calendar[];
  readonly skip: readonly Skip[];
  readonly note: string;
  readonly owner: string;
}

export function appliedSpecOf(loaded: LoadedSchedule): AppliedSpec {
  const { schedule } = loaded;
  return {
    cron: schedule.cron ?? [],
    calendars: schedule.calendars ?? [],
    skip: schedule.skip,
    note: schedule.note ?? '',
    owner: schedule.metadata.owner,
  };
}

/** A calendar as the SDK takes it: fields left out stay out (the SDK applies Temporal's defaults). */
function sdkCalendar(calendar: Calendar): CalendarSpec {
  return Object.fromEntries(Object.entries(calendar).filter(([, value]) => value !== undefined));
}

/** Whole days: a skip calendar with no time of day skips every second of its days, not only midnight. */
function wholeDays(calendar: Calendar): CalendarSpec {
  return { second: '*', minute: '*', hour: '*', ...sdkCalendar(calendar) };
}

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/** A freeze window from–to (days, both included) as one calendar per month it touches. */
export function freezeCalendars(from: string, to: string, comment?: string): CalendarSpec[] {
  const start = dateParts(from);
  const end = dateParts(to);
  if (start === undefined || end === undefined) return [];
  const calendars: CalendarSpec[] = [];
  for (
    let year = start.year, month = start.month;
    year < end.year || (year === end.year && month <= end.month);
  ) {
    const first = year === start.year && month === start.month ? start.day : 1;
    const last = year === end.year && month === end.month ? end.day : daysIn(year, month);
    calendars.push({
      second: '*',
      minute: '*',
      hour: '*',
      year,
      month: months[month - 1] ?? 'JANUARY',
      dayOfMonth: { start: first, end: last },
      comment: comment ?? `freeze ${from} to ${to}`,
    });
    month++;
    if (month > 12) {
      month = 1;
      year++;
    }
  }
  return calendars;
}

function skipCalendars(skip: readonly Skip[]): CalendarSpec[] {
  return skip.flatMap((entry) =>
    entry.freeze !== undefined
      ? freezeCalendars(entry.freeze.from, entry.freeze.to, entry.comment)
      : [wholeDays(entry)],
  );
}

export function scheduleSpecOf(loaded: LoadedSchedule): ScheduleSpec {
  const { schedule } = loaded;
  return {
    ...(schedule.cron ? { cronExpressions: [...schedule.cron] } : {}),
    ...(schedule.calendars ? { calendars: schedule.calendars.map(sdkCalendar) } : {}),
    skip: skipCalendars(schedule.skip),
    timezone: schedule.timezone,
    ...(schedule.jitter ? { jitter: scheduleDuration(schedule.jitter) } : {}),
  };
}

/**
 * The Temporal Schedule for a schedule file: its plan embedded with its digest (a run reads no file), started
 * with the same search attributes, memo and summary as `gameday run` gives a game day, plus the schedule's id.
 * Temporal appends the scheduled time to the workflow id (`gameday-<plan>-<RFC 3339 time>`) and sets
 * `TemporalScheduledById`.
 */
export function scheduleOptionsOf(loaded: LoadedSchedule, taskQueue: string): ScheduleOptions {
  const { schedule, plan, planDigest } = loaded;
  const id = schedule.metadata.name;
  const input: GameDayInput = {
    plan,
    planDigest,
    schedule: { id, ...(schedule.pauseOnFailure ? { pauseOnFailure: true } : {}) },
  };
  const shown = gameDayStartOptions(plan, planDigest, { by: `schedule ${id}` });
  return {
    scheduleId: id,
    spec: scheduleSpecOf(loaded),
    action: {
      type: 'startWorkflow',
      workflowType: gameDayWorkflowType,
      workflowId: `gameday-${plan.metadata.name}`,
      taskQueue,
      args: [input],
      ...shown,
      memo: { ...shown.memo, schedule: id, appliedSpec: appliedSpecOf(loaded) },
    },
    policies: {
      overlap: schedule.overlap,
      catchupWindow: scheduleDuration(schedule.catchupWindow),
      pauseOnFailure: schedule.pauseOnFailure,
    },
    memo: { ...managedByMemo },
    state: schedule.note ? { note: schedule.note } : {},
  };
}
