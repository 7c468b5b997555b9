import { z } from 'zod';
import type { FaultKind } from './contract';
import {
  containerField,
  currentState,
  describeState,
  dockerChecked,
  recordContainer,
  requireCurrent,
  requireRunning,
  type SavedContainer,
} from './containers';

const params = z.strictObject({ container: containerField });

/** Only a container that ran unpaused when recorded can have been paused by this fault. */
const wasRunning = (saved: SavedContainer) => saved.running && !saved.paused;
type Params = z.infer<typeof params>;

/**
 * Freezes every process of a container (docker pause: the cgroup freezer), as a hung host or a stopped VM
 * would; rollback thaws it (docker unpause). The container is the one found at prepare, by id.
 */
export const containerPause: FaultKind<Params, SavedContainer> = {
  kind: 'container-pause',
  description:
    'Freezes all processes of a Docker container (docker pause, the cgroup freezer); rollback unpauses it.',
  targetKinds: ['local', 'ssh'],
  params,

  describe: (p, target) => ({
    inject: `pause container ${p.container} on ${target.name} (docker pause)`,
    rollback: `unpause container ${p.container} on ${target.name}`,
  }),

  prepare: (ctx, p) => recordContainer(ctx, p.container),

  async inject(ctx, _p, saved) {
    requireRunning(ctx, saved, 'pause');
    const now = await requireCurrent(ctx, saved);
    if (now.paused) return; // an earlier attempt paused it
    await dockerChecked(ctx, ['pause', saved.id]);
  },

  async verify(ctx, _p, saved) {
    const now = await currentState(ctx, saved);
    return { active: now?.paused === true && wasRunning(saved), detail: describeState(saved, now) };
  },

  async rollback(ctx, _p, saved) {
    // Removed since: nothing to thaw. Paused before the game day: left paused, as recorded.
    const now = await currentState(ctx, saved);
    if (now?.paused !== true || !wasRunning(saved)) return;
    await dockerChecked(ctx, ['unpause', saved.id]);
  },

  // `docker unpause` of a container that is not paused (or gone) fails and changes nothing.
  hostRevert: (_p, saved) => (wasRunning(saved) ? [['docker', 'unpause', saved.id]] : []),
};
