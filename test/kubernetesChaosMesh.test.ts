import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, beforeEach, describe, it } from 'node:test';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import { faultHash } from '../activities/faults/context';
import {
  chaosMeshResources,
  goDurationText,
  type ChaosMeshKind,
} from '../activities/kubernetes/chaosMeshSpec';
import type { ChaosObject } from '../activities/kubernetes/chaosMeshExperiment';
import type { GameDayReport } from '../workflows/definitions';
import { startChaosMeshHarness, type ChaosMeshHarness } from './support/chaosMesh';
import { startTestKubernetes, type TestKubernetes } from './support/kubernetes';
import { startTogether } from './support/together';
import { gameDayPlan } from './support/plans';
import {
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  type InProcessWorker,
  type TestTemporal,
} from './support/temporal';
import { waitFor } from './support/wait';

const namespace = 'chaos-testing';
const querynodes = { component: 'querynode' };

const isReady = (pod: V1Pod) =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

// Game days with Chaos Mesh experiments against a real control plane (etcd, kube-apiserver with the Chaos Mesh
// v2.8.3 CRDs, controller manager, scheduler; kwok plays the kubelets). No Chaos Mesh controller can run here:
// test/support/chaosMesh.ts plays it through the API, and every test says so.
describe('chaos-mesh game days on Kubernetes (real control plane with the Chaos Mesh CRDs, real dev server)', () => {
  let temporal: TestTemporal;
  let kube: TestKubernetes;
  let worker: InProcessWorker;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let custom: CustomObjectsApi;
  let harness: ChaosMeshHarness;

  const experiments = async (kind: ChaosMeshKind, ns = namespace) => {
    const { group, version, plural } = chaosMeshResources[kind];
    const list = (await custom.listNamespacedCustomObject({ group, version, plural, namespace: ns })) as {
      items: ChaosObject[];
    };
    return list.items;
  };

  const readyPods = (labelSelector: string, count: number, ns = namespace) =>
    waitFor(
      `${count} Ready pods ${labelSelector}`,
      async () => {
        const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector })).items;
        const ready = pods.filter((pod) => !pod.metadata?.deletionTimestamp && isReady(pod));
        return ready.length === count && pods.length === count ? ready : undefined;
      },
      60_000,
    );

  /** The experiment of the running game day, once injected and its pods recorded by gameday. */
  const injectedExperiment = (kind: ChaosMeshKind, ns = namespace) =>
    waitFor(
      `an injected ${kind}`,
      async () =>
        (await experiments(kind, ns).catch(() => [])).find(
          (object) =>
            object.status?.conditions?.some((c) => c.type === 'AllInjected' && c.status === 'True') &&
            object.metadata?.annotations?.['gameday.dev/injected'] !== undefined,
        ),
      30_000,
    );

  const plan = (
    params: Record<string, unknown>,
    { ns = namespace, window = '2s' }: { ns?: string; window?: string } = {},
  ) =>
    gameDayPlan({
      metadata: { name: 'k8s-chaos-mesh', owner: 'tests' },
      targets: { cluster: { kubernetes: { context: 'test', namespace: ns } } },
      faults: [{ name: 'chaos', kind: 'chaos-mesh', target: 'cluster', params }],
      observation: { window, sampleInterval: '500ms' },
    });

  const run = async (document: Record<string, unknown>): Promise<GameDayReport> =>
    (await startPlan(temporal, document, worker.taskQueue)).result();

  const podFailure = {
    kind: 'PodChaos',
    spec: { action: 'pod-failure', mode: 'one', selector: { labelSelectors: querynodes } },
  };

  const statefulSet = (name: string, labels: Record<string, string>, replicas: number, ns = namespace) =>
    apps.createNamespacedStatefulSet({
      namespace: ns,
      body: {
        metadata: { name, labels },
        spec: {
          replicas,
          serviceName: name,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name, image: `registry.invalid/${name}:1` }] },
          },
        },
      },
    });

  before(async () => {
    [temporal, kube] = await startTogether([
      startTestTemporal(),
      startTestKubernetes({ chaosMeshCrds: true }),
    ]);
    core = kube.kubeConfig.makeApiClient(CoreV1Api);
    apps = kube.kubeConfig.makeApiClient(AppsV1Api);
    custom = kube.kubeConfig.makeApiClient(CustomObjectsApi);
    worker = await startInProcessWorker(temporal, undefined, {
      kubernetes: {
        contexts: { test: { kubeconfig: kube.kubeconfigPath, namespaces: [namespace, 'doomed'] } },
      },
    });
    // Only the indexnode pods have declared containers (exec, filesystem); the others answer no exec at once.
    harness = startChaosMeshHarness(kube.kubeConfig, undefined, {
      containers: (ns, pod, container) =>
        pod.startsWith('indexnode-')
          ? kube.container(ns, pod, container)
          : Promise.reject(new Error('not declared')),
    });
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await statefulSet('querynode', querynodes, 2);
    // Another workload in the namespace: the querynodes are not every pod of it.
    await statefulSet('proxy', { component: 'proxy' }, 1);
    await readyPods('component=querynode', 2);
  });
  after(async () => {
    await harness?.stop();
    await worker?.stop();
    await Promise.all([kube?.stop(), temporal?.stop()]);
  });
  beforeEach(() => {
    harness.behaviour.inject = 'succeed';
    harness.behaviour.finalizer = 'release';
  });

  it('PodChaos end to end: created with the tag label and a duration outlasting the window, AllInjected waited for, deleted at rollback (the harness plays the Chaos Mesh controller)', async () => {
    const report = await run(plan({ experiment: podFailure }));
    assert.equal(report.outcome, 'passed', report.reason);
    const [fault] = report.faults;
    assert.equal(fault?.status, 'rolled-back', fault?.error);
    const name = `gd-${report.tag}-${faultHash('chaos')}`;
    assert.equal(fault?.target, namespace);
    assert.match(
      fault?.inject ?? '',
      /^create Chaos Mesh PodChaos pod-failure \(mode one, pods component=querynode\) in chaos-testing \(context test\)$/,
    );
    const seen = harness.seen.get(`${namespace}/${name}`);
    assert.ok(seen, `the harness saw ${name}`);
    assert.equal(seen.labels['gameday.dev/run'], report.tag);
    assert.equal(seen.spec.duration, goDurationText(2000 + 300_000), 'the window plus the default margin');
    assert.deepEqual({ ...seen.spec, duration: undefined }, { ...podFailure.spec, duration: undefined });
    const injected = report.timeline.find((entry) => entry.message.startsWith('injected:'));
    assert.match(
      injected?.message ?? '',
      new RegExp(
        `PodChaos chaos-testing/${name} AllInjected into chaos-testing/querynode-[01]; Chaos Mesh ends it after 5m2s`,
      ),
    );
    assert.match(fault?.detail ?? '', new RegExp(`^PodChaos chaos-testing/${name} is gone$`));
    assert.deepEqual(await experiments('PodChaos'), [], 'nothing left');
  });

  it('a pod replaced during the window is noted at rollback, with whether Chaos Mesh re-injected it (the harness plays the Chaos Mesh controller, re-injecting like it)', async () => {
    const started = await startPlan(
      temporal,
      plan({ experiment: podFailure }, { window: '8s' }),
      worker.taskQueue,
    );
    const experiment = await injectedExperiment('PodChaos');
    const id = experiment.status?.experiment?.containerRecords?.[0]?.id ?? '';
    const [, pod] = id.split('/');
    await core.deleteNamespacedPod({ namespace, name: pod ?? '', gracePeriodSeconds: 0 });
    await readyPods('component=querynode', 2);
    const report = await started.result();
    assert.equal(report.outcome, 'passed', report.reason);
    // How often the harness re-injects depends on the pod states it happens to see; once at least.
    assert.match(
      report.faults[0]?.detail ?? '',
      new RegExp(
        `note: pod ${id} was replaced during the window \\(new UID\\); Chaos Mesh re-injected it \\(injectedCount 1 → [2-9]\\)`,
      ),
    );
  });

  it('a finalizer Chaos Mesh never lets go of is removed after deleteTimeout, and reported as an intervention (the harness plays a stuck Chaos Mesh controller)', async () => {
    harness.behaviour.finalizer = 'stuck';
    const report = await run(plan({ experiment: podFailure, deleteTimeout: '2s' }));
    assert.equal(report.outcome, 'passed', report.reason);
    const [fault] = report.faults;
    assert.equal(fault?.status, 'rolled-back', fault?.error);
    const name = `gd-${report.tag}-${faultHash('chaos')}`;
    assert.match(
      fault?.detail ?? '',
      new RegExp(
        `intervention: removed finalizer chaos-mesh/records from PodChaos chaos-testing/${name}, still being ` +
          `deleted 2s after its deletion \\(Chaos Mesh could not recover it: chaos-testing/querynode-[01]: Recover: ` +
          `rpc error: code = Unknown desc = os: process already finished\\); as kubectl patch podchaos ${name} ` +
          `-n chaos-testing --type=merge -p '\\{"metadata":\\{"finalizers":null\\}\\}'`,
      ),
    );
    const note = report.timeline.find((entry) => entry.message.includes('intervention: removed finalizer'));
    assert.ok(note, 'the timeline shows the intervention');
    assert.deepEqual(await experiments('PodChaos'), [], 'nothing left');
  });

  it('IOChaos whose target pod was deleted mid-fault: the stuck finalizer is removed and the cleanup finishes with notes, never waiting on the dead pod (the harness plays a stuck Chaos Mesh controller)', async () => {
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'datanode' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { component: 'datanode' } },
          template: {
            metadata: { labels: { component: 'datanode' } },
            spec: { containers: [{ name: 'datanode', image: 'registry.invalid/datanode:1' }] },
          },
        },
      },
    });
    await readyPods('component=datanode', 2);
    harness.behaviour.finalizer = 'stuck'; // as seed 000: toda died with the pod, Chaos Mesh cannot recover it
    const params = {
      experiment: {
        kind: 'IOChaos',
        spec: {
          action: 'latency',
          delay: '100ms',
          mode: 'all',
          percent: 50,
          methods: ['read'],
          selector: { labelSelectors: { component: 'datanode' } },
          volumePath: '/var/lib/milvus/data',
        },
      },
      deleteTimeout: '1s',
      restartPodsWithLeftovers: true,
    };
    const started = await startPlan(temporal, plan(params, { window: '8s' }), worker.taskQueue);
    const experiment = await injectedExperiment('IOChaos');
    const ids = (experiment.status?.experiment?.containerRecords ?? []).map((record) => record.id).sort();
    assert.equal(ids.length, 2);
    const [deletedId, keptId] = ids as [string, string];
    const deletedPod = deletedId.split('/')[1] ?? '';
    await core.deleteNamespacedPod({ namespace, name: deletedPod, gracePeriodSeconds: 0 });
    const report = await started.result();
    assert.equal(report.outcome, 'passed', report.reason);
    const detail = report.faults[0]?.detail ?? '';
    assert.match(detail, /intervention: removed finalizer chaos-mesh\/records from IOChaos/);
    assert.match(
      detail,
      new RegExp(
        `\\(Chaos Mesh could not recover it: ${deletedId}: Recover: rpc error: code = Unknown desc = os: process already finished; ` +
          `${keptId}: Recover: rpc error: code = Unknown desc = os: process already finished\\)`,
      ),
    );
    assert.match(detail, new RegExp(`note: pod chaos-testing/${deletedPod} was deleted during the window`));
    assert.match(
      detail,
      new RegExp(
        `note: pod chaos-testing/${deletedPod} is gone: no /var/lib/milvus/__chaosfs__data__ left in it to look for`,
      ),
    );
    // The other pod is still there, but it has no exec (no declared container): gameday says it could not look,
    // rather than calling it clean.
    const keptPod = keptId.split('/').slice(0, 2).join('/');
    assert.match(
      detail,
      new RegExp(`note: could not look for a leftover /var/lib/milvus/__chaosfs__data__ in ${keptPod}`),
    );
    assert.deepEqual(await experiments('IOChaos'), [], 'nothing left');
    await apps.deleteNamespacedDeployment({ namespace, name: 'datanode' });
  });

  it('IOChaos that left its __chaosfs__ directory: ls in the pod finds it; reported, then with restartPodsWithLeftovers the pod is restarted, an intervention (the harness plays a stuck Chaos Mesh controller whose toda left the directory; kwok serves exec in the pod)', async () => {
    const labels = { component: 'indexnode' };
    await kube.declareContainers({ namespace, labels, directories: ['/var/lib/milvus/data'] });
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'indexnode' },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: 'indexnode', image: 'registry.invalid/indexnode:1' }] },
          },
        },
      },
    });
    const [before] = await readyPods('component=indexnode', 1);
    const pod = before?.metadata?.name ?? '';
    harness.behaviour.finalizer = 'stuck';
    const ioChaos = (restartPodsWithLeftovers: boolean) => ({
      experiment: {
        kind: 'IOChaos',
        spec: {
          action: 'latency',
          delay: '100ms',
          mode: 'one',
          selector: { labelSelectors: labels },
          volumePath: '/var/lib/milvus/data',
        },
      },
      deleteTimeout: '1s',
      restartPodsWithLeftovers,
    });
    const leftover = '/var/lib/milvus/__chaosfs__data__';
    const reported = await run(plan(ioChaos(false)));
    assert.equal(reported.outcome, 'passed', reported.reason);
    assert.match(
      reported.faults[0]?.detail ?? '',
      new RegExp(
        `note: chaos-testing/${pod} still has ${leftover}: a later IOChaos on it will fail until it restarts ` +
          `\\(kubectl delete pod ${pod} -n chaos-testing, or say restartPodsWithLeftovers: true\\)`,
      ),
    );
    const container = await kube.container(namespace, pod, 'indexnode');
    assert.ok(existsSync(container.hostPath(leftover)), 'left as it was');

    const restarted = await run(plan(ioChaos(true)));
    assert.equal(restarted.outcome, 'passed', restarted.reason);
    assert.match(
      restarted.faults[0]?.detail ?? '',
      new RegExp(
        `intervention: restarted pod chaos-testing/${pod} \\(ReplicaSet indexnode-\\w+\\): it still had ${leftover} ` +
          `\\(as kubectl delete pod ${pod} -n chaos-testing\\)`,
      ),
    );
    const [after] = await readyPods('component=indexnode', 1);
    assert.notEqual(after?.metadata?.uid, before?.metadata?.uid, 'a new pod');
    const fresh = await kube.container(namespace, after?.metadata?.name ?? '', 'indexnode');
    assert.equal(existsSync(fresh.hostPath(leftover)), false, 'the new pod starts clean');
    assert.deepEqual(await experiments('IOChaos'), [], 'nothing left');
    await apps.deleteNamespacedDeployment({ namespace, name: 'indexnode' });
  });

  it('the namespace deleted mid-fault: the rollback succeeds, with a stuck finalizer in the way (the harness plays a stuck Chaos Mesh controller)', async () => {
    await core.createNamespace({ body: { metadata: { name: 'doomed' } } });
    await waitFor('the default service account of doomed', () =>
      core.readNamespacedServiceAccount({ name: 'default', namespace: 'doomed' }).catch(() => undefined),
    );
    await statefulSet('querynode', querynodes, 1, 'doomed');
    await readyPods('component=querynode', 1, 'doomed');
    harness.behaviour.finalizer = 'stuck';
    const started = await startPlan(
      temporal,
      plan(
        { experiment: { ...podFailure, spec: { ...podFailure.spec, mode: 'all' } }, deleteTimeout: '2s' },
        { ns: 'doomed', window: '6s' },
      ),
      worker.taskQueue,
    );
    await injectedExperiment('PodChaos', 'doomed');
    await core.deleteNamespace({ name: 'doomed' });
    const report = await started.result();
    assert.equal(report.outcome, 'passed', report.reason);
    assert.equal(report.faults[0]?.status, 'rolled-back', report.faults[0]?.error);
    assert.match(report.faults[0]?.detail ?? '', /intervention: removed finalizer chaos-mesh\/records/);
    assert.match(report.faults[0]?.detail ?? '', /note: namespace doomed is being deleted/);
    await waitFor(
      'namespace doomed to be gone',
      () =>
        core.readNamespace({ name: 'doomed' }).then(
          () => undefined,
          () => true,
        ),
      60_000,
    );
  });

  it("AllInjected never comes: the inject fails with the controller's own condition and event messages, and nothing is left (the harness plays a failing Chaos Mesh controller)", async () => {
    harness.behaviour.inject = 'fail';
    const params = {
      experiment: {
        kind: 'IOChaos',
        spec: {
          action: 'latency',
          delay: '100ms',
          mode: 'one',
          selector: { labelSelectors: querynodes },
          volumePath: '/var/lib/milvus/data',
        },
      },
      injectTimeout: '2s',
    };
    const report = await run(plan(params));
    assert.equal(report.outcome, 'aborted');
    const [fault] = report.faults;
    assert.equal(fault?.status, 'rolled-back', 'the rollback deleted what the failed inject left');
    const name = `gd-${report.tag}-${faultHash('chaos')}`;
    assert.match(
      report.reason ?? '',
      new RegExp(
        `Chaos Mesh did not report AllInjected for IOChaos chaos-testing/${name} within 2s: Selected=True, ` +
          'AllInjected=False, AllRecovered=False, Paused=False; chaos-testing/querynode-[01]/querynode: Apply: rpc ' +
          'error: code = Unknown desc = toda startup takes too long or an error occurs: source: /var/lib/milvus/data, ' +
          'target: /var/lib/milvus/__chaosfs__data__; events: Failed: Failed to apply chaos: rpc error',
      ),
    );
    assert.deepEqual(await experiments('IOChaos'), [], 'nothing left');

    harness.behaviour.inject = 'silent';
    const silent = await run(plan({ ...params, injectTimeout: '1s' }));
    assert.equal(silent.outcome, 'aborted');
    assert.match(
      silent.reason ?? '',
      /Chaos Mesh did not answer for IOChaos chaos-testing\/gd-\w+-\w+ within 1s \(it has no status\): is the Chaos Mesh controller running, and does it watch namespace chaos-testing\?/,
    );
    assert.deepEqual(await experiments('IOChaos'), [], 'nothing left');
  });

  it('seed 004: the game day right after a failed one starts clean — the failed one left no stuck experiment, the next is injected and passes (the harness plays a failing and stuck, then a healthy Chaos Mesh controller)', async () => {
    harness.behaviour.inject = 'fail';
    harness.behaviour.finalizer = 'stuck'; // its cleanup needs a party that no longer answers
    const failed = await run(
      plan({ experiment: podFailure, injectTimeout: '2s', deleteTimeout: '1s' }, { window: '1s' }),
    );
    assert.equal(failed.outcome, 'aborted');
    assert.equal(failed.faults[0]?.status, 'rolled-back', failed.faults[0]?.error);
    assert.match(
      failed.faults[0]?.detail ?? '',
      /intervention: removed finalizer chaos-mesh\/records from PodChaos/,
    );
    assert.deepEqual(await experiments('PodChaos'), [], 'the failed game day left nothing');

    harness.behaviour.inject = 'succeed';
    harness.behaviour.finalizer = 'release';
    const next = await run(plan({ experiment: podFailure }, { window: '1s' }));
    assert.equal(next.outcome, 'passed', next.reason);
    assert.notEqual(next.tag, failed.tag);
    const name = `gd-${next.tag}-${faultHash('chaos')}`;
    assert.equal(harness.timings.get(`${namespace}/${name}`)?.injectedAt !== undefined, true, 'injected');
    assert.deepEqual(await experiments('PodChaos'), [], 'nothing left');
  });

  it('a selector that matches no pod, or every pod of the namespace without mode all, is refused before anything is created', async () => {
    const none = await run(
      plan({
        experiment: {
          ...podFailure,
          spec: { ...podFailure.spec, selector: { labelSelectors: { component: 'nope' } } },
        },
      }),
    );
    assert.equal(none.outcome, 'aborted');
    assert.match(none.reason ?? '', /spec.selector of PodChaos selects no pod in namespace chaos-testing/);
    const every = await run(
      plan({
        experiment: {
          ...podFailure,
          spec: {
            ...podFailure.spec,
            selector: { expressionSelectors: [{ key: 'component', operator: 'Exists' }] },
          },
        },
      }),
    );
    assert.equal(every.outcome, 'aborted');
    assert.match(
      every.reason ?? '',
      /selects every pod of namespace chaos-testing \(\d+\); narrow it, or say mode: all/,
    );
    assert.deepEqual(await experiments('PodChaos'), [], 'nothing created');
  });
});
