import { join } from 'node:path';
import { loadWorkerConfig, type WorkerConfig } from '../../worker/config';
import { TemporalUnreachable } from '../../worker/connectionFailure';
import type { startWorker as StartWorker } from '../../worker/run';
import { ensureSearchAttributes } from '../../worker/searchAttributes';
import { startDemoService } from '../demoService';
import {
  chooseDevServerPorts,
  portIsFree,
  recordDevServerPorts,
  startDevServer,
  type DevServer,
} from '../devServer';
import { CliError, exitCodes } from '../exitCodes';
import { connect } from '../gameDays';
import type { GlobalFlags } from '../options';
import { defaultTaskQueue } from '../../workflows/definitions';
import { devStateDir, projectRoot } from '../paths';
import { style } from '../style';
import { executeGameDay, loadPlanOrExit } from './run';

/** Starts a worker, loading it first: @temporalio/worker takes most of a second, which other commands skip. */
const startWorker: typeof StartWorker = async (...args) =>
  (await import('../../worker/run.js')).startWorker(...args);

const say = (line: string) => console.error(style.dim(line));

/** The worker configuration of `--config` (or GAMEDAY_WORKER_CONFIG); a file that is missing or wrong is exit 2. */
export async function workerConfigFor(flags: GlobalFlags & { config?: string }): Promise<WorkerConfig> {
  const config = await loadWorkerConfig(flags.config ?? process.env.GAMEDAY_WORKER_CONFIG).catch(
    (error: unknown) => {
      throw new CliError(error instanceof Error ? error.message : String(error), exitCodes.usage);
    },
  );
  return flags.taskQueue ? { ...config, taskQueue: flags.taskQueue } : config;
}

/** `gameday worker`: polls until SIGINT/SIGTERM, then lets running rollbacks finish. */
export async function workerCommand(flags: GlobalFlags & { config?: string }): Promise<number> {
  const config = await workerConfigFor(flags);
  const worker = await startWorker(config, flags).catch((error: unknown) => {
    throw error instanceof TemporalUnreachable ? new CliError(error.message) : error;
  });
  console.log(`gameday worker polling task queue ${config.taskQueue} (pid ${process.pid})`);
  await worker.done;
  return exitCodes.passed;
}

/** `gameday setup`: registers the search attributes through the operator API (self-hosted clusters). */
export async function setupCommand(flags: GlobalFlags): Promise<number> {
  const temporal = await connect(flags);
  try {
    const added = await ensureSearchAttributes(temporal.connection, temporal.namespace);
    console.log(added.length > 0 ? `registered ${added.join(', ')}` : 'search attributes already registered');
    return exitCodes.passed;
  } finally {
    await temporal.close();
  }
}

/**
 * The dev server of `gameday dev` and the demo, history kept in .gameday/dev. Its ports are Temporal's
 * defaults, or those of its last start, or free ones (said); recorded there once it serves, for its next starts
 * and for the UI links of `status`, `report` and `run` (client/options.ts).
 */
async function startLocalDevServer(): Promise<DevServer> {
  const dir = devStateDir;
  const ports = await chooseDevServerPorts(dir, (line) => console.error(style.yellow(line)));
  const server = await startDevServer({ stateDir: dir, ui: true, ...ports, log: say });
  recordDevServerPorts(dir, ports);
  return server;
}

/** `gameday dev`: a dev server (history kept in .gameday/dev) with its UI, and a worker, until Ctrl-C. */
export async function devCommand(flags: GlobalFlags & { config?: string; demo?: boolean }): Promise<number> {
  // A bad configuration, or the demo's port taken, fails before anything starts.
  const config = await workerConfigFor(flags);
  if (flags.demo && !(await portIsFree(demo.port))) {
    throw new CliError(
      `port ${demo.port} is in use: the demo service needs it (stop whatever listens there)`,
    );
  }
  const server = await startLocalDevServer();
  const service = flags.demo
    ? await startDemoService(demo.port, demo.pidfile).catch(async (error: unknown) => {
        await server.stop();
        throw error;
      })
    : undefined;
  if (service)
    say(`demo service pid ${service.currentPid()} healthy on http://127.0.0.1:${demo.port}/health`);
  try {
    const worker = await startWorker(config, { address: server.address, namespace: server.namespace });
    console.log(
      `Temporal ${server.address}  UI ${server.uiUrl ?? '(headless)'}  task queue ${config.taskQueue}`,
    );
    const queue = config.taskQueue === defaultTaskQueue ? '' : ` --task-queue ${config.taskQueue}`;
    console.log(`run a plan: gameday run examples/demo.yaml --address ${server.address}${queue}`);
    await worker.done;
    return exitCodes.passed;
  } finally {
    await service?.stop();
    await server.stop();
  }
}

export const demo = {
  port: 18181,
  pidfile: '/tmp/gameday-demo/demo-service.pid',
  plan: join(projectRoot, 'examples', 'demo.yaml'),
};

/** `gameday demo`: dev server + worker + demo service, then the example plan end to end. */
export async function demoCommand(flags: { json?: boolean; keep?: boolean }): Promise<number> {
  const { plan, digest } = await loadPlanOrExit(demo.plan);
  if (!(await portIsFree(demo.port))) {
    throw new CliError(
      `port ${demo.port} is in use: the demo service needs it (stop whatever listens there)`,
    );
  }
  const server = await startLocalDevServer();
  const cleanups: (() => Promise<void>)[] = [() => server.stop()];
  try {
    const config: WorkerConfig = {
      ...(await loadWorkerConfig(undefined)),
      taskQueue: 'gameday-demo',
      logLevel: 'warn',
    };
    const worker = await startWorker(config, { address: server.address, namespace: server.namespace });
    cleanups.unshift(() => worker.stop());
    const service = await startDemoService(demo.port, demo.pidfile);
    cleanups.unshift(() => service.stop());
    say(`demo service pid ${service.currentPid()} healthy on http://127.0.0.1:${demo.port}/health`);
    const temporal = await connect({ address: server.address });
    cleanups.unshift(() => temporal.close());
    const code = await executeGameDay(temporal, plan, digest, {
      taskQueue: config.taskQueue,
      ...(server.uiUrl ? { uiUrl: server.uiUrl } : {}),
      ...(flags.json ? { json: true } : {}),
    });
    if (flags.keep) {
      say(`keeping the dev server and its UI (${server.uiUrl ?? ''}) until Ctrl-C`);
      await new Promise((resolve) => process.once('SIGINT', resolve));
    } else {
      say(
        'stopping the demo; run `gameday dev` to browse this game day in the Temporal UI (history is kept)',
      );
    }
    return code;
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  }
}
