import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { WorkerConfig } from './config';
import { TemporalUnreachable } from './connectionFailure';

export interface TemporalTarget {
  readonly address?: string;
  readonly namespace?: string;
}

export interface ResolvedConnection {
  readonly address: string;
  readonly namespace: string;
  /** The profile asked for by name (worker config `temporal.profile`, else TEMPORAL_PROFILE), for messages. */
  readonly profile?: string;
  /** TLS and API key from Temporal's own client configuration (profile file and TEMPORAL_* variables). */
  readonly options: ReturnType<typeof loadClientConnectConfig>['connectionOptions'];
}

export const defaultAddress = '127.0.0.1:7233';

/**
 * Flags win over the environment (TEMPORAL_ADDRESS, profiles), which wins over the worker's file. A profile
 * that is missing, or names a certificate or key file that cannot be read, is a TemporalUnreachable in one line.
 */
export function resolveConnection(flags: TemporalTarget, config?: WorkerConfig): ResolvedConnection {
  const profile = config?.temporal.profile ?? (process.env.TEMPORAL_PROFILE || undefined);
  let loaded: ReturnType<typeof loadClientConnectConfig>;
  try {
    loaded = loadClientConnectConfig(profile ? { profile } : {});
  } catch (error) {
    const file = process.env.TEMPORAL_CONFIG_FILE ?? 'temporal.toml in your config directory';
    throw new TemporalUnreachable(
      `Temporal client configuration (${file}${profile ? `, profile ${profile}` : ''}): ` +
        `${(error as Error).message.split('\n')[0]}; check TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE and the paths in the profile`,
    );
  }
  const address =
    flags.address ?? loaded.connectionOptions.address ?? config?.temporal.address ?? defaultAddress;
  const namespace = flags.namespace ?? loaded.namespace ?? config?.temporal.namespace ?? 'default';
  return {
    address,
    namespace,
    ...(profile ? { profile } : {}),
    options: { ...loaded.connectionOptions, address },
  };
}
