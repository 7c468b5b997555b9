import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { notificationEvents } from '../activities/notify';
import { issueWords } from '../plan/issueWords';
import { defaultTaskQueue } from '../workflows/definitions';

/** The user:password@ of a URL, decoded; undefined when it has none. */
function credentialsInUrl(url: string): { username: string; password: string } | 'malformed' | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.username === '' && parsed.password === '') return undefined;
  try {
    return { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) };
  } catch {
    return 'malformed';
  }
}

/** The URL as written, minus its userinfo (the parser takes the last "@" before the path as its end). */
function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#\\]*@/i, '$1');
}

const prometheusEndpointSchema = z
  .strictObject({
    url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
    basicAuth: z
      .strictObject({
        username: z.string().min(1),
        passwordEnv: z.string().min(1).optional().describe('environment variable holding the password'),
        passwordFile: z.string().min(1).optional().describe('file holding the password'),
      })
      .refine((auth) => (auth.passwordEnv === undefined) !== (auth.passwordFile === undefined), {
        message: 'give passwordEnv or passwordFile (one of them)',
      })
      .optional(),
    bearerTokenEnv: z.string().min(1).optional().describe('environment variable holding a bearer token'),
    bearerTokenFile: z.string().min(1).optional().describe('file holding a bearer token'),
  })
  .refine((e) => e.bearerTokenEnv === undefined || e.bearerTokenFile === undefined, {
    message: 'give bearerTokenEnv or bearerTokenFile, not both',
  })
  .refine((e) => e.basicAuth === undefined || (e.bearerTokenEnv ?? e.bearerTokenFile) === undefined, {
    message: 'give basicAuth or a bearer token, not both',
  })
  .superRefine((e, ctx) => {
    // Messages here never quote the URL: it carries the password.
    const inUrl = credentialsInUrl(e.url);
    if (inUrl === undefined) return;
    const problem =
      inUrl === 'malformed'
        ? 'the user:password@ in it is not valid percent-encoding'
        : inUrl.username === '' || inUrl.password === ''
          ? 'has user:password@ with one of them empty: write both, or use basicAuth'
          : e.basicAuth !== undefined || e.bearerTokenEnv !== undefined || e.bearerTokenFile !== undefined
            ? 'has user:password@ and the endpoint also sets basicAuth or a bearer token: give credentials one way'
            : undefined;
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: problem });
  })
  .transform((e): typeof e & { urlBasicAuth?: { username: string; password: string } } => {
    // The URL's user:password@ become basic auth here, once: no request, message or log gets the URL with them.
    const inUrl = credentialsInUrl(e.url);
    if (inUrl === undefined || inUrl === 'malformed') return e;
    return { ...e, url: withoutCredentials(e.url), urlBasicAuth: inUrl };
  });
export type PrometheusEndpointConfig = z.output<typeof prometheusEndpointSchema>;

const webhookSchema = z
  .strictObject({
    url: z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
      .optional()
      .describe('the webhook URL; many carry their secret in the path: prefer urlEnv or urlFile'),
    urlEnv: z.string().min(1).optional().describe('environment variable holding the webhook URL'),
    urlFile: z.string().min(1).optional().describe('file holding the webhook URL'),
    bearerTokenEnv: z.string().min(1).optional().describe('environment variable holding a bearer token'),
    bearerTokenFile: z.string().min(1).optional().describe('file holding a bearer token'),
    on: z
      .array(z.enum(notificationEvents))
      .min(1)
      .default([...notificationEvents])
      .describe(
        'what this webhook is sent: not-passed (any outcome but passed), rollback-stuck, janitor-findings',
      ),
    timeout: z.number().int().min(100).max(60_000).default(10_000).describe('per request, in ms'),
  })
  .refine((w) => [w.url, w.urlEnv, w.urlFile].filter((v) => v !== undefined).length === 1, {
    message: 'give one of url, urlEnv, urlFile',
  })
  .refine((w) => w.bearerTokenEnv === undefined || w.bearerTokenFile === undefined, {
    message: 'give bearerTokenEnv or bearerTokenFile, not both',
  });
export type WebhookConfig = z.output<typeof webhookSchema>;

/**
 * The worker's configuration: where Temporal is, which task queue it serves, and what it may touch.
 * Secrets never appear here in clear: they are named, and read from the environment or files at run time. The
 * one exception, a Prometheus URL's own user:password@, is moved out of the URL into `urlBasicAuth` on load.
 */
export const workerConfigSchema = z.strictObject({
  temporal: z
    .strictObject({
      address: z.string().optional().describe('host:port of the Temporal frontend (default 127.0.0.1:7233)'),
      namespace: z.string().optional(),
      /** A profile of Temporal's own client configuration (temporal.toml): TLS, API key, … */
      profile: z.string().optional(),
      uiUrl: z.url().optional().describe('base URL of the Temporal UI, for links'),
    })
    .default({}),
  taskQueue: z.string().min(1).default(defaultTaskQueue),
  local: z
    .strictObject({
      enabled: z.boolean().default(true).describe("whether plans may act on the worker's own machine"),
    })
    .default({ enabled: true }),
  ssh: z
    .strictObject({
      credentials: z
        .record(
          z.string(),
          z.strictObject({
            privateKeyFile: z.string().optional().describe('path of a private key file on the worker'),
            passphraseEnv: z.string().optional().describe('environment variable holding its passphrase'),
            agent: z.boolean().default(false).describe('use the ssh-agent at SSH_AUTH_SOCK'),
          }),
        )
        .default({}),
      hosts: z
        .record(
          z
            .string()
            .regex(
              /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/,
              'host names are lower-case letters, digits, "-" and "."',
            ),
          z.strictObject({
            address: z.string().min(1),
            port: z.number().int().min(1).max(65535).default(22),
            user: z.string().min(1).default('root'),
            credential: z.string().describe('name of an entry under ssh.credentials'),
            hostKey: z.union([
              z.strictObject({
                fingerprints: z.array(z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/)).min(1),
              }),
              z.strictObject({ knownHostsFile: z.string() }),
              z.strictObject({ insecureSkipVerify: z.literal(true) }),
            ]),
            maxSessions: z.number().int().min(3).max(100).default(10).describe("the host's sshd MaxSessions"),
          }),
        )
        .default({}),
      readyTimeoutMs: z.number().int().min(500).default(10_000),
    })
    .default({ credentials: {}, hosts: {}, readyTimeoutMs: 10_000 })
    .superRefine((ssh, ctx) => {
      for (const [name, host] of Object.entries(ssh.hosts)) {
        if (ssh.credentials[host.credential] === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['hosts', name, 'credential'],
            message: `no credential named "${host.credential}" under ssh.credentials`,
          });
        }
      }
    }),
  kubernetes: z
    .strictObject({
      contexts: z
        .record(
          z
            .string()
            .regex(
              /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
              'context names are letters, digits, "-", "_" and "."',
            ),
          z
            .strictObject({
              kubeconfig: z.string().min(1).optional().describe('path of a kubeconfig file on the worker'),
              context: z
                .string()
                .min(1)
                .optional()
                .describe("the kubeconfig's context (default: its current one)"),
              inCluster: z
                .boolean()
                .default(false)
                .describe("the worker's own service account (when it runs in the cluster)"),
              namespaces: z
                .array(z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a namespace name'))
                .min(1)
                .describe('the only namespaces plans may act in'),
              requireOptIn: z
                .boolean()
                .default(false)
                .describe('act only in namespaces annotated gameday.dev/chaos: enabled'),
            })
            .refine((c) => (c.kubeconfig !== undefined) !== c.inCluster, {
              message: 'give kubeconfig (with an optional context) or inCluster: true',
            }),
        )
        .default({}),
    })
    .default({ contexts: {} })
    .describe('Kubernetes contexts plans may name, each with its allowed namespaces'),
  prometheus: z
    .strictObject({
      endpoints: z
        .record(
          z
            .string()
            .regex(
              /^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$/,
              'endpoint names are lower-case letters, digits, "-" and "_"',
            ),
          prometheusEndpointSchema,
        )
        .default({}),
    })
    .default({ endpoints: {} })
    .describe(
      'Prometheus endpoints that plans name in prometheus checks (GAMEDAY_PROMETHEUS_URL: "default")',
    ),
  notifications: z
    .strictObject({
      webhooks: z
        .record(
          z
            .string()
            .regex(
              /^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$/,
              'webhook names are lower-case letters, digits, "-" and "_"',
            ),
          webhookSchema,
        )
        .default({}),
    })
    .default({ webhooks: {} })
    .describe(
      'webhooks plans name in `notify:` (Slack-compatible JSON); URLs and tokens never enter history',
    ),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  metrics: z
    .strictObject({
      listen: z
        .string()
        .regex(
          /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/,
          'expected host:port, e.g. 127.0.0.1:9464 or 0.0.0.0:9464',
        )
        .refine((listen) => Number(listen.slice(listen.lastIndexOf(':') + 1)) <= 65535, 'port above 65535')
        .optional()
        .describe('host:port of the /metrics endpoint for Prometheus; off when absent'),
    })
    .default({}),
});
export type WorkerConfig = z.output<typeof workerConfigSchema>;

/** Environment variables that override the file, for containers and CI. */
function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const overrides: Record<string, unknown> = {};
  if (env.GAMEDAY_TASK_QUEUE) overrides.taskQueue = env.GAMEDAY_TASK_QUEUE;
  if (env.GAMEDAY_LOCAL_ENABLED) overrides.local = { enabled: env.GAMEDAY_LOCAL_ENABLED === 'true' };
  if (env.GAMEDAY_LOG_LEVEL) overrides.logLevel = env.GAMEDAY_LOG_LEVEL;
  if (env.GAMEDAY_METRICS_LISTEN) overrides.metrics = { listen: env.GAMEDAY_METRICS_LISTEN };
  return overrides;
}

/** GAMEDAY_PROMETHEUS_URL sets (or replaces the URL of) the endpoint named "default", keeping the others. */
function withPrometheusUrl(config: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const url = env.GAMEDAY_PROMETHEUS_URL;
  if (!url) return config;
  const prometheus = (config.prometheus as { endpoints?: Record<string, object> } | undefined) ?? {};
  const endpoints = prometheus.endpoints ?? {};
  return {
    ...config,
    prometheus: { ...prometheus, endpoints: { ...endpoints, default: { ...endpoints.default, url } } },
  };
}

export async function loadWorkerConfig(file: string | undefined, env = process.env): Promise<WorkerConfig> {
  let fromFile: Record<string, unknown> = {};
  if (file !== undefined) {
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new Error(`cannot read worker configuration ${file}: ${error.code ?? error.message}`);
    });
    fromFile = (parse(text) as Record<string, unknown> | null) ?? {};
  }
  const parsed = workerConfigSchema.safeParse(withPrometheusUrl({ ...fromFile, ...envOverrides(env) }, env));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${issueWords(i)}`);
    throw new Error(`invalid worker configuration${file ? ` in ${file}` : ''}:\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}
