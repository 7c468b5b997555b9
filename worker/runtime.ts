import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from 'pino';

let installed = false;
let sdkMetricsAddress: string | undefined;

const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * Routes the SDK's own logs (and the Rust core's) into our pino logger at its level, so the CLI's stdout stays
 * readable. With `metricsAddress`, the SDK's own metrics are served there in Prometheus format (the worker's
 * /metrics appends them). The SDK allows one Runtime per process: the first caller decides. Returns where the
 * SDK's metrics are, if anywhere.
 */
export function installRuntime(log: Logger, metricsAddress?: string): string | undefined {
  if (installed) return sdkMetricsAddress;
  installed = true;
  sdkMetricsAddress = metricsAddress;
  const level = (
    log.level === 'debug' ? 'DEBUG' : log.level === 'info' ? 'INFO' : log.level === 'error' ? 'ERROR' : 'WARN'
  ) as LogLevel;
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      log[levels[entry.level]]({ sdk: entry.meta }, entry.message);
    }),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: level, other: 'ERROR' }), forward: {} },
      ...(metricsAddress ? { metrics: { prometheus: { bindAddress: metricsAddress } } } : {}),
    },
  });
  return sdkMetricsAddress;
}
