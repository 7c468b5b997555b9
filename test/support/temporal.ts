// The Temporal side of the tests: a real dev server per suite, the real worker in-process or as its own
// process (to be SIGKILLed like a crashed orchestrator), and game days started as `gameday run` starts them.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import pino from 'pino';
import { startGameDay } from '../../client/gameDays';
import { startDevServer, type DevServer } from '../../client/devServer';
import { projectRoot } from '../../client/paths';
import type { ActivityDeps } from '../../activities/deps';
import { activityDepsFromConfig } from '../../worker/activityDeps';
import { createGameDayWorker } from '../../worker/createWorker';
import { installRuntime } from '../../worker/runtime';
import { workerConfigSchema } from '../../worker/config';
import { stateQuery, type GameDayReport } from '../../workflows/definitions';
import type { gameDay } from '../../workflows/gameDay';
import { planFrom, type PlanOverrides } from './plans';
import { sleep, waitFor } from './wait';

export const cliPath = join(projectRoot, 'dist', 'client', 'main.js');

const quiet = pino({ level: process.env.GAMEDAY_TEST_LOG ?? 'error' }, pino.destination(2));

export interface TestTemporal {
  readonly server: DevServer;
  readonly client: Client;
  readonly connection: Connection;
  readonly dir: string;
  stop(): Promise<void>;
}

export interface TestTemporalOptions {
  /** Also serve the Temporal UI (headless otherwise): its address is `server.uiUrl`. */
  readonly ui?: boolean;
  /** The UI's port; a free one when absent. */
  readonly uiPort?: number;
}

/** A real Temporal dev server for one suite, on free ports under a temp dir. Never skipped: no server, no pass. */
export async function startTestTemporal(options: TestTemporalOptions = {}): Promise<TestTemporal> {
  const dir = mkdtempSync(join(tmpdir(), 'gameday-test-'));
  const server = await startDevServer({
    stateDir: dir,
    ...(options.ui === true ? { ui: true } : {}),
    ...(options.uiPort === undefined ? {} : { uiPort: options.uiPort }),
  });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  return {
    server,
    client,
    connection,
    dir,
    stop: async () => {
      await connection.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface InProcessWorker {
  readonly taskQueue: string;
  /** What its activities use (executors, Kubernetes clients, metrics), for tests that look inside. */
  readonly deps: ActivityDeps;
  stop(): Promise<void>;
}

let queues = 0;

export function uniqueTaskQueue(name: string): string {
  return `${name}-${process.pid}-${++queues}`;
}

/** The real worker (same factory as `gameday worker`) inside the test process. */
export async function startInProcessWorker(
  temporal: TestTemporal,
  taskQueue = uniqueTaskQueue('test'),
  config: Record<string, unknown> = {},
): Promise<InProcessWorker> {
  installRuntime(quiet);
  const connection = await NativeConnection.connect({ address: temporal.server.address });
  const deps = activityDepsFromConfig(
    workerConfigSchema.parse({ taskQueue, logLevel: 'error', ...config }),
    quiet,
  );
  const worker = await createGameDayWorker({
    connection,
    namespace: temporal.server.namespace,
    taskQueue,
    deps,
  });
  const running = worker.run();
  return {
    taskQueue,
    deps,
    stop: async () => {
      worker.shutdown();
      await running;
      await deps.close();
      await connection.close();
    },
  };
}

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

export interface WorkerProcessOptions {
  /** Its environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** Leave Temporal's address to the worker's configuration (e.g. a TLS profile) instead of --address. */
  readonly addressFromConfig?: boolean;
}

/** `gameday worker` as its own OS process, so a test can SIGKILL it like a crashed orchestrator. */
export async function spawnWorkerProcess(
  temporal: TestTemporal,
  taskQueue: string,
  configFile?: string,
  { env = process.env, addressFromConfig = false }: WorkerProcessOptions = {},
): Promise<WorkerProcess> {
  const child = spawn(
    process.execPath,
    [
      cliPath,
      'worker',
      ...(addressFromConfig ? [] : ['--address', temporal.server.address]),
      '--task-queue',
      taskQueue,
      ...(configFile ? ['--config', configFile] : []),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...env, GAMEDAY_LOG_LEVEL: process.env.GAMEDAY_TEST_LOG ?? 'warn' },
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (!output.includes('gameday worker polling')) {
    if (child.exitCode !== null) throw new Error(`worker exited ${child.exitCode}: ${output}`);
    if (Date.now() > deadline) throw new Error(`worker did not start: ${output}`);
    await sleep(50);
  }
  return {
    child,
    output: () => output,
    kill: async (signal) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
    },
  };
}

/** Waits until the game day reports the phase (queries need a live worker). */
export function waitForPhase(
  handle: WorkflowHandle<typeof gameDay>,
  phase: GameDayReport['phase'],
  timeoutMs = 30_000,
): Promise<GameDayReport> {
  return waitFor(
    `phase ${phase}`,
    async () => {
      const state = await handle.query(stateQuery).catch(() => undefined);
      return state?.phase === phase ? state : undefined;
    },
    timeoutMs,
  );
}

/** Starts a game day exactly as `gameday run` does. */
export function startPlan(
  temporal: TestTemporal,
  document: PlanOverrides,
  taskQueue: string,
): Promise<WorkflowHandle<typeof gameDay>> {
  const { plan, digest } = planFrom(document);
  const asCli = {
    client: temporal.client,
    connection: temporal.connection,
    namespace: temporal.server.namespace,
    address: temporal.server.address,
    close: () => Promise.resolve(),
  };
  return startGameDay(asCli, plan, digest, { taskQueue, seed: 42 });
}

/** The run tag a game day recorded in its memo (the CLI's, or the one a scheduled run drew). */
export async function tagOf(handle: WorkflowHandle): Promise<string> {
  const tag = (await handle.describe()).memo?.tag;
  if (typeof tag !== 'string') throw new Error(`${handle.workflowId} has no tag in its memo`);
  return tag;
}

/** An event's plain-words summary (user metadata), as the UI shows it. */
export function summaryOf(event: {
  userMetadata?: { summary?: { data?: Uint8Array | null } | null } | null;
}): string {
  const data = event.userMetadata?.summary?.data;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as string) : '';
}
