import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import { startGameDay } from '../client/gameDays';
import { projectRoot } from '../client/paths';
import { optInAnnotation, runLabel } from '../activities/kubernetes/clusters';
import { chaosMeshKinds, chaosMeshResources } from '../activities/kubernetes/chaosMeshSpec';
import type { ChaosObject } from '../activities/kubernetes/chaosMeshExperiment';
import { loadPlanFile } from '../plan/load';
import { loadWorkerConfig } from '../worker/config';
import type { GameDayReport } from '../workflows/definitions';
import { chaosfsPath, startChaosMeshHarness, type ChaosMeshHarness } from './support/chaosMesh';
import { startTestKubernetes, type TestKubernetes } from './support/kubernetes';
import { startTogether } from './support/together';
import { startTestPrometheus, TestExporter, waitForScrape, type TestPrometheus } from './support/prometheus';
import {
  startInProcessWorker,
  startTestTemporal,
  type InProcessWorker,
  type TestTemporal,
} from './support/temporal';
import { waitFor } from './support/wait';

// The three Kubernetes examples (seeds 000, 002, 003) run as they ship, each a real game day through a dev server
// and the real worker, against a real control plane (etcd, kube-apiserver with the Chaos Mesh CRDs, controller
// manager, scheduler; kwok plays the kubelets and serves exec and logs in chroot sandboxes). The worker's
// configuration is examples/worker.yaml with only its kubeconfig and Prometheus URL pointed at the test. No
// Chaos Mesh controller can run here: test/support/chaosMesh.ts plays it through the API, and the tests say so.
// Kafka's, etcd's tools are stand-in scripts in their containers (no JVM, no etcd there); dd is the machine's
// GNU dd, copied into the querynode containers with its libc; Prometheus is Debian's, scraping a test exporter.

const example = (file: string) => join(projectRoot, 'examples', file);
const context = 'chaos-lab';
const milvusNamespace = 'chaos-testing';
const alluxioNamespace = 'alluxio';

const isReady = (pod: V1Pod) =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** Kafka's kafka-topics.sh for the examples' two questions: a healthy cluster lists no partition for either. */
const kafkaTopicsStandIn = `#!/bin/sh
# Stand-in for Kafka's kafka-topics.sh (no JVM in this container): answers --describe of my-topic with the
# partitions listed in /opt/kafka/stand-in, as a three-broker cluster whose partitions all have leaders in sync.
case "$*" in
  "--bootstrap-server localhost:9092 --describe --topic my-topic --unavailable-partitions")
    cat /opt/kafka/stand-in/unavailable-partitions ;;
  "--bootstrap-server localhost:9092 --describe --topic my-topic --under-replicated-partitions")
    cat /opt/kafka/stand-in/under-replicated-partitions ;;
  *) echo "stand-in kafka-topics.sh does not answer: $*" >&2; exit 1 ;;
esac
`;

const producerPerfTestStandIn = `#!/bin/sh
# Stand-in for Kafka's kafka-producer-perf-test.sh: what it prints when the ten records were acknowledged.
[ "$*" = "--topic my-topic --num-records 10 --record-size 100 --throughput -1 --producer-props bootstrap.servers=localhost:9092 acks=1" ] || {
  echo "stand-in kafka-producer-perf-test.sh does not answer: $*" >&2; exit 1; }
echo "10 records sent, 125.0 records/sec (0.01 MB/sec), 8.2 ms avg latency, 31.0 ms max latency, 7 ms 50th, 31 ms 95th, 31 ms 99th, 31 ms 99.9th."
`;

const etcdctlStandIn = `#!/bin/sh
# Stand-in for etcdctl: the keys of Alluxio's worker registrations, as the runbook's output shows them.
[ "$*" = "get --keys-only --prefix /ServiceDiscovery" ] || { echo "stand-in etcdctl does not answer: $*" >&2; exit 1; }
cat /var/lib/etcd-stand-in/keys
`;

describe('the Kubernetes examples as game days (real control plane with the Chaos Mesh CRDs, real dev server, real Prometheus)', () => {
  let temporal: TestTemporal;
  let kube: TestKubernetes;
  let worker: InProcessWorker;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let custom: CustomObjectsApi;
  let harness: ChaosMeshHarness;
  let exporter: TestExporter;
  let prometheus: TestPrometheus;

  const readyPods = (namespace: string, labelSelector: string, count: number) =>
    waitFor(
      `${count} Ready pods ${labelSelector}`,
      async () => {
        const pods = (await core.listNamespacedPod({ namespace, labelSelector })).items;
        const ready = pods.filter((pod) => !pod.metadata?.deletionTimestamp && isReady(pod));
        return ready.length === count && pods.length === count ? ready : undefined;
      },
      60_000,
    );

  const workload = (
    kind: 'StatefulSet' | 'Deployment',
    namespace: string,
    name: string,
    labels: Record<string, string>,
    replicas: number,
    container: string,
  ) => {
    const spec = {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: container, image: `registry.invalid/${name}:1` }] },
      },
    };
    return kind === 'StatefulSet'
      ? apps.createNamespacedStatefulSet({
          namespace,
          body: { metadata: { name, labels }, spec: { ...spec, serviceName: name } },
        })
      : apps.createNamespacedDeployment({ namespace, body: { metadata: { name, labels }, spec } });
  };

  /** Runs the example file as `gameday run examples/<file>` would, on the test's worker. */
  const runExample = async (file: string): Promise<GameDayReport> => {
    const loaded = await loadPlanFile(example(file));
    assert.ok(loaded.ok, `${file}: ${loaded.ok ? '' : JSON.stringify(loaded.errors)}`);
    const asCli = {
      client: temporal.client,
      connection: temporal.connection,
      namespace: temporal.server.namespace,
      address: temporal.server.address,
      close: () => Promise.resolve(),
    };
    const handle = await startGameDay(asCli, loaded.plan, loaded.digest, {
      taskQueue: worker.taskQueue,
      seed: 42,
    });
    return handle.result();
  };

  /** Whatever still carries the run's tag: Chaos Mesh experiments, labelled or annotated pods, namespaces. */
  const leftovers = async (tag: string): Promise<string[]> => {
    const found: string[] = [];
    for (const namespace of [milvusNamespace, alluxioNamespace]) {
      for (const kind of chaosMeshKinds) {
        const { group, version, plural } = chaosMeshResources[kind];
        const list = (await custom.listNamespacedCustomObject({ group, version, plural, namespace })) as {
          items: ChaosObject[];
        };
        found.push(...list.items.map((object) => `${kind} ${namespace}/${object.metadata?.name ?? ''}`));
      }
      for (const pod of (await core.listNamespacedPod({ namespace })).items) {
        const tagged = [pod.metadata?.labels?.[runLabel], pod.metadata?.annotations?.[runLabel]];
        if (tagged.includes(tag)) found.push(`pod ${namespace}/${pod.metadata?.name ?? ''}`);
      }
      const annotations = (await core.readNamespace({ name: namespace })).metadata?.annotations ?? {};
      if (annotations[runLabel] === tag) found.push(`namespace ${namespace}`);
    }
    return found;
  };

  const assertClean = async (report: GameDayReport) => {
    const notHolding = [...report.checks.preflight, ...(report.checks.recovery?.results ?? [])].filter(
      (check) => !check.holds,
    );
    assert.equal(
      report.outcome,
      'passed',
      `${report.reason ?? ''}: ${notHolding.map((c) => `${c.name}: ${c.detail}`).join('; ')}`,
    );
    assert.ok(report.faults.length > 0);
    for (const fault of report.faults) {
      assert.equal(fault.status, 'rolled-back', `${fault.fault}: ${fault.error ?? fault.status}`);
      assert.ok(fault.injectedAt, `${fault.fault} was injected`);
    }
    assert.deepEqual(await leftovers(report.tag), [], 'nothing of the run is left');
  };

  const preflight = (report: GameDayReport, name: string) => {
    const result = report.checks.preflight.find((check) => check.name === name);
    assert.ok(result, `preflight ran ${name}`);
    assert.ok(result.holds, `${name}: ${result.detail}`);
    return result;
  };
  const during = (report: GameDayReport, name: string) => {
    const summary = [...report.checks.during, ...report.checks.guardrails].find((s) => s.name === name);
    assert.ok(summary, `the window sampled ${name}`);
    assert.ok(summary.samples >= 1, `${name} sampled`);
    assert.equal(summary.held, summary.samples, `${name}: ${summary.firstDeviation?.detail ?? ''}`);
    assert.equal(summary.couldNotAsk ?? 0, 0, `${name} could ask`);
    return summary;
  };
  const recovered = (report: GameDayReport, name: string) => {
    assert.equal(report.checks.recovery?.recovered, true);
    const result = report.checks.recovery?.results.find((check) => check.name === name);
    assert.ok(result, `recovery ran ${name}`);
    assert.ok(result.holds, `${name}: ${result.detail}`);
    return result;
  };

  before(async () => {
    exporter = await TestExporter.start();
    [temporal, kube, prometheus] = await startTogether([
      startTestTemporal(),
      startTestKubernetes({ chaosMeshCrds: true }),
      startTestPrometheus({ exporter, jobName: 'worker' }),
    ]);
    core = kube.kubeConfig.makeApiClient(CoreV1Api);
    apps = kube.kubeConfig.makeApiClient(AppsV1Api);
    custom = kube.kubeConfig.makeApiClient(CustomObjectsApi);

    // examples/worker.yaml as shipped, but for what must point at the test: the kubeconfig (and its context)
    // and the URL of Prometheus endpoint "metrics" (whose basic auth is the production one's).
    const shipped = await loadWorkerConfig(example('worker.yaml'), {});
    const lab = shipped.kubernetes.contexts[context];
    assert.ok(lab, `examples/worker.yaml defines context ${context}`);
    assert.ok(shipped.prometheus.endpoints.metrics, 'examples/worker.yaml defines endpoint metrics');
    worker = await startInProcessWorker(temporal, undefined, {
      kubernetes: {
        contexts: { [context]: { ...lab, kubeconfig: kube.kubeconfigPath, context: 'gameday-test' } },
      },
      prometheus: { endpoints: { metrics: { url: prometheus.url } } },
    });
    harness = startChaosMeshHarness(kube.kubeConfig, undefined, {
      containers: (namespace, pod, container) => kube.container(namespace, pod, container),
    });

    // The worker requires the opt-in annotation (requireOptIn in examples/worker.yaml).
    for (const name of [milvusNamespace, alluxioNamespace]) {
      await core.createNamespace({
        body: { metadata: { name, annotations: { [optInAnnotation.key]: optInAnnotation.value } } },
      });
      await waitFor(`the default service account of ${name}`, () =>
        core.readNamespacedServiceAccount({ name: 'default', namespace: name }).catch(() => undefined),
      );
    }

    // Seed 000: Milvus querynodes with their data directory.
    const querynodes = { component: 'querynode' };
    await kube.declareContainers({
      namespace: milvusNamespace,
      labels: querynodes,
      directories: ['/var/lib/milvus/data'],
    });
    await workload('StatefulSet', milvusNamespace, 'querynode', querynodes, 2, 'querynode');

    // Seed 002: the brokers of StatefulSet kafka-cluster, with stand-ins of Kafka's tools.
    const brokers = { app: 'kafka-broker' };
    await kube.declareContainers({
      namespace: milvusNamespace,
      labels: brokers,
      files: {
        '/opt/kafka/bin/kafka-topics.sh': { content: kafkaTopicsStandIn, mode: 0o755 },
        '/opt/kafka/bin/kafka-producer-perf-test.sh': { content: producerPerfTestStandIn, mode: 0o755 },
        '/opt/kafka/stand-in/unavailable-partitions': '',
        '/opt/kafka/stand-in/under-replicated-partitions': '',
      },
    });
    await workload('StatefulSet', milvusNamespace, 'kafka-cluster', brokers, 3, 'kafka');

    // Seed 003: Alluxio workers (a Deployment, as alluxio-worker-59476bf8c5-lg4sc) and its etcd.
    const workers = { 'app.kubernetes.io/component': 'worker', 'app.kubernetes.io/instance': 'alluxio' };
    await kube.declareContainers({
      namespace: alluxioNamespace,
      labels: workers,
      logs: ['INFO WorkerProcess - Alluxio worker started', 'INFO BlockWorker - registered with etcd'],
      // Every worker container has a previous instance: kwok answers `previous` for a container that never
      // restarted with its own "no such file" (a kubelet says "previous terminated container … not found",
      // which the logs check reads as no previous log), so each pod gets one, with nothing to match in it.
      previousLogs: ['INFO WorkerProcess - Alluxio worker stopped'],
    });
    await workload('Deployment', alluxioNamespace, 'alluxio-worker', workers, 2, 'worker');
    const etcd = { 'app.kubernetes.io/component': 'etcd', 'app.kubernetes.io/instance': 'alluxio' };
    await kube.declareContainers({
      namespace: alluxioNamespace,
      labels: etcd,
      files: {
        '/usr/local/bin/etcdctl': { content: etcdctlStandIn, mode: 0o755 },
        '/var/lib/etcd-stand-in/keys':
          '/ServiceDiscovery/alluxio-alluxio/worker-1b4bad64-f195-46a8-be5f-27825a8100a4\n\n' +
          '/ServiceDiscovery/alluxio-alluxio/worker-49ca0d6f-7a0a-482f-bb17-5550bd602a02\n',
      },
    });
    await workload('StatefulSet', alluxioNamespace, 'alluxio-etcd', etcd, 3, 'etcd');

    // The cache: 900 bytes/s read from cache, 100 from the UFS: a 90 % hit ratio.
    exporter.rate('alluxio_cached_data_read_bytes_total', 900);
    exporter.rate('alluxio_ufs_data_access_bytes_total', 100);

    const [querynodePods] = await Promise.all([
      readyPods(milvusNamespace, 'component=querynode', 2),
      readyPods(milvusNamespace, 'app=kafka-broker', 3),
      readyPods(alluxioNamespace, 'app.kubernetes.io/component=etcd', 3),
    ]);
    // GNU dd (busybox's prints no timing), with what it links, in each querynode container.
    for (const pod of querynodePods) {
      const container = await kube.container(milvusNamespace, pod.metadata?.name ?? '', 'querynode');
      for (const file of ['/bin/dd', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']) {
        const target = container.hostPath(file);
        mkdirSync(dirname(target), { recursive: true });
        // /bin/dd is a link to the container's busybox: replaced, never written through.
        if (existsSync(target)) unlinkSync(target);
        copyFileSync(file, target);
        chmodSync(target, 0o755);
      }
      // The runbook's dd reads /dev/zero (the container's /dev has only null).
      execFileSync('mknod', ['-m', '666', container.hostPath('/dev/zero'), 'c', '1', '5']);
    }
    // A WARN the runbook's grep would show, in a previous worker container from before the game day.
    const workerPods = await readyPods(alluxioNamespace, 'app.kubernetes.io/component=worker', 2);
    for (const pod of workerPods) {
      const container = await kube.container(alluxioNamespace, pod.metadata?.name ?? '', 'worker');
      container.log(
        [
          'ERROR quota.QuotaCoordinator - Failed to run quota janitor job',
          'java.io.IOException: Failed to poll quota usage from worker',
        ],
        { previous: true, at: new Date(Date.now() - 3_600_000) },
      );
    }
    await waitForScrape(
      prometheus,
      'sum(irate(alluxio_cached_data_read_bytes_total{job="worker"}[5m]))',
      (values) => values.length === 1 && (values[0] ?? 0) > 0,
    );
  });
  after(async () => {
    await harness?.stop();
    await worker?.stop();
    await Promise.all([kube?.stop(), temporal?.stop(), prometheus?.close(), exporter?.stop()]);
  });

  it('seed 000, examples/milvus-querynode-iochaos.yaml: the runbook IOChaos injected into one querynode, dd reads timed in the pods, the IOChaos deleted and its __chaosfs__ directory looked for (the harness plays the Chaos Mesh controller)', async () => {
    const report = await runExample('milvus-querynode-iochaos.yaml');
    await assertClean(report);
    const [fault] = report.faults;
    const loaded = await loadPlanFile(example('milvus-querynode-iochaos.yaml'));
    assert.ok(loaded.ok);
    const seen = [...harness.seen.entries()].find(([key]) => key.includes(report.tag));
    assert.ok(seen, 'the harness saw the IOChaos');
    assert.equal(seen[1].kind, 'IOChaos');
    assert.deepEqual(
      seen[1].spec,
      (loaded.plan.faults[0]?.params as { experiment: { spec: unknown } }).experiment.spec,
      "created with the runbook's spec as pasted (its own 5m duration kept)",
    );
    assert.match(
      report.timeline.map((entry) => entry.message).join('\n'),
      /IOChaos chaos-testing\/gd-\w+-\w+ AllInjected into chaos-testing\/querynode-0\/querynode/,
    );
    assert.match(
      fault?.detail ?? '',
      /^IOChaos chaos-testing\/gd-\w+-\w+ is gone$/,
      'nothing left to report',
    );
    const container = await kube.container(milvusNamespace, 'querynode-0', 'querynode');
    assert.equal(existsSync(container.hostPath(chaosfsPath('/var/lib/milvus/data'))), false);

    assert.match(preflight(report, 'querynodes-ready').detail, /2 ready \/ 2 expected = 100 %/);
    const written = preflight(report, 'data-dir-writable');
    assert.match(
      written.detail,
      /all 2 pods answered as expected; querynode-0\/querynode: read [\d.e-]+, expected ≤ 0.05/,
    );
    during(report, 'data-reads-bounded');
    during(report, 'querynodes-not-crash-looping');
    assert.match(recovered(report, 'data-reads-fast').detail, /querynode-0\/querynode: read [\d.e-]+/);
    assert.deepEqual(report.interventions ?? [], [], 'no intervention was needed');
  });

  it('seed 002, examples/kafka-broker-pod-failure.yaml: a broker failed by PodChaos and one force-deleted; kafka-topics and kafka-producer-perf-test (stand-ins) asked in a Ready broker throughout (the harness plays the Chaos Mesh controller)', async () => {
    const before = await readyPods(milvusNamespace, 'app=kafka-broker', 3);
    const report = await runExample('kafka-broker-pod-failure.yaml');
    await assertClean(report);
    const [podChaos, podDelete] = report.faults;
    assert.match(
      podChaos?.inject ?? '',
      /^create Chaos Mesh PodChaos pod-failure \(mode one, pods app=kafka-broker\) in chaos-testing \(context chaos-lab\)$/,
    );
    assert.match(
      podDelete?.inject ?? '',
      /^delete pod chaos-testing\/kafka-cluster-\d \(force, grace 0, context chaos-lab\)$/,
    );
    assert.match(podDelete?.detail ?? '', /StatefulSet kafka-cluster has 3 of 3 pods Ready/);
    const victim = before.find(
      (pod) => `${milvusNamespace}/${pod.metadata?.name ?? ''}` === podDelete?.target,
    );
    assert.ok(victim, `a broker was deleted: ${podDelete?.target}`);
    const now = await readyPods(milvusNamespace, 'app=kafka-broker', 3);
    const replacement = now.find((pod) => pod.metadata?.name === victim.metadata?.name);
    assert.notEqual(replacement?.metadata?.uid, victim.metadata?.uid, 'the deleted broker was replaced');

    preflight(report, 'brokers-ready');
    assert.match(preflight(report, 'partitions-have-leaders').detail, /^kafka-cluster-0\/kafka: exited 0$/);
    preflight(report, 'partitions-fully-replicated');
    during(report, 'majority-still-writable');
    during(report, 'leaders-re-elected');
    recovered(report, 'brokers-ready');
    recovered(report, 'partitions-have-leaders');
    recovered(report, 'partitions-fully-replicated');
    assert.match(recovered(report, 'majority-still-writable').detail, /kafka-cluster-\d\/kafka: exited 0/);
  });

  it('seed 002, examples/kafka-broker-pod-failure.yaml: with a partition under-replicated before it starts (kafka-topics, a stand-in, lists one), the game day does not start and nothing is created', async () => {
    const brokers = await readyPods(milvusNamespace, 'app=kafka-broker', 3);
    const containers = await Promise.all(
      brokers.map((pod) => kube.container(milvusNamespace, pod.metadata?.name ?? '', 'kafka')),
    );
    const lagging = 'Topic: my-topic\tPartition: 2\tLeader: 1\tReplicas: 0,1,2\tIsr: 1,2';
    for (const container of containers) {
      container.writeFile('/opt/kafka/stand-in/under-replicated-partitions', `${lagging}\n`);
    }
    try {
      const report = await runExample('kafka-broker-pod-failure.yaml');
      assert.equal(report.outcome, 'not-started', report.reason);
      const check = report.checks.preflight.find((c) => c.name === 'partitions-fully-replicated');
      assert.equal(check?.holds, false);
      assert.match(check?.detail ?? '', /^kafka-cluster-0\/kafka: output does not match .*Partition: 2/);
      assert.ok(
        report.faults.every((fault) => fault.injectedAt === undefined),
        'nothing was injected',
      );
      assert.equal(
        [...harness.seen.keys()].filter((key) => key.includes(report.tag)).length,
        0,
        'no experiment was created',
      );
      assert.deepEqual(await leftovers(report.tag), []);
    } finally {
      for (const container of containers) {
        container.writeFile('/opt/kafka/stand-in/under-replicated-partitions', '');
      }
    }
  });

  it('seed 003, examples/alluxio-worker-pod-delete.yaml: a worker deleted; worker and etcd readiness, etcdctl (a stand-in) in the etcd pod, WARN/ERROR in current and previous logs, and the cache-hit ratio from Prometheus hold; no recovery action was needed', async () => {
    const report = await runExample('alluxio-worker-pod-delete.yaml');
    await assertClean(report);
    const [fault] = report.faults;
    assert.match(fault?.detail ?? '', /ReplicaSet alluxio-worker-\w+ has 2 of 2 pods Ready/);

    assert.match(preflight(report, 'workers-ready').detail, /2 ready \/ 2 expected = 100 %/);
    assert.match(preflight(report, 'etcd-ready').detail, /3 ready \/ 3 expected = 100 %/);
    assert.match(
      preflight(report, 'etcd-serves-service-discovery').detail,
      /^alluxio-etcd-0\/etcd: exited 0$/,
    );
    const ratio = preflight(report, 'cache-hit-ratio');
    assert.ok(Math.abs((ratio.value ?? 0) - 0.9) < 0.01, `a 90 % hit ratio: ${ratio.detail}`);
    during(report, 'etcd-ready');
    during(report, 'etcd-serves-service-discovery');
    recovered(report, 'workers-ready');
    recovered(report, 'cache-hit-ratio');
    // The current and previous logs of the surviving worker and of the replacement: the surviving one's ERROR
    // from an hour ago is not of this game day.
    assert.match(
      recovered(report, 'worker-logs-clean').detail,
      /^0 line\(s\) match \/WARN\|ERROR\/ in 4 log\(s\) since the game day started/,
    );
    assert.equal(report.checks.recovery?.afterActions, undefined, 'recovered before any action');
    assert.deepEqual(report.interventions ?? [], [], 'deletePods was not needed');
  });
});
