import { deprecatePatch, patched } from '@temporalio/workflow';
import { isHostTarget, type HostTarget } from '../plan/targets';
import {
  activities,
  changing,
  duration,
  inZone,
  inZoneFailure,
  injectTogetherOptions,
  leaseKeeperOptions,
  noWorkerLine,
  noWorkerTookIt,
  onQueue,
  zoneOf,
  zoneOfTarget,
} from './activityOptions';
import {
  deadManSwitchFor,
  type DeadManSwitch,
  type FaultRecord,
  type FaultStep,
  type InjectedOutcome,
  type PreparedOutcome,
} from './definitions';
import { failureMessage, groupedByFault, now, type GameDayRun } from './gameDayRun';

/**
 * Injects the faults in plan order, the targets of one fault together. Every step arms its host's dead-man
 * switch, and a lease keeper renews them all while faults are in place. A failed step stops the run (throws)
 * once the other targets of its fault have been recorded; an abort stops it before the next fault.
 */
export async function injectFaults(run: GameDayRun, steps: readonly FaultStep[]): Promise<void> {
  run.enter('inject', `injecting ${steps.length} fault step(s)`);
  // Recorded histories carry these markers here; every run now takes the patched paths.
  deprecatePatch('dead-man-switch');
  const switches = steps.map((_, i) => deadManSwitchFor(run.tag, i, run.plan.deadManSwitch.lease));
  if (switches.length > 0) keepLeasesWhileFaultsAreIn(run, steps, switches);
  deprecatePatch('parallel-targets');
  const indexed = steps.map((step, index) => ({ step, deadMan: switches[index] as DeadManSwitch }));
  for (const targets of groupedByFault(indexed, ({ step }) => step.fault)) {
    if (run.stopping) break;
    // A failure on one target waits for the others to be recorded.
    const injected =
      targets.every(({ step }) => isHostTarget(step.target)) && patched('one-activity-per-fault')
        ? await injectTogether(run, targets)
        : await Promise.allSettled(targets.map(({ step, deadMan }) => injectStep(run, step, deadMan)));
    const failed = injected.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

interface TargetStep {
  readonly step: FaultStep;
  readonly deadMan: DeadManSwitch;
}

/** The longest summary the Temporal UI is given (the server bounds user metadata). */
const summaryLength = 400;

/** Plain words for an activity serving every target of a fault: what it does, naming as many targets as fit. */
export function onTargets(what: string, names: readonly string[]): string {
  const head = `${what} on ${names.length} target(s): `;
  let listed = '';
  for (const [i, name] of names.entries()) {
    const next = listed === '' ? name : `${listed}, ${name}`;
    const rest = names.length - i - 1;
    if (head.length + next.length + (rest > 0 ? ` and ${rest} more`.length : 0) > summaryLength) {
      return `${head}${listed} and ${names.length - i} more`;
    }
    listed = next;
  }
  return head + listed;
}

type Settled = PromiseSettledResult<void>;

/** A target's own activities, settled at once: their failure is collected, never left unhandled meanwhile. */
const settled = (promise: Promise<void>): Promise<Settled> =>
  promise.then(
    () => ({ status: 'fulfilled', value: undefined }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );

/** What a step on these targets is called in a line: its id for one target, else the fault and their count. */
const stepsNamed = (steps: readonly TargetStep[]): string =>
  steps.length === 1
    ? (steps[0] as TargetStep).step.id
    : `${(steps[0] as TargetStep).step.fault} on ${steps.length} targets`;

/** Every target failed as one (no worker took the activity): the records say why. */
function allFailed(records: readonly FaultRecord[], failure: unknown): Settled[] {
  for (const record of records) injectFailed(record, failure);
  return [{ status: 'rejected', reason: failure }];
}

/**
 * One host fault on all its targets in two activities: every prepare (the saved states recorded before anything
 * changes), then every arm, inject and verify, so the fault starts on all targets together. A target either
 * could not serve gets its own retried activities, as `injectStep` runs them. Settles per target.
 */
async function injectTogether(run: GameDayRun, targets: readonly TargetStep[]): Promise<Settled[]> {
  const records = targets.map(({ step }) => recordOf(run, step));
  const { fault, target } = (targets[0] as TargetStep).step;
  const zone = zoneOfTarget(run.plan, target);
  const names = targets.map(({ step }) => step.target.name);
  let prepared: readonly PreparedOutcome[];
  try {
    ({ outcomes: prepared } = await activities(
      inZone({ ...injectTogetherOptions, summary: onTargets(`record state before: ${fault}`, names) }, zone),
    ).prepareFaultOnTargets({
      steps: targets.map(({ step, deadMan }) => ({ step, tag: run.tag, deadMan })),
    }));
  } catch (failure) {
    if (zone !== undefined && noWorkerTookIt(failure)) {
      return allFailed(records, inZoneFailure(failure, zone, `the prepare of ${stepsNamed(targets)}`));
    }
    run.note(
      `preparing ${fault} on its targets together failed (${failureMessage(failure)}): each on its own`,
    );
    return Promise.allSettled(
      targets.map(({ step, deadMan }, i) => injectStep(run, step, deadMan, records[i])),
    );
  }
  const alone: Promise<Settled>[] = [];
  const ready: Ready[] = [];
  targets.forEach(({ step, deadMan }, i) => {
    const record = records[i] as FaultRecord;
    const outcome = prepared[i] as PreparedOutcome;
    if (!outcome.prepared) {
      run.note(`prepare of ${step.id} failed (${outcome.error}): retried on its own`);
      alone.push(settled(injectStep(run, step, deadMan, record)));
      return;
    }
    // The rollback is recorded before the inject runs: whatever happens next, it will be compensated.
    run.rollbacks.push({ step, saved: outcome.saved, record, deadMan });
    record.status = 'injecting';
    ready.push({ step, deadMan, record, saved: outcome.saved });
  });
  const together = await injectPreparedTogether(run, ready, fault);
  return [...(await Promise.all(alone)), ...together];
}

interface Ready extends TargetStep {
  readonly record: FaultRecord;
  readonly saved: unknown;
}

/** Arm, inject and verify on every prepared target in one activity; each one it could not serve on its own. */
async function injectPreparedTogether(
  run: GameDayRun,
  ready: readonly Ready[],
  fault: string,
): Promise<Settled[]> {
  if (ready.length === 0) return [];
  const zone = zoneOfTarget(run.plan, (ready[0] as Ready).step.target);
  const names = ready.map(({ step }) => step.target.name);
  const inject = (ready[0] as Ready).step.inject;
  let injected: readonly InjectedOutcome[];
  try {
    ({ outcomes: injected } = await activities(
      inZone(
        { ...injectTogetherOptions, summary: onTargets(ready.length === 1 ? inject : fault, names) },
        zone,
      ),
    ).injectFaultOnTargets({
      steps: ready.map(({ step, deadMan, saved }) => ({ step, tag: run.tag, deadMan, saved })),
    }));
  } catch (failure) {
    if (zone !== undefined && noWorkerTookIt(failure)) {
      const records = ready.map(({ record }) => record);
      return allFailed(records, inZoneFailure(failure, zone, `the inject of ${stepsNamed(ready)}`));
    }
    run.note(
      `injecting ${fault} on its targets together failed (${failureMessage(failure)}): each on its own`,
    );
    return Promise.all(ready.map((one) => settled(injectSaved(run, one))));
  }
  return Promise.all(
    ready.map((one, i) => {
      const outcome = injected[i] as InjectedOutcome;
      if (outcome.injected) {
        markActive(run, one.step, one.record, outcome.detail, outcome.at);
        return settled(Promise.resolve());
      }
      run.note(`inject of ${one.step.id} failed (${outcome.error}): retried on its own`);
      return settled(injectSaved(run, one));
    }),
  );
}

/** A fault step's line in the report, from before its prepare. */
function recordOf(run: GameDayRun, step: FaultStep): FaultRecord {
  const record: FaultRecord = {
    id: step.id,
    fault: step.fault,
    kind: step.kind,
    target: step.target.name,
    inject: step.inject,
    rollback: step.rollback,
    status: 'preparing',
    ...(step.target.via === undefined ? {} : { taskQueue: step.target.via }),
  };
  run.report.faults.push(record);
  return record;
}

function markActive(run: GameDayRun, step: FaultStep, record: FaultRecord, detail: string, at = now()): void {
  record.status = 'active';
  record.injectedAt = at;
  record.detail = detail;
  run.note(`injected: ${step.inject} (${detail})${onQueue(step.target.via)}`);
}

/** Prepare, record the rollback, inject, verify: one fault on one target. */
async function injectStep(
  run: GameDayRun,
  step: FaultStep,
  deadMan: DeadManSwitch,
  record = recordOf(run, step),
): Promise<void> {
  const input = { step, tag: run.tag, deadMan };
  const zone = zoneOfTarget(run.plan, step.target);
  let saved: unknown;
  try {
    saved = await activities(
      inZone({ ...changing, summary: `record state before: ${step.inject}` }, zone),
    ).prepareFault(input);
  } catch (error) {
    throw injectFailed(record, inZoneFailure(error, zone, `the prepare of ${step.id}`));
  }
  // The rollback is recorded before the inject runs: whatever happens next, it will be compensated.
  run.rollbacks.push({ step, saved, record, deadMan });
  record.status = 'injecting';
  await injectSaved(run, { step, deadMan, record, saved });
}

/** Inject and verify a prepared step, each retried on its own. */
async function injectSaved(run: GameDayRun, { step, deadMan, record, saved }: Ready): Promise<void> {
  const input = { step, tag: run.tag, deadMan, saved };
  const zone = zoneOfTarget(run.plan, step.target);
  let what = `the inject of ${step.id}`;
  try {
    await activities(inZone({ ...changing, summary: step.inject }, zone)).injectFault(input);
    what = `the verify of ${step.id}`;
    const state = await activities(
      inZone({ ...changing, summary: `verify: ${step.inject}` }, zone),
    ).verifyFault({ ...input, expectActive: true });
    markActive(run, step, record, state.detail);
  } catch (error) {
    throw injectFailed(record, inZoneFailure(error, zone, what));
  }
}

function injectFailed(record: FaultRecord, failure: unknown): unknown {
  record.status = 'inject-failed';
  record.error = failureMessage(failure);
  return failure;
}

/** One lease keeper for every switch, grouped by host; cancelled when the rollback has been tried. */
function keepLeasesWhileFaultsAreIn(
  run: GameDayRun,
  steps: readonly FaultStep[],
  switches: readonly DeadManSwitch[],
): void {
  // One keeper per zone (in the order their hosts come): only a zone's workers reach its hosts.
  type Leases = Map<string, { target: HostTarget; switches: DeadManSwitch[] }>;
  const byZone = new Map<string | undefined, Leases>();
  steps.forEach(({ target }, i) => {
    if (!isHostTarget(target)) return; // a Kubernetes object has no host to hold a switch
    const byTarget: Leases = byZone.get(target.via) ?? (new Map() as Leases);
    const entry = byTarget.get(target.name) ?? { target, switches: [] };
    entry.switches.push(switches[i] as DeadManSwitch);
    byTarget.set(target.name, entry);
    byZone.set(target.via, byTarget);
  });
  const leaseMs = run.plan.deadManSwitch.lease;
  for (const [via, byTarget] of byZone) {
    const keeper = run.leaseKeeper
      .run(() =>
        activities(
          inZone(
            {
              ...leaseKeeperOptions(leaseMs, run.cancellation),
              summary: `renew dead-man leases (${duration(leaseMs)}) on ${byTarget.size} host(s)${onQueue(via)}`,
            },
            zoneOf(run.plan, via),
          ),
        ).keepLeases({ leases: [...byTarget.values()], leaseMs }),
      )
      // Cancelled when rollback ends; its failures are retried by Temporal. A zone with no worker has its
      // leases unrenewed: its hosts revert the faults by themselves.
      .catch((error: unknown) => {
        const zone = zoneOf(run.plan, via);
        if (zone === undefined || !noWorkerTookIt(error)) return;
        run.note(
          `${noWorkerLine(zone, 'the dead-man lease keeper')}; the leases of ${[...byTarget.keys()].join(', ')} ` +
            'are not renewed, so those hosts revert their faults by themselves',
        );
      });
    run.settleBeforeEnd(keeper);
  }
}
