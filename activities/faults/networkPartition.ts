import { z } from 'zod';
import { describeScope, iptablesFault, matches, scopeFields } from './iptablesFault';

const params = z
  .strictObject({
    ...scopeFields,
    action: z
      .enum(['drop', 'reject'])
      .default('drop')
      .describe('drop: packets vanish (timeouts); reject: TCP resets and ICMP unreachable (fast errors)'),
  })
  .refine((p) => p.peers.length + p.ports.length > 0, { message: 'give peers, ports or both' });

/** Cuts a host off from peers or ports with iptables, in a chain of its own that rollback removes whole. */
export const networkPartition = iptablesFault({
  kind: 'network-partition',
  description:
    'Partitions a host from peers and/or ports with iptables (drop or reject), in a dedicated GD-<tag> chain.',
  params,
  describe: (p, target) => ({
    inject: `cut ${target.name} off from ${describeScope(p)}, ${p.action.toUpperCase()}`,
    rollback: `reconnect ${target.name} to ${p.peers.length > 0 ? p.peers.join(', ') : 'everyone'} (remove its iptables chain)`,
  }),
  rules: (p, hook) =>
    matches(p, hook).map((match) => {
      const target =
        p.action === 'drop'
          ? ['-j', 'DROP']
          : match.includes('tcp')
            ? ['-j', 'REJECT', '--reject-with', 'tcp-reset']
            : ['-j', 'REJECT'];
      return [...match, ...target];
    }),
});
