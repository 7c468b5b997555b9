import { z } from 'zod';
import { netemFault } from './netem';
import { interfaceName } from './trafficControl';

const params = z.strictObject({ interface: interfaceName, percent: z.number().gt(0).max(100) });

/** Flips a random bit in a share of what an interface sends (netem corrupt). */
export const networkCorrupt = netemFault({
  kind: 'network-corrupt',
  description: 'Corrupts a percentage of egress packets on an interface with tc netem.',
  params,
  effect: (p) => `corrupt ${p.percent}% of packets`,
  netemArgs: (p) => ['corrupt', `${p.percent}%`],
});
