// The worker's activity dependencies, apart from the Temporal worker itself: `gameday validate --config`
// builds them too, and should not load @temporalio/worker to do so.
import pino, { type Logger } from 'pino';
import type { ActivityDeps } from '../activities';
import { LocalExecutor } from '../activities/executors/local';
import { HelperSpawner } from '../activities/executors/spawnHelper';
import { createGameDayMetrics, type GameDayMetrics } from '../activities/metrics';
import type { WorkerConfig } from './config';
import { kubernetesClusters } from './kubernetesClusters';
import { prometheusEndpoints } from './prometheusEndpoints';
import { SshInventory } from './sshInventory';
import { webhooks } from './webhooks';

export function createLogger(level: WorkerConfig['logLevel']): Logger {
  // Logs go to stderr: stdout belongs to the CLI's progress and reports.
  return pino({ level, base: { component: 'gameday-worker' } }, pino.destination(2));
}

/**
 * Activity dependencies from the worker's configuration; `close` ends pooled SSH connections. Metrics are
 * always recorded (into a registry of their own); the worker serves them only when `metrics.listen` is set.
 */
export function activityDepsFromConfig(
  config: WorkerConfig,
  log: Logger,
  metrics: GameDayMetrics = createGameDayMetrics(),
): ActivityDeps & { close(): Promise<void> } {
  // Local commands start from a helper process, so spawning never blocks the worker's main thread.
  const spawner = new HelperSpawner();
  const local = new LocalExecutor(spawner);
  const inventory = new SshInventory(config.ssh, log);
  return {
    executorFor: (target) => (target.kind === 'ssh' ? inventory.executor(target.name) : local),
    checkExecutor: local,
    allowLocalTargets: config.local.enabled,
    sshHosts: inventory.hostNames,
    unverifiedSshHosts: inventory.unverifiedHostNames,
    protectedPids: [process.pid, process.ppid],
    prometheus: prometheusEndpoints(config.prometheus),
    webhooks: webhooks(config.notifications),
    ...(Object.keys(config.kubernetes.contexts).length > 0
      ? { kubernetes: kubernetesClusters(config.kubernetes) }
      : {}),
    log,
    metrics,
    close: async () => {
      spawner.close();
      await inventory.close();
    },
  };
}
