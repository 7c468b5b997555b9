import type { HostTarget } from '../../plan/targets';
import type { HostFaultLeftover, JanitorFinding, JanitorScope } from '../../workflows/janitorDefinitions';
import type { ActivityDeps } from '../deps';
import { heartbeat, withHeartbeats } from '../heartbeat';
import { faultContext } from '../faults/context';
import { removeChain } from '../faults/iptablesChains';
import { stopStress, stressLeftover } from '../faults/stress';
import { gamedayHandle, readRootQdisc, removeGamedayRoot } from '../faults/trafficControl';
import { findLeftovers } from './findings';
import { fireAndRemoveDeadMan } from './hostFiles';
import { scanHostFaults } from './hostFaults';

/** The janitor's look: what finished runs left, asked of Temporal with the worker's own client. */
export function findJanitorFindings(deps: ActivityDeps, scope: JanitorScope): Promise<JanitorFinding[]> {
  return withHeartbeats((ctx) => findLeftovers(deps, ctx.client, scope, () => heartbeat(ctx)));
}

export interface HostRevertInput {
  readonly target: HostTarget;
  readonly base: string;
}

/** Fires a dead-man switch no history explains, verifies it is gone, removes its files; what it did. */
export function revertDeadManSwitch(deps: ActivityDeps, input: HostRevertInput): Promise<string> {
  return withHeartbeats(() => fireAndRemoveDeadMan(deps.executorFor(input.target), input.base));
}

export interface HostFaultRevertInput {
  readonly target: HostTarget;
  readonly leftover: HostFaultLeftover;
}

const sameLeftover = (a: HostFaultLeftover, b: HostFaultLeftover): boolean =>
  JSON.stringify(a) === JSON.stringify(b);

/**
 * Removes a fault found in place by its name alone, with its kind's own rollback helper (the one its rollback
 * runs), then looks again: what is still there is an error, and the next sweep lists it again. Removing what
 * is already gone succeeds.
 */
export function revertHostFault(deps: ActivityDeps, input: HostFaultRevertInput): Promise<string> {
  return withHeartbeats(async (activity) => {
    const { target, leftover } = input;
    const exec = deps.executorFor(target);
    const ctx = faultContext({
      fault: leftover.type === 'iptables-chain' ? leftover.fault : 'janitor',
      tag: leftover.type === 'tc-root' ? 'janitor' : leftover.tag,
      heartbeat: (details?: unknown) => heartbeat(activity, details),
      sleep: (ms: number) => activity.sleep(ms),
      exec,
      target,
      protectedPids: target.kind === 'local' ? deps.protectedPids : [],
    });
    let done: string;
    if (leftover.type === 'iptables-chain') {
      await removeChain(ctx, leftover.hook);
      done = `removed the iptables chain of fault ${leftover.fault} (${leftover.hook}) and its jump`;
    } else if (leftover.type === 'tc-root') {
      await removeGamedayRoot(ctx, leftover.iface);
      const root = await readRootQdisc(ctx, leftover.iface).catch(() => undefined);
      done = `deleted the root qdisc ${gamedayHandle} on ${leftover.iface}; now ${root ? `${root.kind} ${root.handle}` : 'none'}`;
    } else {
      const saved = stressLeftover(leftover.dir, leftover.argv);
      if (saved === undefined) throw new Error(`${leftover.dir} is not a gameday stress directory`);
      await stopStress(ctx, saved);
      done = `stopped stress-ng in ${leftover.dir} and its workers`;
    }
    const scan = await scanHostFaults(exec);
    if (scan.errors.length > 0) throw new Error(`could not look again: ${scan.errors.join('; ')}`);
    const still = scan.found.find((found) => found.leftover && sameLeftover(found.leftover, leftover));
    if (still) throw new Error(`still there after removal: ${still.what}`);
    return done;
  });
}
