import { deprecatePatch } from '@temporalio/workflow';
import { isHostTarget, type HostTarget } from '../plan/targets';
import {
  activities,
  changing,
  duration,
  inZone,
  inZoneFailure,
  leaseKeeperOptions,
  noWorkerLine,
  noWorkerTookIt,
  onQueue,
  zoneOf,
  zoneOfTarget,
} from './activityOptions';
import { deadManSwitchFor, type DeadManSwitch, type FaultRecord, type FaultStep } from './definitions';
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
    const injected = await Promise.allSettled(
      targets.map(({ step, deadMan }) => injectStep(run, step, deadMan)),
    );
    const failed = injected.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** Prepare, record the rollback, inject, verify: one fault on one target. */
async function injectStep(run: GameDayRun, step: FaultStep, deadMan: DeadManSwitch): Promise<void> {
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
  const input = { step, tag: run.tag, deadMan };
  // A target of a group with `via`: every step on it runs on its zone's queue (its rollback too).
  const zone = zoneOfTarget(run.plan, step.target);
  let what = `the prepare of ${step.id}`;
  try {
    const saved = await activities(
      inZone({ ...changing, summary: `record state before: ${step.inject}` }, zone),
    ).prepareFault(input);
    // The rollback is recorded before the inject runs: whatever happens next, it will be compensated.
    run.rollbacks.push({ step, saved, record, deadMan });
    record.status = 'injecting';
    what = `the inject of ${step.id}`;
    await activities(inZone({ ...changing, summary: step.inject }, zone)).injectFault({ ...input, saved });
    what = `the verify of ${step.id}`;
    const state = await activities(
      inZone({ ...changing, summary: `verify: ${step.inject}` }, zone),
    ).verifyFault({ ...input, saved, expectActive: true });
    record.status = 'active';
    record.injectedAt = now();
    record.detail = state.detail;
    run.note(`injected: ${step.inject} (${state.detail})${onQueue(step.target.via)}`);
  } catch (error) {
    record.status = 'inject-failed';
    const failure = inZoneFailure(error, zone, what);
    record.error = failureMessage(failure);
    throw failure;
  }
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
