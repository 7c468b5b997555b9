import { upsertSearchAttributes, type ActivityOptions } from '@temporalio/workflow';
import {
  activities,
  inZone,
  inZoneFailure,
  onQueue,
  rollbackOptions,
  stuckRollbackOptions,
  zoneOfTarget,
} from './activityOptions';
import { searchAttributes } from './definitions';
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
  const firstRound = async (entry: RollbackEntry) => {
    try {
      await rollBackStep(run, entry, rollbackOptions);
    } catch (failure) {
      const error = inZoneFailure(
        failure,
        zoneOfTarget(run.plan, entry.step.target),
        `the rollback of ${entry.step.id}`,
      );
      entry.record.status = 'rollback-stuck';
      entry.record.error = failureMessage(error);
      run.note(`rollback of ${entry.step.id} keeps failing: ${entry.record.error}`);
      stuck.push(entry);
    }
  };
  const lastFirst = [...run.rollbacks].reverse();
  for (const entries of groupedByFault(lastFirst, (entry) => entry.step.fault)) {
    await Promise.all(entries.map(firstRound));
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
  record.status = 'rolled-back';
  record.rolledBackAt = now();
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
