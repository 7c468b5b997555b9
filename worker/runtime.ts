import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from 'pino';

let installed = false;

const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * Routes the SDK's own logs (and the Rust core's) into our pino logger at its level, so the CLI's stdout stays
 * readable. The SDK allows one Runtime per process: the first caller decides.
 */
export function installRuntime(log: Logger): void {
  if (installed) return;
  installed = true;
  const level = (
    log.level === 'debug' ? 'DEBUG' : log.level === 'info' ? 'INFO' : log.level === 'error' ? 'ERROR' : 'WARN'
  ) as LogLevel;
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      log[levels[entry.level]]({ sdk: entry.meta }, entry.message);
    }),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: level, other: 'ERROR' }), forward: {} },
    },
  });
}
