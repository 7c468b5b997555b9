import type { V1Pod } from '@kubernetes/client-node';
import { z } from 'zod';
import type { CheckBaseline } from '../../workflows/definitions';
import type { ProbeResult } from './contract';
import { podName, podReady, readiness, restartCount } from './kubernetesPods';

// `kubernetes.ready`: the ready ratio of the selected pods as seed 003's one-liner prints it
// ("2 ready / 2 expected = 100 %"), with bounds on the ratio or the count, a phase every pod must be in, and
// the restarts since the game day started.

const maxCount = 100_000;

const ratio = z
  .union(
    [
      z
        .string()
        .max(8)
        .regex(/^\d{1,3}(\.\d+)?%$/)
        .transform((text) => Number(text.slice(0, -1)) / 100)
        .refine((value) => value <= 1, 'must be at most 100%'),
      z.number().min(0).max(1, 'a ratio is from 0 to 1 (1 is all): or write a percentage such as "100%"'),
    ],
    { error: 'must be a percentage such as "100%" or a ratio from 0 to 1' },
  )
  .describe('"100%", "66.7%", or a ratio from 0 to 1');

const phases = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'] as const;

export const readySpec = z
  .strictObject({
    minRatio: ratio
      .optional()
      .describe('the least share of the expected pods that must be Ready (default 100% without min)'),
    min: z.number().int().min(0).max(maxCount).optional().describe('at least this many pods Ready'),
    expected: z
      .number()
      .int()
      .min(1)
      .max(maxCount)
      .optional()
      .describe('how many pods there should be (default: as many as the selector matches now)'),
    maxRestarts: z
      .number()
      .int()
      .min(0)
      .max(maxCount)
      .optional()
      .describe(
        'at most this many container restarts in the selected pods since the game day started (pods created ' +
          'since then count all theirs)',
      ),
    phase: z.enum(phases).optional().describe('every selected pod must be in this phase'),
  })
  .describe(
    "the selected pods' ready ratio: a pod is Ready when all its containers report ready (READY n/n), " +
      'whatever its phase',
  );
export type ReadySpec = z.output<typeof readySpec>;

/** The ratio the plan asks for: its own, or 100 % when it gives neither a ratio nor a count. */
export const minRatioOf = (spec: ReadySpec): number | undefined =>
  spec.minRatio ?? (spec.min === undefined ? 1 : undefined);

/** "100 %", "66.7 %": as seed 003's one-liner prints it. */
const percent = (ratio: number): string => `${Math.round(ratio * 1000) / 10} %`;

export function describeReady(spec: ReadySpec): string {
  const minRatio = minRatioOf(spec);
  const bounds = [
    ...(minRatio === undefined ? [] : [`${percent(minRatio)} Ready`]),
    ...(spec.min === undefined ? [] : [`at least ${spec.min} Ready`]),
    ...(spec.expected === undefined ? [] : [`of ${spec.expected} expected`]),
    ...(spec.phase === undefined ? [] : [`all ${spec.phase}`]),
    ...(spec.maxRestarts === undefined
      ? []
      : [`at most ${spec.maxRestarts} restarts since the game day began`]),
  ];
  return bounds.join(', ');
}

/** Each pod's restart count now, by UID: what later samples compare with (`maxRestarts`). */
export function restartBaseline(pods: readonly V1Pod[]): CheckBaseline {
  return Object.fromEntries(pods.map((pod) => [pod.metadata?.uid ?? podName(pod), restartCount(pod)]));
}

/** "web-1 (0/1 ready, Running), web-2 (…) and 3 more". */
function listed(items: readonly string[], shown = 5): string {
  const more = items.length - shown;
  return items.slice(0, shown).join(', ') + (more > 0 ? ` and ${more} more` : '');
}

/**
 * Judges the pods against the spec. Pure. `baseline` holds the restart counts at the game day's start (by pod
 * UID); a pod missing there was created since and counts all its restarts. The value is the ratio in percent.
 */
export function judgeReady(
  pods: readonly V1Pod[],
  spec: ReadySpec,
  baseline: CheckBaseline | undefined,
): ProbeResult {
  const ready = pods.filter(podReady);
  const expected = spec.expected ?? pods.length;
  const ratio = expected === 0 ? undefined : ready.length / expected;
  const headline =
    `${ready.length} ready / ${expected} expected` + (ratio === undefined ? '' : ` = ${percent(ratio)}`);
  const problems: string[] = [];
  const minRatio = minRatioOf(spec);
  const notReady = pods.filter((pod) => !podReady(pod));
  if (minRatio !== undefined && ratio !== undefined && ratio < minRatio) {
    problems.push(`below ${percent(minRatio)}`);
  }
  if (spec.min !== undefined && ready.length < spec.min) problems.push(`fewer than ${spec.min} Ready`);
  if (problems.length > 0 && notReady.length > 0) {
    problems.push(`not Ready: ${listed(notReady.map((pod) => `${podName(pod)} (${readiness(pod)})`))}`);
  }
  if (spec.phase !== undefined) {
    const elsewhere = pods.filter((pod) => pod.status?.phase !== spec.phase);
    if (elsewhere.length > 0) {
      const which = elsewhere.map((pod) => `${podName(pod)} (${pod.status?.phase ?? 'no phase'})`);
      problems.push(`not ${spec.phase}: ${listed(which)}`);
    }
  }
  if (spec.maxRestarts !== undefined && baseline !== undefined) {
    const restarted = pods
      .map((pod) => ({
        pod,
        more: restartCount(pod) - (baseline[pod.metadata?.uid ?? podName(pod)] ?? 0),
      }))
      .filter(({ more }) => more > 0);
    const total = restarted.reduce((sum, { more }) => sum + more, 0);
    if (total > spec.maxRestarts) {
      const which = restarted.map(({ pod, more }) => `${podName(pod)} +${more}`);
      problems.push(
        `${total} restart(s) since the game day started, more than ${spec.maxRestarts}: ${listed(which)}`,
      );
    }
  }
  return {
    ok: problems.length === 0,
    detail: problems.length === 0 ? headline : `${headline}: ${problems.join('; ')}`,
    ...(ratio === undefined ? {} : { value: Math.round(ratio * 1000) / 10 }),
  };
}
