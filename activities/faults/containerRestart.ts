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
  shortId,
  stopTimeout,
  waitingTimeoutMs,
  type SavedContainer,
} from './containers';

const params = z.strictObject({ container: containerField, timeout: stopTimeout });
type Params = z.infer<typeof params>;

interface Saved extends SavedContainer {
  /**
   * A restart leaves nothing in the container to read back once it runs again, so the fault's footprint is
   * this tagged file (written after the restart, holding the new start time): verify reads it with the
   * container's start time, rollback removes it, the janitor can find it.
   */
  readonly marker: string;
}

/**
 * Restarts a container (docker restart: stop, then start), as a deploy or a crash loop would. The restart
 * itself is the fault; rollback makes sure the container runs again as recorded and removes the marker.
 */
export const containerRestart: FaultKind<Params, Saved> = {
  kind: 'container-restart',
  description:
    'Restarts a Docker container (docker restart: SIGTERM, SIGKILL after the timeout, start); rollback makes sure it runs again.',
  targetKinds: ['local', 'ssh'],
  params,

  describe: (p, target) => ({
    inject: `restart container ${p.container} on ${target.name} (docker restart, SIGKILL after ${p.timeout} s)`,
    rollback: `make sure container ${p.container} on ${target.name} runs again`,
  }),

  async prepare(ctx, p) {
    const found = await recordContainer(ctx, p.container);
    return { ...found, marker: `/tmp/.gameday-${ctx.tag}-restart-${shortId(found.id)}` };
  },

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
    await ctx.exec.writeFile(saved.marker, `${after.startedAt}\n`);
  },

  async verify(ctx, _p, saved) {
    const [now, marker] = await Promise.all([currentState(ctx, saved), ctx.exec.readFile(saved.marker)]);
    const restarted = now !== undefined && now.startedAt !== saved.startedAt;
    const when = restarted ? `, restarted at ${now.startedAt}` : '';
    return {
      active: marker !== undefined && restarted,
      detail: `${describeState(saved, now)}${when}${marker !== undefined ? `, marker ${saved.marker}` : ''}`,
    };
  },

  async rollback(ctx, _p, saved) {
    const now = await currentState(ctx, saved);
    if (now !== undefined && !now.running && saved.running) await dockerChecked(ctx, ['start', saved.id]);
    const removed = await ctx.exec.run(['rm', '-f', '--', saved.marker]);
    if (removed.exitCode !== 0) {
      throw new ExecutorError(`rm ${saved.marker} on ${ctx.target.name}: ${removed.stderr.trim()}`);
    }
  },

  hostRevert: (_p, saved) => [
    ...(saved.running ? [['docker', 'start', saved.id]] : []),
    ['rm', '-f', '--', saved.marker],
  ],
};
