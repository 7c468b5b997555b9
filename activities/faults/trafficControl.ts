import { z } from 'zod';
import { ExecutorError } from '../executors/executor';
import { runStep, thenJudge, type CommandStep } from '../executors/hostCommand';
import { FaultUserError, type FaultContext, type FaultState, type RevertCommand } from './contract';

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

/** Reads the interface's root qdisc (a step, so it can share a round trip with an inject or a rollback). */
export function rootQdiscRead(iface: string, targetName: string): CommandStep<Qdisc | undefined> {
  return {
    command: { argv: ['tc', '-j', 'qdisc', 'show', 'dev', iface] },
    judge(result) {
      if (result.exitCode !== 0) {
        if (/Cannot find device/.test(result.stderr)) {
          throw new FaultUserError(`interface ${iface} does not exist on ${targetName}`);
        }
        throw new ExecutorError(`tc qdisc show dev ${iface} on ${targetName}: ${result.stderr.trim()}`);
      }
      return rootQdisc(result.stdout);
    },
  };
}

export function readRootQdisc(ctx: FaultContext, iface: string): Promise<Qdisc | undefined> {
  return runStep(ctx.exec, rootQdiscRead(iface, ctx.target.name));
}

/** A root qdisc of gameday's of this kind on the interface, as a fault's state. */
export function gamedayRootState(
  iface: string,
  qdiscKind: string,
  targetName: string,
  detail: (root: Qdisc) => string = () => '',
): CommandStep<FaultState> {
  return thenJudge(rootQdiscRead(iface, targetName), (root) => {
    const ours = root?.handle === gamedayHandle && root.kind === qdiscKind;
    return {
      active: ours,
      detail: `${iface} root qdisc: ${root?.kind ?? 'none'} ${root?.handle ?? ''}${ours ? detail(root) : ''}`,
    };
  });
}

/** Installs (or replaces) gameday's root qdisc; `refused` turns a kernel's refusal into the plan's problem. */
export function replaceRootStep(
  argv: readonly string[],
  what: string,
  targetName: string,
  refused: (stderr: string) => Error | undefined = () => undefined,
): CommandStep<void> {
  return {
    command: { argv },
    judge(result) {
      const problem = refused(result.stderr);
      if (problem !== undefined) throw problem;
      if (result.exitCode !== 0)
        throw new ExecutorError(
          `${what} on ${targetName} exited ${result.exitCode}: ${result.stderr.trim()}`,
        );
    },
  };
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
 * else's shaping is touched, and a missing interface has nothing of ours either. The read that follows every
 * rollback says what is left.
 */
export function removeGamedayRootStep(iface: string, targetName: string): CommandStep<void> {
  const [argv] = gamedayRootRevert(iface) as [RevertCommand];
  return {
    command: { argv },
    judge(result) {
      if (result.exitCode === 0 || /Invalid handle|Cannot find device/.test(result.stderr)) return;
      throw new ExecutorError(
        `tc qdisc del dev ${iface} root handle ${gamedayHandle} on ${targetName}: ${result.stderr.trim()}`,
      );
    },
  };
}

export function removeGamedayRoot(ctx: FaultContext, iface: string): Promise<void> {
  return runStep(ctx.exec, removeGamedayRootStep(iface, ctx.target.name));
}
