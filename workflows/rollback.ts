import { upsertSearchAttributes, type ActivityOptions } from '@temporalio/workflow';
import { activities, rollbackOptions, stuckRollbackOptions } from './activityOptions';
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
    } catch (error) {
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
      ...stuck.map((entry) => rollBackStep(run, entry, stuckRollbackOptions)),
    ]);
    run.enter('rollback', 'every stuck rollback has succeeded');
  }
}

async function rollBackStep(run: GameDayRun, entry: RollbackEntry, options: ActivityOptions): Promise<void> {
  const { step, saved, record, deadMan } = entry;
  if (record.status !== 'rollback-stuck') record.status = 'rolling-back';
  record.rollbackStartedAt ??= now();
  const result = await activities({ ...options, summary: step.rollback }).rollbackFault({
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
  run.note(`rolled back: ${step.rollback} (${result.detail})`);
  if (result.revertedByHost !== undefined) {
    run.note(
      `${step.target.name} had already reverted ${step.id} by its dead-man switch: ${result.revertedByHost}`,
    );
  }
}
