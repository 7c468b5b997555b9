import { workerSecrets } from '../activities/redact';
import type { Webhook, Webhooks } from '../activities/notify';
import type { WebhookConfig, WorkerConfig } from './config';
import { secret } from './secrets';

function webhook(name: string, config: WebhookConfig): Webhook {
  return {
    on: config.on,
    timeoutMs: config.timeout,
    async url() {
      // Webhook URLs often are the secret (Slack's carry it in the path): registered, so no stored text has it.
      const url = config.url ?? (await secret(`webhook ${name} URL`, config.urlEnv, config.urlFile));
      workerSecrets.register(url);
      return url;
    },
    async headers(): Promise<Record<string, string>> {
      if (config.bearerTokenEnv === undefined && config.bearerTokenFile === undefined) return {};
      const token = await secret(`webhook ${name} token`, config.bearerTokenEnv, config.bearerTokenFile);
      return { authorization: `Bearer ${token}` };
    },
  };
}

/** The worker's named webhooks for plans' `notify:`. */
export function webhooks(config: WorkerConfig['notifications']): Webhooks {
  const byName = new Map(Object.entries(config.webhooks).map(([name, c]) => [name, webhook(name, c)]));
  return { names: [...byName.keys()], webhook: (name) => byName.get(name) };
}
