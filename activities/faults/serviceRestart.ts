import { z } from 'zod';
import { unitName } from '../../plan/safeValues';
import { ExecutorError } from '../executors/executor';
import type { FaultContext, FaultKind } from './contract';
import {
  describeState,
  ensureRunning,
  exists,
  isUp,
  readRunningUnit,
  settled,
  startCommands,
  systemctl,
  type UnitState,
} from './systemdUnits';

const params = z.strictObject({
  unit: unitName.describe('the systemd unit to restart, with its suffix ("nginx.service")'),
});
type Params = z.infer<typeof params>;

interface Saved {
  /** The invocation (and main pid) that ran before: a different one means the restart happened. */
  readonly invocationId: string;
  readonly mainPid: number;
}

function restarted(state: UnitState, saved: Saved): boolean {
  return saved.invocationId !== ''
    ? state.invocationId !== saved.invocationId
    : state.mainPid !== saved.mainPid;
}

async function assertBack(ctx: FaultContext, unit: string): Promise<void> {
  const state = await settled(ctx, unit);
  if (exists(state) && !isUp(state)) {
    throw new ExecutorError(
      `${describeState(unit, state)} on ${ctx.target.name}: it did not come back after the restart`,
    );
  }
}

/**
 * Restarts a systemd unit once (systemctl restart). A restart is a one-shot disturbance: nothing stays in
 * place to undo, so rollback only makes sure the unit runs again (starting it, after reset-failed, if the
 * restart left it failed) and the rollback is verified by `recovered`, not by the restart being undone.
 */
export const serviceRestart: FaultKind<Params, Saved> = {
  kind: 'service-restart',
  description:
    'Restarts a running systemd unit once with systemctl restart (a one-shot disturbance); rollback makes ' +
    'sure it runs again.',
  targetKinds: ['local', 'ssh'],
  params,

  describe: (p, target) => ({
    inject: `restart ${p.unit} on ${target.name} (systemctl restart)`,
    rollback: `make sure ${p.unit} runs on ${target.name} (systemctl start if it is down)`,
  }),

  async prepare(ctx, p) {
    const state = await readRunningUnit(ctx, p.unit, 'restarts');
    return { invocationId: state.invocationId, mainPid: state.mainPid };
  },

  async inject(ctx, p, saved) {
    // A retried inject must not restart the unit a second time.
    const state = await settled(ctx, p.unit);
    if (!restarted(state, saved)) await systemctl(ctx, 'restart', p.unit);
    await assertBack(ctx, p.unit);
  },

  async verify(ctx, p, saved) {
    const state = await settled(ctx, p.unit);
    const gone = !exists(state);
    const detail = `${describeState(p.unit, state)}${saved.mainPid > 0 ? ` (main pid was ${saved.mainPid})` : ''}`;
    return {
      active: !gone && restarted(state, saved),
      recovered: gone || isUp(state),
      detail: restarted(state, saved) ? `restarted: ${detail}` : `not restarted: ${detail}`,
    };
  },

  rollback: (ctx, p) => ensureRunning(ctx, p.unit),

  hostRevert: (p) => startCommands(p.unit),
};
