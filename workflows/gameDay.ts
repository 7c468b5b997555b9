import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
  type RetryPolicy,
} from '@temporalio/workflow';
import ms from 'ms';
import type { createActivities } from '../activities';
import type { ProbeSpec } from '../plan/schema';
import {
  abortUpdate,
  deadManSwitchFor,
  searchAttributes,
  searchableTargets,
  type AbortRequest,
  stateQuery,
  type CheckResult,
  type DeadManSwitch,
  type FaultRecord,
  type FaultStep,
  type GameDayInput,
  type GameDayReport,
  type Outcome,
  type Phase,
} from './definitions';
import { gameDayMetrics } from './metricsSinks';

type Activities = ReturnType<typeof createActivities>;

const readOnly: ActivityOptions = {
  startToCloseTimeout: '2m',
  heartbeatTimeout: '5s',
  retry: { initialInterval: '500ms', maximumAttempts: 3 },
};

// Inject and verify change or read hosts: a few attempts, and cancellation waits until the activity has stopped.
const changing: ActivityOptions = {
  startToCloseTimeout: '60s',
  heartbeatTimeout: '5s',
  retry: { initialInterval: '500ms', maximumAttempts: 3, nonRetryableErrorTypes: ['FaultUserError'] },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};

// Rollbacks are retried until they succeed. The first round is bounded so that one stuck rollback cannot hold
// up the others; what is left is then retried without limit, in parallel, until a person fixes the cause.
const rollbackRetry: RetryPolicy = {
  initialInterval: '200ms',
  backoffCoefficient: 2,
  maximumInterval: '10s',
};
const rollbackOptions: ActivityOptions = {
  startToCloseTimeout: '15m',
  heartbeatTimeout: '3s',
  retry: { ...rollbackRetry, maximumAttempts: 6 },
};
// No maximumAttempts: unlimited.
const stuckRollbackOptions: ActivityOptions = { ...rollbackOptions, retry: rollbackRetry };

// Renews dead-man leases for as long as faults are in place; a dead worker's renewals move to another worker
// after the heartbeat timeout, a quarter of the lease (at most 10 s), so a standby takes over in time.
const leaseKeeperOptions = (leaseMs: number): ActivityOptions => ({
  startToCloseTimeout: '7d',
  heartbeatTimeout: Math.max(1000, Math.min(10_000, Math.floor(leaseMs / 4))),
  retry: { initialInterval: '500ms', maximumInterval: '2s' },
  cancellationType: ActivityCancellationType.TRY_CANCEL,
});

interface RollbackEntry {
  readonly step: FaultStep;
  readonly saved: unknown;
  readonly record: FaultRecord;
  readonly deadMan?: DeadManSwitch;
}

function holdsAll(results: readonly CheckResult[]): boolean {
  return results.every((result) => result.holds);
}

function failureMessage(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : error.message;
  }
  return String(error);
}

/** Items grouped by the fault they belong to, groups in order of each fault's first item. */
function groupedByFault<T>(items: readonly T[], faultOf: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(faultOf(item), [...(groups.get(faultOf(item)) ?? []), item]);
  return [...groups.values()];
}

/** One game day: resolve → preflight → inject → observe → rollback → recover → report. */
export async function gameDay(input: GameDayInput): Promise<GameDayReport> {
  const { plan, tag } = input;
  const seed = input.seed ?? Math.floor(Math.random() * 2 ** 31);
  const now = () => new Date().toISOString();
  const report: GameDayReport = {
    workflowId: workflowInfo().workflowId,
    plan: plan.metadata.name,
    owner: plan.metadata.owner,
    planDigest: input.planDigest,
    tag,
    seed,
    phase: 'resolve',
    startedAt: now(),
    targets: [],
    faults: [],
    checks: { preflight: [], during: [], guardrails: [] },
    lastChecks: {},
    timeline: [],
  };
  // Histories from before IO evidence replay without it; decided once, before any other command.
  const collectsIoEvidence = patched('io-evidence');
  let abortReason: string | undefined;
  let evidenceDuringRollback: Promise<void> | undefined;
  let rollbackStarted = false;
  let descriptions: Readonly<Record<string, string>> = {};

  const note = (message: string) => report.timeline.push({ at: now(), phase: report.phase, message });
  const enter = (phase: Phase, message: string) => {
    report.phase = phase;
    note(message);
    upsertSearchAttributes([{ key: searchAttributes.phase, value: phase }]);
    setCurrentDetails(`**${phase}** — ${message}`);
  };
  const recordChecks = (results: readonly CheckResult[]) => {
    for (const result of results) {
      report.lastChecks[result.name] = result;
      note(
        `check ${result.name} ${result.holds ? 'held' : 'DEVIATED'} (expect ${result.expect}): ${result.detail}`,
      );
    }
  };
  const checkSummary = (spec: ProbeSpec) => `check ${spec.name}: ${descriptions[spec.name] ?? spec.name}`;

  setHandler(stateQuery, () => report);
  setHandler(
    abortUpdate,
    ({ reason, by }) => {
      abortReason ??= `aborted${by ? ` by ${by}` : ''}: ${reason}`;
      note(abortReason);
      return { phase: report.phase };
    },
    {
      validator: ({ reason }: AbortRequest) => {
        if (!reason?.trim()) throw new Error('an abort needs a reason (--reason "…")');
        if (rollbackStarted)
          throw new Error(`the game day is already past injection (phase ${report.phase})`);
      },
    },
  );

  const run = (options: ActivityOptions) => proxyActivities<Activities>(options);
  const runChecks = async (specs: readonly ProbeSpec[]) => {
    const results = await Promise.all(
      specs.map((spec) => run({ ...readOnly, summary: checkSummary(spec) }).runCheck(spec)),
    );
    recordChecks(results);
    return results;
  };

  const stack: RollbackEntry[] = [];
  let parallelTargets = false;
  let outcome: Outcome | undefined;
  const leaseKeeper = new CancellationScope();

  try {
    note(`game day ${plan.metadata.name} started (tag ${tag}, seed ${seed})`);
    const resolved = await run({
      ...readOnly,
      summary: `resolve targets of ${plan.metadata.name}`,
    }).resolvePlan({
      plan,
      seed,
      tag,
    });
    descriptions = resolved.checks;
    report.targets = [...resolved.targets];
    upsertSearchAttributes([{ key: searchAttributes.targets, value: searchableTargets(resolved.targets) }]);
    note(`resolved ${resolved.steps.length} fault step(s) on ${resolved.targets.join(', ') || 'no target'}`);
    for (const warning of resolved.warnings ?? []) note(warning);

    enter('preflight', 'checking the steady-state hypothesis');
    const before = plan.checks.filter((check) => check.when.includes('before'));
    report.checks.preflight = await runChecks(before);
    if (!holdsAll(report.checks.preflight)) {
      const failed = report.checks.preflight.filter((r) => !r.holds).map((r) => `${r.name} (${r.detail})`);
      outcome = 'not-started';
      report.reason = `steady state did not hold before injection: ${failed.join('; ')}`;
      note(report.reason);
      return finish();
    }

    enter('inject', `injecting ${resolved.steps.length} fault step(s)`);
    // Histories from before the dead-man switch replay without it.
    const switches = patched('dead-man-switch')
      ? resolved.steps.map((_, i) => deadManSwitchFor(tag, i, plan.deadManSwitch.lease))
      : [];
    if (switches.length > 0) keepLeasesWhileFaultsAreIn(resolved.steps, switches);
    // Histories from before parallel targets replay one step after the other.
    parallelTargets = patched('parallel-targets');
    const indexed = resolved.steps.map((step, index) => ({ step, index }));
    const faults = parallelTargets
      ? groupedByFault(indexed, ({ step }) => step.fault)
      : indexed.map((s) => [s]);
    for (const targets of faults) {
      if (abortReason !== undefined) break;
      // The targets of one fault are injected together; a failure on one waits for the others to be recorded.
      const injected = await Promise.allSettled(
        targets.map(({ step, index }) => injectStep(step, switches[index])),
      );
      const failed = injected.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
    }

    if (abortReason === undefined) {
      const { window, sampleInterval, guardrails } = plan.observation;
      enter('observe', `observing for ${ms(window)}`);
      const during = plan.checks.filter((check) => check.when.includes('during'));
      if (during.length === 0 && guardrails.length === 0) {
        await condition(() => abortReason !== undefined, window);
      } else {
        const scope = new CancellationScope();
        const observation = scope.run(() =>
          run({
            startToCloseTimeout: window + 60_000,
            heartbeatTimeout: '3s',
            retry: { initialInterval: '200ms' },
            cancellationType: ActivityCancellationType.TRY_CANCEL,
            summary: `observe ${during.length} check(s) and ${guardrails.length} guardrail(s) every ${ms(sampleInterval)}`,
          }).observe({
            checks: during,
            guardrails,
            deadline: Date.now() + window,
            intervalMs: sampleInterval,
          }),
        );
        const result = await Promise.race([observation, condition(() => abortReason !== undefined)]);
        if (result === undefined) {
          scope.cancel();
          observation.catch(() => undefined);
        } else {
          report.checks.during = [...result.checks];
          report.checks.guardrails = [...result.guardrails];
          for (const summary of [...result.checks, ...result.guardrails]) {
            if (summary.last) report.lastChecks[summary.name] = summary.last;
            note(`check ${summary.name} held in ${summary.held} of ${summary.samples} samples`);
          }
          if (result.breach) {
            report.checks.breach = result.breach;
            abortReason = `guardrail ${result.breach.name} breached: ${result.breach.detail}`;
            note(abortReason);
          }
          const deviated = result.checks.filter((summary) => summary.held !== summary.samples);
          if (result.breach) {
            // A breach is a safety stop: its rollback never waits for evidence. The evidence activity is
            // scheduled first and samples while the rollbacks begin, so it still sees the faults' effect.
            evidenceDuringRollback = collectIoEvidence(
              'during',
              `guardrail ${result.breach.name} breached; sampled as its rollback began`,
              1000,
            ).catch(() => undefined);
          } else if (deviated.length > 0) {
            const names = deviated.map((summary) => summary.name).join(', ');
            await collectIoEvidence('during', `${names} deviated`, 2000);
          }
        }
      }
    }
  } catch (error) {
    if (isCancellation(error)) {
      abortReason ??= 'aborted: the workflow was cancelled';
    } else {
      abortReason ??= `aborted: ${failureMessage(error)}`;
    }
    note(abortReason);
  }

  // Whatever happened above, and even if the workflow is being cancelled, every recorded fault is rolled back.
  return await CancellationScope.nonCancellable(async () => {
    await rollBackAll();
    await evidenceDuringRollback;
    if (stack.length > 0) {
      const after = plan.checks.filter((check) => check.when.includes('after'));
      enter('recover', `waiting up to ${ms(plan.recovery.within)} for the steady state`);
      if (after.length > 0) {
        const recovery = await run({
          startToCloseTimeout: plan.recovery.within + 60_000,
          heartbeatTimeout: '5s',
          retry: { initialInterval: '500ms' },
          summary: `recovery: ${after.map((check) => check.name).join(', ')} within ${ms(plan.recovery.within)}`,
        }).awaitRecovery({
          checks: after,
          withinMs: plan.recovery.within,
          intervalMs: plan.recovery.interval,
        });
        report.checks.recovery = recovery;
        recordChecks(recovery.results);
        note(recovery.recovered ? `recovered after ${recovery.afterMs} ms` : 'did not recover in time');
        if (!recovery.recovered) await collectIoEvidence('after', 'recovery checks failed', 2000);
      }
    }
    return finish();
  });

  /** Prepare, record the rollback, inject, verify: one fault on one target. */
  async function injectStep(step: FaultStep, deadMan: DeadManSwitch | undefined): Promise<void> {
    const record: FaultRecord = {
      id: step.id,
      fault: step.fault,
      kind: step.kind,
      target: step.target.name,
      inject: step.inject,
      rollback: step.rollback,
      status: 'preparing',
    };
    report.faults.push(record);
    const activity = { step, tag, ...(deadMan ? { deadMan } : {}) };
    try {
      const saved = await run({ ...changing, summary: `record state before: ${step.inject}` }).prepareFault(
        activity,
      );
      // The rollback is recorded before the inject runs: whatever happens next, it will be compensated.
      stack.push({ step, saved, record, ...(deadMan ? { deadMan } : {}) });
      record.status = 'injecting';
      await run({ ...changing, summary: step.inject }).injectFault({ ...activity, saved });
      const state = await run({ ...changing, summary: `verify: ${step.inject}` }).verifyFault({
        ...activity,
        saved,
        expectActive: true,
      });
      record.status = 'active';
      record.injectedAt = now();
      record.detail = state.detail;
      note(`injected: ${step.inject} (${state.detail})`);
    } catch (error) {
      record.status = 'inject-failed';
      record.error = failureMessage(error);
      throw error;
    }
  }

  async function rollBackAll(): Promise<void> {
    rollbackStarted = true;
    if (stack.length === 0) return;
    enter('rollback', `rolling back ${stack.length} fault step(s), last in first out`);
    const stuck: RollbackEntry[] = [];
    const firstRound = async (entry: RollbackEntry) => {
      try {
        await rollBack(entry, rollbackOptions);
      } catch (error) {
        entry.record.status = 'rollback-stuck';
        entry.record.error = failureMessage(error);
        note(`rollback of ${entry.step.id} keeps failing: ${entry.record.error}`);
        stuck.push(entry);
      }
    };
    // Last fault in, first out; the targets of one fault together (firstRound never throws).
    const lastFirst = [...stack].reverse();
    const rounds = parallelTargets
      ? groupedByFault(lastFirst, (e) => e.step.fault)
      : lastFirst.map((e) => [e]);
    for (const entries of rounds) await Promise.all(entries.map(firstRound));
    // From here on a fault still in place is one a worker cannot remove: its host may revert it by itself.
    leaseKeeper.cancel();
    if (stuck.length > 0) {
      enter('rollback-stuck', `${stuck.length} rollback(s) need attention; retrying until they succeed`);
      upsertSearchAttributes([{ key: searchAttributes.outcome, value: 'rollback-stuck' }]);
      gameDayMetrics.rollbackStuck(plan.metadata.name);
      await Promise.all(stuck.map((entry) => rollBack(entry, stuckRollbackOptions)));
      enter('rollback', 'every stuck rollback has succeeded');
    }
  }

  async function rollBack(entry: RollbackEntry, options: ActivityOptions): Promise<void> {
    const { step, saved, record, deadMan } = entry;
    if (record.status !== 'rollback-stuck') record.status = 'rolling-back';
    record.rollbackStartedAt ??= now();
    const result = await run({ ...options, summary: step.rollback }).rollbackFault({
      step,
      tag,
      saved,
      ...(deadMan ? { deadMan } : {}),
    });
    record.status = 'rolled-back';
    record.rolledBackAt = now();
    record.rollbackAttempts = (record.rollbackAttempts ?? 0) + result.attempt;
    record.detail = result.detail;
    delete record.error;
    note(`rolled back: ${step.rollback} (${result.detail})`);
    if (result.revertedByHost !== undefined) {
      note(
        `${step.target.name} had already reverted ${step.id} by its dead-man switch: ${result.revertedByHost}`,
      );
    }
  }

  /** IO evidence from the hosts of the recorded faults; its failure is a note, never the game day's. */
  async function collectIoEvidence(when: 'during' | 'after', reason: string, intervalMs: number) {
    const targets = [...new Map(stack.map((entry) => [entry.step.target.name, entry.step.target])).values()];
    if (!collectsIoEvidence || targets.length === 0) return;
    try {
      const evidence = await run({
        startToCloseTimeout: intervalMs + 90_000,
        heartbeatTimeout: '5s',
        retry: { maximumAttempts: 1 },
        summary: `collect IO evidence on ${targets.map((t) => t.name).join(', ')} (${reason})`,
      }).collectIoEvidence({ targets, when, reason, intervalMs });
      (report.ioEvidence ??= []).push(evidence);
      for (const host of evidence.hosts) {
        note(
          `IO evidence from ${host.host}: ${'error' in host ? `not collected: ${host.error}` : host.finding}`,
        );
      }
    } catch (error) {
      if (isCancellation(error)) throw error;
      note(`IO evidence could not be collected: ${failureMessage(error)}`);
    }
  }

  function keepLeasesWhileFaultsAreIn(steps: readonly FaultStep[], all: readonly DeadManSwitch[]): void {
    const byTarget = new Map<string, { target: FaultStep['target']; switches: DeadManSwitch[] }>();
    steps.forEach((step, i) => {
      const entry = byTarget.get(step.target.name) ?? { target: step.target, switches: [] };
      entry.switches.push(all[i] as DeadManSwitch);
      byTarget.set(step.target.name, entry);
    });
    const leaseMs = plan.deadManSwitch.lease;
    leaseKeeper
      .run(() =>
        run({
          ...leaseKeeperOptions(leaseMs),
          summary: `renew dead-man leases (${ms(leaseMs)}) on ${byTarget.size} host(s)`,
        }).keepLeases({ leases: [...byTarget.values()], leaseMs }),
      )
      .catch(() => undefined); // cancelled when rollback ends; its failures are retried by Temporal
  }

  /**
   * Too few samples are no evidence: a window that passed unobserved (a stalled worker, an observation that
   * started after its deadline) must not pass as "held in 0 of 0 samples". Undefined when every during check
   * and guardrail has at least the plan's minimum.
   */
  function withoutEvidence(): string | undefined {
    // Histories from before `minSamples` carry no value: one sample each, as now by default.
    const minimum = plan.observation.minSamples ?? 1;
    const short = [...report.checks.during, ...report.checks.guardrails].filter((s) => s.samples < minimum);
    if (short.length === 0) return undefined;
    const counts = short.map((s) => `${s.name} ${s.samples}`).join(', ');
    return `no evidence: sampled fewer than ${minimum} time(s) in the window (${counts}); a worker stalled or the window passed unobserved`;
  }

  function finish(): GameDayReport {
    if (outcome === undefined) {
      const unobserved = withoutEvidence();
      const duringHeld = report.checks.during.every((summary) => summary.held === summary.samples);
      const recovered = report.checks.recovery?.recovered ?? true;
      if (abortReason !== undefined) {
        outcome = 'aborted';
        report.reason = abortReason;
      } else if (unobserved !== undefined || !duringHeld || !recovered) {
        outcome = 'failed';
        const deviations = report.checks.during
          .filter((summary) => summary.held !== summary.samples)
          .map((summary) => `${summary.name} held ${summary.held}/${summary.samples} samples`);
        if (unobserved !== undefined) deviations.unshift(unobserved);
        if (!recovered) deviations.push(`did not recover within ${ms(plan.recovery.within)}`);
        report.reason = deviations.join('; ');
      } else {
        outcome = 'passed';
        report.reason = 'the steady state held during chaos and recovered';
      }
    }
    report.outcome = outcome;
    report.finishedAt = now();
    enter('done', `${outcome}: ${report.reason ?? ''}`);
    upsertSearchAttributes([{ key: searchAttributes.outcome, value: outcome }]);
    upsertMemo({ outcome, reason: report.reason });
    gameDayMetrics.gameDayFinished(plan.metadata.name, outcome);
    return report;
  }
}
