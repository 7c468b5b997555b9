import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createGameDayMetrics } from '../activities/metrics';
import type { WorkerConfig } from './config';
import { resolveConnection, type TemporalTarget } from './connectionOptions';
import { activityDepsFromConfig, createGameDayWorker, createLogger } from './createWorker';
import { countRollbackStuck, freeLoopbackPort, startMetricsEndpoint, type MetricsEndpoint } from './metrics';
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

/** Connects, registers missing search attributes, and starts polling. */
export async function startWorker(config: WorkerConfig, flags: TemporalTarget): Promise<RunningWorker> {
  const { address, namespace, options } = resolveConnection(flags, config);
  const log = createLogger(config.logLevel);
  const listen = config.metrics.listen;
  // The SDK's exporter listens on loopback only: the worker's /metrics is the one place to scrape.
  const sdkMetricsAddress = installRuntime(log, listen ? `127.0.0.1:${await freeLoopbackPort()}` : undefined);
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
  const visibility = new Client({ connection, namespace });
  const metrics = createGameDayMetrics(
    listen
      ? {
          defaultMetrics: true,
          countRollbackStuck: () => countRollbackStuck(visibility),
          onCollectError: (error) => log.warn({ err: error }, 'could not count stuck game days'),
        }
      : {},
  );
  const deps = activityDepsFromConfig(config, log, metrics);
  const worker = await createGameDayWorker({ connection, namespace, taskQueue: config.taskQueue, deps });
  let endpoint: MetricsEndpoint | undefined;
  if (listen) {
    endpoint = await startMetricsEndpoint({
      listen,
      registry: metrics.registry,
      log,
      ...(sdkMetricsAddress ? { sdkMetricsAddress } : {}),
    });
    log.info({ url: endpoint.url }, 'serving metrics');
  }
  log.info({ address, namespace, taskQueue: config.taskQueue, pid: process.pid }, 'gameday worker polling');
  const done = worker.run().finally(async () => {
    await endpoint?.close();
    await deps.close();
    await connection.close();
  });
  return {
    worker,
    log,
    taskQueue: config.taskQueue,
    ...(endpoint ? { metricsUrl: endpoint.url } : {}),
    done,
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
