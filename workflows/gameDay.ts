import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  deprecatePatch,
  isCancellation,
  upsertMemo,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { ProbeSpec } from '../plan/schema';
import { zoneQueuesOf } from '../plan/targets';
import {
  activities,
  duration,
  inZone,
  inZoneFailure,
  noWorkerLine,
  noWorkerTookIt,
  onQueue,
  readOnly,
  recoveryOptions,
  zoneOf,
  zoneOfCheck,
  type Zone,
} from './activityOptions';
import {
  searchAttributes,
  searchableTargets,
  type CheckResult,
  type FaultStep,
  type GameDayInput,
  type GameDayReport,
  type RecoveryResult,
  type ResolvedPlan,
  type ZonesResolved,
} from './definitions';
import { failureMessage, GameDayRun, now } from './gameDayRun';
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
  // Recorded histories carry this marker first; every run now collects IO evidence.
  deprecatePatch('io-evidence');
  const run = new GameDayRun(input);
  run.listen();
  // The CLI puts the tag in the memo; a scheduled run draws its own, and records it the same way.
  if (input.tag === undefined) upsertMemo({ tag: run.tag });
  try {
    const clean = input.schedule === undefined || (await cleanToStart(run, input.schedule.id));
    const steps = clean ? await resolve(run) : [];
    if (clean && steps !== undefined && (await preflight(run))) {
      await injectFaults(run, steps);
      await observeWindow(run);
    }
  } catch (error) {
    // The outcome says "aborted"; the reason says why, without saying it twice.
    run.stop(isCancellation(error) ? 'the workflow was cancelled' : failureMessage(error));
  }
  // Whatever happened above, and even if the workflow is being cancelled, every recorded fault is rolled back.
  return await CancellationScope.nonCancellable(async () => {
    await rollBackFaults(run);
    await run.evidenceAlongsideRollback;
    await recover(run);
    const report = finish(run);
    if (report.outcome !== 'passed') await notifyWebhooks(run, 'not-passed');
    if (input.schedule?.pauseOnFailure === true) await pauseScheduleUnlessPassed(run, input.schedule.id);
    // A completed game day has nothing pending: the lease keeper and an aborted window have stopped.
    await run.cancelledActivitiesStopped();
    return report;
  });
}

/**
 * Selectors become concrete targets; the worker's allow-lists are enforced. Nothing is changed yet. Groups
 * with `via` are resolved first by their zones' workers; a zone that no worker serves, or a plan the worker
 * refuses (inventory, allow-lists), ends the run not-started (undefined).
 */
async function resolve(run: GameDayRun): Promise<readonly FaultStep[] | undefined> {
  const { plan, report } = run;
  run.note(`game day ${plan.metadata.name} started (tag ${run.tag}, seed ${run.seed})`);
  let resolved: ResolvedPlan;
  try {
    const zones = await resolveZones(run);
    resolved = await activities({
      ...readOnly,
      summary: `resolve targets of ${plan.metadata.name}`,
    }).resolvePlan({ plan, seed: run.seed, tag: run.tag, ...(zones === undefined ? {} : { zones }) });
  } catch (error) {
    const refusal = startRefusal(error);
    if (refusal === undefined) throw error;
    run.outcome = 'not-started';
    report.reason = `${refusal}; nothing was injected`;
    run.note(report.reason);
    return undefined;
  }
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

/**
 * Why resolve refused to start the run, when it did: a zone no worker serves, or a plan the worker's
 * inventory and allow-lists refuse (PlanRefused, never retried). Anything else is a failure of the step.
 */
function startRefusal(error: unknown): string | undefined {
  if (error instanceof ApplicationFailure && error.type === 'NoZoneWorker') return error.message;
  const cause = error instanceof ActivityFailure ? error.cause : undefined;
  if (cause instanceof ApplicationFailure && cause.type === 'PlanRefused') return cause.message;
  return undefined;
}

/** Each zone's groups, resolved by a worker of its queue (side by side); undefined for a plan without `via`. */
async function resolveZones(run: GameDayRun): Promise<ZonesResolved | undefined> {
  const { plan } = run;
  const queues = zoneQueuesOf(plan);
  if (queues.length === 0) return undefined;
  const listings = await Promise.all(
    queues.map(async (queue) => {
      const zone = zoneOf(plan, queue);
      const groups = Object.keys(plan.targets).filter((name) => plan.targets[name]?.via === queue);
      try {
        return await activities(
          inZone(
            { ...readOnly, summary: `resolve target groups ${groups.join(', ')}${onQueue(queue)}` },
            zone,
          ),
        ).resolveZoneGroups({ plan, queue });
      } catch (error) {
        throw inZoneFailure(error, zone, `the resolve of target group(s) ${groups.join(', ')}`);
      }
    }),
  );
  return {
    groups: Object.fromEntries(listings.flatMap((listing) => Object.entries(listing.groups))),
    unverifiedHosts: listings.flatMap((listing) => listing.unverifiedHosts ?? []),
  };
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

/** Each check on its own, a check `on` a zone's host by a worker of that zone. */
async function runChecks(run: GameDayRun, specs: readonly ProbeSpec[]): Promise<CheckResult[]> {
  const results = await Promise.all(
    specs.map(async (spec) => {
      const zone = zoneOfCheck(run.plan, spec);
      try {
        return await activities(
          inZone({ ...readOnly, summary: run.checkSummary(spec) + onQueue(zone?.queue) }, zone),
        ).runCheck(spec, run.checkContext());
      } catch (error) {
        if (zone === undefined || !noWorkerTookIt(error)) throw error;
        return couldNotAsk(spec, zone);
      }
    }),
  );
  run.recordChecks(results);
  return results;
}

/** A check no worker of its zone took: it could not ask, so it does not hold. */
function couldNotAsk(spec: ProbeSpec, zone: Zone): CheckResult {
  return {
    name: spec.name,
    holds: false,
    expect: spec.expect,
    detail: noWorkerLine(zone, `check ${spec.name}`),
    couldNotAsk: true,
    at: now(),
  };
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
  // The checks on a zone's hosts wait on that zone's queue, side by side with the others.
  const byZone = new Map<string | undefined, ProbeSpec[]>();
  for (const check of after) {
    const queue = zoneOfCheck(run.plan, check)?.queue;
    byZone.set(queue, [...(byZone.get(queue) ?? []), check]);
  }
  const waits = await Promise.all(
    [...byZone].map(([queue, checks]) => awaitRecoveryOn(run, zoneOf(run.plan, queue), checks, afterActions)),
  );
  const result: RecoveryResult =
    waits.length === 1 && waits[0] !== undefined
      ? waits[0]
      : {
          recovered: waits.every((wait) => wait.recovered),
          afterMs: Math.max(...waits.map((wait) => wait.afterMs)),
          results: waits.flatMap((wait) => wait.results),
          ...(afterActions > 0 ? { afterActions } : {}),
        };
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

/** The wait of the `after` checks of one queue; a zone no worker serves did not recover (could not ask). */
async function awaitRecoveryOn(
  run: GameDayRun,
  zone: Zone | undefined,
  checks: readonly ProbeSpec[],
  afterActions: number,
): Promise<RecoveryResult> {
  const { recovery } = run.plan;
  try {
    return await activities(
      inZone(
        {
          ...recoveryOptions(recovery.within),
          summary:
            `recovery: ${checks.map((check) => check.name).join(', ')} within ${duration(recovery.within)}` +
            (afterActions > 0 ? ' after the recovery actions' : '') +
            onQueue(zone?.queue),
        },
        zone,
      ),
    ).awaitRecovery({
      checks,
      withinMs: recovery.within,
      intervalMs: recovery.interval,
      gameDay: run.checkContext(),
      ...(afterActions > 0 ? { afterActions } : {}),
    });
  } catch (error) {
    if (zone === undefined || !noWorkerTookIt(error)) throw error;
    return {
      recovered: false,
      afterMs: recovery.within,
      results: checks.map((check) => couldNotAsk(check, zone)),
      ...(afterActions > 0 ? { afterActions } : {}),
    };
  }
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
