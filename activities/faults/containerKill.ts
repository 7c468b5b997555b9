import { z } from 'zod';
import type { FaultKind } from './contract';
import {
  containerField,
  currentState,
  dockerChecked,
  recordContainer,
  requireCurrent,
  requireRunning,
  startedAgain,
  type SavedContainer,
} from './containers';

const params = z.strictObject({
  container: containerField,
  signal: z
    .enum(['KILL', 'TERM', 'INT', 'QUIT', 'HUP'])
    .default('KILL')
    .describe("signal sent to the container's main process"),
});
type Params = z.infer<typeof params>;

const exitWait = { timeoutMs: 10_000, intervalMs: 100 };

/**
 * Sends a signal to a container's main process (docker kill), as a crash or the OOM killer would; rollback
 * starts it again. A container whose restart policy brings it back verifies as not active: use
 * container-restart to test exactly that.
 */
export const containerKill: FaultKind<Params, SavedContainer> = {
  kind: 'container-kill',
  description:
    "Kills a Docker container's main process (docker kill, SIGKILL by default); rollback starts the container again if it was running.",
  targetKinds: ['local', 'ssh'],
  params,

  describe: (p, target) => ({
    inject: `kill container ${p.container} on ${target.name} (docker kill -s ${p.signal})`,
    rollback: `start container ${p.container} on ${target.name} again`,
  }),

  prepare: (ctx, p) => recordContainer(ctx, p.container),

  async inject(ctx, p, saved) {
    requireRunning(ctx, saved, 'kill');
    const now = await requireCurrent(ctx, saved);
    if (!now.running) return; // an earlier attempt killed it
    await dockerChecked(ctx, ['kill', '-s', p.signal, saved.id]);
    // docker kill returns once the signal is sent: wait (briefly) for the container to exit.
    await ctx.pollUntil(
      () => currentState(ctx, saved),
      (now) => now?.running !== true,
      exitWait,
    );
  },

  ...startedAgain,
};
