import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { defaultTaskQueue } from '../workflows/definitions';

/**
 * The worker's configuration: where Temporal is, which task queue it serves, and what it may touch.
 * Secrets never appear here in clear: they are named, and read from the environment or files at run time.
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
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});
export type WorkerConfig = z.output<typeof workerConfigSchema>;

/** Environment variables that override the file, for containers and CI. */
function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const overrides: Record<string, unknown> = {};
  if (env.GAMEDAY_TASK_QUEUE) overrides.taskQueue = env.GAMEDAY_TASK_QUEUE;
  if (env.GAMEDAY_LOCAL_ENABLED) overrides.local = { enabled: env.GAMEDAY_LOCAL_ENABLED === 'true' };
  if (env.GAMEDAY_LOG_LEVEL) overrides.logLevel = env.GAMEDAY_LOG_LEVEL;
  return overrides;
}

export async function loadWorkerConfig(file: string | undefined, env = process.env): Promise<WorkerConfig> {
  let fromFile: Record<string, unknown> = {};
  if (file !== undefined) {
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new Error(`cannot read worker configuration ${file}: ${error.code ?? error.message}`);
    });
    fromFile = (parse(text) as Record<string, unknown> | null) ?? {};
  }
  const parsed = workerConfigSchema.safeParse({ ...fromFile, ...envOverrides(env) });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
    throw new Error(`invalid worker configuration${file ? ` in ${file}` : ''}:\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}
