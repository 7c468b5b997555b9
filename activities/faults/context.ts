import { createHash } from 'node:crypto';
import { taggedPath } from '../../workflows/definitions';
import { runChecked } from '../executors/executor';
import type {
  FaultContext,
  FaultEnvironment,
  KubernetesFaultContext,
  PollTiming,
  StepEnvironment,
} from './contract';

/** A short, stable name of a plan's fault, for names on a host (chains, files): the same on every worker. */
export function faultHash(fault: string): string {
  return createHash('sha256').update(fault).digest('hex').slice(0, 6);
}

/** Reads until `done` holds or the time is up, heartbeating between reads; returns the last reading. */
async function pollUntil<T>(
  env: StepEnvironment,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs, intervalMs }: PollTiming,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() >= deadline) return value;
    env.heartbeat();
    await env.sleep(intervalMs);
  }
}

/** A Kubernetes fault step's context: the client of its target's context, and the shared habits. */
export function kubernetesFaultContext(
  env: StepEnvironment & Pick<KubernetesFaultContext, 'kube' | 'target' | 'policy'>,
): KubernetesFaultContext {
  return { ...env, pollUntil: (read, done, timing) => pollUntil(env, read, done, timing) };
}

/** A fault step's context: its environment plus the habits every kind shares. */
export function faultContext(env: FaultEnvironment): FaultContext {
  const ctx: FaultContext = {
    ...env,
    run: (argv, options) => runChecked(env.exec, argv, { ...options, on: env.target.name }),
    pollUntil: (read, done, timing) => pollUntil(env, read, done, timing),
    artifactPath: (what, dir) => taggedPath(env.tag, `${what}-${faultHash(env.fault)}`, dir),
  };
  return ctx;
}

/** The last lines of a log on the host, on one line: what a process said before it exited. */
export async function logTail(ctx: Pick<FaultContext, 'exec'>, path: string, lines = 5): Promise<string> {
  const text = (await ctx.exec.readFile(path)) ?? '';
  return text.trim().split('\n').slice(-lines).join(' ').replace(/\s+/g, ' ').slice(-400);
}
