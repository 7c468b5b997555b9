import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createGameDayMetrics, type GameDayMetrics } from '../activities/metrics';
import { searchAttributes } from '../workflows/definitions';
import { freePort } from './ports';

export interface MetricsEndpoint {
  /** http://host:port/metrics */
  readonly url: string;
  close(): Promise<void>;
}

export interface MetricsEndpointOptions {
  /** host:port from `metrics.listen`. */
  readonly listen: string;
  readonly registry: Registry;
  /** host:port where the Temporal SDK serves its own metrics (appended to ours), once its Runtime is up. */
  readonly sdkMetricsAddress: () => string | undefined;
  readonly log: Logger;
}

export function splitHostPort(listen: string): { host: string; port: number } {
  const colon = listen.lastIndexOf(':');
  return { host: listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(listen.slice(colon + 1)) };
}

/** The query behind `gameday_rollback_stuck`: running game days in that phase, whichever worker runs them. */
export const rollbackStuckQuery = `${searchAttributes.phase.name} = 'rollback-stuck' AND ExecutionStatus = 'Running'`;

export async function countRollbackStuck(client: Client): Promise<number> {
  return (await client.workflow.count(rollbackStuckQuery)).count;
}

async function sdkMetrics(address: string, log: Logger): Promise<string> {
  try {
    const response = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(2000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return await response.text();
  } catch (error) {
    // Our own metrics still go out; the SDK's are missing from this one scrape.
    log.warn({ err: error, address }, 'could not read the Temporal SDK metrics');
    return '';
  }
}

/** Serves GET /metrics: gameday's metrics (and Node's), then the Temporal SDK's. Nothing else. */
export async function startMetricsEndpoint(options: MetricsEndpointOptions): Promise<MetricsEndpoint> {
  const { registry, sdkMetricsAddress, log } = options;
  const server: Server = createHttpServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('gameday worker: try GET /metrics\n');
      return;
    }
    const sdk = sdkMetricsAddress();
    Promise.all([registry.metrics(), sdk ? sdkMetrics(sdk, log) : ''])
      .then(([ours, sdk]) => {
        response
          .writeHead(200, { 'content-type': registry.contentType })
          .end(`${ours.endsWith('\n') ? ours : `${ours}\n`}${sdk}`);
      })
      .catch((error: unknown) => {
        log.error({ err: error }, 'collecting metrics failed');
        response.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
      });
  });
  const { host, port } = splitHostPort(options.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(`metrics.listen ${options.listen}: cannot listen (${error.code ?? error.message})`)),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const shownHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${shownHost}:${bound.port}/metrics`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // a scraper's keep-alive connection must not hold the worker up
      }),
  };
}

export interface ServedMetrics {
  readonly metrics: GameDayMetrics;
  readonly endpoint: MetricsEndpoint;
  /** Where the SDK's exporter should listen: loopback only, /metrics is the one place to scrape. */
  readonly sdkMetricsAddress: string;
  /** Once connected: the SDK's actual metrics address (the first Runtime wins) and the visibility client. */
  connected(client: Client, sdkMetricsAddress: string | undefined): void;
}

/**
 * Starts /metrics before anything else, so a taken port fails the worker at once with nothing to clean up.
 * Until the worker is connected, the stuck count is unknown (NaN) and the SDK's metrics are missing.
 */
export async function serveMetrics(
  listen: string | undefined,
  log: Logger,
): Promise<ServedMetrics | undefined> {
  if (listen === undefined) return undefined;
  let visibility: Client | undefined;
  let sdkAddress: string | undefined;
  const metrics = createGameDayMetrics({
    defaultMetrics: true,
    countRollbackStuck: () =>
      visibility
        ? countRollbackStuck(visibility)
        : Promise.reject(new Error('not connected to Temporal yet')),
    onCollectError: (error) => log.warn({ err: error }, 'could not count stuck game days'),
  });
  const sdkMetricsAddress = `127.0.0.1:${await freePort()}`;
  const endpoint = await startMetricsEndpoint({
    listen,
    registry: metrics.registry,
    log,
    sdkMetricsAddress: () => sdkAddress,
  });
  log.info({ url: endpoint.url }, 'serving metrics');
  return {
    metrics,
    endpoint,
    sdkMetricsAddress,
    connected: (client, actualSdkAddress) => {
      visibility = client;
      sdkAddress = actualSdkAddress;
    },
  };
}
