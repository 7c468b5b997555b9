import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  ApiException,
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  Exec,
  PolicyV1Api,
  VersionApi,
  type V1Pod,
  type V1Status,
} from '@kubernetes/client-node';
import { waitFor } from './support/wait';
import { startTestKubernetes, type TestKubernetes } from './support/kubernetes';

const namespace = 'smoke';
const labels = { app: 'web' };
const labelSelector = 'app=web';

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  /** The status the exec subresource sends on its status channel when the command ends. */
  readonly status: V1Status;
  /** From the status: 0 on Success, the ExitCode cause on NonZeroExitCode, undefined when it did not run. */
  readonly exitCode: number | undefined;
}

/** Runs argv in a pod's container through the apiserver's exec subresource (websocket), as gameday does. */
function execInPod(
  kube: TestKubernetes,
  target: { namespace: string; pod: string; container: string },
  command: readonly string[],
): Promise<ExecResult> {
  let stdout = '';
  let stderr = '';
  const out = new PassThrough().on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const err = new PassThrough().on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    // A hang is a failure of its own, never a test that waits out the runner's timeout.
    const timer = setTimeout(
      () => reject(new Error(`no exec status for ${command.join(' ')} in 20 s`)),
      20_000,
    );
    const onStatus = (status: V1Status) => {
      clearTimeout(timer);
      const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
      const exitCode = status.status === 'Success' ? 0 : cause === undefined ? undefined : Number(cause);
      resolve({ stdout, stderr, status, exitCode });
    };
    new Exec(kube.kubeConfig)
      .exec(target.namespace, target.pod, target.container, [...command], out, err, null, false, onStatus)
      .catch((error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      });
  });
}

/** The error status of a client call that must fail (the client throws ApiException on non-2xx answers). */
async function refusal(call: () => Promise<unknown>): Promise<ApiException<unknown>> {
  try {
    await call();
  } catch (error) {
    if (error instanceof ApiException) return error as ApiException<unknown>;
    throw error;
  }
  assert.fail('the call was expected to be refused');
}

describe('Kubernetes test control plane: etcd, kube-apiserver, controller manager, scheduler, kwok nodes', () => {
  let kube: TestKubernetes;
  let core: CoreV1Api;
  let apps: AppsV1Api;

  /** Pods of the Deployment that are bound to a kwok node, not terminating and Ready, once there are `count`. */
  const readyPods = (count: number, what: string) =>
    waitFor(
      what,
      async () => {
        const pods = (await core.listNamespacedPod({ namespace, labelSelector })).items;
        const ready = pods.filter(
          (pod) =>
            !pod.metadata?.deletionTimestamp &&
            kube.nodeNames.includes(pod.spec?.nodeName ?? '') &&
            isReady(pod),
        );
        return ready.length === count && pods.length === count ? ready : undefined;
      },
      60_000,
    );

  before(async () => {
    kube = await startTestKubernetes({ nodes: 3 });
    core = kube.kubeConfig.makeApiClient(CoreV1Api);
    apps = kube.kubeConfig.makeApiClient(AppsV1Api);
  });
  after(() => kube?.stop());

  it('serves the pinned release with RBAC on, and kwok keeps its nodes Ready', async () => {
    const version = await kube.kubeConfig.makeApiClient(VersionApi).getCode();
    assert.equal(version.gitVersion, kube.versions.kubernetes);
    const nodes = await core.listNode();
    assert.deepEqual(nodes.items.map((node) => node.metadata?.name).sort(), [...kube.nodeNames]);
    const authorization = kube.kubeConfig.makeApiClient(AuthorizationV1Api);
    const allowed = async (user: string, verb: string, resource: string, subresource?: string) => {
      const review = await authorization.createSubjectAccessReview({
        body: { spec: { user, resourceAttributes: { verb, resource, subresource, namespace: 'default' } } },
      });
      return review.status?.allowed ?? false;
    };
    // RBAC decides: the scheduler's bootstrap role may bind pods, a user bound to nothing may not list them.
    assert.equal(await allowed('system:kube-scheduler', 'create', 'pods', 'binding'), true);
    assert.equal(await allowed('nobody', 'list', 'pods'), false);
  });

  it('a Deployment of 2 replicas gets 2 pods, bound to kwok nodes by the scheduler, and Ready', async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web', labels },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: 'web', image: 'registry.invalid/web:1' }] },
          },
        },
      },
    });
    const pods = await readyPods(2, '2 Ready pods of the Deployment');
    assert.ok(pods.every((pod) => pod.status?.phase === 'Running'));
  });

  it('a deleted pod is replaced by a new one (new UID) that becomes Ready', async () => {
    const [victim, survivor] = await readyPods(2, '2 Ready pods');
    assert.ok(victim?.metadata?.name && survivor?.metadata?.uid);
    await core.deleteNamespacedPod({ name: victim.metadata.name, namespace });
    const pods = await readyPods(2, 'a Ready replacement pod and no terminating one');
    const uids = pods.map((pod) => pod.metadata?.uid);
    assert.ok(!uids.includes(victim.metadata.uid), 'the deleted pod is gone');
    assert.ok(uids.includes(survivor.metadata.uid), 'the other pod was left alone');
  });

  it('an eviction that a PodDisruptionBudget (minAvailable 2) forbids is refused with 429', async () => {
    const policy = kube.kubeConfig.makeApiClient(PolicyV1Api);
    await policy.createNamespacedPodDisruptionBudget({
      namespace,
      body: { metadata: { name: 'web' }, spec: { minAvailable: 2, selector: { matchLabels: labels } } },
    });
    // The disruption controller must have counted the pods first, or the refusal would only mean "not yet".
    await waitFor(
      'the PDB status to count 2 healthy pods',
      async () => {
        const { status } = await policy.readNamespacedPodDisruptionBudget({ name: 'web', namespace });
        return status?.currentHealthy === 2 && status.disruptionsAllowed === 0 ? status : undefined;
      },
      30_000,
    );
    const [pod] = await readyPods(2, '2 Ready pods');
    const name = pod?.metadata?.name ?? '';
    const refused = await refusal(() =>
      core.createNamespacedPodEviction({
        name,
        namespace,
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } },
      }),
    );
    assert.equal(refused.code, 429);
    assert.match(`${refused.message} ${JSON.stringify(refused.body)}`, /disruption budget/);
    const still = await core.readNamespacedPod({ name, namespace });
    assert.equal(still.metadata?.deletionTimestamp, undefined);
  });

  it('the Chaos Mesh CRDs validate an IOChaos (no Chaos Mesh controller runs: nothing acts on it)', async () => {
    await kube.applyChaosMeshCrds();
    const custom = kube.kubeConfig.makeApiClient(CustomObjectsApi);
    const target = { group: 'chaos-mesh.org', version: 'v1alpha1', namespace, plural: 'iochaos' };
    // Seed 000's experiment as users write it, aimed at this namespace.
    const spec = {
      action: 'latency',
      delay: '100ms',
      duration: '5m',
      mode: 'one',
      percent: 50,
      methods: ['read'],
      selector: { labelSelectors: labels, namespaces: [namespace] },
      volumePath: '/var/lib/milvus/data',
    };
    const body = { apiVersion: 'chaos-mesh.org/v1alpha1', kind: 'IOChaos', metadata: { name: 'io-latency' } };
    await custom.createNamespacedCustomObject({ ...target, body: { ...body, spec } });
    const read = (await custom.getNamespacedCustomObject({ ...target, name: 'io-latency' })) as {
      spec: Record<string, unknown>;
    };
    assert.deepEqual(read.spec, spec);
    // The schema is enforced by the real API machinery: an action outside its enum is refused.
    const invalid = await refusal(() =>
      custom.createNamespacedCustomObject({
        ...target,
        body: { ...body, metadata: { name: 'io-invalid' }, spec: { ...spec, action: 'explode' } },
      }),
    );
    assert.equal(invalid.code, 422);
  });

  it('a cordoned node is unschedulable: new pods go to the other nodes', async () => {
    const cordoned = kube.nodeNames[0] ?? '';
    await core.patchNode({ name: cordoned, body: [{ op: 'add', path: '/spec/unschedulable', value: true }] });
    assert.equal((await core.readNode({ name: cordoned })).spec?.unschedulable, true);
    const before = new Set((await readyPods(2, '2 Ready pods')).map((pod) => pod.metadata?.uid));
    await apps.patchNamespacedDeployment({
      name: 'web',
      namespace,
      body: [{ op: 'replace', path: '/spec/replicas', value: 4 }],
    });
    const added = (await readyPods(4, '4 Ready pods')).filter((pod) => !before.has(pod.metadata?.uid));
    assert.equal(added.length, 2);
    assert.ok(added.every((pod) => pod.spec?.nodeName !== cordoned));
  });
  describe('exec and logs through the apiserver, served by kwok from declared containers', () => {
    const ns = 'milvus';
    const querynode = { app: 'querynode' };
    /** The Deployment's one Ready pod (bound to a kwok node, not terminating). */
    const querynodePod = () =>
      waitFor(
        'the Ready querynode pod',
        async () => {
          const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=querynode' }))
            .items;
          const ready = pods.filter((pod) => !pod.metadata?.deletionTimestamp && isReady(pod));
          return ready.length === 1 && pods.length === 1 ? ready[0]?.metadata?.name : undefined;
        },
        60_000,
      );

    before(async () => {
      await core.createNamespace({ body: { metadata: { name: ns } } });
      // The declaration comes first: the Deployment's pods are prepared as they are created.
      await kube.declareContainers({
        namespace: ns,
        labels: querynode,
        directories: ['/var/lib/milvus/data'],
        files: {
          // What the exec check of seed 003 runs, played by a script in the image.
          '/usr/local/bin/etcdctl': {
            content: '#!/bin/sh\nprintf "/ServiceDiscovery/querynode/1\\n/ServiceDiscovery/querynode/2\\n"\n',
            mode: 0o755,
          },
        },
        env: { MILVUS_ROLE: 'querynode' },
        logs: ['[INFO] querynode started', '[WARN] segment 7 loading slowly'],
      });
      await apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name: 'querynode', labels: querynode },
          spec: {
            replicas: 1,
            selector: { matchLabels: querynode },
            template: {
              metadata: { labels: querynode },
              spec: {
                containers: [
                  {
                    name: 'querynode',
                    image: 'registry.invalid/milvus:2',
                    env: [{ name: 'ETCD_ENDPOINTS', value: 'etcd:2379' }],
                  },
                ],
              },
            },
          },
        },
      });
    });

    it('exec runs argv in the container: stdout, stderr and the exit status (0, non-zero, missing command)', async () => {
      // Straight after Ready, without asking the harness first: a declared pod is served once it exists.
      const pod = await querynodePod();
      const target = { namespace: ns, pod, container: 'querynode' };

      const keys = await execInPod(kube, target, [
        'etcdctl',
        'get',
        '--keys-only',
        '--prefix',
        '/ServiceDiscovery',
      ]);
      assert.equal(keys.exitCode, 0);
      assert.equal(keys.stdout, '/ServiceDiscovery/querynode/1\n/ServiceDiscovery/querynode/2\n');
      assert.equal(keys.stderr, '');

      // The environment: the pod spec's literal env, the declaration's, the pod name as HOSTNAME.
      const env = await execInPod(kube, target, [
        'sh',
        '-c',
        'echo "$HOSTNAME $ETCD_ENDPOINTS $MILVUS_ROLE"',
      ]);
      assert.equal(env.stdout, `${pod} etcd:2379 querynode\n`);

      const failing = await execInPod(kube, target, [
        'sh',
        '-c',
        'echo partial; echo "disk full" >&2; exit 3',
      ]);
      assert.equal(failing.status.status, 'Failure');
      assert.equal(failing.status.reason, 'NonZeroExitCode');
      assert.equal(failing.exitCode, 3);
      assert.equal(failing.stdout, 'partial\n');
      assert.equal(failing.stderr, 'disk full\n');

      // As with containerd: not an exit code, an error that names the command.
      const missing = await execInPod(kube, target, ['no-such-tool', '--version']);
      assert.equal(missing.status.status, 'Failure');
      assert.equal(missing.exitCode, undefined);
      assert.match(missing.status.message ?? '', /"no-such-tool": executable file not found in \$PATH/);
    });

    it('ls in the pod lists what the test made in its filesystem; commands cannot write outside it', async () => {
      const pod = await querynodePod();
      const container = await kube.container(ns, pod);
      // What an IOChaos leaves behind when its cleanup did not finish.
      container.mkdir('/var/lib/milvus/__chaosfs__data__');
      const target = { namespace: ns, pod, container: 'querynode' };
      const listing = await execInPod(kube, target, ['ls', '/var/lib/milvus']);
      assert.equal(listing.exitCode, 0);
      assert.deepEqual(listing.stdout.trim().split('\n'), ['__chaosfs__data__', 'data']);

      const marker = '/gameday-exec-marker';
      const touched = await execInPod(kube, target, ['/bin/touch', marker]);
      assert.equal(touched.exitCode, 0);
      assert.ok(existsSync(container.hostPath(marker)), 'the file is in the container filesystem');
      assert.ok(!existsSync(marker), 'and not on the machine');
    });

    it('logs of the current and of the previous container (readNamespacedPodLog, previous, sinceSeconds, tailLines)', async () => {
      const pod = await querynodePod();
      const container = await kube.container(ns, pod);
      const read = (options: { previous?: boolean; sinceSeconds?: number; tailLines?: number } = {}) =>
        core.readNamespacedPodLog({ name: pod, namespace: ns, container: 'querynode', ...options });
      assert.equal(await read(), '[INFO] querynode started\n[WARN] segment 7 loading slowly\n');
      // A container that never restarted has no previous log, as from a kubelet: an error, not an empty log.
      const never = await refusal(() => read({ previous: true }));
      assert.equal(never.code, 400);

      // The container ran for an hour, then failed with its last words on stderr, and was restarted.
      container.log('[INFO] querynode started', { previous: true, at: new Date(Date.now() - 3_600_000) });
      container.log(['[ERROR] querynode lost its etcd session', 'panic: session expired'], {
        previous: true,
        stream: 'stderr',
      });
      assert.equal(
        await read({ previous: true }),
        '[INFO] querynode started\n[ERROR] querynode lost its etcd session\npanic: session expired\n',
      );
      // Since the game day started (10 minutes ago, say), and its last line.
      assert.equal(
        await read({ previous: true, sinceSeconds: 600 }),
        '[ERROR] querynode lost its etcd session\npanic: session expired\n',
      );
      assert.equal(await read({ previous: true, tailLines: 1 }), 'panic: session expired\n');

      // Another restart: what was current is now previous.
      container.restartLogs();
      container.log('[INFO] querynode started');
      assert.equal(await read(), '[INFO] querynode started\n');
      assert.equal(
        await read({ previous: true }),
        '[INFO] querynode started\n[WARN] segment 7 loading slowly\n',
      );
    });

    it('a replacement pod gets a fresh filesystem from the declaration', async () => {
      const pod = await querynodePod();
      (await kube.container(ns, pod)).mkdir('/var/lib/milvus/__chaosfs__data__');
      await core.deleteNamespacedPod({ name: pod, namespace: ns });
      const replacement = await waitFor('a replacement querynode pod', async () => {
        const name = await querynodePod();
        return name !== pod ? name : undefined;
      });
      await kube.container(ns, replacement);
      const target = { namespace: ns, pod: replacement, container: 'querynode' };
      const listing = await execInPod(kube, target, ['ls', '/var/lib/milvus']);
      assert.equal(listing.stdout, 'data\n');
    });

    it('a pod with no declared containers: exec and logs fail at once, naming the container and pod', async () => {
      await core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name: 'undeclared' },
          spec: { containers: [{ name: 'app', image: 'registry.invalid/x' }] },
        },
      });
      await waitFor('the undeclared pod to be Ready', async () =>
        isReady(await core.readNamespacedPod({ name: 'undeclared', namespace: ns })) ? true : undefined,
      );
      const started = Date.now();
      const exec = await execInPod(kube, { namespace: ns, pod: 'undeclared', container: 'app' }, ['ls']);
      assert.equal(exec.status.status, 'Failure');
      assert.match(
        exec.status.message ?? '',
        /no exec found for container "app" in pod "milvus\/undeclared"/,
      );
      const logs = await refusal(() => core.readNamespacedPodLog({ name: 'undeclared', namespace: ns }));
      assert.equal(logs.code, 400);
      assert.match(
        String(logs.body),
        /no logs found for container \\?"app\\?" in pod \\?"milvus\/undeclared\\?"/,
      );
      assert.ok(Date.now() - started < 10_000, 'both answered within seconds');
    });
  });
});
