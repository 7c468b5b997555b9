import { CancellationScope, condition } from '@temporalio/workflow';
import type { GuardrailSpec, ProbeSpec } from '../plan/schema';
import { activities, duration, observeOptions } from './activityOptions';
import type { ObserveResult } from './definitions';
import type { GameDayRun } from './gameDayRun';
import { collectIoEvidence, evidenceAfterWindow } from './ioEvidence';

/**
 * The observation window: `during` checks and guardrails sampled in one heartbeating activity until the
 * window ends, an abort arrives or a guardrail breaches. A window with nothing to sample just waits.
 */
export async function observeWindow(run: GameDayRun): Promise<void> {
  if (run.stopping) return;
  const { window, guardrails } = run.plan.observation;
  run.enter('observe', `observing for ${duration(window)}`);
  const during = run.plan.checks.filter((check) => check.when.includes('during'));
  if (during.length === 0 && guardrails.length === 0) {
    await condition(() => run.stopping, window);
    return;
  }
  const result = await sampleUntilStopped(run, during, guardrails);
  if (result === undefined) return; // aborted: the samples so far are not waited for
  recordWindow(run, result);
  const evidence = evidenceAfterWindow(result);
  if (evidence?.when === 'alongside-rollback') {
    // A breach is a safety stop: its rollback never waits for evidence. The evidence activity is scheduled
    // first and samples while the rollbacks begin, so it still sees the faults' effect.
    run.evidenceAlongsideRollback = collectIoEvidence(
      run,
      'during',
      evidence.reason,
      evidence.intervalMs,
    ).catch(() => undefined);
  } else if (evidence !== undefined) {
    await collectIoEvidence(run, 'during', evidence.reason, evidence.intervalMs);
  }
}

/** The window's samples, or undefined when an abort ended it first (the activity is then cancelled). */
async function sampleUntilStopped(
  run: GameDayRun,
  during: readonly ProbeSpec[],
  guardrails: readonly GuardrailSpec[],
): Promise<ObserveResult | undefined> {
  const { window, sampleInterval } = run.plan.observation;
  const scope = new CancellationScope();
  const observation = scope.run(() =>
    activities({
      ...observeOptions(window, run.cancellation),
      summary: `observe ${during.length} check(s) and ${guardrails.length} guardrail(s) every ${duration(sampleInterval)}`,
    }).observe({
      checks: during,
      guardrails,
      deadline: Date.now() + window,
      intervalMs: sampleInterval,
      gameDay: run.checkContext(),
    }),
  );
  const result = await Promise.race([observation, condition(() => run.stopping)]);
  if (result !== undefined) return result;
  run.cancelAtRollback(scope);
  run.settleBeforeEnd(observation);
  return undefined;
}

/** The window's summaries into the report; a breach stops the run. */
function recordWindow(run: GameDayRun, result: ObserveResult): void {
  const { report } = run;
  report.checks.during = [...result.checks];
  report.checks.guardrails = [...result.guardrails];
  for (const summary of [...result.checks, ...result.guardrails]) {
    if (summary.last) report.lastChecks[summary.name] = summary.last;
    run.note(`check ${summary.name} held in ${summary.held} of ${summary.samples} samples`);
  }
  if (result.breach) {
    report.checks.breach = result.breach;
    run.stopForSafety(`guardrail ${result.breach.name} breached: ${result.breach.detail}`);
  }
}
