import { z } from 'zod';
import { ExecutorError } from '../executors/executor';
import type { FaultKind } from './contract';
import {
  containerField,
  currentState,
  describeState,
  dockerChecked,
  recordContainer,
  requireCurrent,
  requireRunning,
  stopTimeout,
  waitingTimeoutMs,
  type SavedContainer,
} from './containers';

const params = z.strictObject({ container: containerField, timeout: stopTimeout });
type Params = z.infer<typeof params>;

/**
 * Restarts a container (docker restart: stop, then start), as a deploy or a crash loop would. The restart
 * is a one-shot disturbance (like service-restart): verify reports it `active` once the container has a new
 * start time and `recovered` while it runs as recorded; rollback makes sure it runs again.
 */
export const containerRestart: FaultKind<Params, SavedContainer> = {
  kind: 'container-restart',
  description:
    'Restarts a Docker container (docker restart: SIGTERM, SIGKILL after the timeout, start); rollback makes sure it runs again.',
  targetKinds: ['local', 'ssh'],
  params,

  describe: (p, target) => ({
    inject: `restart container ${p.container} on ${target.name} (docker restart, SIGKILL after ${p.timeout} s)`,
    rollback: `make sure container ${p.container} on ${target.name} runs again`,
  }),

  prepare: (ctx, p) => recordContainer(ctx, p.container),

  async inject(ctx, p, saved) {
    requireRunning(ctx, saved, 'restart');
    const now = await requireCurrent(ctx, saved);
    // A start time that differs from the recorded one: an earlier attempt restarted it already.
    if (now.startedAt === saved.startedAt) {
      await dockerChecked(ctx, ['restart', '-t', String(p.timeout), saved.id], waitingTimeoutMs(p.timeout));
    }
    const after = await requireCurrent(ctx, saved);
    if (!after.running || after.startedAt === saved.startedAt) {
      throw new ExecutorError(
        `container ${saved.name} on ${ctx.target.name} did not come back from docker restart (${after.status})`,
      );
    }
  },

  async verify(ctx, _p, saved) {
    const now = await currentState(ctx, saved);
    const restarted = now !== undefined && now.startedAt !== saved.startedAt;
    return {
      active: restarted,
      // Whole again: running as recorded, or gone (nothing of ours to bring back).
      recovered: now === undefined || now.running || !saved.running,
      detail: `${describeState(saved, now)}${restarted ? `, restarted at ${now.startedAt}` : ''}`,
    };
  },

  async rollback(ctx, _p, saved) {
    const now = await currentState(ctx, saved);
    if (now !== undefined && !now.running && saved.running) await dockerChecked(ctx, ['start', saved.id]);
  },

  hostRevert: (_p, saved) => (saved.running ? [['docker', 'start', saved.id]] : []),
};
