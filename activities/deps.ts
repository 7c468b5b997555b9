import type { Logger } from 'pino';
import type { HostTarget } from '../plan/targets';
import type { PrometheusEndpoints } from './checks/prometheusApi';
import type { Executor } from './executors/executor';
import type { KubernetesClusters } from './kubernetes/clusters';
import type { GameDayMetrics } from './metrics';
import type { Webhooks } from './notify';

/** What activities need from the outside world; the worker builds it from its configuration, tests from real servers. */
export interface ActivityDeps {
  /** The executor that acts on a host target (local or SSH). */
  executorFor(target: HostTarget): Executor;
  /** The executor that runs checks (probes run from the worker). */
  readonly checkExecutor: Executor;
  /** The worker's allow-list: may plans act on the worker's own machine? */
  readonly allowLocalTargets: boolean;
  /** Names in the worker's SSH inventory: the only hosts a plan may name. */
  readonly sshHosts: readonly string[];
  /** Inventory hosts whose host keys are not verified: every game day on them says so. */
  readonly unverifiedSshHosts: readonly string[];
  /** Processes no fault may touch on the worker's own machine. */
  readonly protectedPids: readonly number[];
  /** The worker's Kubernetes contexts and their allow-lists; absent when it has none. */
  readonly kubernetes?: KubernetesClusters;
  /** Named Prometheus endpoints for `prometheus` checks; their credentials are read per request. */
  readonly prometheus?: PrometheusEndpoints;
  /** Named webhooks for plans' `notify:`; their URLs and tokens are read per request. */
  readonly webhooks?: Webhooks;
  readonly log: Logger;
  /** Where activities record what they did; the worker serves it on /metrics when configured. */
  readonly metrics: GameDayMetrics;
}
