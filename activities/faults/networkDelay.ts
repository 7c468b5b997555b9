import { z } from 'zod';
import { durationText } from '../../plan/duration';
import { netemFault } from './netem';
import { interfaceName } from './trafficControl';

/** netem takes the text as written ("100ms"); whole milliseconds only. */
const milliseconds = (max: number) => durationText({ units: ['ms'], fractions: false, max: `${max}ms` });

const params = z
  .strictObject({
    interface: interfaceName,
    delay: milliseconds(60_000),
    jitter: milliseconds(60_000).optional(),
    correlation: z.number().min(0).max(100).optional().describe('percent'),
    distribution: z.enum(['normal', 'pareto', 'paretonormal', 'uniform']).optional(),
  })
  .refine((p) => p.distribution === undefined || p.jitter !== undefined, {
    message: 'a distribution needs a jitter',
  });

/** `delay 100ms 10ms 25% distribution normal` */
export function delayArgs(p: z.infer<typeof params>): string[] {
  return [
    'delay',
    p.delay,
    ...(p.jitter ? [p.jitter] : []),
    ...(p.jitter && p.correlation !== undefined ? [`${p.correlation}%`] : []),
    ...(p.distribution ? ['distribution', p.distribution] : []),
  ];
}

/** Adds latency (with jitter and a distribution) to everything an interface sends. */
export const networkDelay = netemFault({
  kind: 'network-delay',
  description:
    'Delays egress packets on an interface with tc netem (delay, jitter, correlation, distribution).',
  params,
  effect: (p) => `add ${p.delay}${p.jitter ? ` ± ${p.jitter}` : ''} delay`,
  netemArgs: delayArgs,
});
