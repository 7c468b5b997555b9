import { activities, readOnly } from './activityOptions';
import type { Plan } from '../plan/schema';
import type { GameDayRun } from './gameDayRun';

/** The hosts a plan's target groups name (before resolving): where the janitor looks for leftovers. */
export function planHosts(plan: Plan): string[] {
  return Object.values(plan.targets).flatMap((group) => [
    ...(group.local !== undefined ? ['local'] : []),
    ...(group.ssh?.hosts ?? []),
  ]);
}

/**
 * A scheduled game day runs unattended, so it never piles chaos on an unclean system: before anything is
 * resolved it asks the worker what blocks a start (activities/startBlockers.ts: an earlier run of the same plan
 * still rollback-stuck, leftovers of finished runs on its targets that the janitor finds). With any blocker the
 * run ends `not-started`, saying why; nothing was touched. Runs started by hand (`gameday run`) are a person's call and are not gated.
 */
export async function cleanToStart(run: GameDayRun, scheduleId: string): Promise<boolean> {
  const plan = run.plan.metadata.name;
  run.note(
    `started by schedule ${scheduleId}: making sure no earlier run of ${plan} left the system unclean`,
  );
  const blockers = await activities({
    ...readOnly,
    summary: `is the system clean for ${plan}? (no earlier run still rollback-stuck, no leftovers on its targets)`,
  }).findStartBlockers({ plan, workflowId: run.report.workflowId, targets: planHosts(run.plan) });
  if (blockers.length === 0) return true;
  run.outcome = 'not-started';
  run.report.reason = `a scheduled game day does not start on an unclean system: ${blockers.join('; ')}`;
  run.note(run.report.reason);
  return false;
}

/**
 * `pauseOnFailure` as an SRE means it: no more unattended runs after one that did not pass (failed, aborted,
 * not started), until a person has looked. Temporal's own pauseOnFailure only sees a failed workflow, which a
 * game day with any outcome is not. A pause that cannot be made is a timeline note, never the outcome.
 */
export async function pauseScheduleUnlessPassed(run: GameDayRun, scheduleId: string): Promise<void> {
  const { outcome, reason, workflowId } = run.report;
  if (outcome === 'passed' || outcome === undefined) return;
  const note = `paused by ${workflowId}: ${outcome}: ${reason ?? ''}`.slice(0, 1000);
  try {
    await activities({
      ...readOnly,
      summary: `pause schedule ${scheduleId}: this run ${outcome}`,
    }).pauseSchedule({ scheduleId, note });
    run.note(`schedule ${scheduleId} paused (pauseOnFailure)`);
  } catch (error) {
    run.note(
      `could not pause schedule ${scheduleId}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
