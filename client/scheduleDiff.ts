import type { ScheduleDescription } from '@temporalio/client';
import type { LoadedSchedule } from '../plan/loadSchedule';
import { formatDuration } from '../plan/duration';
import { scheduleDuration } from '../plan/schedule';
import type { GameDayInput } from '../workflows/definitions';
import { janitorWorkflowType, type JanitorInput } from '../workflows/janitorDefinitions';
import { appliedSpecOf, janitorInputOf, janitorWords, type AppliedSpec } from './scheduleSpec';

/**
 * A schedule as `apply` compares it, one line of text per field. Policies, time zone, jitter, task queue and the
 * embedded plan's digest are read back from Temporal itself; the calendar fields (which Temporal rewrites into
 * its own structure) are compared with what gameday applied last, kept in the action's memo.
 */
export type ScheduleFields = Readonly<Record<string, string>>;

export interface FieldChange {
  readonly field: string;
  readonly from: string;
  readonly to: string;
}

const none = 'none';
const durationWords = (ms: number | undefined) => (ms ? formatDuration(ms) : none);
const listWords = (values: readonly unknown[]) =>
  values.length === 0
    ? none
    : values.map((value) => (typeof value === 'string' ? value : JSON.stringify(value))).join('; ');

function specFields(spec: AppliedSpec): Record<string, string> {
  return {
    owner: spec.owner,
    cron: listWords(spec.cron),
    calendars: listWords(spec.calendars),
    skip: listWords(spec.skip),
    note: spec.note || none,
  };
}

export function desiredFields(loaded: LoadedSchedule, taskQueue: string): ScheduleFields {
  const { schedule } = loaded;
  return {
    ...(loaded.runs === 'janitor'
      ? { runs: janitorWords(janitorInputOf(loaded)) }
      : { plan: loaded.plan.metadata.name, 'plan digest': loaded.planDigest }),
    'task queue': taskQueue,
    ...specFields(appliedSpecOf(loaded)),
    timezone: schedule.timezone,
    jitter: durationWords(schedule.jitter ? scheduleDuration(schedule.jitter) : undefined),
    overlap: schedule.overlap,
    'catchup window': durationWords(scheduleDuration(schedule.catchupWindow)),
    'pause on failure': String(schedule.pauseOnFailure),
  };
}

function isAppliedSpec(value: unknown): value is AppliedSpec {
  return typeof value === 'object' && value !== null && 'cron' in value && 'skip' in value;
}

/** The fields naming what a schedule starts: a game day's plan and digest, or a janitor sweep in words. */
function whatItRuns(description: ScheduleDescription, unknown: string): Record<string, string> {
  const { action } = description;
  if (action.workflowType === janitorWorkflowType) {
    return { runs: janitorWords((action.args?.[0] ?? {}) as Partial<JanitorInput>) };
  }
  const input = action.args?.[0] as Partial<GameDayInput> | undefined;
  return { plan: input?.plan?.metadata.name ?? unknown, 'plan digest': input?.planDigest ?? unknown };
}

export function currentFields(description: ScheduleDescription): ScheduleFields {
  const { action, spec, policies } = description;
  const applied = action.memo?.appliedSpec;
  const unknown = 'unknown (not applied by gameday)';
  return {
    ...whatItRuns(description, unknown),
    'task queue': action.taskQueue ?? unknown,
    ...(isAppliedSpec(applied)
      ? specFields(applied)
      : { owner: unknown, cron: unknown, calendars: unknown, skip: unknown, note: unknown }),
    timezone: spec.timezone ?? 'UTC',
    jitter: durationWords(spec.jitter),
    overlap: policies.overlap ?? unknown,
    'catchup window': durationWords(policies.catchupWindow),
    'pause on failure': String(policies.pauseOnFailure),
  };
}

export function changesBetween(from: ScheduleFields, to: ScheduleFields): FieldChange[] {
  return Object.keys(to)
    .filter((field) => from[field] !== to[field])
    .map((field) => ({ field, from: from[field] ?? none, to: to[field] ?? none }));
}
