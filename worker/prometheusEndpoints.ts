import { readFile } from 'node:fs/promises';
import type { PrometheusEndpoint, PrometheusEndpoints } from '../activities/checks/prometheusApi';
import type { PrometheusEndpointConfig, WorkerConfig } from './config';

/** Reads a secret named by the configuration, at the moment it is needed: a rotated token is picked up. */
async function secret(what: string, envName: string | undefined, file: string | undefined): Promise<string> {
  if (envName !== undefined) {
    const value = process.env[envName];
    if (value === undefined || value === '') {
      throw new Error(`${what}: environment variable ${envName} is not set on this worker`);
    }
    return value;
  }
  try {
    return (await readFile(file as string, 'utf8')).trim();
  } catch (error) {
    throw new Error(
      `${what}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
}

function endpoint(name: string, config: PrometheusEndpointConfig): PrometheusEndpoint {
  return {
    name,
    url: config.url,
    async headers(): Promise<Record<string, string>> {
      const { basicAuth, bearerTokenEnv, bearerTokenFile } = config;
      if (basicAuth !== undefined) {
        const password = await secret(
          `prometheus endpoint ${name} password`,
          basicAuth.passwordEnv,
          basicAuth.passwordFile,
        );
        const token = Buffer.from(`${basicAuth.username}:${password}`).toString('base64');
        return { authorization: `Basic ${token}` };
      }
      if (bearerTokenEnv !== undefined || bearerTokenFile !== undefined) {
        const token = await secret(`prometheus endpoint ${name} token`, bearerTokenEnv, bearerTokenFile);
        return { authorization: `Bearer ${token}` };
      }
      return {};
    },
  };
}

/** The worker's named endpoints for `prometheus` checks. */
export function prometheusEndpoints(config: WorkerConfig['prometheus']): PrometheusEndpoints {
  const byName = new Map(Object.entries(config.endpoints).map(([name, c]) => [name, endpoint(name, c)]));
  return { names: [...byName.keys()], endpoint: (name) => byName.get(name) };
}
