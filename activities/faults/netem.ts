import type { z } from 'zod';
import type { Target } from '../../plan/targets';
import { runOrNotFound } from '../executors/executor';
import { FaultUserError, type FaultContext, type FaultKind } from './contract';
import { commandSteps } from './commandSteps';
import {
  gamedayHandle,
  gamedayRootRevert,
  gamedayRootState,
  previousRoot,
  removeGamedayRootStep,
  replaceRootStep,
  type Qdisc,
} from './trafficControl';

export type NetemSupport = { readonly supported: boolean | undefined; readonly evidence: string };

/** Reads a kernel config line such as "CONFIG_NET_SCH_NETEM=m" or "# CONFIG_NET_SCH_NETEM is not set". */
export function netemFromKernelConfig(grepOutput: string): boolean | undefined {
  if (/^CONFIG_NET_SCH_NETEM=(y|m)$/m.test(grepOutput)) return true;
  if (/^# CONFIG_NET_SCH_NETEM is not set$/m.test(grepOutput)) return false;
  return undefined;
}

/** Whether the host's kernel has the netem qdisc, found without changing anything on the host. */
export async function netemSupport(ctx: FaultContext): Promise<NetemSupport> {
  if ((await ctx.exec.run(['test', '-d', '/sys/module/sch_netem'])).exitCode === 0) {
    return { supported: true, evidence: 'sch_netem is loaded' };
  }
  // No zgrep here is no kernel config to read; a host that could not be asked fails the look.
  const config = await runOrNotFound(ctx.exec, ['zgrep', 'CONFIG_NET_SCH_NETEM', '/proc/config.gz']);
  const fromConfig = netemFromKernelConfig(config.stdout);
  if (fromConfig !== undefined) return { supported: fromConfig, evidence: config.stdout.trim() };
  const release = (await ctx.exec.run(['uname', '-r'])).stdout.trim();
  const modules = [`/lib/modules/${release}/modules.dep`, `/lib/modules/${release}/modules.builtin`];
  if ((await ctx.exec.run(['grep', '-q', 'sch_netem', ...modules])).exitCode === 0) {
    return { supported: true, evidence: `sch_netem is listed in /lib/modules/${release}` };
  }
  return { supported: undefined, evidence: 'no kernel config or module list to tell' };
}

function unsupported(targetName: string, kind: string, evidence: string): FaultUserError {
  return new FaultUserError(
    `the kernel of ${targetName} has no netem qdisc (${evidence}): ${kind} cannot run there; ` +
      'use network-bandwidth (tbf) or network-loss-iptables, or a host whose kernel has CONFIG_NET_SCH_NETEM',
  );
}

export interface NetemSaved {
  readonly previous: Qdisc;
}

export interface NetemKindDefinition<Params extends { interface: string }> {
  readonly kind: string;
  readonly description: string;
  readonly params: z.ZodType<Params>;
  /** What the fault does, e.g. "add 100ms ± 10ms delay". */
  readonly effect: (params: Params) => string;
  /** The netem arguments, e.g. ["delay", "100ms", "10ms"]. */
  readonly netemArgs: (params: Params) => string[];
}

/** The argv that installs the netem root qdisc (exported so command building is tested on its own). */
export function netemCommand(iface: string, netemArgs: readonly string[]): string[] {
  return ['tc', 'qdisc', 'replace', 'dev', iface, 'root', 'handle', gamedayHandle, 'netem', ...netemArgs];
}

/** A netem fault kind: checks kernel support first, saves the previous root qdisc, restores it on rollback. */
export function netemFault<Params extends { interface: string }>(
  definition: NetemKindDefinition<Params>,
): FaultKind<Params, NetemSaved> {
  return {
    kind: definition.kind,
    description: definition.description,
    targetKinds: ['local', 'ssh'],
    networkNamespace: true,
    params: definition.params,

    describe: (p: Params, target: Target) => ({
      inject: `${definition.effect(p)} on ${target.name} ${p.interface} (tc netem)`,
      rollback: `remove netem from ${target.name} ${p.interface}`,
    }),

    async prepare(ctx, p) {
      const support = await netemSupport(ctx);
      if (support.supported === false) throw unsupported(ctx.target.name, definition.kind, support.evidence);
      return { previous: await previousRoot(ctx, p.interface) };
    },

    ...commandSteps({
      // A kernel without netem says so in stderr, and that is the plan's problem, said plainly.
      inject: (p, _saved, { target }) =>
        replaceRootStep(
          netemCommand(p.interface, definition.netemArgs(p)),
          `tc netem on ${p.interface}`,
          target.name,
          (stderr) =>
            /qdisc kind is unknown/.test(stderr)
              ? unsupported(target.name, definition.kind, stderr.trim())
              : undefined,
        ),
      read: (p, _saved, { target }) => gamedayRootState(p.interface, 'netem', target.name),
      rollback: (p, _saved, { target }) => removeGamedayRootStep(p.interface, target.name),
    }),

    hostRevert: (p) => gamedayRootRevert(p.interface),
  };
}
