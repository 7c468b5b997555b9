import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { freePort } from '../worker/ports';
import { devServerSearchAttributeFlags } from '../worker/searchAttributes';
import { findTemporalCli } from './temporalCli';

/**
 * The history service reads new transfer tasks (activity and workflow tasks to dispatch) at most 20 times a
 * second per shard by default. After a burst (the inject phase) every following task then waits ~40 ms for its
 * read: 10 rollbacks in a row took ~950 ms instead of ~150 ms. Game days are latency-bound, not load-bound,
 * so the dev server reads as fast as tasks come; set the same on production clusters (see README).
 */
export const fastDispatchFlags = [
  '--dynamic-config-value',
  'history.transferProcessorMaxPollRPS=1000',
  // An activity scheduled by a workflow task goes straight back to the worker that completed it.
  '--dynamic-config-value',
  'system.enableActivityEagerExecution=true',
];

/**
 * The dev server's SQLite file in WAL mode with `synchronous=NORMAL`: a commit is one append to the log instead
 * of a synced rewrite, and it survives the server being killed (only a power loss can take the last ones). The
 * default (a rollback journal synced on every commit) was the first limit of 100 concurrent game days (issue 14).
 */
export const sqliteFlags = ['--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal'];

export interface DevServer {
  readonly address: string;
  readonly namespace: string;
  readonly uiUrl?: string;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  /** Directory of the database file; history survives a restart with the same directory. */
  readonly stateDir: string;
  /** Frontend port; a free one when absent. */
  readonly port?: number;
  readonly uiPort?: number;
  readonly ui?: boolean;
  /** Register gameday's search attributes at start (default); false gives a server without them. */
  readonly searchAttributes?: boolean;
  readonly log?: (line: string) => void;
}

/** The ports `gameday dev` (and the demo) listen on: the frontend's and the UI's. */
export interface DevServerPorts {
  readonly port: number;
  readonly uiPort: number;
}

/** Temporal's defaults, tried first on a first start. */
export const defaultDevServerPorts: DevServerPorts = { port: 7233, uiPort: 8233 };

/** Where `gameday dev` records the ports it took, beside its database file. */
export const devServerPortsFile = (stateDir: string) => join(stateDir, 'ports.json');

/** The ports the dev server of this state directory took at its last start; undefined when none are recorded. */
export function recordedDevServerPorts(stateDir: string): DevServerPorts | undefined {
  try {
    const recorded = JSON.parse(
      readFileSync(devServerPortsFile(stateDir), 'utf8'),
    ) as Partial<DevServerPorts>;
    const valid = (port: unknown): port is number => Number.isInteger(port) && (port as number) > 0;
    return valid(recorded.port) && valid(recorded.uiPort)
      ? { port: recorded.port, uiPort: recorded.uiPort }
      : undefined;
  } catch {
    return undefined;
  }
}

export function recordDevServerPorts(stateDir: string, ports: DevServerPorts): void {
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(devServerPortsFile(stateDir), `${JSON.stringify(ports)}\n`);
}

/**
 * The ports for a dev server of this state directory: those of its last start when they are free (so its
 * address and UI links stay valid across restarts), else Temporal's defaults when free, else free ones picked
 * now. Every port that is not the default is said, with why.
 */
export async function chooseDevServerPorts(
  stateDir: string,
  say: (line: string) => void,
): Promise<DevServerPorts> {
  const recorded = recordedDevServerPorts(stateDir);
  const choose = async (which: keyof DevServerPorts, what: string): Promise<number> => {
    const wanted = defaultDevServerPorts[which];
    const last = recorded?.[which];
    if (last !== undefined && (await portIsFree(last))) {
      if (last !== wanted) say(`${what} on port ${last} as at its last start (not the default ${wanted})`);
      return last;
    }
    if (await portIsFree(wanted)) {
      if (last !== undefined)
        say(`port ${last} of its last start is in use: ${what} on the default ${wanted}`);
      return wanted;
    }
    const port = await freePort();
    say(
      `port ${last ?? wanted} is in use${last !== undefined && last !== wanted ? `, and so is the default ${wanted}` : ''}: ${what} on port ${port} instead (kept for its next starts while free)`,
    );
    return port;
  };
  const port = await choose('port', 'the Temporal frontend');
  const uiPort = await choose('uiPort', 'the Temporal UI');
  return { port, uiPort };
}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function waitUntilServing(address: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`temporal server exited with code ${child.exitCode}: ${output().slice(-800)}`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`temporal server did not answer on ${address} within 60 s: ${output().slice(-800)}`);
}

/** Starts `temporal server start-dev` with gameday's search attributes, on loopback. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const log = options.log ?? (() => undefined);
  const cli = await findTemporalCli(log);
  if (cli === undefined) return startWithSdkDownload(options);
  mkdirSync(options.stateDir, { recursive: true });
  const port = options.port ?? (await freePort());
  const ui = options.ui ?? false;
  const uiPort = options.uiPort ?? (await freePort());
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--http-port',
    String(await freePort()),
    '--metrics-port',
    String(await freePort()),
    '--db-filename',
    join(options.stateDir, 'temporal.db'),
    ...sqliteFlags,
    '--log-level',
    'error',
    ...(ui ? ['--ui-port', String(uiPort)] : ['--headless']),
    ...(options.searchAttributes === false ? [] : devServerSearchAttributeFlags()),
    ...fastDispatchFlags,
  ];
  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const address = `127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitUntilServing(address, child, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  log(`Temporal dev server on ${address}${ui ? `, UI on http://127.0.0.1:${uiPort}` : ''} (${cli})`);
  return { address, namespace: 'default', ...(ui ? { uiUrl: `http://127.0.0.1:${uiPort}` } : {}), stop };
}

/** Last resort: the SDK downloads a CLI build itself (needs internet access to temporal.download). */
async function startWithSdkDownload(options: DevServerOptions): Promise<DevServer> {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      ip: '127.0.0.1',
      ...(options.port === undefined ? {} : { port: options.port }),
      dbFilename: join(options.stateDir, 'temporal.db'),
      ui: options.ui ?? false,
      extraArgs: [
        ...(options.searchAttributes === false ? [] : devServerSearchAttributeFlags()),
        ...fastDispatchFlags,
        ...sqliteFlags,
      ],
    },
  });
  const address = env.address;
  return { address, namespace: env.namespace ?? 'default', stop: () => env.teardown() };
}
