import { Context } from '@temporalio/activity';
import type { KeepLeasesInput } from '../workflows/definitions';
import { disarmedSwitches, renewLeases } from './deadMan';
import type { ActivityDeps } from './deps';

/**
 * Renews every armed fault's lease a few times per lease length, until the workflow cancels it (rollback
 * has begun) or every one of its switches has been disarmed by a rollback on this worker. A host that cannot be reached is logged and tried again next round: if it stays unreachable,
 * its dead-man switch reverts the fault there. When this worker dies, another one picks the activity up
 * after the heartbeat timeout, well within a lease.
 */
export async function keepLeases(deps: ActivityDeps, input: KeepLeasesInput): Promise<void> {
  const ctx = Context.current();
  const renewEveryMs = Math.max(500, Math.floor(input.leaseMs / 3));
  // Well inside the heartbeat timeout the workflow derives from the lease (a quarter of it, at least 1 s).
  const heartbeatEveryMs = Math.min(1000, Math.floor(renewEveryMs / 4));
  const unreachable = new Set<string>();
  const armed = new Set(input.leases.flatMap(({ switches }) => switches.map((sw) => sw.base)));
  let allDisarmed: () => void = () => undefined;
  const disarmed = new Promise<void>((resolve) => (allDisarmed = resolve));
  const onDisarmed = (base: string) => {
    if (armed.delete(base) && armed.size === 0) allDisarmed();
  };
  disarmedSwitches.on('disarmed', onDisarmed);
  try {
    await renewUntilCancelled();
  } finally {
    disarmedSwitches.off('disarmed', onDisarmed);
  }

  async function renewUntilCancelled(): Promise<void> {
    // The first attempt starts with the inject, before any switch is armed (arming writes a fresh lease):
    // its first renewal is due one interval on. A retry (the worker was lost) renews at once.
    let renewedAt = ctx.info.attempt > 1 ? 0 : Date.now();
    for (;;) {
      if (Date.now() - renewedAt >= renewEveryMs) {
        renewedAt = Date.now();
        await Promise.all(
          input.leases.map(async ({ target, switches }) => {
            try {
              await renewLeases(deps.executorFor(target), switches, renewEveryMs);
              if (unreachable.delete(target.name))
                deps.log.info({ host: target.name }, 'leases renewed again');
            } catch (error) {
              if (!unreachable.has(target.name)) {
                unreachable.add(target.name);
                deps.log.warn(
                  { host: target.name, err: error },
                  'cannot renew dead-man leases: the host reverts its faults by itself if this lasts',
                );
              }
            }
          }),
        );
      }
      ctx.heartbeat({ unreachable: [...unreachable] });
      // Rejects when the workflow cancels us; nothing left to renew ends the keeper at once.
      const nap = ctx.sleep(Math.min(heartbeatEveryMs, renewEveryMs));
      nap.catch(() => undefined); // a cancel after the keeper has stopped rejects nothing anyone waits for
      const stop = await Promise.race([nap, disarmed.then(() => 'done')]);
      if (stop === 'done') return;
    }
  }
}
