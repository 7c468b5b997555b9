// Kubernetes: one pod-delete fault on 100 pods (mode all) against the real control plane (kwok kubelets).
// Part of `npm run bench` (`--only kubernetes`).
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { temporal as proto } from '@temporalio/proto';
import { projectRoot } from '../../client/paths';
import { startChaosMeshHarness } from '../support/chaosMesh';
import { startTestKubernetes } from '../support/kubernetes';
import { gameDayPlan } from '../support/plans';
import { startInProcessWorker, startPlan, type TestTemporal } from '../support/temporal';
import { waitFor } from '../support/wait';

const podCount = Number(process.env.BENCH_KUBE_PODS ?? 100);
const chaosMeshRuns = Number(process.env.BENCH_CHAOS_MESH_RUNS ?? 5);
const namespace = 'bench';

const isReady = (pod: V1Pod) =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

type Event = proto.api.history.v1.IHistoryEvent;
const at = (event: Event) =>
  Number(event.eventTime?.seconds ?? 0) * 1000 + (event.eventTime?.nanos ?? 0) / 1e6;

/** From the first scheduling of an activity type to the last completion of another, in the history. */
function span(events: readonly Event[], first: string, last: string): number {
  const typeOf = new Map<number, string>();
  let start = Number.POSITIVE_INFINITY;
  let end = 0;
  for (const event of events) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      typeOf.set(Number(event.eventId), scheduled.activityType?.name ?? '');
      if (scheduled.activityType?.name === first) start = Math.min(start, at(event));
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed && typeOf.get(Number(completed.scheduledEventId)) === last) end = Math.max(end, at(event));
  }
  return Math.round(end - start);
}

/** The first activity of a type: when it was scheduled and when it completed (epoch ms, server clock). */
function firstActivity(events: readonly Event[], type: string): { scheduledAt: number; completedAt: number } {
  let scheduledId: number | undefined;
  let scheduledAt = NaN;
  for (const event of events) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduledId === undefined && scheduled?.activityType?.name === type) {
      scheduledId = Number(event.eventId);
      scheduledAt = at(event);
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed && Number(completed.scheduledEventId) === scheduledId) {
      return { scheduledAt, completedAt: at(event) };
    }
  }
  throw new Error(`no completed ${type} activity in the history`);
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
};

export async function kubernetesBench(temporal: TestTemporal): Promise<Record<string, unknown>> {
  // The control plane is built once into .tools (as `npm test` does): a no-op when its binaries are there.
  const build = spawnSync('bash', [join(projectRoot, 'scripts', 'build-kube.sh')], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('building the Kubernetes test control plane failed');
  const kube = await startTestKubernetes({ nodes: 3, chaosMeshCrds: true });
  const worker = await startInProcessWorker(temporal, undefined, {
    kubernetes: { contexts: { bench: { kubeconfig: kube.kubeconfigPath, namespaces: [namespace] } } },
  });
  try {
    const core = kube.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const labels = { app: 'web' };
    await kube.kubeConfig.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: podCount,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: 'web', image: 'registry.invalid/web:1' }] },
          },
        },
      },
    });
    const allReady = () =>
      waitFor(
        `${podCount} Ready pods`,
        async () => {
          const pods = (await core.listNamespacedPod({ namespace })).items;
          const ready = pods.filter((pod) => !pod.metadata?.deletionTimestamp && isReady(pod));
          return (ready.length === podCount && pods.length === podCount) || undefined;
        },
        300_000,
      );
    await allReady();
    const client = worker.deps.kubernetes?.client('bench');
    const requestsBefore = client?.requests ?? 0;
    const plan = gameDayPlan({
      metadata: { name: 'bench-pod-delete', owner: 'bench' },
      targets: { web: { kubernetes: { context: 'bench', namespace, selector: { labels } } } },
      faults: [
        {
          name: 'delete-all',
          kind: 'pod-delete',
          target: 'web',
          params: { force: true, readyTimeout: '10m' },
        },
      ],
      observation: { window: '1s', sampleInterval: '1s' },
    });
    const load = loadavg()[0];
    const started = performance.now();
    const handle = await startPlan(temporal, plan, worker.taskQueue);
    const report = await handle.result();
    const wallMs = Math.round(performance.now() - started);
    if (report.outcome !== 'passed')
      throw new Error(`pod-delete bench: ${report.outcome}: ${report.reason ?? ''}`);
    const history = (await handle.fetchHistory()).events ?? [];
    const requests = (client?.requests ?? 0) - requestsBefore;
    const podDelete = {
      kubernetesPodDelete: {
        pods: podCount,
        gameDayWallMs: wallMs,
        injectMs: span(history, 'prepareFault', 'verifyFault'),
        rollbackMs: span(history, 'rollbackFault', 'rollbackFault'),
        apiCallsPerTarget: Number((requests / podCount).toFixed(1)),
        historyEvents: history.length,
        loadAverage1m: load,
        note: 'rollback waits until the Deployment has all its pods Ready again (kwok nodes)',
      },
    };
    return { ...podDelete, ...(await chaosMeshFigures(temporal, kube.kubeConfig, worker.taskQueue)) };
  } finally {
    await worker.stop();
    await kube.stop();
  }
}

/**
 * A PodChaos on the 100 pods, run `chaosMeshRuns` times: CR create → AllInjected seen by gameday (the inject
 * activity, scheduled → completed) and delete → gone (the rollback activity), each also minus what the harness
 * playing the controller took (first sight → AllInjected written; deletion seen → finalizer released).
 */
async function chaosMeshFigures(
  temporal: TestTemporal,
  kubeConfig: KubeConfig,
  taskQueue: string,
): Promise<Record<string, unknown>> {
  const harnessIntervalMs = 50;
  const harness = startChaosMeshHarness(kubeConfig, undefined, { intervalMs: harnessIntervalMs });
  const inject: number[] = [];
  const injectHarness: number[] = [];
  const rollback: number[] = [];
  const rollbackHarness: number[] = [];
  const events: number[] = [];
  const load = loadavg()[0];
  try {
    for (let run = 0; run < chaosMeshRuns; run++) {
      const plan = gameDayPlan({
        metadata: { name: 'bench-chaos-mesh', owner: 'bench' },
        targets: { cluster: { kubernetes: { context: 'bench', namespace } } },
        faults: [
          {
            name: 'pod-failure',
            kind: 'chaos-mesh',
            target: 'cluster',
            params: {
              experiment: {
                kind: 'PodChaos',
                spec: { action: 'pod-failure', mode: 'all', selector: { labelSelectors: { app: 'web' } } },
              },
            },
          },
        ],
        observation: { window: '1s', sampleInterval: '1s' },
      });
      const handle = await startPlan(temporal, plan, taskQueue);
      const report = await handle.result();
      if (report.outcome !== 'passed')
        throw new Error(`chaos-mesh bench: ${report.outcome}: ${report.reason ?? ''}`);
      const history = (await handle.fetchHistory()).events ?? [];
      const injected = firstActivity(history, 'injectFault');
      const rolledBack = firstActivity(history, 'rollbackFault');
      const timing = [...harness.timings.entries()].find(([key]) => key.includes(report.tag))?.[1];
      if (timing?.seenAt === undefined || timing.injectedAt === undefined)
        throw new Error('chaos-mesh bench: the harness did not inject');
      if (timing.deletionSeenAt === undefined || timing.releasedAt === undefined)
        throw new Error('chaos-mesh bench: the harness did not release');
      inject.push(injected.completedAt - injected.scheduledAt);
      injectHarness.push(timing.injectedAt - timing.seenAt);
      rollback.push(rolledBack.completedAt - rolledBack.scheduledAt);
      rollbackHarness.push(timing.releasedAt - timing.deletionSeenAt);
      events.push(history.length);
    }
  } finally {
    await harness.stop();
  }
  const minus = (total: readonly number[], harnessPart: readonly number[]) =>
    total.map((value, i) => value - (harnessPart[i] ?? 0));
  const round = (value: number) => Math.round(value);
  return {
    kubernetesChaosMesh: {
      pods: podCount,
      runs: chaosMeshRuns,
      createToAllInjectedSeenMsP50: round(median(inject)),
      createToAllInjectedSeenMinusHarnessMsP50: round(median(minus(inject, injectHarness))),
      deleteToGoneMsP50: round(median(rollback)),
      deleteToGoneMinusHarnessMsP50: round(median(minus(rollback, rollbackHarness))),
      createToAllInjectedSeenMinusHarnessMsMax: round(Math.max(...minus(inject, injectHarness))),
      deleteToGoneMinusHarnessMsMax: round(Math.max(...minus(rollback, rollbackHarness))),
      historyEventsPerGameDay: median(events),
      loadAverage1m: load,
      note:
        `PodChaos pod-failure, mode all; the harness plays the controller, polling every ${harnessIntervalMs} ms ` +
        '(its polling before first sight stays in the "minus harness" figures); inject = the inject activity ' +
        '(create, wait for AllInjected, record the injected pods), rollback = the rollback activity (delete, ' +
        'wait until gone, notes)',
    },
  };
}
