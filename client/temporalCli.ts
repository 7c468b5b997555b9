import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { toolsBin } from './paths';

/** A release of the Temporal CLI whose go.mod has no replace directives, so `go install` can build it. */
export const pinnedCliModule = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, name))
    .find(executable);
}

/**
 * The `temporal` CLI: from PATH, else the tools dir, else built there with `go install` (once, a few minutes).
 * Returns undefined when none can be had; the caller then falls back to the SDK's download.
 */
export async function findTemporalCli(log: (line: string) => void): Promise<string | undefined> {
  const found = onPath('temporal') ?? [join(toolsBin, 'temporal')].find(executable);
  if (found) return found;
  const go = onPath('go');
  if (!go) {
    log('temporal CLI not found and Go is not installed: falling back to the SDK download');
    return undefined;
  }
  log(`building the Temporal CLI (${pinnedCliModule}) into ${toolsBin}; this takes a few minutes, once`);
  try {
    await promisify(execFile)(go, ['install', pinnedCliModule], {
      env: { ...process.env, GOBIN: toolsBin, GOFLAGS: '-buildvcs=false' },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    log(`go install failed: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return undefined;
  }
  return join(toolsBin, 'temporal');
}
