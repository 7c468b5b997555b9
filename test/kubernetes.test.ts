import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ApiException,
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PolicyV1Api,
  VersionApi,
  type V1Pod,
} from '@kubernetes/client-node';
import { waitFor } from './support/wait';
import { startTestKubernetes, type TestKubernetes } from './support/kubernetes';

const namespace = 'smoke';
const labels = { app: 'web' };
const labelSelector = 'app=web';

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
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
});
