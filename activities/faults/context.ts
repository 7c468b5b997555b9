import { createHash } from 'node:crypto';
import { taggedPath } from '../../workflows/definitions';
import { runChecked } from '../executors/executor';
import type { KubernetesTarget } from '../../plan/targets';
import type { KubernetesClient } from '../kubernetes/client';
import type { ExecInPod } from '../kubernetes/podExec';
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

/**
 * What a step has said (notes, interventions) and saved (its checkpoint). It travels with every heartbeat, so
 * a later attempt of the same activity (after a crash or a failure) starts from it.
 */
export interface StepProgress {
  readonly notes: string[];
  readonly interventions: string[];
  checkpoint?: unknown;
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];

/** The progress an earlier attempt heartbeated, or a fresh one. */
export function resumedProgress(heartbeatDetails: unknown): StepProgress {
  const earlier = (
    typeof heartbeatDetails === 'object' && heartbeatDetails !== null ? heartbeatDetails : {}
  ) as Partial<Record<keyof StepProgress, unknown>>;
  return {
    notes: strings(earlier.notes),
    interventions: strings(earlier.interventions),
    ...(earlier.checkpoint === undefined ? {} : { checkpoint: earlier.checkpoint }),
  };
}

/** A step's detail with what it said: "…; intervention: removed …; note: …". */
export function withProgress(detail: string, progress: StepProgress): string {
  return [
    detail,
    ...progress.interventions.map((text) => `intervention: ${text}`),
    ...progress.notes.map((text) => `note: ${text}`),
  ].join('; ');
}

/** A Kubernetes fault step's context: the client of its target's context, and the shared habits. */
export function kubernetesFaultContext(
  env: StepEnvironment & {
    readonly kube: KubernetesClient;
    readonly target: KubernetesTarget;
    readonly windowMs: number | undefined;
    readonly execInPod: ExecInPod;
    readonly progress: StepProgress;
    readonly policy: KubernetesFaultContext['policy'];
  },
): KubernetesFaultContext {
  const { progress, ...rest } = env;
  const once = (list: string[], text: string) => {
    if (!list.includes(text)) list.push(text);
    env.heartbeat();
  };
  return {
    ...rest,
    pollUntil: (read, done, timing) => pollUntil(env, read, done, timing),
    note: (text) => once(progress.notes, text),
    intervene: (text) => once(progress.interventions, text),
    get resumed() {
      return progress.checkpoint;
    },
    checkpoint: (value) => {
      progress.checkpoint = value;
      env.heartbeat();
    },
  };
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
