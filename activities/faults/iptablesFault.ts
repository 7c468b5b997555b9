import { z } from 'zod';
import { ipv4OrCidr, tcpPort } from '../../plan/safeValues';
import type { ManagementConnection } from '../executors/executor';
import { thenJudge } from '../executors/hostCommand';
import type { FaultContext, FaultKind } from './contract';
import { commandSteps } from './commandSteps';
import {
  chainRevertCommands,
  chainRulesRead,
  installChainsStep,
  removeChainsStep,
  requireIptables,
  type Hook,
} from './iptablesChains';

/** Which traffic an iptables fault applies to: peers and/or destination ports, in one or both directions. */
export const scopeFields = {
  peers: z.array(ipv4OrCidr).max(256).default([]).describe('addresses or CIDR blocks (empty: everyone)'),
  ports: z
    .array(z.strictObject({ port: tcpPort, protocol: z.enum(['tcp', 'udp']).default('tcp') }))
    .max(64)
    .default([])
    .describe('destination ports (with peers: only those ports of those peers)'),
  direction: z.enum(['both', 'inbound', 'outbound']).default('both'),
  keepManagementAccess: z
    .boolean()
    .default(true)
    .describe("leave gameday's own SSH connection to the host alone (false: it is affected too)"),
};

export interface Scope {
  readonly peers: readonly string[];
  readonly ports: readonly { readonly port: number; readonly protocol: 'tcp' | 'udp' }[];
  readonly direction: 'both' | 'inbound' | 'outbound';
  readonly keepManagementAccess: boolean;
}

export function hooksOf(scope: Scope): Hook[] {
  return scope.direction === 'both'
    ? ['INPUT', 'OUTPUT']
    : [scope.direction === 'inbound' ? 'INPUT' : 'OUTPUT'];
}

/** gameday's own connection to the host, when the scope must leave it alone. */
export async function managementFor(
  ctx: FaultContext,
  scope: Scope,
): Promise<ManagementConnection | undefined> {
  return scope.keepManagementAccess ? ctx.exec.managementConnection() : undefined;
}

/** RETURN rules that let the management connection through, ahead of every other rule of the chain. */
export function exemptions(management: ManagementConnection | undefined, hook: Hook): string[][] {
  if (management === undefined) return [];
  const { clientAddress, serverPort } = management;
  return hook === 'INPUT'
    ? [['-s', clientAddress, '-p', 'tcp', '--dport', String(serverPort), '-j', 'RETURN']]
    : [['-d', clientAddress, '-p', 'tcp', '--sport', String(serverPort), '-j', 'RETURN']];
}

/** One match per peer × port for the hook (peers are sources inbound, destinations outbound). */
export function matches(scope: Scope, hook: Hook): string[][] {
  const peers =
    scope.peers.length > 0 ? scope.peers.map((peer) => [hook === 'INPUT' ? '-s' : '-d', peer]) : [[]];
  const ports =
    scope.ports.length > 0
      ? scope.ports.map(({ port, protocol }) => ['-p', protocol, '--dport', String(port)])
      : [[]];
  return peers.flatMap((peer) => ports.map((port) => [...peer, ...port]));
}

export function describeScope(scope: Scope): string {
  const peers = scope.peers.length > 0 ? scope.peers.join(', ') : 'everyone';
  const ports =
    scope.ports.length > 0 ? ` on port ${scope.ports.map((x) => `${x.port}/${x.protocol}`).join(', ')}` : '';
  return `${peers}${ports} (${scope.direction === 'both' ? 'both directions' : scope.direction})`;
}

export interface IptablesSaved {
  readonly hooks: readonly Hook[];
  /** gameday's own connection to the host, exempted first in every chain. */
  readonly management?: ManagementConnection;
}

export interface IptablesKindDefinition<Params extends Scope> {
  readonly kind: string;
  readonly description: string;
  readonly params: z.ZodType<Params>;
  readonly describe: FaultKind<Params, IptablesSaved>['describe'];
  /** The fault's own rules for one hook (the management exemption is put in front of them). */
  readonly rules: (params: Params, hook: Hook) => string[][];
}

/** An iptables fault: a chain per direction, management exempted first, removed whole on rollback. */
export function iptablesFault<Params extends Scope>(
  definition: IptablesKindDefinition<Params>,
): FaultKind<Params, IptablesSaved> {
  const allRules = (p: Params, saved: IptablesSaved, hook: Hook) => [
    ...exemptions(saved.management, hook),
    ...definition.rules(p, hook),
  ];
  return {
    kind: definition.kind,
    description: definition.description,
    targetKinds: ['local', 'ssh'],
    networkNamespace: true,
    params: definition.params,
    describe: definition.describe,

    async prepare(ctx, p) {
      await requireIptables(ctx);
      const management = await managementFor(ctx, p);
      return { hooks: hooksOf(p), ...(management ? { management } : {}) };
    },

    ...commandSteps({
      // Every chain and jump at one instant, in one round trip (iptables-restore).
      inject: (p, saved, ctx) =>
        installChainsStep(
          ctx,
          saved.hooks.map((hook) => ({ hook, rules: allRules(p, saved, hook) })),
        ),
      read: (p, saved, ctx) =>
        thenJudge(chainRulesRead(ctx, saved.hooks), (counts) => {
          const installed = counts.map((count) => count ?? 0);
          return {
            active: installed.some((count) => count > 0),
            detail: saved.hooks
              .map((hook, i) => `${hook}: ${installed[i]}/${allRules(p, saved, hook).length} rules`)
              .join(', '),
          };
        }),
      rollback: (_p, saved, ctx) => removeChainsStep(ctx, saved.hooks),
    }),

    hostRevert: (_p, saved, ctx) => saved.hooks.flatMap((hook) => chainRevertCommands(ctx, hook)),
  };
}
