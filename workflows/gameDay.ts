import {
  CancellationScope,
  deprecatePatch,
  isCancellation,
  upsertMemo,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { ProbeSpec } from '../plan/schema';
import { activities, duration, readOnly, recoveryOptions } from './activityOptions';
import {
  searchAttributes,
  searchableTargets,
  type CheckResult,
  type FaultStep,
  type GameDayInput,
  type GameDayReport,
} from './definitions';
import { failureMessage, GameDayRun } from './gameDayRun';
import { injectFaults } from './inject';
import { collectIoEvidence } from './ioEvidence';
import { gameDayMetrics } from './metricsSinks';
import { notifyWebhooks } from './notify';
import { observeWindow } from './observe';
import { runRecoveryActions } from './recoveryActions';
import { rollBackFaults } from './rollback';
import { cleanToStart, pauseScheduleUnlessPassed } from './startGate';
import { verdictOf } from './verdict';

/** One game day, as the runbook goes: resolve → preflight → inject → observe → roll back → recover → report. */
export async function gameDay(input: GameDayInput): Promise<GameDayReport> {
  const run = new GameDayRun(input);
  // Recorded histories carry this marker first; every run now collects IO evidence.
  deprecatePatch('io-evidence');
  run.listen();
  // The CLI puts the tag in the memo; a scheduled run draws its own, and records it the same way.
  if (input.tag === undefined) upsertMemo({ tag: run.tag });
  try {
    const clean = input.schedule === undefined || (await cleanToStart(run, input.schedule.id));
    const steps = clean ? await resolve(run) : [];
    if (clean && (await preflight(run))) {
      await injectFaults(run, steps);
      await observeWindow(run);
    }
  } catch (error) {
    run.stop(
      isCancellation(error) ? 'aborted: the workflow was cancelled' : `aborted: ${failureMessage(error)}`,
    );
  }
  // Whatever happened above, and even if the workflow is being cancelled, every recorded fault is rolled back.
  return await CancellationScope.nonCancellable(async () => {
    await rollBackFaults(run);
    await run.evidenceAlongsideRollback;
    await recover(run);
    const report = finish(run);
    if (report.outcome !== 'passed') await notifyWebhooks(run, 'not-passed');
    if (input.schedule?.pauseOnFailure === true) await pauseScheduleUnlessPassed(run, input.schedule.id);
    return report;
  });
}

/** Selectors become concrete targets; the worker's allow-lists are enforced. Nothing is changed yet. */
async function resolve(run: GameDayRun): Promise<readonly FaultStep[]> {
  const { plan, report } = run;
  run.note(`game day ${plan.metadata.name} started (tag ${run.tag}, seed ${run.seed})`);
  const resolved = await activities({
    ...readOnly,
    summary: `resolve targets of ${plan.metadata.name}`,
  }).resolvePlan({ plan, seed: run.seed, tag: run.tag });
  run.descriptions = resolved.checks;
  run.actionWords = resolved.actions ?? [];
  run.baselines = resolved.baselines ?? {};
  report.targets = [...resolved.targets];
  upsertSearchAttributes([{ key: searchAttributes.targets, value: searchableTargets(resolved.targets) }]);
  run.note(
    `resolved ${resolved.steps.length} fault step(s) on ${resolved.targets.join(', ') || 'no target'}`,
  );
  for (const warning of resolved.warnings ?? []) run.note(warning);
  return resolved.steps;
}

/** The steady-state hypothesis must hold before anything is injected; false ends the run not-started. */
async function preflight(run: GameDayRun): Promise<boolean> {
  run.enter('preflight', 'checking the steady-state hypothesis');
  const before = run.plan.checks.filter((check) => check.when.includes('before'));
  const results = await runChecks(run, before);
  run.report.checks.preflight = results;
  if (results.every((result) => result.holds)) return true;
  const failed = results.filter((r) => !r.holds).map((r) => `${r.name} (${r.detail})`);
  run.outcome = 'not-started';
  run.report.reason = `steady state did not hold before injection: ${failed.join('; ')}`;
  run.note(run.report.reason);
  return false;
}

async function runChecks(run: GameDayRun, specs: readonly ProbeSpec[]): Promise<CheckResult[]> {
  const results = await Promise.all(
    specs.map((spec) =>
      activities({ ...readOnly, summary: run.checkSummary(spec) }).runCheck(spec, run.checkContext()),
    ),
  );
  run.recordChecks(results);
  return results;
}

/**
 * After a rollback, the `after` checks must hold again within `recovery.within`; evidence when they do not.
 * Then, only if the plan names recovery actions, those run and the checks get `within` once more.
 */
async function recover(run: GameDayRun): Promise<void> {
  if (run.rollbacks.length === 0) return;
  const { recovery } = run.plan;
  const after = run.plan.checks.filter((check) => check.when.includes('after'));
  run.enter('recover', `waiting up to ${duration(recovery.within)} for the steady state`);
  if (after.length === 0) return;
  if (await awaitRecovery(run, after)) return;
  await collectIoEvidence(run, 'after', 'recovery checks failed', 2000);
  if ((recovery.actions ?? []).length === 0) return;
  run.note(`running ${recovery.actions?.length ?? 0} recovery action(s)`);
  const actions = await runRecoveryActions(run);
  await awaitRecovery(run, after, actions);
}

/** One wait for the `after` checks, into the report; whether they held. */
async function awaitRecovery(
  run: GameDayRun,
  after: readonly ProbeSpec[],
  afterActions = 0,
): Promise<boolean> {
  const { recovery } = run.plan;
  const result = await activities({
    ...recoveryOptions(recovery.within),
    summary:
      `recovery: ${after.map((check) => check.name).join(', ')} within ${duration(recovery.within)}` +
      (afterActions > 0 ? ' after the recovery actions' : ''),
  }).awaitRecovery({
    checks: after,
    withinMs: recovery.within,
    intervalMs: recovery.interval,
    gameDay: run.checkContext(),
    ...(afterActions > 0 ? { afterActions } : {}),
  });
  run.report.checks.recovery = result;
  run.recordChecks(result.results);
  if (afterActions === 0) {
    run.note(result.recovered ? `recovered after ${result.afterMs} ms` : 'did not recover in time');
  } else {
    run.note(
      result.recovered
        ? `recovered ${result.afterMs} ms after the recovery actions`
        : 'did not recover in time after the recovery actions either',
    );
  }
  return result.recovered;
}

/** The verdict, into the report, the search attributes, the memo and the worker's metrics. */
function finish(run: GameDayRun): GameDayReport {
  const { report, plan } = run;
  const { outcome, reason } =
    run.outcome !== undefined
      ? { outcome: run.outcome, reason: report.reason ?? '' }
      : verdictOf(report, plan, run.abortReason);
  report.outcome = outcome;
  report.reason = reason;
  report.finishedAt = new Date().toISOString();
  run.enter('done', `${outcome}: ${report.reason}`);
  upsertSearchAttributes([{ key: searchAttributes.outcome, value: outcome }]);
  upsertMemo({ outcome, reason: report.reason });
  gameDayMetrics.gameDayFinished(plan.metadata.name, outcome);
  return report;
}
