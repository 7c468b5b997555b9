import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { WorkerConfig } from './config';
import { temporalUnreachable } from './connectionFailure';
import { resolveConnection, type TemporalTarget } from './connectionOptions';
import { activityDepsFromConfig, createLogger } from './activityDeps';
import { createGameDayWorker } from './createWorker';
import { serveMetrics, type ServedMetrics } from './metrics';
import { installRuntime } from './runtime';
import { ensureSearchAttributes } from './searchAttributes';

export interface RunningWorker {
  readonly worker: Worker;
  readonly log: Logger;
  readonly taskQueue: string;
  /** Where /metrics is served, when `metrics.listen` is set. */
  readonly metricsUrl?: string;
  /** Resolves when the worker has stopped (after `stop()`, or SIGINT/SIGTERM). */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

/** Serves /metrics when configured, connects, registers missing search attributes, and starts polling. */
export async function startWorker(config: WorkerConfig, flags: TemporalTarget): Promise<RunningWorker> {
  const log = createLogger(config.logLevel);
  const served = await serveMetrics(config.metrics.listen, log);
  try {
    return await connectAndPoll(config, flags, log, served);
  } catch (error) {
    await served?.endpoint.close(); // else the open port keeps the failed process alive
    throw error;
  }
}

async function connectAndPoll(
  config: WorkerConfig,
  flags: TemporalTarget,
  log: Logger,
  served: ServedMetrics | undefined,
): Promise<RunningWorker> {
  const resolved = resolveConnection(flags, config);
  const { address, namespace, options } = resolved;
  const sdkMetricsAddress = installRuntime(log, served?.sdkMetricsAddress);
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect(options);
  } catch (error) {
    throw await temporalUnreachable(resolved, error);
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
  served?.connected(new Client({ connection, namespace }), sdkMetricsAddress);
  const deps = activityDepsFromConfig(config, log, served?.metrics);
  const worker = await createGameDayWorker({ connection, namespace, taskQueue: config.taskQueue, deps });
  log.info({ address, namespace, taskQueue: config.taskQueue, pid: process.pid }, 'gameday worker polling');
  const done = worker.run().finally(async () => {
    await served?.endpoint.close();
    await deps.close();
    await connection.close();
  });
  return {
    worker,
    log,
    taskQueue: config.taskQueue,
    ...(served ? { metricsUrl: served.endpoint.url } : {}),
    done,
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
