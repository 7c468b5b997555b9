import { defaultTaskQueue } from '../workflows/definitions';
import { defaultDevServerPorts, recordedDevServerPorts } from './devServer';
import { devStateDir } from './paths';

/** Options every command that talks to Temporal accepts. */
export interface GlobalFlags {
  readonly address?: string;
  readonly namespace?: string;
  readonly taskQueue?: string;
  readonly uiUrl?: string;
}

export function taskQueueOf(flags: GlobalFlags): string {
  return flags.taskQueue ?? process.env.GAMEDAY_TASK_QUEUE ?? defaultTaskQueue;
}

/**
 * The UI base URL: given, or, talking to `gameday dev`'s dev server on this machine, its UI (on the port
 * recorded at its last start, or Temporal's default 8233 beside the default frontend 7233).
 */
export function uiUrlOf(flags: GlobalFlags, address: string): string | undefined {
  const given = flags.uiUrl ?? process.env.GAMEDAY_UI_URL;
  if (given) return given;
  const local = /^(127\.0\.0\.1|localhost):(\d+)$/.exec(address);
  if (!local) return undefined;
  const port = Number(local[2]);
  const dev = [recordedDevServerPorts(devStateDir), defaultDevServerPorts].find(
    (ports) => ports?.port === port,
  );
  return dev ? `http://${local[1]}:${dev.uiPort}` : undefined;
}
