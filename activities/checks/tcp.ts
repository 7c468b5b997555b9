import { z } from 'zod';
import { duration, formatDuration } from '../../plan/duration';
import { tcpPort } from '../../plan/safeValues';
import type { CheckKind } from './contract';

const spec = z.strictObject({
  host: z
    .string()
    .max(253, 'must be a host name or IP address')
    .regex(/^[A-Za-z0-9.:-]+$/, 'must be a host name or IP address'),
  port: tcpPort,
  timeout: duration({ min: '10ms', max: '1m' }).default(3000),
});
type Spec = z.infer<typeof spec>;

export const tcpCheck: CheckKind<Spec> = {
  key: 'tcp',
  description: 'A TCP connection to host:port must be accepted within the timeout.',
  answeredNo: 'the connection is refused, reset, unreachable, or not accepted within the timeout.',
  couldNotAsk:
    'the host name does not resolve, or (with `on:`) the SSH connection to the host it runs on failed or ' +
    'that host may not open connections for gameday.',
  spec,
  describe: (s) => `TCP ${s.host}:${s.port} accepts connections`,

  async probe(ctx, s) {
    const started = performance.now();
    const reachable = await ctx.exec.tcpReachable(s.host, s.port, s.timeout);
    const latency = Math.round(performance.now() - started);
    return reachable
      ? { ok: true, value: latency, detail: `connected in ${latency} ms` }
      : { ok: false, detail: `${s.host}:${s.port} refused or silent for ${formatDuration(s.timeout)}` };
  },
};
