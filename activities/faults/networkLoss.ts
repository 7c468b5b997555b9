import { z } from 'zod';
import { netemFault } from './netem';
import { interfaceName } from './trafficControl';

const params = z.strictObject({
  interface: interfaceName,
  percent: z.number().gt(0).max(100),
  correlation: z.number().min(0).max(100).optional().describe('percent'),
});

/** `loss 5% 25%` */
export function lossArgs(p: z.infer<typeof params>): string[] {
  return ['loss', `${p.percent}%`, ...(p.correlation !== undefined ? [`${p.correlation}%`] : [])];
}

/** Drops a share of what an interface sends (netem loss). */
export const networkLoss = netemFault({
  kind: 'network-loss',
  description:
    'Drops a percentage of egress packets on an interface with tc netem (with optional correlation).',
  params,
  effect: (p) => `drop ${p.percent}% of packets`,
  netemArgs: lossArgs,
});
