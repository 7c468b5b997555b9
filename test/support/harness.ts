import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import pino from 'pino';
import { stringify } from 'yaml';
import { LocalExecutor } from '../../activities/executors/local';
import { faultContext } from '../../activities/faults/context';
import type { FaultContext, FaultEnvironment } from '../../activities/faults/contract';
import { startDemoService, type DemoService } from '../../client/demoService';
import { startGameDay } from '../../client/gameDays';
import { startDevServer, type DevServer } from '../../client/devServer';
import { freePort } from '../../worker/ports';
import { projectRoot } from '../../client/paths';
import { parsePlan } from '../../plan/load';
import type { Plan } from '../../plan/schema';
import { activityDepsFromConfig, createGameDayWorker } from '../../worker/createWorker';
import { installRuntime } from '../../worker/runtime';
import { workerConfigSchema } from '../../worker/config';
import { stateQuery, type GameDayReport } from '../../workflows/definitions';
import type { gameDay } from '../../workflows/gameDay';

export const cliPath = join(projectRoot, 'dist', 'client', 'main.js');
const quiet = pino({ level: process.env.GAMEDAY_TEST_LOG ?? 'error' }, pino.destination(2));

export interface TestTemporal {
  readonly server: DevServer;
  readonly client: Client;
  readonly connection: Connection;
  readonly dir: string;
  stop(): Promise<void>;
}

/** A real Temporal dev server for one suite, on free ports under a temp dir. Never skipped: no server, no pass. */
export async function startTestTemporal(): Promise<TestTemporal> {
  const dir = mkdtempSync(join(tmpdir(), 'gameday-test-'));
  const server = await startDevServer({ stateDir: dir });
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

/** `gameday worker` as its own OS process, so a test can SIGKILL it like a crashed orchestrator. */
export async function spawnWorkerProcess(
  temporal: TestTemporal,
  taskQueue: string,
  configFile?: string,
): Promise<WorkerProcess> {
  const child = spawn(
    process.execPath,
    [
      cliPath,
      'worker',
      '--address',
      temporal.server.address,
      '--task-queue',
      taskQueue,
      ...(configFile ? ['--config', configFile] : []),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GAMEDAY_LOG_LEVEL: process.env.GAMEDAY_TEST_LOG ?? 'warn' },
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

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
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

type PlanOverrides = Record<string, unknown>;

/** A plan as YAML text goes through the same parser as `gameday run`, so tests use validated plans only. */
export function planFrom(document: PlanOverrides): { plan: Plan; digest: string } {
  const result = parsePlan(stringify(document), 'test-plan.yaml');
  if (!result.ok) throw new Error(result.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
  return result;
}

/** A minimal valid plan document: one local target group, a 2 s window; tests override what they need. */
export function gameDayPlan(overrides: PlanOverrides = {}): PlanOverrides {
  return {
    apiVersion: 'gameday.dev/v1alpha1',
    kind: 'GameDay',
    metadata: { name: 'test-pause', owner: 'tests' },
    targets: { here: { local: {} } },
    checks: [],
    observation: { window: '2s', sampleInterval: '500ms' },
    recovery: { within: '10s', interval: '200ms' },
    ...overrides,
  };
}

/** The demo plan against a test service: healthy before and after, paused in between. */
export function pausePlan(service: TestService, overrides: PlanOverrides = {}): PlanOverrides {
  const url = `http://127.0.0.1:${service.port}/health`;
  return gameDayPlan({
    checks: [
      { name: 'healthy', when: ['before', 'after'], http: { url, timeout: '1s' } },
      { name: 'frozen', when: ['during'], expect: 'fail', http: { url, timeout: '300ms' } },
    ],
    faults: [{ name: 'pause', kind: 'process-pause', target: 'here', params: { pidfile: service.pidfile } }],
    ...overrides,
  });
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

/** A process-kill plan: rollback restarts the service from its recorded command line and waits for its port. */
/**
 * `settle` is how long the restarted service must stay up: a test that squats the port needs it longer than
 * the service takes to start and fail its bind on a loaded machine, or the rollback passes before it fails.
 */
export function killPlan(service: TestService, window = '2s', settle = '300ms'): PlanOverrides {
  return pausePlan(service, {
    metadata: { name: 'test-kill', owner: 'tests' },
    checks: [
      {
        name: 'healthy',
        when: ['before', 'after'],
        http: { url: `http://127.0.0.1:${service.port}/health` },
      },
    ],
    faults: [
      {
        name: 'kill',
        kind: 'process-kill',
        target: 'here',
        params: {
          pidfile: service.pidfile,
          ready: { tcpPort: service.port, timeout: '5s', settle },
        },
      },
    ],
    observation: { window, sampleInterval: '500ms' },
  });
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

/** What a fault module gets inside an activity, for calling fault kinds directly (locally unless overridden). */
export function localFaultContext(tag = 'test', overrides: Partial<FaultEnvironment> = {}): FaultContext {
  return faultContext({
    exec: new LocalExecutor(),
    target: { group: 'here', kind: 'local', name: 'local' },
    fault: 'test-fault',
    tag,
    protectedPids: [process.pid],
    heartbeat: () => undefined,
    sleep,
    ...overrides,
  });
}
