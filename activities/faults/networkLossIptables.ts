import { z } from 'zod';
import { describeScope, iptablesFault, matches, scopeFields } from './iptablesFault';

const params = z.strictObject({
  ...scopeFields,
  percent: z.number().gt(0).max(100).describe('share of matching packets dropped, at random'),
});

/** Random packet loss without netem: iptables' statistic match, in a chain of its own. */
export const networkLossIptables = iptablesFault({
  kind: 'network-loss-iptables',
  description:
    'Drops a random share of packets with iptables -m statistic (works where netem is missing), in a GD-<tag> chain.',
  params,
  describe: (p, target) => ({
    inject: `drop ${p.percent}% of packets between ${target.name} and ${describeScope(p)} (iptables statistic)`,
    rollback: `stop dropping packets on ${target.name} (remove its iptables chain)`,
  }),
  rules: (p, hook) =>
    matches(p, hook).map((match) => [
      ...match,
      ...['-m', 'statistic', '--mode', 'random', '--probability', (p.percent / 100).toFixed(4), '-j', 'DROP'],
    ]),
});
