import type { V1Pod } from '@kubernetes/client-node';
import { z } from 'zod';
import { duration } from '../../plan/duration';
import { kubernetesSelection } from '../../plan/kubernetes';
import type { KubernetesClient } from '../kubernetes/client';
import { numberBound } from './command';
import { CouldNotAsk, type CheckContext, type CheckKind, type ProbeResult } from './contract';
import { containerOf, describeExec, execInPod, execSpec, execTargets, judgeExec } from './kubernetesExec';
import { describeLogs, judgeLogs, logsSpec, readLogs } from './kubernetesLogs';
import {
  abortedBy,
  clientFor,
  describePods,
  listPods,
  podName,
  podReady,
  readiness,
  timeoutSignal,
} from './kubernetesPods';
import { describeReady, judgeReady, minRatioOf, readySpec, restartBaseline } from './kubernetesReady';

const modes = ['ready', 'logs', 'exec'] as const;

const spec = kubernetesSelection
  .safeExtend({
    kind: z.literal('pod').default('pod').describe('kubernetes checks select pods'),
    ready: readySpec.optional(),
    logs: logsSpec.optional(),
    exec: execSpec.optional(),
    onNone: z
      .enum(['fail', 'pass', 'unknown'])
      .default('fail')
      .describe(
        'when the selector matches no pod: fail ("0 ready / 0 expected"); pass; unknown: reported as unknown ' +
          'and not held against the steady state',
      ),
    timeout: duration({ min: '100ms', max: '10m' })
      .default(10_000)
      .describe('for each API request, and for an exec to finish'),
  })
  .superRefine((check, ctx) => {
    const given = modes.filter((mode) => check[mode] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `give exactly one of ${modes.join(', ')}` });
    }
  });
type Spec = z.output<typeof spec>;

/** The options of one API request of this probe: aborted after the spec's timeout or with the activity. */
const requestOptions = (ctx: Pick<CheckContext, 'signal'>, s: Spec) => () =>
  abortedBy(timeoutSignal(s.timeout, ctx.signal));

/** What an empty selection answers, as the plan says (`onNone`). */
function noPods(s: Spec): ProbeResult {
  const detail = `0 ready / 0 expected: no ${describePods(s)}`;
  if (s.onNone === 'unknown') return { ok: false, status: 'unknown', detail };
  return { ok: s.onNone === 'pass', detail };
}

async function probeExec(kube: KubernetesClient, pods: readonly V1Pod[], s: Spec): Promise<ProbeResult> {
  const exec = s.exec;
  if (exec === undefined) throw new Error('not an exec check');
  const targets = execTargets(pods, exec);
  if (targets.length === 0) {
    return { ok: false, detail: `none of the ${pods.length} selected pod(s) is Ready to exec in` };
  }
  const results = await Promise.all(
    targets.map(async (pod) => {
      const container = containerOf(pod, exec);
      const where = `${podName(pod)}/${container}`;
      if (!podReady(pod)) return { ok: false, detail: `${where}: not Ready (${readiness(pod)})` };
      const answer = await execInPod(kube, pod, container, exec.argv, s.timeout);
      const result = judgeExec(answer, exec, s.timeout);
      return {
        ...result,
        detail: `${where}: ${result.detail}`,
        // Among several pods, the output says whose it is.
        ...(result.output === undefined || targets.length === 1
          ? {}
          : { output: `${where}:\n${result.output}` }),
      };
    }),
  );
  const deviating = results.filter((result) => !result.ok);
  const shown = deviating[0] ?? results[0];
  if (shown === undefined) throw new Error('an exec check ran in no pod');
  if (results.length === 1) return shown;
  return {
    ok: deviating.length === 0,
    ...(shown.value === undefined ? {} : { value: shown.value }),
    ...(shown.output === undefined ? {} : { output: shown.output }),
    detail:
      deviating.length === 0
        ? `all ${results.length} pods answered as expected; ${shown.detail}`
        : `${deviating.length} of ${results.length} pods did not: ${deviating.map((r) => r.detail).join('; ')}`,
  };
}

/**
 * Pods of a context of the worker, by the selection target groups use: their ready ratio (`ready`), lines of
 * their logs (`logs`), or a command in a container (`exec`). The API is asked from the worker, with its
 * credentials for the context; plans only name it.
 */
export const kubernetesCheck: CheckKind<Spec> = {
  key: 'kubernetes',
  description:
    'Pods of a Kubernetes context of the worker: their ready ratio (ready: "2 ready / 2 expected = 100 %"), ' +
    'lines of their logs matching a pattern (logs), or a command in a container (exec).',
  answeredNo:
    'ready: fewer pods Ready than the bound (a pod is Ready when all its containers are, whatever its phase), ' +
    'a pod in another phase than `phase`, or more restarts since the game day started than `maxRestarts`; ' +
    'logs: more matching lines than `maxMatches`; exec: another exit code, output that does not match, a ' +
    'number out of bounds, no answer within the timeout, or no Ready pod to run in; and for each, a selector ' +
    'that matches no pod ("0 ready / 0 expected") unless onNone says pass or unknown.',
  couldNotAsk:
    'the worker has no such context or does not allow the namespace, the API server did not answer within ' +
    'the timeout (unreachable, stalled), refused the worker (401, 403) or failed (5xx); for exec, the command ' +
    'is not in the container (exit 126, 127) or the exec ended without an exit status; for maxRestarts, no ' +
    "restart counts could be read at the game day's start.",
  spec,
  // The value is the ready ratio in percent, the number an exec read, or the count of matching log lines.
  valueBound: (s) => {
    if (s.ready) {
      const minRatio = minRatioOf(s.ready);
      return minRatio === undefined ? undefined : { min: minRatio * 100 };
    }
    if (s.logs) return { max: s.logs.maxMatches };
    return s.exec ? numberBound(s.exec.value) : undefined;
  },
  describe: (s) => {
    const what = s.ready
      ? describeReady(s.ready)
      : s.logs
        ? describeLogs(s.logs)
        : s.exec
          ? describeExec(s.exec)
          : '';
    return `${describePods(s)}: ${what}`;
  },

  async probe(ctx, s) {
    const kube = clientFor(ctx.kubernetes, s);
    const options = requestOptions(ctx, s);
    const pods = await listPods(kube, s, options());
    if (pods.length === 0 && s.ready?.expected === undefined) return noPods(s);
    if (s.ready !== undefined) {
      if (s.ready.maxRestarts !== undefined && ctx.baseline === undefined) {
        throw new CouldNotAsk("no restart counts from the game day's start to compare with (maxRestarts)");
      }
      return judgeReady(pods, s.ready, ctx.baseline);
    }
    if (s.logs !== undefined) {
      const { logs, notes } = await readLogs(kube, pods, s.logs, ctx.gameDay, options);
      return judgeLogs(logs, s.logs, notes);
    }
    return probeExec(kube, pods, s);
  },

  async baseline(ctx, s) {
    if (s.ready?.maxRestarts === undefined) return undefined;
    const kube = clientFor(ctx.kubernetes, s);
    return restartBaseline(await listPods(kube, s, requestOptions(ctx, s)()));
  },
};
