import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AppsV1Api,
  CoreV1Api,
  PolicyV1Api,
  type V1Node,
  type V1Pod,
  type V1PodSpec,
} from '@kubernetes/client-node';
import { kubernetesFaultContext, resumedProgress } from '../activities/faults/context';
import type { KubernetesFaultContext, KubernetesFaultKind } from '../activities/faults/contract';
import { nodeCordon } from '../activities/faults/nodeCordon';
import { nodeDrain } from '../activities/faults/nodeDrain';
import { scale } from '../activities/faults/scale';
import { KubernetesClient } from '../activities/kubernetes/client';
import { podExec } from '../activities/kubernetes/podExec';
import type { KubernetesTarget } from '../plan/targets';
import { fakeNodeAnnotation, startTestKubernetes, type TestKubernetes } from './support/kubernetes';
import { startTogether } from './support/together';
import { gameDayPlan } from './support/plans';
import {
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  type InProcessWorker,
  type TestTemporal,
} from './support/temporal';
import { sleep, waitFor } from './support/wait';

const namespace = 'shop';
/** Not in the worker's allow-list: only its DaemonSet's pods, which a drain leaves, run on the nodes. */
const infra = 'infra';

const isReady = (pod: V1Pod) =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
const live = (pod: V1Pod) => pod.metadata?.deletionTimestamp === undefined;
const gamedayAnnotations = (node: V1Node) =>
  Object.keys(node.metadata?.annotations ?? {}).filter((key) => key.startsWith('gameday.dev/'));

/** A pod template of a fake container (kwok runs it; nothing is pulled). */
const template = (app: string, spec: Partial<V1PodSpec> = {}) => ({
  metadata: { labels: { app } },
  spec: { containers: [{ name: app, image: `registry.invalid/${app}:1` }], ...spec },
});

// Node and workload faults against a real control plane (etcd, kube-apiserver, controller manager, scheduler;
// kwok plays the kubelets): nodes really cordoned, pods really evicted through the Eviction API (a real
// PodDisruptionBudget really refuses), workloads really scaled.
describe('node-cordon, node-drain and scale on Kubernetes (real control plane, kwok nodes, real dev server)', () => {
  let temporal: TestTemporal;
  let kube: TestKubernetes;
  let worker: InProcessWorker;
  let core: CoreV1Api;
  let apps: AppsV1Api;

  const node = (name: string) => core.readNode({ name });
  const podsOf = async (app: string, ns = namespace) =>
    (await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` })).items;

  /** The app's pods once exactly `count` exist, none terminating, all Ready. */
  const readyPods = (app: string, count: number, ns = namespace) =>
    waitFor(
      `${count} Ready pods of ${app}`,
      async () => {
        const pods = await podsOf(app, ns);
        return pods.length === count && pods.every((pod) => live(pod) && isReady(pod)) ? pods : undefined;
      },
      60_000,
    );

  const nodeGroup = (name: string) => ({
    kubernetes: { context: 'test', kind: 'node', selector: { fields: `metadata.name=${name}` } },
  });

  const plan = (
    name: string,
    targets: Record<string, unknown>,
    faults: Record<string, unknown>[],
    window = '3s',
  ) =>
    gameDayPlan({
      metadata: { name, owner: 'tests' },
      targets,
      faults,
      observation: { window, sampleInterval: '500ms' },
    });

  before(async () => {
    [temporal, kube] = await startTogether([startTestTemporal(), startTestKubernetes({ nodes: 3 })]);
    core = kube.kubeConfig.makeApiClient(CoreV1Api);
    apps = kube.kubeConfig.makeApiClient(AppsV1Api);
    worker = await startInProcessWorker(temporal, undefined, {
      kubernetes: { contexts: { test: { kubeconfig: kube.kubeconfigPath, namespaces: [namespace] } } },
    });
    for (const name of [namespace, infra, 'other'])
      await core.createNamespace({ body: { metadata: { name } } });
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: template('web') },
      },
    });
    await apps.createNamespacedStatefulSet({
      namespace,
      body: {
        metadata: { name: 'db' },
        spec: {
          replicas: 2,
          serviceName: 'db',
          selector: { matchLabels: { app: 'db' } },
          template: template('db'),
        },
      },
    });
    await apps.createNamespacedDaemonSet({
      namespace: infra,
      body: {
        metadata: { name: 'agent' },
        spec: { selector: { matchLabels: { app: 'agent' } }, template: template('agent') },
      },
    });
    await Promise.all([readyPods('web', 3), readyPods('db', 2), readyPods('agent', 3, infra)]);
  });
  after(async () => {
    await worker?.stop();
    await Promise.all([kube?.stop(), temporal?.stop()]);
  });

  /** A node that runs at least one pod of the app, and those pods. */
  const nodeRunning = async (app: string) => {
    const pods = await podsOf(app);
    const name = pods.find(live)?.spec?.nodeName ?? '';
    assert.ok(kube.nodeNames.includes(name), `a pod of ${app} runs on a kwok node`);
    return { name, pods: pods.filter((pod) => pod.spec?.nodeName === name) };
  };

  it('node-cordon: the node is unschedulable, annotated with the run, during the window and uncordoned after', async () => {
    const name = kube.nodeNames[0] ?? '';
    const handle = await startPlan(
      temporal,
      plan('k8s-cordon', { node: nodeGroup(name) }, [
        { name: 'cordon', kind: 'node-cordon', target: 'node' },
      ]),
      worker.taskQueue,
    );
    const during = await waitFor('the node cordoned', async () => {
      const now = await node(name);
      return now.spec?.unschedulable === true ? now : undefined;
    });
    const report = await handle.result();
    assert.equal(report.outcome, 'passed', report.reason);
    assert.equal(during.metadata?.annotations?.['gameday.dev/cordoned-by'], report.tag);
    assert.equal(during.metadata?.annotations?.['gameday.dev/run'], report.tag);
    const [fault] = report.faults;
    assert.equal(fault?.status, 'rolled-back', fault?.error);
    assert.equal(fault?.inject, `cordon node ${name} (context test)`);
    assert.match(report.timeline.map((entry) => entry.message).join('\n'), /cordoned by this game day/);
    const afterwards = await node(name);
    assert.notEqual(afterwards.spec?.unschedulable, true, 'uncordoned');
    assert.deepEqual(gamedayAnnotations(afterwards), [], 'no gameday annotation left');
  });

  it('node-cordon: a node unschedulable before the game day is left cordoned and unannotated', async () => {
    const name = kube.nodeNames[1] ?? '';
    await core.patchNode({ name, body: [{ op: 'add', path: '/spec/unschedulable', value: true }] });
    try {
      const report = await (
        await startPlan(
          temporal,
          plan('k8s-cordoned', { node: nodeGroup(name) }, [
            { name: 'cordon', kind: 'node-cordon', target: 'node' },
          ]),
          worker.taskQueue,
        )
      ).result();
      assert.equal(report.outcome, 'passed', report.reason);
      assert.equal(report.faults[0]?.status, 'rolled-back', report.faults[0]?.error);
      assert.match(
        report.faults[0]?.detail ?? '',
        /was already unschedulable before the game day and is left so/,
      );
      const afterwards = await node(name);
      assert.equal(afterwards.spec?.unschedulable, true, 'still cordoned');
      assert.deepEqual(gamedayAnnotations(afterwards), []);
    } finally {
      await core.patchNode({ name, body: [{ op: 'remove', path: '/spec/unschedulable' }] });
    }
  });

  it('node-drain: the Deployment pods are evicted and rescheduled elsewhere, DaemonSet pods left; uncordoned and Ready after', async () => {
    const before = new Set((await readyPods('web', 3)).map((pod) => pod.metadata?.uid));
    const { name, pods: victims } = await nodeRunning('web');
    const [agent] = (await podsOf('agent', infra)).filter((pod) => pod.spec?.nodeName === name);
    assert.ok(agent, 'a DaemonSet pod runs on the node');
    const handle = await startPlan(
      temporal,
      plan('k8s-drain', { node: nodeGroup(name) }, [{ name: 'drain', kind: 'node-drain', target: 'node' }]),
      worker.taskQueue,
    );
    await waitFor('the node cordoned and rid of every pod of web', async () => {
      const cordoned = (await node(name)).spec?.unschedulable === true;
      const web = (await podsOf('web')).filter((pod) => pod.spec?.nodeName === name);
      return cordoned && web.length === 0;
    });
    const report = await handle.result();
    assert.equal(report.outcome, 'passed', report.reason);
    const [fault] = report.faults;
    assert.equal(fault?.status, 'rolled-back', fault?.error);
    const injected = report.timeline.find((entry) => entry.message.startsWith('injected:'))?.message ?? '';
    // Every pod of the node but the DaemonSet's (a StatefulSet's may be there too) was evicted.
    assert.match(injected, /; (\d+) of \1 pod\(s\) evicted; 1 DaemonSet or mirror pod\(s\) left running;/);
    assert.match(fault?.detail ?? '', /ReplicaSet shop\/web-\w+ has 3 of 3 pods Ready/);
    assert.notEqual((await node(name)).spec?.unschedulable, true, 'uncordoned by the rollback');
    const web = await readyPods('web', 3);
    const replacements = web.filter((pod) => !before.has(pod.metadata?.uid));
    assert.equal(replacements.length, victims.length, 'each evicted pod was replaced');
    assert.ok(
      replacements.every(
        (pod) => pod.spec?.nodeName !== name && kube.nodeNames.includes(pod.spec?.nodeName ?? ''),
      ),
      'the replacements were scheduled on the other kwok nodes',
    );
    const agentNow = (await podsOf('agent', infra)).find((pod) => pod.spec?.nodeName === name);
    assert.equal(agentNow?.metadata?.uid, agent.metadata?.uid, 'the DaemonSet pod was left running');
  });

  it('node-drain against a PodDisruptionBudget (minAvailable = replicas): the 429 is waited on and reported, the game day aborts, the node is uncordoned', async () => {
    const policy = kube.kubeConfig.makeApiClient(PolicyV1Api);
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'pinned' },
        spec: { replicas: 2, selector: { matchLabels: { app: 'pinned' } }, template: template('pinned') },
      },
    });
    await policy.createNamespacedPodDisruptionBudget({
      namespace,
      body: {
        metadata: { name: 'pinned' },
        spec: { minAvailable: 2, selector: { matchLabels: { app: 'pinned' } } },
      },
    });
    try {
      await readyPods('pinned', 2);
      // The disruption controller must have counted the pods, or the refusal would only mean "not yet".
      await waitFor('the budget to allow no disruption', async () => {
        const { status } = await policy.readNamespacedPodDisruptionBudget({ name: 'pinned', namespace });
        return status?.currentHealthy === 2 && status.disruptionsAllowed === 0;
      });
      const { name, pods: pinned } = await nodeRunning('pinned');
      const started = Date.now();
      const report = await (
        await startPlan(
          temporal,
          plan('k8s-drain-pdb', { node: nodeGroup(name) }, [
            { name: 'drain', kind: 'node-drain', target: 'node', params: { timeout: '3s' } },
          ]),
          worker.taskQueue,
        )
      ).result();
      assert.equal(report.outcome, 'aborted');
      assert.match(
        report.reason ?? '',
        /eviction of pod shop\/pinned-[\w-]+ refused for [3-5]s \(429: Cannot evict pod as it would violate the pod's disruption budget\. The disruption budget pinned needs 2 healthy pods and has 2 currently\); a drain only evicts and never deletes past a PodDisruptionBudget/,
      );
      assert.ok(Date.now() - started >= 3000, 'the refusal was waited on for the timeout');
      const [fault] = report.faults;
      assert.equal(fault?.status, 'rolled-back', fault?.error);
      assert.match(fault?.detail ?? '', /node \S+ is schedulable/);
      assert.notEqual((await node(name)).spec?.unschedulable, true, 'uncordoned by the rollback');
      assert.deepEqual(gamedayAnnotations(await node(name)), []);
      const still = (await podsOf('pinned')).filter((pod) => pod.spec?.nodeName === name);
      assert.deepEqual(
        still.map((pod) => pod.metadata?.uid).sort(),
        pinned.map((pod) => pod.metadata?.uid).sort(),
        'the budget was honoured: its pods were neither evicted nor deleted',
      );
    } finally {
      await policy.deleteNamespacedPodDisruptionBudget({ name: 'pinned', namespace });
      await apps.deleteNamespacedDeployment({ name: 'pinned', namespace });
    }
  });

  it('node-drain refuses at prepare, naming them, pods outside the allow-list, with emptyDir data, or without a controller', async () => {
    const name = kube.nodeNames[2] ?? '';
    const onNode = { nodeName: name };
    await core.createNamespacedPod({
      namespace: 'other',
      body: { metadata: { name: 'intruder' }, spec: template('x', onNode).spec },
    });
    await core.createNamespacedPod({
      namespace,
      body: { metadata: { name: 'lonely' }, spec: template('x', onNode).spec },
    });
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'cache' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'cache' } },
          template: template('cache', {
            nodeSelector: { 'kubernetes.io/hostname': name },
            volumes: [{ name: 'scratch', emptyDir: {} }],
          }),
        },
      },
    });
    try {
      const [cache] = await readyPods('cache', 1);
      const drain = (params: Record<string, unknown>) =>
        startPlan(
          temporal,
          plan('k8s-drain-refused', { node: nodeGroup(name) }, [
            { name: 'drain', kind: 'node-drain', target: 'node', params },
          ]),
          worker.taskQueue,
        ).then((handle) => handle.result());
      const refused = await drain({});
      assert.equal(refused.outcome, 'aborted');
      assert.match(
        refused.reason ?? '',
        new RegExp(
          `cannot drain node ${name}: pods in namespaces context test does not allow \\(allowed: shop\\): other/intruder; `,
        ),
      );
      assert.match(
        refused.reason ?? '',
        new RegExp(
          `pods with emptyDir volumes, whose data would be lost \\(say deleteEmptyDirData: true\\): shop/${cache?.metadata?.name ?? ''}; `,
        ),
      );
      assert.match(
        refused.reason ?? '',
        /pods no controller owns, which would stay gone \(say force: true\): (other\/intruder, shop\/lonely|shop\/lonely, other\/intruder); nothing was changed/,
      );
      // kubectl's --force and --delete-emptydir-data lift kubectl's refusals; the worker's allow-list stays.
      const allowList = await drain({ force: true, deleteEmptyDirData: true });
      assert.equal(allowList.outcome, 'aborted');
      assert.match(
        allowList.reason ?? '',
        /cannot drain node \S+: pods in namespaces context test does not allow \(allowed: shop\): other\/intruder; nothing was changed/,
      );
      assert.notEqual((await node(name)).spec?.unschedulable, true, 'nothing was cordoned');
      assert.ok(await core.readNamespacedPod({ namespace, name: 'lonely' }), 'nothing was evicted');
      assert.equal((await podsOf('cache'))[0]?.metadata?.uid, cache?.metadata?.uid);
    } finally {
      await core.deleteNamespacedPod({ namespace: 'other', name: 'intruder', gracePeriodSeconds: 0 });
      await core.deleteNamespacedPod({ namespace, name: 'lonely', gracePeriodSeconds: 0 });
      await apps.deleteNamespacedDeployment({ name: 'cache', namespace });
    }
  });

  it('scale: a Deployment to 1 and a StatefulSet by +1 during the window; the recorded replicas restored exactly and Ready after', async () => {
    const replicas = async () => [
      (await apps.readNamespacedDeployment({ name: 'web', namespace })).spec?.replicas,
      (await apps.readNamespacedStatefulSet({ name: 'db', namespace })).spec?.replicas,
    ];
    assert.deepEqual(await replicas(), [3, 2]);
    const handle = await startPlan(
      temporal,
      plan(
        'k8s-scale',
        {
          web: {
            kubernetes: {
              context: 'test',
              namespace,
              kind: 'deployment',
              selector: { fields: 'metadata.name=web' },
            },
          },
          db: {
            kubernetes: {
              context: 'test',
              namespace,
              kind: 'statefulset',
              selector: { fields: 'metadata.name=db' },
            },
          },
        },
        [
          { name: 'shrink-web', kind: 'scale', target: 'web', params: { replicas: 1 } },
          { name: 'grow-db', kind: 'scale', target: 'db', params: { delta: 1 } },
        ],
        '5s',
      ),
      worker.taskQueue,
    );
    await waitFor('web scaled to 1 and db to 3, as wanted and as Ready', async () => {
      const web = await apps.readNamespacedDeployment({ name: 'web', namespace });
      const db = await apps.readNamespacedStatefulSet({ name: 'db', namespace });
      const counts = [web, db].map((set) => [
        set.spec?.replicas,
        set.status?.replicas,
        set.status?.readyReplicas,
      ]);
      return (
        JSON.stringify(counts) ===
        JSON.stringify([
          [1, 1, 1],
          [3, 3, 3],
        ])
      );
    });
    const during = await apps.readNamespacedDeployment({ name: 'web', namespace });
    assert.equal(during.metadata?.annotations?.['gameday.dev/scaled-from'], '3');
    const report = await handle.result();
    assert.equal(report.outcome, 'passed', report.reason);
    assert.deepEqual(
      report.faults.map((fault) => [fault.inject, fault.status]),
      [
        ['scale shop/deployment/web to 1 replicas (context test)', 'rolled-back'],
        ['scale shop/statefulset/db by +1 replicas (context test)', 'rolled-back'],
      ],
    );
    assert.match(report.faults[0]?.detail ?? '', /3 replicas wanted \(recorded 3\), 3 exist, 3 Ready/);
    assert.deepEqual(await replicas(), [3, 2], 'restored exactly');
    await Promise.all([readyPods('web', 3), readyPods('db', 2)]);
    const annotations =
      (await apps.readNamespacedDeployment({ name: 'web', namespace })).metadata?.annotations ?? {};
    assert.deepEqual(
      Object.keys(annotations).filter((key) => key.startsWith('gameday.dev/')),
      [],
    );
  });

  describe('called directly with a KubernetesFaultContext: idempotent steps, and what is gone', () => {
    let client: KubernetesClient;
    before(() => {
      client = new KubernetesClient('test', kube.kubeConfig);
    });

    const context = async (
      resource: 'node' | 'deployment',
      object: string,
      tag = 'direct',
    ): Promise<KubernetesFaultContext> => {
      const found =
        resource === 'node'
          ? await node(object)
          : await apps.readNamespacedDeployment({ name: object, namespace });
      const target: KubernetesTarget = {
        group: 'direct',
        kind: 'kubernetes',
        name: resource === 'node' ? object : `${namespace}/${resource}/${object}`,
        context: 'test',
        resource,
        object,
        ...(resource === 'node' ? {} : { namespace }),
        ...(found.metadata?.uid ? { uid: found.metadata.uid } : {}),
      };
      return kubernetesFaultContext({
        fault: 'direct',
        tag,
        heartbeat: () => undefined,
        sleep,
        kube: client,
        target,
        policy: { namespaces: [namespace], requireOptIn: false },
        windowMs: undefined,
        execInPod: podExec(client),
        progress: resumedProgress(undefined),
      });
    };

    /** prepare, inject twice, verify, rollback twice, verify: what each verify said. */
    async function twice<P, S>(
      kind: KubernetesFaultKind<P, S>,
      ctx: KubernetesFaultContext,
      params: unknown,
    ) {
      const p = kind.params.parse(params);
      const saved = await kind.prepare(ctx, p);
      await kind.inject(ctx, p, saved);
      await kind.inject(ctx, p, saved);
      const injected = await kind.verify(ctx, p, saved);
      await kind.rollback(ctx, p, saved);
      await kind.rollback(ctx, p, saved);
      return { saved, injected, rolledBack: await kind.verify(ctx, p, saved) };
    }

    it('node-cordon: inject twice and rollback twice leave the node as it was', async () => {
      const name = kube.nodeNames[0] ?? '';
      const { injected, rolledBack } = await twice(nodeCordon, await context('node', name), {});
      assert.deepEqual([injected.active, injected.recovered], [true, false]);
      assert.deepEqual([rolledBack.active, rolledBack.recovered], [false, true]);
      const afterwards = await node(name);
      assert.notEqual(afterwards.spec?.unschedulable, true);
      assert.deepEqual(gamedayAnnotations(afterwards), []);
    });

    it('node-drain: inject twice evicts once, rollback twice uncordons and waits for the owners', async () => {
      await readyPods('web', 3);
      const { name, pods } = await nodeRunning('web');
      const { saved, injected, rolledBack } = await twice(nodeDrain, await context('node', name), {
        readyTimeout: '1m',
      });
      const recorded = saved.pods.map((pod) => pod.uid);
      assert.ok(
        pods.every((pod) => recorded.includes(pod.metadata?.uid ?? '')),
        'the web pods were recorded',
      );
      assert.equal(injected.active, true, injected.detail);
      assert.match(
        injected.detail,
        new RegExp(`${recorded.length} of ${recorded.length} pod\\(s\\) evicted`),
      );
      assert.equal(rolledBack.recovered, true, rolledBack.detail);
      assert.match(rolledBack.detail, /ReplicaSet shop\/web-\w+ has 3 of 3 pods Ready/);
      assert.notEqual((await node(name)).spec?.unschedulable, true);
      const web = await readyPods('web', 3);
      assert.ok(
        web.every((pod) => !recorded.includes(pod.metadata?.uid ?? '')),
        'replaced, not kept',
      );
    });

    it('scale: a delta applied twice is applied once; rollback twice restores the recorded replicas', async () => {
      const { saved, injected, rolledBack } = await twice(scale, await context('deployment', 'web'), {
        delta: -2,
      });
      assert.deepEqual([saved.replicas, saved.scaledTo], [3, 1]);
      assert.equal(injected.active, true);
      assert.match(injected.detail, /deployment shop\/web: 1 replicas wanted \(recorded 3\)/);
      assert.equal(rolledBack.active, false);
      assert.equal((await apps.readNamespacedDeployment({ name: 'web', namespace })).spec?.replicas, 3);
    });

    it('a node deleted mid-fault, or a workload: rollback succeeds with a note', async () => {
      const extra = 'kwok-extra';
      await core.createNode({
        body: {
          metadata: { name: extra, annotations: { [fakeNodeAnnotation.key]: fakeNodeAnnotation.value } },
        },
      });
      const nodeCtx = await context('node', extra);
      const p = nodeCordon.params.parse({});
      const cordoned = await nodeCordon.prepare(nodeCtx, p);
      await nodeCordon.inject(nodeCtx, p, cordoned);
      await core.deleteNode({ name: extra });
      await waitFor('the node gone', async () =>
        (await core.listNode()).items.every((n) => n.metadata?.name !== extra),
      );
      await nodeCordon.rollback(nodeCtx, p, cordoned);
      assert.deepEqual(await nodeCordon.verify(nodeCtx, p, cordoned), {
        active: false,
        recovered: true,
        detail: `node ${extra} is gone: nothing to uncordon`,
      });

      await apps.createNamespacedDeployment({
        namespace,
        body: {
          metadata: { name: 'doomed' },
          spec: { replicas: 1, selector: { matchLabels: { app: 'doomed' } }, template: template('doomed') },
        },
      });
      const workloadCtx = await context('deployment', 'doomed');
      const sp = scale.params.parse({ replicas: 2 });
      const scaled = await scale.prepare(workloadCtx, sp);
      await scale.inject(workloadCtx, sp, scaled);
      await apps.deleteNamespacedDeployment({ name: 'doomed', namespace });
      await waitFor('the deployment gone', async () =>
        (await apps.listNamespacedDeployment({ namespace })).items.every(
          (d) => d.metadata?.name !== 'doomed',
        ),
      );
      await scale.rollback(workloadCtx, sp, scaled);
      assert.deepEqual(await scale.verify(workloadCtx, sp, scaled), {
        active: false,
        detail: 'deployment shop/doomed is gone: nothing to scale back',
      });
    });
  });
});
