import { patched, upsertSearchAttributes, type ActivityOptions } from '@temporalio/workflow';
import { isHostTarget } from '../plan/targets';
import {
  activities,
  inZone,
  inZoneFailure,
  noWorkerTookIt,
  onQueue,
  rollbackInOrderOptions,
  rollbackOptions,
  stuckRollbackOptions,
  zoneOfTarget,
} from './activityOptions';
import { searchAttributes, type RollbackOutcome } from './definitions';
import { failureMessage, groupedByFault, now, type GameDayRun, type RollbackEntry } from './gameDayRun';
import { gameDayMetrics } from './metricsSinks';
import { notifyWebhooks } from './notify';

/**
 * Rolls back every recorded fault step, last fault first (the targets of one fault together), each verified.
 * A step that keeps failing is set aside so the others proceed; the set-aside ones are then retried without
 * limit, the run showing `rollback-stuck`, until a person fixes the cause. Never throws.
 */
export async function rollBackFaults(run: GameDayRun): Promise<void> {
  run.rollbackBegins();
  if (run.rollbacks.length === 0) return;
  run.enter('rollback', `rolling back ${run.rollbacks.length} fault step(s), last in first out`);
  const stuck: RollbackEntry[] = [];
  const setAside = (entry: RollbackEntry, error: string) => {
    entry.record.status = 'rollback-stuck';
    entry.record.error = error;
    run.note(`rollback of ${entry.step.id} keeps failing: ${error}`);
    stuck.push(entry);
  };
  const firstRound = async (entry: RollbackEntry) => {
    try {
      await rollBackStep(run, entry, rollbackOptions);
    } catch (failure) {
      const error = inZoneFailure(
        failure,
        zoneOfTarget(run.plan, entry.step.target),
        `the rollback of ${entry.step.id}`,
      );
      setAside(entry, failureMessage(error));
    }
  };
  const lastFirst = groupedByFault([...run.rollbacks].reverse(), (entry) => entry.step.fault);
  if (patched('rollback-in-one-activity')) {
    await rollBackInOrder(run, lastFirst, { firstRound, setAside });
  } else {
    for (const entries of lastFirst) await Promise.all(entries.map(firstRound));
  }
  // From here on a fault still in place is one a worker cannot remove: its host may revert it by itself.
  run.leaseKeeper.cancel();
  if (stuck.length > 0) {
    run.enter('rollback-stuck', `${stuck.length} rollback(s) need attention; retrying until they succeed`);
    upsertSearchAttributes([{ key: searchAttributes.outcome, value: 'rollback-stuck' }]);
    gameDayMetrics.rollbackStuck(run.plan.metadata.name);
    await Promise.all([
      notifyWebhooks(run, 'rollback-stuck'),
      ...stuck.map((entry) => rollBackStep(run, entry, stuckRollbackOptions, { waitForever: true })),
    ]);
    run.enter('rollback', 'every stuck rollback has succeeded');
  }
}

/** What happens to a rollback the batch did not finish: its own bounded retries, or set aside as stuck. */
interface Handover {
  readonly firstRound: (entry: RollbackEntry) => Promise<void>;
  readonly setAside: (entry: RollbackEntry, error: string) => void;
}

/** Host faults one activity can roll back together: Kubernetes kinds keep their progress in their own. */
const servedTogether = (group: readonly RollbackEntry[]): boolean =>
  group.every((entry) => isHostTarget(entry.step.target));

/**
 * The groups in order, each run of consecutive host groups in one zone by one `rollBackFaultsInOrder`; a
 * rollback it could not finish goes to its own retried activity before the next group, and so does every one
 * of a batch that failed as a whole.
 */
async function rollBackInOrder(
  run: GameDayRun,
  groups: readonly (readonly RollbackEntry[])[],
  handover: Handover,
): Promise<void> {
  // The zone of a group: the targets of one fault are in one group, so one zone.
  const queueOf = (group: readonly RollbackEntry[]) =>
    zoneOfTarget(run.plan, (group[0] as RollbackEntry).step.target)?.queue;
  const batchable = (group: readonly RollbackEntry[], queue: string | undefined) =>
    servedTogether(group) && queueOf(group) === queue;
  let next = 0;
  while (next < groups.length) {
    const first = groups[next] as readonly RollbackEntry[];
    if (!servedTogether(first)) {
      await Promise.all(first.map(handover.firstRound));
      next += 1;
      continue;
    }
    let end = next + 1;
    while (end < groups.length && batchable(groups[end] as readonly RollbackEntry[], queueOf(first)))
      end += 1;
    next += await rollBackBatch(run, groups.slice(next, end), handover);
  }
}

/** Plain words for a batch: every fault it rolls back, in order, with its target count. */
function batchSummary(groups: readonly (readonly RollbackEntry[])[]): string {
  const faults = groups.map((group) => {
    const first = group[0] as RollbackEntry;
    return group.length === 1 ? first.step.rollback : `${first.step.fault} on ${group.length} targets`;
  });
  return `roll back, last in first out: ${faults.join('; ')}`;
}

/** Rolls back a batch in one activity; returns how many of its groups are now done (each at least one). */
async function rollBackBatch(
  run: GameDayRun,
  groups: readonly (readonly RollbackEntry[])[],
  handover: Handover,
): Promise<number> {
  const entries = groups.flat();
  const zone = zoneOfTarget(run.plan, (entries[0] as RollbackEntry).step.target);
  for (const { record } of entries) {
    if (record.status !== 'rollback-stuck') record.status = 'rolling-back';
    record.rollbackStartedAt ??= now();
  }
  let handled: readonly (readonly RollbackOutcome[])[];
  let attempt = 1;
  try {
    const result = await activities(
      inZone({ ...rollbackInOrderOptions, summary: batchSummary(groups) }, zone),
    ).rollBackFaultsInOrder({
      groups: groups.map((group) =>
        group.map(({ step, saved, deadMan }) => ({ step, tag: run.tag, saved, deadMan })),
      ),
    });
    handled = result.groups;
    attempt = result.attempt;
  } catch (failure) {
    if (zone !== undefined && noWorkerTookIt(failure)) {
      // Nobody serves the zone: asking again per fault would only wait as long once more.
      for (const entry of entries) {
        handover.setAside(
          entry,
          failureMessage(inZoneFailure(failure, zone, `the rollback of ${entry.step.id}`)),
        );
      }
      return groups.length;
    }
    run.note(`the rollbacks in one activity failed (${failureMessage(failure)}): each is retried on its own`);
    for (const group of groups) await Promise.all(group.map(handover.firstRound));
    return groups.length;
  }
  for (const [g, outcomes] of handled.entries()) {
    const group = groups[g] as readonly RollbackEntry[];
    const failed: RollbackEntry[] = [];
    for (const [i, outcome] of outcomes.entries()) {
      const entry = group[i] as RollbackEntry;
      if (outcome.rolledBack) {
        rolledBackNow(run, entry, { ...outcome, attempt });
      } else {
        run.note(`rollback of ${entry.step.id} failed (${outcome.error}): retried on its own`);
        failed.push(entry);
      }
    }
    await Promise.all(failed.map(handover.firstRound));
  }
  if (handled.length === 0)
    await Promise.all((groups[0] as readonly RollbackEntry[]).map(handover.firstRound));
  return Math.max(1, handled.length);
}

/**
 * One rollback, on the queue of its target's zone (the step carries it, so a rollback replayed after a worker
 * crash goes there too). The first round waits for a zone's worker as long as any step does, then the rollback
 * is set aside as stuck and retried with `waitForever`: never given up.
 */
async function rollBackStep(
  run: GameDayRun,
  entry: RollbackEntry,
  options: ActivityOptions,
  { waitForever = false } = {},
): Promise<void> {
  const { step, saved, record, deadMan } = entry;
  if (record.status !== 'rollback-stuck') record.status = 'rolling-back';
  record.rollbackStartedAt ??= now();
  const zone = zoneOfTarget(run.plan, step.target);
  const result = await activities(
    inZone({ ...options, summary: step.rollback }, zone, { waitForever }),
  ).rollbackFault({
    step,
    tag: run.tag,
    saved,
    deadMan,
  });
  rolledBackNow(run, entry, { ...result, at: now() });
}

/** Records a verified rollback and says so in the timeline, with what the host had done by itself. */
function rolledBackNow(
  run: GameDayRun,
  { step, record }: RollbackEntry,
  result: { attempt: number; detail: string; revertedByHost?: string; at: string },
): void {
  record.status = 'rolled-back';
  record.rolledBackAt = result.at;
  record.rollbackAttempts = (record.rollbackAttempts ?? 0) + result.attempt;
  record.detail = result.detail;
  delete record.error;
  run.note(`rolled back: ${step.rollback} (${result.detail})${onQueue(step.target.via)}`);
  if (result.revertedByHost !== undefined) {
    run.note(
      `${step.target.name} had already reverted ${step.id} by its dead-man switch: ${result.revertedByHost}`,
    );
  }
}
