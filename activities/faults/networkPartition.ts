import { z } from 'zod';
import { ipv4OrCidr, tcpPort } from '../../plan/safeValues';
import type { ManagementConnection } from '../executors/executor';
import type { FaultKind } from './contract';
import { installChain, readChain, removeChain, requireIptables, type Hook } from './iptablesChains';

const params = z
  .strictObject({
    peers: z.array(ipv4OrCidr).default([]).describe('addresses or CIDR blocks to cut the target off from'),
    ports: z
      .array(z.strictObject({ port: tcpPort, protocol: z.enum(['tcp', 'udp']).default('tcp') }))
      .default([])
      .describe('destination ports to block (with peers: only those ports of those peers)'),
    direction: z.enum(['both', 'inbound', 'outbound']).default('both'),
    action: z
      .enum(['drop', 'reject'])
      .default('drop')
      .describe('drop: packets vanish (timeouts); reject: TCP resets and ICMP unreachable (fast errors)'),
    keepManagementAccess: z
      .boolean()
      .default(true)
      .describe(
        "leave gameday's own SSH connection to the host alone (false: cut it too, the host must heal itself)",
      ),
  })
  .refine((p) => p.peers.length + p.ports.length > 0, { message: 'give peers, ports or both' });
type Params = z.infer<typeof params>;

interface Saved {
  readonly hooks: readonly Hook[];
  /** gameday's own connection to the host, exempted first in every chain. */
  readonly management?: ManagementConnection;
}

function hooksOf(p: Params): Hook[] {
  return p.direction === 'both' ? ['INPUT', 'OUTPUT'] : [p.direction === 'inbound' ? 'INPUT' : 'OUTPUT'];
}

/** RETURN rules that let gameday's management connection through, ahead of every blocking rule. */
function exemptions(saved: Saved, hook: Hook): string[][] {
  const m = saved.management;
  if (m === undefined) return [];
  return hook === 'INPUT'
    ? [['-s', m.clientAddress, '-p', 'tcp', '--dport', String(m.serverPort), '-j', 'RETURN']]
    : [['-d', m.clientAddress, '-p', 'tcp', '--sport', String(m.serverPort), '-j', 'RETURN']];
}

/** One iptables rule (without chain and comment) per peer × port for the hook. */
function rulesFor(p: Params, hook: Hook): string[][] {
  const peerMatches =
    p.peers.length > 0 ? p.peers.map((peer) => [hook === 'INPUT' ? '-s' : '-d', peer]) : [[]];
  const portMatches =
    p.ports.length > 0
      ? p.ports.map(({ port, protocol }) => ['-p', protocol, '--dport', String(port)])
      : [[]];
  return peerMatches.flatMap((peer) =>
    portMatches.map((port) => {
      const tcp = port.includes('tcp');
      const target =
        p.action === 'drop'
          ? ['-j', 'DROP']
          : tcp
            ? ['-j', 'REJECT', '--reject-with', 'tcp-reset']
            : ['-j', 'REJECT'];
      return [...peer, ...port, ...target];
    }),
  );
}

function describeScope(p: Params): string {
  const peers = p.peers.length > 0 ? p.peers.join(', ') : 'everyone';
  const ports =
    p.ports.length > 0 ? ` on port ${p.ports.map((x) => `${x.port}/${x.protocol}`).join(', ')}` : '';
  const direction = p.direction === 'both' ? 'both directions' : p.direction;
  return `${peers}${ports} (${direction}, ${p.action.toUpperCase()})`;
}

/** Cuts a host off from peers or ports with iptables, in a chain of its own that rollback removes whole. */
export const networkPartition: FaultKind<Params, Saved> = {
  kind: 'network-partition',
  description:
    'Partitions a host from peers and/or ports with iptables (drop or reject), in a dedicated GD-<tag> chain.',
  targetKinds: ['local', 'ssh'],
  params,

  describe: (p, target) => ({
    inject: `cut ${target.name} off from ${describeScope(p)}`,
    rollback: `reconnect ${target.name} to ${p.peers.length > 0 ? p.peers.join(', ') : 'everyone'} (remove its iptables chain)`,
  }),

  async prepare(ctx, p) {
    await requireIptables(ctx);
    const management = p.keepManagementAccess ? await ctx.exec.managementConnection() : undefined;
    return { hooks: hooksOf(p), ...(management ? { management } : {}) };
  },

  async inject(ctx, p, saved) {
    for (const hook of saved.hooks) {
      await installChain(ctx, hook, [...exemptions(saved, hook), ...rulesFor(p, hook)]);
    }
  },

  async verify(ctx, p, saved) {
    const chains = await Promise.all(saved.hooks.map((hook) => readChain(ctx, hook)));
    const expected = saved.hooks.map((hook) => exemptions(saved, hook).length + rulesFor(p, hook).length);
    const installed = chains.map((rules) => rules?.length ?? 0);
    return {
      active: installed.some((count) => count > 0),
      detail: saved.hooks.map((hook, i) => `${hook}: ${installed[i]}/${expected[i]} rules`).join(', '),
    };
  },

  async rollback(ctx, _p, saved) {
    for (const hook of saved.hooks) await removeChain(ctx, hook);
  },
};
