import { ExecutorError, type Executor } from '../executors/executor';
import { faultHash } from './context';
import { FaultUserError, type FaultContext, type RevertCommand } from './contract';

/** What names a fault's chains: the run's tag and the fault's name in the plan. */
type ChainOwner = Pick<FaultContext, 'tag' | 'fault'>;

/** The hooks a gameday chain is jumped to from; one chain per hook keeps directions apart. */
export type Hook = 'INPUT' | 'OUTPUT';

/**
 * `GD-<tag>-<fault hash>-<I|O>`: unique per run, fault and direction, within iptables' 28-character limit,
 * and found from the run's tag alone.
 */
export function chainName(ctx: ChainOwner, hook: Hook): string {
  return `GD-${ctx.tag}-${faultHash(ctx.fault)}-${hook === 'INPUT' ? 'I' : 'O'}`;
}

export function comment(ctx: ChainOwner): string[] {
  return ['-m', 'comment', '--comment', `gameday:${ctx.tag}:${ctx.fault}`];
}

async function iptables(exec: Executor, args: readonly string[]) {
  // -w: wait for the xtables lock instead of failing when another tool holds it.
  return exec.run(['iptables', '-w', ...args]);
}

export async function requireIptables(ctx: FaultContext): Promise<void> {
  const result = await ctx.exec.run(['iptables', '-w', '-S', 'INPUT']).catch((error: Error) => error);
  if (result instanceof Error || result.exitCode !== 0) {
    const reason = result instanceof Error ? result.message : result.stderr.trim();
    throw new FaultUserError(
      `iptables is not usable on ${ctx.target.name}: ${reason} (needs root and iptables)`,
    );
  }
}

/** Creates (or empties) the chain, fills it with `rules`, and makes sure exactly one jump leads to it. */
export async function installChain(
  ctx: FaultContext,
  hook: Hook,
  rules: readonly (readonly string[])[],
): Promise<void> {
  const chain = chainName(ctx, hook);
  await iptables(ctx.exec, ['-N', chain]); // exits 1 when it exists: the flush below makes both cases equal
  await ctx.run(['iptables', '-w', '-F', chain]);
  for (const rule of rules) await ctx.run(['iptables', '-w', '-A', chain, ...rule, ...comment(ctx)]);
  const jump = [hook, '-j', chain, ...comment(ctx)];
  if ((await iptables(ctx.exec, ['-C', ...jump])).exitCode !== 0) {
    await ctx.run(['iptables', '-w', '-I', ...jump]);
  }
}

/** Removes every jump to the chain and the chain itself; a chain that is already gone is fine. */
export async function removeChain(ctx: FaultContext, hook: Hook): Promise<void> {
  const chain = chainName(ctx, hook);
  const jump = [hook, '-j', chain, ...comment(ctx)];
  for (let i = 0; i < 100 && (await iptables(ctx.exec, ['-C', ...jump])).exitCode === 0; i++) {
    await iptables(ctx.exec, ['-D', ...jump]);
  }
  await iptables(ctx.exec, ['-F', chain]);
  await iptables(ctx.exec, ['-X', chain]);
  const listed = await iptables(ctx.exec, ['-S', chain]);
  if (listed.exitCode === 0) throw new ExecutorError(`chain ${chain} is still present on ${ctx.target.name}`);
}

/** The host-side revert of `removeChain`: drop the jump, flush and delete the chain (each harmless when gone). */
export function chainRevertCommands(ctx: ChainOwner, hook: Hook): RevertCommand[] {
  const chain = chainName(ctx, hook);
  return [
    ['iptables', '-w', '-D', hook, '-j', chain, ...comment(ctx)],
    ['iptables', '-w', '-F', chain],
    ['iptables', '-w', '-X', chain],
  ];
}

/** The chain's rules as iptables lists them, or undefined when there is no such chain or no jump to it. */
export async function readChain(ctx: FaultContext, hook: Hook): Promise<string[] | undefined> {
  const chain = chainName(ctx, hook);
  const listed = await iptables(ctx.exec, ['-S', chain]);
  const jumped = await iptables(ctx.exec, ['-C', hook, '-j', chain, ...comment(ctx)]);
  if (listed.exitCode !== 0 || jumped.exitCode !== 0) return undefined;
  return listed.stdout.split('\n').filter((line) => line.startsWith('-A '));
}
