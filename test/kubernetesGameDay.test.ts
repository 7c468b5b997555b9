import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AppsV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { startTestKubernetes, type TestKubernetes } from './support/kubernetes';
import { startTogether } from './support/together';
import { gameDayPlan } from './support/plans';
import {
  spawnWorkerProcess,
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  uniqueTaskQueue,
  waitForPhase,
  type InProcessWorker,
  type TestTemporal,
  type WorkerProcess,
} from './support/temporal';
import { waitFor } from './support/wait';

const namespace = 'kafka';
const labels = { app: 'broker' };

const isReady = (pod: V1Pod) =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

// Game days against a real control plane (etcd, kube-apiserver, controller manager, scheduler; kwok plays the
// kubelets): a StatefulSet's pod is really deleted and really replaced.
describe('game days on Kubernetes (real control plane, kwok nodes, real dev server)', () => {
  let temporal: TestTemporal;
  let kube: TestKubernetes;
  let worker: InProcessWorker;
  let core: CoreV1Api;

  /** The broker pods once all `count` are Ready and none is terminating. */
  const readyBrokers = (count = 3) =>
    waitFor(
      `${count} Ready brokers`,
      async () => {
        const pods = (await core.listNamespacedPod({ namespace, labelSelector: 'app=broker' })).items;
        const ready = pods.filter((pod) => !pod.metadata?.deletionTimestamp && isReady(pod));
        return ready.length === count && pods.length === count ? ready : undefined;
      },
      60_000,
    );

  const workers: WorkerProcess[] = [];
  const plan = (fault: Record<string, unknown>, group: Record<string, unknown> = {}, window = '1s') =>
    gameDayPlan({
      metadata: { name: 'k8s-pod-delete', owner: 'tests' },
      targets: {
        brokers: { kubernetes: { context: 'test', namespace, selector: { labels }, ...group } },
      },
      faults: [{ name: 'delete-broker', kind: 'pod-delete', target: 'brokers', ...fault }],
      observation: { window, sampleInterval: '500ms' },
    });

  before(async () => {
    [temporal, kube] = await startTogether([startTestTemporal(), startTestKubernetes({ nodes: 3 })]);
    core = kube.kubeConfig.makeApiClient(CoreV1Api);
    worker = await startInProcessWorker(temporal, undefined, {
      kubernetes: {
        contexts: {
          test: { kubeconfig: kube.kubeconfigPath, namespaces: [namespace, 'opted-out', 'doomed'] },
          strict: { kubeconfig: kube.kubeconfigPath, namespaces: ['opted-out'], requireOptIn: true },
        },
      },
    });
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await kube.kubeConfig.makeApiClient(AppsV1Api).createNamespacedStatefulSet({
      namespace,
      body: {
        metadata: { name: 'broker', labels },
        spec: {
          replicas: 3,
          serviceName: 'broker',
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: 'kafka', image: 'registry.invalid/kafka:1' }] },
          },
        },
      },
    });
    // Another workload in the namespace: the brokers are not every pod of it.
    await kube.kubeConfig.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'client' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'client' } },
          template: {
            metadata: { labels: { app: 'client' } },
            spec: { containers: [{ name: 'client', image: 'registry.invalid/client:1' }] },
          },
        },
      },
    });
    await readyBrokers();
  });
  after(async () => {
    for (const spawned of workers) await spawned.kill('SIGKILL');
    await worker?.stop();
    await Promise.all([kube?.stop(), temporal?.stop()]);
  });

  it('pod-delete: one broker is deleted (force) and replaced, and the rollback waits for all to be Ready', async () => {
    const before = await readyBrokers();
    const report = await (
      await startPlan(temporal, plan({ select: { mode: 'one' }, params: { force: true } }), worker.taskQueue)
    ).result();
    assert.equal(report.outcome, 'passed', report.reason);
    const [fault] = report.faults;
    assert.equal(fault?.status, 'rolled-back', fault?.error);
    assert.match(fault?.inject ?? '', /^delete pod kafka\/broker-\d \(force, grace 0, context test\)$/);
    assert.match(fault?.detail ?? '', /deleted; StatefulSet broker has 3 of 3 pods Ready/);
    const victim = before.find((pod) => `${namespace}/${pod.metadata?.name ?? ''}` === fault?.target);
    assert.ok(victim, `the deleted pod was one of the brokers: ${fault?.target}`);
    const after = await readyBrokers();
    const replacement = after.find((pod) => pod.metadata?.name === victim.metadata?.name);
    assert.ok(replacement, 'the StatefulSet brought a pod of the same name back');
    assert.notEqual(replacement.metadata?.uid, victim.metadata?.uid, 'a new pod (new UID)');
    assert.deepEqual(report.targets, [fault?.target]);
  });

  it('a context or namespace outside the allow-list, or a selector that matches nothing, is refused plainly', async () => {
    const refusals = [
      [
        { context: 'prod' },
        /names Kubernetes context "prod", which this worker does not have \(known: test, strict\)/,
      ],
      [
        { namespace: 'kube-system' },
        /acts in namespace kube-system, which context test does not allow \(allowed: kafka, opted-out, doomed\)/,
      ],
      [
        { selector: { labels: { app: 'nope' } } },
        /target group "brokers" selects nothing: no pods app=nope in kafka \(context test\)/,
      ],
      [{ context: 'strict', namespace: 'opted-out' }, /namespace opted-out does not exist|has not opted in/],
    ] as const;
    for (const [group, reason] of refusals) {
      const report = await (
        await startPlan(temporal, plan({ params: {} }, group), worker.taskQueue)
      ).result();
      assert.equal(report.outcome, 'not-started', JSON.stringify(group));
      assert.match(report.reason ?? '', reason);
      assert.equal(report.faults.length, 0, 'nothing was prepared');
    }
  });

  it('every pod of the namespace is refused unless the plan says all; an ownerless pod unless allowed', async () => {
    const wholeNamespace = await (
      await startPlan(
        temporal,
        plan({ select: { mode: 'one' }, params: {} }, { selector: {} }),
        worker.taskQueue,
      )
    ).result();
    assert.equal(wholeNamespace.outcome, 'not-started');
    assert.match(
      wholeNamespace.reason ?? '',
      /selects every pod of its namespace; narrow its labels, or say select: \{ mode: all \}/,
    );
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'lonely', labels: { app: 'lonely' } },
        spec: { containers: [{ name: 'c', image: 'x' }] },
      },
    });
    const ownerless = await (
      await startPlan(
        temporal,
        plan({ params: {} }, { selector: { labels: { app: 'lonely' } } }),
        worker.taskQueue,
      )
    ).result();
    assert.equal(ownerless.outcome, 'aborted');
    assert.match(
      ownerless.reason ?? '',
      /pod kafka\/lonely has no owner: deleted, nothing would bring it back; say allowOwnerless: true/,
    );
    assert.ok(await core.readNamespacedPod({ name: 'lonely', namespace }), 'nothing was deleted');
    await core.deleteNamespacedPod({ name: 'lonely', namespace, gracePeriodSeconds: 0 });
  });

  it('a worker SIGKILLed mid-fault: another worker process finishes the rollback', async () => {
    const configFile = join(kube.dir, 'worker.yaml');
    writeFileSync(
      configFile,
      stringify({
        kubernetes: { contexts: { test: { kubeconfig: kube.kubeconfigPath, namespaces: [namespace] } } },
      }),
    );
    const taskQueue = uniqueTaskQueue('k8s-crash');
    const first = await spawnWorkerProcess(temporal, taskQueue, configFile);
    workers.push(first);
    const handle = await startPlan(
      temporal,
      plan({ select: { mode: 'one' }, params: { force: true } }, {}, '4s'),
      taskQueue,
    );
    await waitForPhase(handle, 'observe');
    await first.kill('SIGKILL');
    workers.push(await spawnWorkerProcess(temporal, taskQueue, configFile));
    const report = await handle.result();
    assert.equal(report.outcome, 'passed', report.reason);
    assert.equal(report.faults[0]?.status, 'rolled-back');
    await readyBrokers();
  });

  it('the owner, then the whole namespace, gone mid-fault: the rollback succeeds with a note', async () => {
    const apps = kube.kubeConfig.makeApiClient(AppsV1Api);
    await core.createNamespace({ body: { metadata: { name: 'doomed' } } });
    const make = (name: string) =>
      apps.createNamespacedDeployment({
        namespace: 'doomed',
        body: {
          metadata: { name },
          spec: {
            replicas: 1,
            selector: { matchLabels: { app: name } },
            template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: 'x' }] } },
          },
        },
      });
    await make('web');
    await make('other');
    await waitFor('the pods of doomed', async () => {
      const pods = (await core.listNamespacedPod({ namespace: 'doomed' })).items;
      return pods.length === 2 && pods.every(isReady) ? pods : undefined;
    });
    const doomed = (window: string) =>
      gameDayPlan({
        metadata: { name: 'k8s-owner-gone', owner: 'tests' },
        targets: {
          web: { kubernetes: { context: 'test', namespace: 'doomed', selector: { labels: { app: 'web' } } } },
        },
        faults: [
          {
            name: 'delete-web',
            kind: 'pod-delete',
            target: 'web',
            params: { force: true, readyTimeout: '1m' },
          },
        ],
        observation: { window, sampleInterval: '1s' },
      });
    // The Deployment (the pod's owner is its ReplicaSet) is deleted while the fault is in place.
    const ownerGone = await startPlan(temporal, doomed('4s'), worker.taskQueue);
    await waitForPhase(ownerGone, 'observe');
    await apps.deleteNamespacedDeployment({
      name: 'web',
      namespace: 'doomed',
      propagationPolicy: 'Foreground',
    });
    const first = await ownerGone.result();
    assert.equal(first.outcome, 'passed', first.reason);
    assert.match(first.faults[0]?.detail ?? '', /its owner ReplicaSet web-\S+ is not waited for \(gone/);
    // Then the namespace itself goes while the fault is in place.
    await make('web');
    await waitFor('web again', async () => {
      const pods = (await core.listNamespacedPod({ namespace: 'doomed', labelSelector: 'app=web' })).items;
      return pods.length === 1 && pods.every(isReady) ? pods : undefined;
    });
    const namespaceGone = await startPlan(temporal, doomed('4s'), worker.taskQueue);
    await waitForPhase(namespaceGone, 'observe');
    await core.deleteNamespace({ name: 'doomed' });
    const second = await namespaceGone.result();
    assert.equal(second.outcome, 'passed', second.reason);
    assert.equal(second.faults[0]?.status, 'rolled-back');
  });
});
