import { defaultTaskQueue } from '../workflows/definitions';

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

/** The UI base URL: given, or the dev server's default UI when talking to a local dev server. */
export function uiUrlOf(flags: GlobalFlags, address: string): string | undefined {
  if (flags.uiUrl ?? process.env.GAMEDAY_UI_URL) return flags.uiUrl ?? process.env.GAMEDAY_UI_URL;
  return /^(127\.0\.0\.1|localhost):7233$/.test(address) ? 'http://localhost:8233' : undefined;
}
