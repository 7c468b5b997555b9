// Real services for faults to act on: the demo service in its own process, and ports held on purpose.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoService, type DemoService } from '../../client/demoService';
import { freePort } from '../../worker/ports';

export interface TestService extends DemoService {
  readonly dir: string;
}

/** The demo service (a real HTTP server in its own process) on a free port, with a pidfile in a temp dir. */
export async function startTestService(): Promise<TestService> {
  const dir = mkdtempSync(join(tmpdir(), 'gameday-svc-'));
  const service = await startDemoService(await freePort(), join(dir, 'service.pid'));
  return {
    ...service,
    dir,
    stop: async () => {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The process state letter from /proc (R, S, T stopped, Z), or undefined when gone. */
export function processState(pid: number | undefined): string | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

export async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

/** Takes a port, so that a restarted service cannot bind it (EADDRINUSE) until the test lets go. */
export function occupyPort(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

export function releasePort(server: Server | undefined): Promise<void> {
  return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
}
