import { Context } from '@temporalio/activity';
import type { KeepLeasesInput } from '../workflows/definitions';
import { renewLeases } from './deadMan';
import type { ActivityDeps } from './deps';

/**
 * Renews every armed fault's lease a few times per lease length, until the workflow cancels it (rollback
 * has begun). A host that cannot be reached is logged and tried again next round: if it stays unreachable,
 * its dead-man switch reverts the fault there. When this worker dies, another one picks the activity up
 * after the heartbeat timeout, well within a lease.
 */
export async function keepLeases(deps: ActivityDeps, input: KeepLeasesInput): Promise<void> {
  const ctx = Context.current();
  const renewEveryMs = Math.max(500, Math.floor(input.leaseMs / 3));
  // Well inside the heartbeat timeout the workflow derives from the lease (a quarter of it, at least 1 s).
  const heartbeatEveryMs = Math.min(1000, Math.floor(renewEveryMs / 4));
  const unreachable = new Set<string>();
  let renewedAt = 0;
  for (;;) {
    if (Date.now() - renewedAt >= renewEveryMs) {
      renewedAt = Date.now();
      await Promise.all(
        input.leases.map(async ({ target, switches }) => {
          try {
            await renewLeases(deps.executorFor(target), switches, renewEveryMs);
            if (unreachable.delete(target.name)) deps.log.info({ host: target.name }, 'leases renewed again');
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
    await ctx.sleep(Math.min(heartbeatEveryMs, renewEveryMs)); // rejects when the workflow cancels us
  }
}
