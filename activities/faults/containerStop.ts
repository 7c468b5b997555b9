import { z } from 'zod';
import type { FaultKind } from './contract';
import {
  containerField,
  dockerChecked,
  recordContainer,
  requireCurrent,
  requireRunning,
  startedAgain,
  stopTimeout,
  waitingTimeoutMs,
  type SavedContainer,
} from './containers';

const params = z.strictObject({ container: containerField, timeout: stopTimeout });
type Params = z.infer<typeof params>;

/** Stops a container as an operator would (docker stop: SIGTERM, then SIGKILL); rollback starts it again. */
export const containerStop: FaultKind<Params, SavedContainer> = {
  kind: 'container-stop',
  description:
    'Stops a Docker container (docker stop: SIGTERM, SIGKILL after the timeout); rollback starts it again if it was running.',
  targetKinds: ['local', 'ssh'],
  params,

  describe: (p, target) => ({
    inject: `stop container ${p.container} on ${target.name} (docker stop, SIGKILL after ${p.timeout} s)`,
    rollback: `start container ${p.container} on ${target.name} again`,
  }),

  prepare: (ctx, p) => recordContainer(ctx, p.container),

  async inject(ctx, p, saved) {
    requireRunning(ctx, saved, 'stop');
    const now = await requireCurrent(ctx, saved);
    if (!now.running) return; // an earlier attempt stopped it
    await dockerChecked(ctx, ['stop', '-t', String(p.timeout), saved.id], waitingTimeoutMs(p.timeout));
  },

  ...startedAgain,
};
