import type { CalendarSpec, ScheduleOptions, ScheduleSpec } from '@temporalio/client';
import type { LoadedGameDaySchedule, LoadedJanitorSchedule, LoadedSchedule } from '../plan/loadSchedule';
import { dateParts, months, scheduleDuration, type Calendar, type Skip } from '../plan/schedule';
import { gameDayWorkflowType, type GameDayInput } from '../workflows/definitions';
import { janitorWorkflowType, type JanitorInput } from '../workflows/janitorDefinitions';
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

/** The janitor workflow's input for a scheduled sweep: what `gameday janitor` would be given. */
export function janitorInputOf(loaded: LoadedJanitorSchedule): JanitorInput {
  const { apply, targets, notify } = loaded.janitor;
  return { apply, ...(targets ? { targets } : {}), ...(notify ? { notify } : {}) };
}

/** A sweep in words: "janitor sweep (apply) of every host, notify oncall". */
export function janitorWords(input: Partial<JanitorInput>): string {
  const mode = input.apply === true ? 'apply' : 'dry run';
  const where = input.targets?.length ? input.targets.join(', ') : 'every host of the worker';
  const notify = input.notify?.length ? `, notify ${input.notify.join(', ')}` : '';
  return `janitor sweep (${mode}) of ${where}${notify}`;
}

/** Policies, memo and state every schedule of gameday has, whatever it runs. */
function scheduleShell(loaded: LoadedSchedule) {
  const { schedule } = loaded;
  return {
    scheduleId: schedule.metadata.name,
    spec: scheduleSpecOf(loaded),
    policies: {
      overlap: schedule.overlap,
      catchupWindow: scheduleDuration(schedule.catchupWindow),
      pauseOnFailure: schedule.pauseOnFailure,
    },
    memo: { ...managedByMemo },
    state: schedule.note ? { note: schedule.note } : {},
  };
}

/**
 * A scheduled janitor sweep: the janitor workflow (`gameday-janitor-<schedule>-<time>`), its findings told to
 * the webhooks it names. Overlap SKIP by default keeps two sweeps from removing the same thing at once.
 */
function janitorScheduleOptions(loaded: LoadedJanitorSchedule, taskQueue: string): ScheduleOptions {
  const id = loaded.schedule.metadata.name;
  const input = janitorInputOf(loaded);
  return {
    ...scheduleShell(loaded),
    action: {
      type: 'startWorkflow',
      workflowType: janitorWorkflowType,
      workflowId: `gameday-janitor-${id}`,
      taskQueue,
      args: [input],
      staticSummary: `${janitorWords(input)} (schedule ${id})`,
      memo: { schedule: id, appliedSpec: appliedSpecOf(loaded) },
    },
  };
}

export function scheduleOptionsOf(loaded: LoadedSchedule, taskQueue: string): ScheduleOptions {
  return loaded.runs === 'janitor'
    ? janitorScheduleOptions(loaded, taskQueue)
    : gameDayScheduleOptions(loaded, taskQueue);
}

/**
 * The Temporal Schedule for a schedule file: its plan embedded with its digest (a run reads no file), started
 * with the same search attributes, memo and summary as `gameday run` gives a game day, plus the schedule's id.
 * Temporal appends the scheduled time to the workflow id (`gameday-<plan>-<RFC 3339 time>`) and sets
 * `TemporalScheduledById`.
 */
function gameDayScheduleOptions(loaded: LoadedGameDaySchedule, taskQueue: string): ScheduleOptions {
  const { schedule, plan, planDigest } = loaded;
  const id = schedule.metadata.name;
  const input: GameDayInput = {
    plan,
    planDigest,
    schedule: { id, ...(schedule.pauseOnFailure ? { pauseOnFailure: true } : {}) },
  };
  const shown = gameDayStartOptions(plan, planDigest, { by: `schedule ${id}` });
  return {
    ...scheduleShell(loaded),
    action: {
      type: 'startWorkflow',
      workflowType: gameDayWorkflowType,
      workflowId: `gameday-${plan.metadata.name}`,
      taskQueue,
      args: [input],
      ...shown,
      memo: { ...shown.memo, schedule: id, appliedSpec: appliedSpecOf(loaded) },
    },
  };
}
