import { rmSync } from 'node:fs';
import { posix } from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Pod,
} from '@kubernetes/client-node';
import {
  chaosMeshKinds,
  chaosMeshResources,
  goDurationMs,
  recordsFinalizer,
} from '../../activities/kubernetes/chaosMeshSpec';
import type { ChaosObject, ContainerRecord } from '../../activities/kubernetes/chaosMeshExperiment';
import { labelSelectorOf } from '../../activities/kubernetes/chaosMeshExperiment';
import type { FakeContainer } from './kubernetes';

// No Chaos Mesh controller can run here (it needs a container runtime and its daemon on every node). This harness
// plays its part through the API, as the controller's reconcilers would: it adds the chaos-mesh/records finalizer,
// selects pods by the experiment's selector, writes status.conditions and status.experiment.containerRecords,
// re-injects a pod that was replaced or restarted, ends an experiment whose duration has passed, recovers and
// lets go of the finalizer when the experiment is deleted — or, when told to be stuck, never does. Tests that use
// it say so in their names.

/** How the harness behaves, changeable between tests. */
export interface ChaosMeshBehaviour {
  /**
   * `succeed`: every selected container injected (AllInjected True). `fail`: each record fails to apply (as an
   * IOChaos whose toda does not start), with a Failed record event and a Warning event on the experiment.
   * `silent`: nothing is written, as when no controller watches the namespace.
   */
  inject: 'succeed' | 'fail' | 'silent';
  /** `release`: on deletion, recover and remove the finalizer. `stuck`: hold it forever (its daemon lost toda). */
  finalizer: 'release' | 'stuck';
}

export interface ChaosMeshTimings {
  seenAt?: number;
  injectedAt?: number;
  deletionSeenAt?: number;
  releasedAt?: number;
}

export interface ChaosMeshHarness {
  readonly behaviour: ChaosMeshBehaviour;
  /** Every experiment the harness saw, by `namespace/name`, as first seen (spec and labels as created). */
  readonly seen: ReadonlyMap<
    string,
    { kind: string; spec: Record<string, unknown>; labels: Record<string, string> }
  >;
  /**
   * When (epoch ms) the harness first saw the experiment, wrote AllInjected, first saw it being deleted, and let
   * go of the finalizer, by `namespace/name`: what the harness itself took, for the benchmark's figures.
   */
  readonly timings: ReadonlyMap<string, ChaosMeshTimings>;
  stop(): Promise<void>;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Whether the kind's records are per container (`ns/pod/container`) or per pod (`ns/pod`), as in Chaos Mesh. */
function containerLevel(kind: string, spec: Record<string, unknown>): boolean {
  if (kind === 'PodChaos') return spec.action === 'container-kill';
  return kind === 'IOChaos' || kind === 'StressChaos' || kind === 'TimeChaos';
}

function chosen(pods: V1Pod[], spec: Record<string, unknown>): V1Pod[] {
  const sorted = [...pods].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  const value = Number(spec.value);
  switch (spec.mode) {
    case 'all':
      return sorted;
    case 'fixed':
      return sorted.slice(0, value);
    case 'fixed-percent':
    case 'random-max-percent':
      return sorted.slice(0, Math.max(1, Math.floor((sorted.length * value) / 100)));
    default:
      return sorted.slice(0, 1);
  }
}

const restartsOf = (pod: V1Pod) =>
  (pod.status?.containerStatuses ?? []).reduce((sum, status) => sum + status.restartCount, 0);

/** A pod container's filesystem, where the harness plays toda's FUSE proxy directory (TestKubernetes.container). */
export type ContainerFilesystem = (
  namespace: string,
  pod: string,
  container: string,
) => Promise<FakeContainer>;

/** The `__chaosfs__<dir>__` an IOChaos mounts next to its volumePath, as a path in the container. */
export function chaosfsPath(volumePath: string): string {
  return posix.join(posix.dirname(volumePath), `__chaosfs__${posix.basename(volumePath)}__`);
}

/**
 * Plays the Chaos Mesh controller for every experiment in the cluster, polling every `intervalMs`. With
 * `containers`, an IOChaos injected into a declared container makes its `__chaosfs__` directory there (what
 * toda's FUSE proxy is), removed when it recovers and left behind when it is stuck.
 */
export function startChaosMeshHarness(
  kubeConfig: KubeConfig,
  behaviour: Partial<ChaosMeshBehaviour> = {},
  { intervalMs = 200, containers }: { intervalMs?: number; containers?: ContainerFilesystem } = {},
): ChaosMeshHarness {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const current: ChaosMeshBehaviour = { inject: 'succeed', finalizer: 'release', ...behaviour };
  const seen = new Map<
    string,
    { kind: string; spec: Record<string, unknown>; labels: Record<string, string> }
  >();
  const timings = new Map<string, ChaosMeshTimings>();
  const timing = (key: string) => timings.get(key) ?? timings.set(key, {}).get(key) ?? {};
  /** The pod behind each record when last injected: a new UID or more restarts is re-injected. */
  const injectedPods = new Map<string, { uid: string; restarts: number }>();
  let stopped = false;

  const patch = (kind: string, namespace: string, name: string, body: unknown, json = false) => {
    const { group, version, plural } = chaosMeshResources[kind as keyof typeof chaosMeshResources];
    return custom.patchNamespacedCustomObject(
      { group, version, plural, namespace, name, body },
      json ? undefined : mergePatch,
    ) as Promise<unknown>;
  };

  const selectPods = async (namespace: string, spec: Record<string, unknown>) => {
    const selector = isRecord(spec.selector) ? spec.selector : {};
    const namespaces = Array.isArray(selector.namespaces) ? (selector.namespaces as string[]) : [namespace];
    const labelSelector = labelSelectorOf(selector);
    const pods: V1Pod[] = [];
    for (const ns of namespaces) {
      const list = await core.listNamespacedPod({
        namespace: ns,
        ...(labelSelector ? { labelSelector } : {}),
      });
      pods.push(...list.items.filter((pod) => pod.metadata?.deletionTimestamp === undefined));
    }
    return chosen(pods, spec);
  };

  const recordsFor = (kind: string, spec: Record<string, unknown>, pods: V1Pod[], failed: boolean) => {
    const at = new Date().toISOString();
    const volumePath = typeof spec.volumePath === 'string' ? spec.volumePath : '/data';
    const parent = volumePath.replace(/\/[^/]*$/, '') || '/';
    const dir = volumePath.split('/').pop() ?? '';
    return pods.map((pod): ContainerRecord => {
      const names = Array.isArray(spec.containerNames) ? (spec.containerNames as string[]) : [];
      const container = names[0] ?? pod.spec?.containers[0]?.name ?? 'main';
      const id = `${pod.metadata?.namespace}/${pod.metadata?.name}${containerLevel(kind, spec) ? `/${container}` : ''}`;
      return {
        id,
        phase: failed ? 'Not Injected' : 'Injected',
        injectedCount: failed ? 0 : 1,
        recoveredCount: 0,
        selectorKey: '.',
        events: [
          failed
            ? {
                type: 'Failed',
                operation: 'Apply',
                message:
                  'rpc error: code = Unknown desc = toda startup takes too long or an error occurs: ' +
                  `source: ${volumePath}, target: ${parent}/__chaosfs__${dir}__`,
                timestamp: at,
              }
            : { type: 'Succeeded', operation: 'Apply', timestamp: at },
        ],
      } as ContainerRecord;
    });
  };

  /** Does `act` on the `__chaosfs__` path of each IOChaos record's container that the test declared. */
  const chaosfs = async (
    kind: string,
    spec: Record<string, unknown>,
    records: readonly ContainerRecord[],
    act: (container: FakeContainer, path: string) => void,
  ) => {
    if (kind !== 'IOChaos' || containers === undefined || typeof spec.volumePath !== 'string') return;
    for (const record of records) {
      const [namespace, pod, container] = record.id.split('/');
      const filesystem = await containers(namespace ?? '', pod ?? '', container ?? '').catch(() => undefined);
      if (filesystem !== undefined) act(filesystem, chaosfsPath(spec.volumePath));
    }
  };

  const conditions = (injected: boolean, recovered: boolean) => [
    { type: 'Selected', status: 'True' },
    { type: 'AllInjected', status: injected ? 'True' : 'False' },
    { type: 'AllRecovered', status: recovered ? 'True' : 'False' },
    { type: 'Paused', status: 'False' },
  ];

  const reconcile = async (kind: string, object: ChaosObject) => {
    const namespace = object.metadata?.namespace ?? '';
    const name = object.metadata?.name ?? '';
    const key = `${namespace}/${name}`;
    const spec = object.spec ?? {};
    if (!seen.has(key)) seen.set(key, { kind, spec, labels: { ...(object.metadata?.labels ?? {}) } });
    timing(key).seenAt ??= Date.now();
    if (current.inject === 'silent') return;
    const finalizers = object.metadata?.finalizers ?? [];
    const records = object.status?.experiment?.containerRecords ?? [];
    if (object.metadata?.deletionTimestamp !== undefined) {
      timing(key).deletionSeenAt ??= Date.now();
      if (!finalizers.includes(recordsFinalizer)) return;
      if (current.finalizer === 'stuck') {
        // As when the pod restarted and its toda is gone: each recovery fails, the finalizer stays.
        if (records.some((record) => record.events?.some((event) => event.operation === 'Recover'))) return;
        const failed = records.map((record) => ({
          ...record,
          events: [
            ...(record.events ?? []),
            {
              type: 'Failed',
              operation: 'Recover',
              message: 'rpc error: code = Unknown desc = os: process already finished',
              timestamp: new Date().toISOString(),
            },
          ],
        }));
        await patch(kind, namespace, name, {
          status: {
            conditions: object.status?.conditions,
            experiment: { desiredPhase: 'Stop', containerRecords: failed },
          },
        });
        return;
      }
      const recovered = records.map((record) => ({
        ...record,
        phase: 'Not Injected',
        recoveredCount: (record.recoveredCount ?? 0) + 1,
      }));
      await chaosfs(kind, spec, records, (container, path) =>
        rmSync(container.hostPath(path), { recursive: true, force: true }),
      );
      await patch(kind, namespace, name, {
        status: {
          conditions: conditions(false, true),
          experiment: { desiredPhase: 'Stop', containerRecords: recovered },
        },
      });
      await patch(
        kind,
        namespace,
        name,
        [
          { op: 'test', path: '/metadata/finalizers', value: finalizers },
          {
            op: 'replace',
            path: '/metadata/finalizers',
            value: finalizers.filter((f) => f !== recordsFinalizer),
          },
        ],
        true,
      );
      timing(key).releasedAt = Date.now();
      return;
    }
    if (!finalizers.includes(recordsFinalizer)) {
      await patch(kind, namespace, name, { metadata: { finalizers: [...finalizers, recordsFinalizer] } });
      return;
    }
    if (object.status?.conditions === undefined) {
      const failed = current.inject === 'fail';
      const pods = await selectPods(namespace, spec);
      const created = recordsFor(kind, spec, pods, failed);
      for (const pod of pods) {
        const id = created.find((record) =>
          record.id.startsWith(`${pod.metadata?.namespace}/${pod.metadata?.name}`),
        )?.id;
        if (id) injectedPods.set(`${key}|${id}`, { uid: pod.metadata?.uid ?? '', restarts: restartsOf(pod) });
      }
      await patch(kind, namespace, name, {
        status: {
          conditions: conditions(!failed && pods.length > 0, false),
          experiment: { desiredPhase: 'Run', containerRecords: created },
        },
      });
      if (!failed && pods.length > 0) timing(key).injectedAt = Date.now();
      if (!failed) await chaosfs(kind, spec, created, (container, path) => container.mkdir(path));
      if (failed) {
        await core.createNamespacedEvent({
          namespace,
          body: {
            metadata: { generateName: `${name}.` },
            involvedObject: {
              apiVersion: 'chaos-mesh.org/v1alpha1',
              kind,
              name,
              namespace,
              uid: object.metadata?.uid,
            },
            reason: 'Failed',
            message: `Failed to apply chaos: ${created[0]?.events?.[0]?.message ?? 'no pod'}`,
            type: 'Warning',
            source: { component: 'gameday-test-chaos-mesh-harness' },
          },
        });
      }
      return;
    }
    const ends = typeof spec.duration === 'string' ? goDurationMs(spec.duration) : undefined;
    const createdAt = new Date(object.metadata?.creationTimestamp as unknown as string).getTime();
    const injected = object.status.conditions.some((c) => c.type === 'AllInjected' && c.status === 'True');
    if (injected && ends !== undefined && Date.now() > createdAt + ends) {
      await patch(kind, namespace, name, {
        status: {
          conditions: conditions(false, true),
          experiment: {
            desiredPhase: 'Stop',
            containerRecords: records.map((r) => ({
              ...r,
              phase: 'Not Injected',
              recoveredCount: (r.recoveredCount ?? 0) + 1,
            })),
          },
        },
      });
      return;
    }
    if (!injected) return;
    // A replaced (same name, new UID) or restarted pod is injected again, as Chaos Mesh does (seed 000, 6).
    let changed = false;
    const next = await Promise.all(
      records.map(async (record) => {
        const [ns, podName] = record.id.split('/');
        const pod = await core
          .readNamespacedPod({ namespace: ns ?? '', name: podName ?? '' })
          .catch(() => undefined);
        const before = injectedPods.get(`${key}|${record.id}`);
        if (pod === undefined || before === undefined) return record;
        if (pod.metadata?.uid === before.uid && restartsOf(pod) <= before.restarts) return record;
        injectedPods.set(`${key}|${record.id}`, { uid: pod.metadata?.uid ?? '', restarts: restartsOf(pod) });
        changed = true;
        return { ...record, injectedCount: (record.injectedCount ?? 0) + 1 };
      }),
    );
    if (changed) {
      await patch(kind, namespace, name, {
        status: {
          conditions: object.status.conditions,
          experiment: { desiredPhase: 'Run', containerRecords: next },
        },
      });
    }
  };

  const loop = (async () => {
    while (!stopped) {
      for (const kind of chaosMeshKinds) {
        const { group, version, plural } = chaosMeshResources[kind];
        const list = (await custom
          .listClusterCustomObject({ group, version, plural })
          .catch(() => ({ items: [] }))) as { items: ChaosObject[] };
        for (const object of list.items) {
          // A conflict or an object deleted under us: the next round looks again, as a controller requeues.
          await reconcile(kind, object).catch(() => undefined);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();

  return {
    behaviour: current,
    seen,
    timings,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
