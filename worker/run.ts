import { Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { WorkerConfig } from './config';
import { resolveConnection, type TemporalTarget } from './connectionOptions';
import { activityDepsFromConfig, createGameDayWorker, createLogger } from './createWorker';
import { installRuntime } from './runtime';
import { ensureSearchAttributes } from './searchAttributes';

export interface RunningWorker {
  readonly worker: Worker;
  readonly log: Logger;
  readonly taskQueue: string;
  /** Resolves when the worker has stopped (after `stop()`, or SIGINT/SIGTERM). */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

/** Connects, registers missing search attributes, and starts polling. */
export async function startWorker(config: WorkerConfig, flags: TemporalTarget): Promise<RunningWorker> {
  const { address, namespace, options } = resolveConnection(flags, config);
  const log = createLogger(config.logLevel);
  installRuntime(log);
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect(options);
  } catch (error) {
    throw new Error(`cannot reach Temporal at ${address}: ${(error as Error).message}`);
  }
  const client = await Connection.connect({ ...options, connectTimeout: 5000 });
  try {
    const added = await ensureSearchAttributes(client, namespace);
    if (added.length > 0) log.info({ added }, 'registered search attributes');
  } catch (error) {
    log.warn(
      { err: error },
      'could not register search attributes (register them with your cluster tooling)',
    );
  } finally {
    await client.close();
  }
  const deps = activityDepsFromConfig(config, log);
  const worker = await createGameDayWorker({ connection, namespace, taskQueue: config.taskQueue, deps });
  log.info({ address, namespace, taskQueue: config.taskQueue, pid: process.pid }, 'gameday worker polling');
  const done = worker.run().finally(async () => {
    await deps.close();
    await connection.close();
  });
  return {
    worker,
    log,
    taskQueue: config.taskQueue,
    done,
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
