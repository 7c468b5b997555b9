// Kubernetes: one pod-delete fault on 100 pods (mode all) against the real control plane (kwok kubelets).
// Part of `npm run bench` (`--only kubernetes`).
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { temporal as proto } from '@temporalio/proto';
import { projectRoot } from '../../client/paths';
import { startTestKubernetes } from '../support/kubernetes';
import { gameDayPlan } from '../support/plans';
import { startInProcessWorker, startPlan, type TestTemporal } from '../support/temporal';
import { waitFor } from '../support/wait';

const podCount = Number(process.env.BENCH_KUBE_PODS ?? 100);
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

export async function kubernetesBench(temporal: TestTemporal): Promise<Record<string, unknown>> {
  // The control plane is built once into .tools (as `npm test` does): a no-op when its binaries are there.
  const build = spawnSync('bash', [join(projectRoot, 'scripts', 'build-kube.sh')], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('building the Kubernetes test control plane failed');
  const kube = await startTestKubernetes({ nodes: 3 });
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
    return {
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
  } finally {
    await worker.stop();
    await kube.stop();
  }
}
