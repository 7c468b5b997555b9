import { readFile } from 'node:fs/promises';
import { workerSecrets } from '../activities/redact';
import type { PrometheusEndpoint, PrometheusEndpoints } from '../activities/checks/prometheusApi';
import type { PrometheusEndpointConfig, WorkerConfig } from './config';

/**
 * Reads a secret named by the configuration, at the moment it is needed: a rotated token is picked up. Each
 * one read is registered with the redactor, so no stored message can carry it.
 */
async function secret(what: string, envName: string | undefined, file: string | undefined): Promise<string> {
  if (envName !== undefined) {
    const value = process.env[envName];
    if (value === undefined || value === '') {
      throw new Error(`${what}: environment variable ${envName} is not set on this worker`);
    }
    workerSecrets.register(value);
    return value;
  }
  try {
    const value = (await readFile(file as string, 'utf8')).trim();
    workerSecrets.register(value);
    return value;
  } catch (error) {
    throw new Error(
      `${what}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
}

function basicAuthorization(username: string, password: string): Record<string, string> {
  workerSecrets.registerBasicAuth(username, password);
  return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}

function endpoint(name: string, config: PrometheusEndpointConfig): PrometheusEndpoint {
  const { urlBasicAuth } = config;
  // Known from the start: the configuration itself carried them (in the URL, see worker/config.ts).
  if (urlBasicAuth !== undefined)
    workerSecrets.registerBasicAuth(urlBasicAuth.username, urlBasicAuth.password);
  return {
    name,
    url: config.url,
    async headers(): Promise<Record<string, string>> {
      const { basicAuth, bearerTokenEnv, bearerTokenFile } = config;
      if (urlBasicAuth !== undefined) return basicAuthorization(urlBasicAuth.username, urlBasicAuth.password);
      if (basicAuth !== undefined) {
        const password = await secret(
          `prometheus endpoint ${name} password`,
          basicAuth.passwordEnv,
          basicAuth.passwordFile,
        );
        return basicAuthorization(basicAuth.username, password);
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
