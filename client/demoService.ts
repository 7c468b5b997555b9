import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './paths';

export interface DemoService {
  readonly port: number;
  readonly pidfile: string;
  /** The pid in the pidfile now (a process-kill rollback starts a new process). */
  currentPid(): number | undefined;
  stop(): Promise<void>;
}

export const demoServiceScript = join(projectRoot, 'examples', 'demo-service.js');

/** The pid a pidfile names, or undefined when it is missing or holds none. */
export function pidFrom(pidfile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(pidfile, 'utf8'), 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function signal(pid: number, name: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}

async function healthy(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(500) });
    return response.ok;
  } catch {
    return false;
  }
}

/** Every process started for this pidfile: the original and whatever a process-kill rollback restarted. */
function processesFor(pidfile: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(pidfile);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Starts the demo service (a detached process, like a real daemon) and waits until it is healthy. */
export async function startDemoService(port: number, pidfile: string): Promise<DemoService> {
  rmSync(pidfile, { force: true });
  const child = spawn(process.execPath, [demoServiceScript, '--port', String(port), '--pidfile', pidfile], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  const deadline = Date.now() + 10_000;
  while (!(await healthy(port)) || pidFrom(pidfile) === undefined) {
    if (Date.now() > deadline) throw new Error(`demo service did not become healthy on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    pidfile,
    currentPid: () => pidFrom(pidfile),
    stop: async () => {
      for (const pid of processesFor(pidfile)) {
        signal(pid, 'SIGCONT'); // a paused process cannot handle SIGTERM
        if (!signal(pid, 'SIGTERM')) continue;
        const deadline = Date.now() + 5000;
        while (signal(pid, 0) && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 50));
        signal(pid, 'SIGKILL');
      }
      rmSync(pidfile, { force: true });
    },
  };
}
