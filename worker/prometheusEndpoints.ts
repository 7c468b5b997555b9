import { workerSecrets } from '../activities/redact';
import type { PrometheusEndpoint, PrometheusEndpoints } from '../activities/checks/prometheusApi';
import type { PrometheusEndpointConfig, WorkerConfig } from './config';
import { secret } from './secrets';

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
