import { z } from 'zod';

import { commandSteps } from './commandSteps';
import type { FaultKind } from './contract';
import {
  gamedayHandle,
  gamedayRootRevert,
  gamedayRootState,
  interfaceName,
  previousRoot,
  removeGamedayRootStep,
  replaceRootStep,
  type Qdisc,
} from './trafficControl';

const params = z.strictObject({
  interface: interfaceName,
  rate: z
    .string()
    .max(20)
    .regex(/^\d+(\.\d+)?(bit|kbit|mbit|gbit)$/, 'must be a rate such as "512kbit", "10mbit" or "1gbit"'),
  burst: z
    .string()
    .max(20)
    .regex(/^\d+(b|kb|mb|kbit|mbit)$/, 'must be a size such as "32kbit" or "64kb"')
    .default('32kbit'),
  latency: z
    .string()
    .max(20)
    .regex(/^\d+ms$/, 'must be milliseconds, such as "50ms"')
    .default('50ms'),
});
type Params = z.infer<typeof params>;

interface Saved {
  /** The root qdisc before (a kernel default, which deleting ours brings back). */
  readonly previous: Qdisc;
}

/** Limits a host's egress bandwidth with a token bucket filter (tbf) as its root qdisc. */
export const networkBandwidth: FaultKind<Params, Saved> = {
  kind: 'network-bandwidth',
  description:
    'Limits egress bandwidth of an interface with tc tbf (rate, burst, latency); rollback restores the previous root qdisc.',
  targetKinds: ['local', 'ssh'],
  networkNamespace: true,
  params,

  describe: (p, target) => ({
    inject: `limit ${target.name} ${p.interface} egress to ${p.rate} (tbf, burst ${p.burst}, latency ${p.latency})`,
    rollback: `remove the ${p.rate} limit on ${target.name} ${p.interface}`,
  }),

  async prepare(ctx, p) {
    return { previous: await previousRoot(ctx, p.interface) };
  },

  ...commandSteps({
    inject: (p, _saved, { target }) =>
      replaceRootStep([
        'tc', 'qdisc', 'replace', 'dev', p.interface, 'root', 'handle', gamedayHandle,
        'tbf', 'rate', p.rate, 'burst', p.burst, 'latency', p.latency,
      ], `tc tbf on ${p.interface}`, target.name), // prettier-ignore
    read: (p, _saved, { target }) =>
      gamedayRootState(p.interface, 'tbf', target.name, (root) => ` rate ${String(root.options?.rate)} B/s`),
    rollback: (p, _saved, { target }) => removeGamedayRootStep(p.interface, target.name),
  }),

  hostRevert: (p) => gamedayRootRevert(p.interface),
};
