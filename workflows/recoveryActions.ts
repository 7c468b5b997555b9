import { isCancellation } from '@temporalio/workflow';
import { activities, recoveryActionOptions } from './activityOptions';
import { failureMessage, now, type GameDayRun } from './gameDayRun';

/**
 * The plan's recovery actions, in order, each one activity and one intervention in the report and the
 * timeline. Run only when the recovery checks did not hold in time; a failed action is reported and the
 * next one still runs (the checks are given their time again afterwards either way). Never throws.
 */
export async function runRecoveryActions(run: GameDayRun): Promise<number> {
  const actions = run.plan.recovery.actions ?? [];
  const checks = [...run.plan.checks, ...run.plan.observation.guardrails];
  for (const [i, action] of actions.entries()) {
    const words = run.actionWords[i] ?? `recovery action ${i + 1}`;
    const at = now();
    const failingName = action.deletePods?.failing;
    const failing = checks.find((check) => check.name === failingName);
    const timeout = (action.deletePods ?? action.rolloutRestart)?.timeout ?? 300_000;
    try {
      const result = await activities({
        ...recoveryActionOptions(timeout),
        summary: `recovery action ${i + 1}: ${words}`,
      }).runRecoveryAction({ action, tag: run.tag, at, ...(failing ? { failing } : {}) });
      run.intervene({ at, action: words, detail: result.detail });
    } catch (error) {
      if (isCancellation(error)) throw error;
      run.intervene({ at, action: words, detail: 'failed', error: failureMessage(error) });
    }
  }
  return actions.length;
}
