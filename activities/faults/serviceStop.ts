import { z } from 'zod';
import { unitName } from '../../plan/safeValues';
import type { FaultKind } from './contract';
import {
  describeState,
  ensureRunning,
  exists,
  isUp,
  readRunningUnit,
  settled,
  startCommands,
  systemctl,
} from './systemdUnits';

const params = z.strictObject({
  unit: unitName.describe('the systemd unit to stop, with its suffix ("nginx.service")'),
});
type Params = z.infer<typeof params>;

interface Saved {
  /** As `systemctl show` read it before the stop; rollback starts the unit only if it was running. */
  readonly activeState: string;
  readonly subState: string;
  readonly mainPid: number;
  readonly wasActive: boolean;
}

/** Stops a systemd unit (systemctl stop: its ExecStop, then SIGTERM); rollback starts it again. */
export const serviceStop: FaultKind<Params, Saved> = {
  kind: 'service-stop',
  description:
    'Stops a running systemd unit with systemctl stop; rollback starts it again (resetting a failed state or ' +
    'start limit first) and waits until it is active.',
  targetKinds: ['local', 'ssh'],
  params,

  describe: (p, target) => ({
    inject: `stop ${p.unit} on ${target.name} (systemctl stop)`,
    rollback: `start ${p.unit} on ${target.name} again (systemctl start)`,
  }),

  async prepare(ctx, p) {
    const state = await readRunningUnit(ctx, p.unit, 'stops');
    return {
      activeState: state.activeState,
      subState: state.subState,
      mainPid: state.mainPid,
      wasActive: isUp(state),
    };
  },

  // Stopping a stopped unit is a no-op for systemctl: a retried inject does no harm.
  inject: (ctx, p) => systemctl(ctx, 'stop', p.unit),

  async verify(ctx, p, saved) {
    const state = await settled(ctx, p.unit);
    // A unit that vanished leaves nothing of ours behind; one that was not running is as we found it.
    return {
      active: saved.wasActive && exists(state) && !isUp(state),
      detail: describeState(p.unit, state),
    };
  },

  async rollback(ctx, p, saved) {
    if (!saved.wasActive) return;
    await ensureRunning(ctx, p.unit);
  },

  hostRevert: (p, saved) => (saved.wasActive ? startCommands(p.unit) : []),
};
