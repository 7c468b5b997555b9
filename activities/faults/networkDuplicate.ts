import { z } from 'zod';
import { netemFault } from './netem';
import { interfaceName } from './trafficControl';

const params = z.strictObject({ interface: interfaceName, percent: z.number().gt(0).max(100) });

/** Sends a share of an interface's packets twice (netem duplicate). */
export const networkDuplicate = netemFault({
  kind: 'network-duplicate',
  description: 'Duplicates a percentage of egress packets on an interface with tc netem.',
  params,
  effect: (p) => `duplicate ${p.percent}% of packets`,
  netemArgs: (p) => ['duplicate', `${p.percent}%`],
});
