import { deprecatePatch } from '@temporalio/workflow';
import { isHostTarget, type HostTarget } from '../plan/targets';
import { activities, changing, duration, leaseKeeperOptions } from './activityOptions';
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
  };
  run.report.faults.push(record);
  const input = { step, tag: run.tag, deadMan };
  try {
    const saved = await activities({
      ...changing,
      summary: `record state before: ${step.inject}`,
    }).prepareFault(input);
    // The rollback is recorded before the inject runs: whatever happens next, it will be compensated.
    run.rollbacks.push({ step, saved, record, deadMan });
    record.status = 'injecting';
    await activities({ ...changing, summary: step.inject }).injectFault({ ...input, saved });
    const state = await activities({ ...changing, summary: `verify: ${step.inject}` }).verifyFault({
      ...input,
      saved,
      expectActive: true,
    });
    record.status = 'active';
    record.injectedAt = now();
    record.detail = state.detail;
    run.note(`injected: ${step.inject} (${state.detail})`);
  } catch (error) {
    record.status = 'inject-failed';
    record.error = failureMessage(error);
    throw error;
  }
}

/** One lease keeper for every switch, grouped by host; cancelled when the rollback has been tried. */
function keepLeasesWhileFaultsAreIn(
  run: GameDayRun,
  steps: readonly FaultStep[],
  switches: readonly DeadManSwitch[],
): void {
  const byTarget = new Map<string, { target: HostTarget; switches: DeadManSwitch[] }>();
  steps.forEach(({ target }, i) => {
    if (!isHostTarget(target)) return; // a Kubernetes object has no host to hold a switch
    const entry = byTarget.get(target.name) ?? { target, switches: [] };
    entry.switches.push(switches[i] as DeadManSwitch);
    byTarget.set(target.name, entry);
  });
  if (byTarget.size === 0) return;
  const leaseMs = run.plan.deadManSwitch.lease;
  run.leaseKeeper
    .run(() =>
      activities({
        ...leaseKeeperOptions(leaseMs),
        summary: `renew dead-man leases (${duration(leaseMs)}) on ${byTarget.size} host(s)`,
      }).keepLeases({ leases: [...byTarget.values()], leaseMs }),
    )
    .catch(() => undefined); // cancelled when rollback ends; its failures are retried by Temporal
}
