import { execFile } from 'node:child_process';
import { cliPath } from './temporal';

/** What the real CLI did: its exit code (-1 when it did not exit by itself) and its output. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI as a user would (a child process, colours off) and resolves with what it did. */
export function runCli(
  args: readonly string[],
  {
    env = { ...process.env, NO_COLOR: '1' },
    timeoutMs = 60_000,
  }: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { env, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}
