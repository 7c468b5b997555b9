import {
  ScheduleNotFoundError,
  type Client,
  type ScheduleDescription,
  type ScheduleHandle,
} from '@temporalio/client';
import type { LoadedSchedule } from '../plan/loadSchedule';
import { CliError, exitCodes } from './exitCodes';
import { unregisteredSearchAttributes } from './gameDays';
import { changesBetween, currentFields, desiredFields, type FieldChange } from './scheduleDiff';
import { managedByMemo, scheduleOptionsOf } from './scheduleSpec';

export type ApplyAction = 'create' | 'update' | 'unchanged' | 'delete';

export interface ApplyStep {
  readonly id: string;
  readonly action: ApplyAction;
  /** The schedule file (absent for a schedule `--prune` deletes). */
  readonly file?: string;
  readonly changes: readonly FieldChange[];
}

export function isManagedByGameday(memo: Record<string, unknown> | undefined): boolean {
  return memo?.managedBy === managedByMemo.managedBy;
}

/** The description of a schedule, or undefined when there is none with that id. */
export async function describeIfExists(handle: ScheduleHandle): Promise<ScheduleDescription | undefined> {
  try {
    return await handle.describe();
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) return undefined;
    throw error;
  }
}

/** What applying the files would do to each schedule; `prune` adds deleting ours that no file names. */
export async function planApply(
  client: Client,
  loaded: readonly LoadedSchedule[],
  taskQueue: string,
  prune: boolean,
): Promise<ApplyStep[]> {
  const steps: ApplyStep[] = [];
  for (const schedule of loaded) {
    const id = schedule.schedule.metadata.name;
    const desired = desiredFields(schedule, taskQueue);
    const existing = await describeIfExists(client.schedule.getHandle(id));
    if (existing === undefined) {
      const changes = Object.entries(desired).map(([field, to]) => ({ field, from: '', to }));
      steps.push({ id, action: 'create', file: schedule.file, changes });
      continue;
    }
    if (!isManagedByGameday(existing.memo)) {
      throw new CliError(
        `${schedule.file}: a schedule ${id} exists that gameday did not create; pick another metadata.name`,
        exitCodes.usage,
      );
    }
    const changes = changesBetween(currentFields(existing), desired);
    steps.push({ id, action: changes.length === 0 ? 'unchanged' : 'update', file: schedule.file, changes });
  }
  if (prune) {
    const named = new Set(loaded.map((schedule) => schedule.schedule.metadata.name));
    for await (const summary of client.schedule.list()) {
      if (isManagedByGameday(summary.memo) && !named.has(summary.scheduleId)) {
        steps.push({ id: summary.scheduleId, action: 'delete', changes: [] });
      }
    }
  }
  return steps;
}

function refused(file: string | undefined, id: string, error: unknown): Error {
  const clearer = unregisteredSearchAttributes(error);
  if (clearer !== undefined) return clearer;
  if (error instanceof Error && /invalid|malformed|cron/i.test(error.message)) {
    return new CliError(`${file ?? id}: Temporal refused schedule ${id}: ${error.message}`, exitCodes.usage);
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** Carries the steps out: create, update (keeping whether it is paused, and why), delete. */
export async function carryOut(
  client: Client,
  steps: readonly ApplyStep[],
  loaded: readonly LoadedSchedule[],
  taskQueue: string,
): Promise<void> {
  for (const step of steps) {
    const schedule = loaded.find((candidate) => candidate.schedule.metadata.name === step.id);
    try {
      if (step.action === 'create' && schedule !== undefined) {
        await client.schedule.create(scheduleOptionsOf(schedule, taskQueue));
      } else if (step.action === 'update' && schedule !== undefined) {
        const { scheduleId: _id, memo: _memo, state, ...options } = scheduleOptionsOf(schedule, taskQueue);
        await client.schedule.getHandle(step.id).update((previous) => ({
          ...options,
          // A paused schedule stays paused with its reason: apply changes what runs, not whether it runs.
          state: previous.state.paused
            ? { paused: true, note: previous.state.note }
            : { paused: false, note: state?.note ?? '' },
        }));
      } else if (step.action === 'delete') {
        await client.schedule.getHandle(step.id).delete();
      }
    } catch (error) {
      throw refused(step.file, step.id, error);
    }
  }
}
