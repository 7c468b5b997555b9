import type { ConfigurationOptions, V1Pod } from '@kubernetes/client-node';
import { z } from 'zod';
import { duration, formatDuration } from '../../plan/duration';
import { compilePattern } from '../../plan/regex';
import { kubernetesName, regexPattern } from '../../plan/safeValues';
import { KubernetesError, type KubernetesClient } from '../kubernetes/client';
import { CouldNotAsk, type ProbeResult } from './contract';
import { podName } from './kubernetesPods';

// `kubernetes.logs`: `kubectl logs [-p] <pod> | grep -A N 'WARN\|ERROR'` over the selected pods, since the game
// day started, with a bound on how many lines may match.

/** The most of one container's log read per sample: the oldest bytes since the start, as the API cuts. */
export const logLimitBytes = 8 * 1024 * 1024;

export const logsSpec = z
  .strictObject({
    pattern: regexPattern.describe('RE2, matched against each line: "WARN|ERROR"'),
    after: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(0)
      .describe('lines after each match shown with it, as grep -A'),
    container: kubernetesName.optional().describe("one container's logs (default: every container's)"),
    previous: z
      .boolean()
      .default(false)
      .describe('also the previous instance of each restarted container (kubectl logs -p)'),
    since: z
      .union([z.literal('game-day'), duration({ min: '1s', max: '7d', units: ['s', 'm', 'h', 'd'] })])
      .default('game-day')
      .describe(
        '"game-day": lines since the game day started (default); or a duration back from each sample',
      ),
    maxMatches: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .default(0)
      .describe('at most this many matching lines'),
  })
  .describe("lines of the selected pods' logs that match a pattern");
export type LogsSpec = z.output<typeof logsSpec>;

export function describeLogs(spec: LogsSpec): string {
  const since =
    spec.since === 'game-day' ? 'since the game day started' : `in the last ${formatDuration(spec.since)}`;
  const which = spec.container === undefined ? 'logs' : `${spec.container} logs`;
  return (
    `at most ${spec.maxMatches} line(s) of /${spec.pattern}/ in their ${which}` +
    (spec.previous ? ' (and previous containers)' : '') +
    ` ${since}`
  );
}

/** One log read: where it came from ("web-1/app", "web-1/app previous") and its text. */
export interface LogText {
  readonly source: string;
  readonly text: string;
  /** The read stopped at `logLimitBytes`. */
  readonly truncated?: boolean;
}

/** One matching line with the `after` lines that follow it, as grep -A shows them. */
export interface LogMatch {
  readonly source: string;
  readonly lines: readonly string[];
}

/** The matching lines of each log (every one counted; the first few kept with their following lines). Pure. */
export function grepLogs(
  logs: readonly LogText[],
  pattern: string,
  after: number,
  kept = 3,
): { count: number; matches: LogMatch[] } {
  const regex = compilePattern(pattern);
  let count = 0;
  const matches: LogMatch[] = [];
  for (const { source, text } of logs) {
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    lines.forEach((line, i) => {
      if (!regex.matcher(line).find()) return;
      count += 1;
      if (matches.length < kept) matches.push({ source, lines: lines.slice(i, i + 1 + after) });
    });
  }
  return { count, matches };
}

/** Judges what was read. Pure. The value is the number of matching lines. */
export function judgeLogs(logs: readonly LogText[], spec: LogsSpec, notes: readonly string[]): ProbeResult {
  const { count, matches } = grepLogs(logs, spec.pattern, spec.after);
  const since =
    spec.since === 'game-day' ? 'since the game day started' : `in the last ${formatDuration(spec.since)}`;
  const truncated = logs.filter((log) => log.truncated).map((log) => log.source);
  const headline =
    `${count} line(s) match /${spec.pattern}/ in ${logs.length} log(s) ${since}` +
    (count > spec.maxMatches ? `, more than ${spec.maxMatches}` : '');
  const shown = matches.map(
    (match) => `${match.source}: ${match.lines.map((line) => line.slice(0, 200)).join(' ⏎ ')}`,
  );
  const remarks = [
    ...notes,
    ...(truncated.length > 0
      ? [`read only the first ${logLimitBytes / 1024 / 1024} MiB of ${truncated.join(', ')}`]
      : []),
  ];
  return {
    ok: count <= spec.maxMatches,
    value: count,
    detail: [headline, ...shown, ...remarks].join('; '),
  };
}

/** How far back to read: since the game day started, or the spec's duration. */
function sinceSeconds(spec: LogsSpec, gameDay: { readonly startMs: number } | undefined): number {
  if (spec.since !== 'game-day') return Math.ceil(spec.since / 1000);
  if (gameDay === undefined) {
    throw new CouldNotAsk('"since: game-day" needs the game day\'s start, and this probe runs outside one');
  }
  // Rounded up: a second early at most, never a line of the game day missed.
  return Math.max(1, Math.ceil((Date.now() - gameDay.startMs) / 1000));
}

/** The API's answer when a container has no such log: none yet (waiting), or no previous instance. */
const noSuchLog = (error: unknown) =>
  error instanceof KubernetesError &&
  error.status === 400 &&
  /previous terminated container|is waiting to start|ContainerCreating|PodInitializing/.test(error.message);

/**
 * Reads the logs of each container (and, with `previous`, of its previous instance) of each pod. A pod that
 * disappeared meanwhile, a container not started yet and one never restarted are notes, not failures.
 */
export async function readLogs(
  kube: KubernetesClient,
  pods: readonly V1Pod[],
  spec: LogsSpec,
  gameDay: { readonly startMs: number } | undefined,
  options: () => ConfigurationOptions,
): Promise<{ logs: LogText[]; notes: string[] }> {
  const seconds = sinceSeconds(spec, gameDay);
  const logs: LogText[] = [];
  const notes: string[] = [];
  pods: for (const pod of pods) {
    const name = podName(pod);
    const namespace = pod.metadata?.namespace ?? '';
    const containers =
      spec.container === undefined ? (pod.spec?.containers ?? []).map((c) => c.name) : [spec.container];
    for (const container of containers) {
      for (const previous of spec.previous ? [false, true] : [false]) {
        const source = `${name}/${container}${previous ? ' previous' : ''}`;
        try {
          const text = await kube.callIfExists({ verb: 'get', resource: 'pods/log', namespace, name }, () =>
            kube.core.readNamespacedPodLog(
              { name, namespace, container, previous, sinceSeconds: seconds, limitBytes: logLimitBytes },
              options(),
            ),
          );
          if (text === undefined) {
            notes.push(`${name} is gone`);
            continue pods;
          }
          logs.push({ source, text, ...(text.length >= logLimitBytes ? { truncated: true } : {}) });
        } catch (error) {
          if (!noSuchLog(error)) throw error;
          if (!previous) notes.push(`${source}: no log yet`);
        }
      }
    }
  }
  return { logs, notes };
}
