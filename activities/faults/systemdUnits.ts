import { ExecutorError } from '../executors/executor';
import { FaultUserError, type FaultContext, type RevertCommand } from './contract';

/** What `systemctl show` says about a unit, read in one call. */
export interface UnitState {
  /** loaded, not-found, masked, error … */
  readonly loadState: string;
  /** active, reloading, inactive, failed, activating, deactivating */
  readonly activeState: string;
  /** The type-specific state: running, dead, exited, auto-restart … */
  readonly subState: string;
  /** 0 when the unit has no main process. */
  readonly mainPid: number;
  /** Changes with every start of the unit: tells a restart apart even for units without a main process. */
  readonly invocationId: string;
  /** Why it last stopped or failed: success, exit-code, signal, start-limit-hit … */
  readonly result: string;
}

const properties = ['LoadState', 'ActiveState', 'SubState', 'MainPID', 'InvocationID', 'Result'];

/** systemctl may block on a stop (ExecStop, TimeoutStopSec); below the activities' 60 s start-to-close. */
const jobTimeoutMs = 45_000;

/** Parses `systemctl show` key=value output (property order is systemd's, not the order asked for). */
export function parseShow(output: string): UnitState {
  const values = new Map<string, string>();
  for (const line of output.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) values.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  const get = (key: string) => values.get(key) ?? '';
  return {
    loadState: get('LoadState'),
    activeState: get('ActiveState'),
    subState: get('SubState'),
    mainPid: Number.parseInt(get('MainPID'), 10) || 0,
    invocationId: get('InvocationID'),
    result: get('Result'),
  };
}

/** Running, as far as a user of the unit is concerned. */
export const isUp = (state: UnitState) => state.activeState === 'active' || state.activeState === 'reloading';

export const exists = (state: UnitState) => state.loadState !== 'not-found';

export function describeState(unit: string, state: UnitState): string {
  if (!exists(state)) return `${unit} is gone (not-found)`;
  const pid = state.mainPid > 0 ? `, main pid ${state.mainPid}` : '';
  const why = state.activeState === 'failed' ? `, result ${state.result}` : '';
  return `${unit} ${state.activeState} (${state.subState})${pid}${why}`;
}

/** Reads a unit's state; a host without systemd is the plan's mistake, said once and not retried. */
export async function readUnit(ctx: FaultContext, unit: string): Promise<UnitState> {
  const result = await ctx.exec.run(['systemctl', 'show', `--property=${properties.join(',')}`, '--', unit]);
  if (result.exitCode !== 0) {
    const output = (result.stderr || result.stdout).trim().slice(0, 300);
    if (result.exitCode === 127 || /not been booted with systemd|Failed to connect to bus/.test(output)) {
      throw new FaultUserError(`systemd does not manage host ${ctx.target.name}: ${output}`);
    }
    throw new ExecutorError(
      `systemctl show ${unit} on ${ctx.target.name} exited ${result.exitCode}: ${output}`,
    );
  }
  return parseShow(result.stdout);
}

/** The unit must exist and run before a fault may disturb it. */
export async function readRunningUnit(ctx: FaultContext, unit: string, doing: string): Promise<UnitState> {
  const state = await readUnit(ctx, unit);
  if (!exists(state)) throw new FaultUserError(`no unit ${unit} on host ${ctx.target.name}`);
  if (!isUp(state)) {
    throw new FaultUserError(
      `${describeState(unit, state)} on host ${ctx.target.name}: it must run before gameday ${doing} it`,
    );
  }
  return state;
}

export async function systemctl(ctx: FaultContext, verb: string, unit: string): Promise<void> {
  await ctx.run(['systemctl', verb, '--', unit], {
    timeoutMs: jobTimeoutMs,
    what: `systemctl ${verb} ${unit}`,
  });
}

/** Waits while the unit is (de)activating; returns its settled state. */
export async function settled(ctx: FaultContext, unit: string, timeoutMs = 30_000): Promise<UnitState> {
  return ctx.pollUntil(
    () => readUnit(ctx, unit),
    (state) => state.activeState !== 'activating' && state.activeState !== 'deactivating',
    { timeoutMs, intervalMs: 200 },
  );
}

/**
 * Starts the unit unless it runs (or is gone: nothing to restore). A failed unit is reset first: its failure
 * (or a start limit hit while it was down, StartLimitBurst) would otherwise refuse the start.
 */
export async function ensureRunning(ctx: FaultContext, unit: string): Promise<void> {
  const state = await settled(ctx, unit);
  if (!exists(state) || isUp(state)) return;
  if (state.activeState === 'failed') await systemctl(ctx, 'reset-failed', unit);
  await systemctl(ctx, 'start', unit);
  const after = await settled(ctx, unit);
  if (exists(after) && !isUp(after)) {
    throw new ExecutorError(`${describeState(unit, after)} on ${ctx.target.name} after systemctl start`);
  }
}

/** What a host runs alone to bring a unit back: each command is harmless when it already runs. */
export const startCommands = (unit: string): RevertCommand[] => [
  ['systemctl', 'reset-failed', '--', unit],
  ['systemctl', 'start', '--', unit],
];
