import type { Logger } from 'pino';
import type { Target } from '../plan/targets';
import type { PrometheusEndpoints } from './checks/prometheusApi';
import type { Executor } from './executors/executor';

/** What activities need from the outside world; the worker builds it from its configuration, tests from real servers. */
export interface ActivityDeps {
  /** The executor that acts on a target (local now; SSH and Kubernetes later). */
  executorFor(target: Target): Executor;
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
  /** Named Prometheus endpoints for `prometheus` checks; their credentials are read per request. */
  readonly prometheus?: PrometheusEndpoints;
  readonly log: Logger;
}
