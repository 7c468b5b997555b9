import { z } from 'zod';
import { ExecutorError } from '../executors/executor';
import { FaultUserError, type FaultContext, type RevertCommand } from './contract';

/** The fixed handle of every qdisc gameday installs: rollback removes only a root qdisc with this handle. */
export const gamedayHandle = '7a6d:';

export const interfaceName = z
  .string()
  .max(15)
  .regex(/^[A-Za-z0-9_.-]{1,15}$/, 'must be a network interface name (letters, digits, _ . -; at most 15)');

/** Root qdiscs the kernel puts back by itself when a root qdisc is deleted. */
const kernelDefaults = new Set(['noqueue', 'pfifo_fast', 'fq_codel', 'mq', 'pfifo', 'fq', 'noop']);

export interface Qdisc {
  readonly kind: string;
  readonly handle: string;
  readonly root?: boolean;
  readonly options?: Record<string, unknown>;
}

/** The root qdisc in `tc -j qdisc show dev IF` output. */
export function rootQdisc(tcJson: string): Qdisc | undefined {
  const qdiscs = JSON.parse(tcJson) as Qdisc[];
  return qdiscs.find((qdisc) => qdisc.root === true);
}

export async function readRootQdisc(ctx: FaultContext, iface: string): Promise<Qdisc | undefined> {
  const result = await ctx.exec.run(['tc', '-j', 'qdisc', 'show', 'dev', iface]);
  if (result.exitCode !== 0) {
    if (/Cannot find device/.test(result.stderr)) {
      throw new FaultUserError(`interface ${iface} does not exist on ${ctx.target.name}`);
    }
    throw new ExecutorError(`tc qdisc show dev ${iface} on ${ctx.target.name}: ${result.stderr.trim()}`);
  }
  return rootQdisc(result.stdout);
}

/**
 * What the interface had before. Only a kernel default is accepted: deleting our root qdisc brings exactly
 * that back. A custom root qdisc (someone's shaping) is refused rather than replaced.
 */
export async function previousRoot(ctx: FaultContext, iface: string): Promise<Qdisc> {
  const root = await readRootQdisc(ctx, iface);
  if (root === undefined)
    throw new ExecutorError(`no root qdisc reported for ${iface} on ${ctx.target.name}`);
  if (root.handle !== gamedayHandle && !kernelDefaults.has(root.kind)) {
    throw new FaultUserError(
      `${iface} on ${ctx.target.name} already has a custom root qdisc (${root.kind} ${root.handle}); ` +
        'gameday will not replace shaping it cannot restore exactly',
    );
  }
  return root;
}

/**
 * The host-side revert of `removeGamedayRoot`. Naming the handle makes the kernel refuse ("Invalid handle")
 * when the root qdisc is no longer ours, so it never deletes someone else's.
 */
export function gamedayRootRevert(iface: string): RevertCommand[] {
  return [['tc', 'qdisc', 'del', 'dev', iface, 'root', 'handle', gamedayHandle]];
}

/**
 * Removes gameday's root qdisc if it is there; the kernel restores its default. Idempotent, one round trip:
 * naming the handle makes the kernel refuse ("Invalid handle") a root qdisc that is not ours, so nobody
 * else's shaping is touched, and a missing interface has nothing of ours either. The verify that follows
 * every rollback reads what is left.
 */
export async function removeGamedayRoot(ctx: FaultContext, iface: string): Promise<void> {
  const [argv] = gamedayRootRevert(iface) as [RevertCommand];
  const result = await ctx.exec.run(argv);
  if (result.exitCode === 0 || /Invalid handle|Cannot find device/.test(result.stderr)) return;
  throw new ExecutorError(
    `tc qdisc del dev ${iface} root handle ${gamedayHandle} on ${ctx.target.name}: ${result.stderr.trim()}`,
  );
}
