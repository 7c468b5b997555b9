import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { WorkerConfig } from './config';

export interface TemporalTarget {
  readonly address?: string;
  readonly namespace?: string;
}

export interface ResolvedConnection {
  readonly address: string;
  readonly namespace: string;
  /** TLS and API key from Temporal's own client configuration (profile file and TEMPORAL_* variables). */
  readonly options: ReturnType<typeof loadClientConnectConfig>['connectionOptions'];
}

export const defaultAddress = '127.0.0.1:7233';

/** Flags win over the environment (TEMPORAL_ADDRESS, profiles), which wins over the worker's file. */
export function resolveConnection(flags: TemporalTarget, config?: WorkerConfig): ResolvedConnection {
  const env = loadClientConnectConfig(config?.temporal.profile ? { profile: config.temporal.profile } : {});
  const address =
    flags.address ?? env.connectionOptions.address ?? config?.temporal.address ?? defaultAddress;
  const namespace = flags.namespace ?? env.namespace ?? config?.temporal.namespace ?? 'default';
  return { address, namespace, options: { ...env.connectionOptions, address } };
}
