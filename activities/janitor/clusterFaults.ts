import type { V1Deployment, V1Node, V1StatefulSet } from '@kubernetes/client-node';
import type { ClusterLeftover } from '../../workflows/janitorDefinitions';
import { faultHash } from '../faults/context';
import { cordonedByAnnotation } from '../faults/nodeCordon';
import { scaledFromAnnotation } from '../faults/scale';
import { resourceName, type ChaosObject } from '../kubernetes/chaosMeshExperiment';
import { chaosMeshKinds, chaosMeshResources, type ChaosMeshKind } from '../kubernetes/chaosMeshSpec';
import type { KubernetesClient } from '../kubernetes/client';
import { runLabel, type KubernetesContextPolicy } from '../kubernetes/clusters';

/** The annotation chaos-mesh puts next to its run label: the plan's fault that made the experiment. */
const faultAnnotation = 'gameday.dev/fault';

/** gameday's run tags (`runTag` in workflows): what a label must look like to be one of its runs'. */
const tagPattern = /^[a-z0-9]{1,32}$/;

/** Replicas a scaled-from annotation may name: the scale kind's own bound. */
const maxReplicas = 1000;

/** Something of a gameday kind found in a cluster by its label or annotations, before skip rules apply. */
export interface FoundClusterFault {
  readonly tag: string;
  /** Its name as a plan's Kubernetes target would be named: a namespace, a node, `ns/deployment/name`. */
  readonly target: string;
  readonly what: string;
  /** When it was created (Chaos Mesh experiments), ISO. */
  readonly since?: string;
  /** How its kind removes it; absent when what is found does not say enough (then a person looks). */
  readonly leftover?: ClusterLeftover;
  readonly why?: string;
}

/** A list that failed: where, and the API server's words. Never taken as "clean". */
export interface ClusterScanError {
  /** The namespace listed; absent for nodes (cluster-wide). */
  readonly namespace?: string;
  readonly error: string;
}

export interface ClusterScan {
  readonly found: readonly FoundClusterFault[];
  readonly errors: readonly ClusterScanError[];
}

const errorText = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).slice(0, 300);

const iso = (at: Date | string | undefined): string | undefined =>
  at === undefined ? undefined : new Date(at).toISOString();

/** A Chaos Mesh experiment labelled with a run: removable when it is named as chaos-mesh names it. */
export function chaosFinding(
  context: string,
  kind: ChaosMeshKind,
  object: ChaosObject,
): FoundClusterFault | undefined {
  const meta = object.metadata;
  const tag = meta?.labels?.[runLabel];
  const namespace = meta?.namespace;
  const name = meta?.name;
  if (tag === undefined || namespace === undefined || name === undefined) return undefined;
  const fault = meta?.annotations?.[faultAnnotation];
  const deleting =
    meta?.deletionTimestamp === undefined
      ? ''
      : `, being deleted (held by ${meta?.finalizers?.join(', ') || 'nothing'})`;
  const what = `Chaos Mesh ${kind} ${namespace}/${name} (fault ${fault ?? '?'}, context ${context}${deleting})`;
  const since = iso(meta?.creationTimestamp);
  const found = { tag, target: namespace, what, ...(since === undefined ? {} : { since }) };
  // Only what chaos-mesh itself creates (gd-<tag>-<hash of its fault>) is deleted: a foreign object that merely
  // carries the label is listed for a person.
  if (!tagPattern.test(tag) || fault === undefined || name !== `gd-${tag}-${faultHash(fault)}`) {
    return {
      ...found,
      why: `not named as gameday names its experiments (gd-<tag>-<fault hash>): look at it`,
    };
  }
  const volumePath = kind === 'IOChaos' ? object.spec?.volumePath : undefined;
  return {
    ...found,
    leftover: {
      type: 'chaos-mesh',
      tag,
      kind,
      namespace,
      name,
      ...(typeof volumePath === 'string' ? { volumePath } : {}),
    },
  };
}

/** A node annotated as cordoned by a run. */
export function cordonFinding(context: string, node: V1Node): FoundClusterFault | undefined {
  const tag = node.metadata?.annotations?.[cordonedByAnnotation];
  const name = node.metadata?.name;
  const uid = node.metadata?.uid;
  if (tag === undefined || name === undefined) return undefined;
  const state = node.spec?.unschedulable === true ? 'unschedulable' : 'schedulable again, still annotated';
  const found = {
    tag,
    target: name,
    what: `node ${name} cordoned by run ${tag} (${state}; context ${context})`,
  };
  if (!tagPattern.test(tag) || uid === undefined)
    return { ...found, why: `its ${cordonedByAnnotation} is not a run tag` };
  return { ...found, leftover: { type: 'cordon', tag, node: name, uid } };
}

/** A Deployment or StatefulSet whose annotations say a run scaled it, and from how many replicas. */
export function scaleFinding(
  context: string,
  resource: 'deployment' | 'statefulset',
  workload: V1Deployment | V1StatefulSet,
): FoundClusterFault | undefined {
  const annotations = workload.metadata?.annotations ?? {};
  const tag = annotations[runLabel];
  const from = annotations[scaledFromAnnotation];
  const { namespace, name, uid } = workload.metadata ?? {};
  // A run annotation without scaled-from is a marker (a recovery action's restart): nothing is in place.
  if (tag === undefined || from === undefined || namespace === undefined || name === undefined)
    return undefined;
  const replicas = /^\d{1,4}$/.test(from) ? Number(from) : Number.NaN;
  const now = workload.spec?.replicas ?? 1;
  const found = {
    tag,
    target: `${namespace}/${resource}/${name}`,
    what: `${resource} ${namespace}/${name} scaled by run ${tag} from ${from} to ${now} replicas (context ${context})`,
  };
  if (!tagPattern.test(tag) || uid === undefined || !(replicas <= maxReplicas)) {
    return {
      ...found,
      why: `its ${scaledFromAnnotation} (${from}) or ${runLabel} is not what scale writes: look at it`,
    };
  }
  return { ...found, leftover: { type: 'scale', tag, resource, namespace, name, uid, replicas } };
}

interface Listing<T> {
  readonly items: readonly T[];
}

/**
 * Lists one kind, turning a failure into a scan error. `undefined` from `list` (a 404: the kind's CRD is not
 * installed) means nothing of it can exist there.
 */
async function listed<T>(
  errors: ClusterScanError[],
  namespace: string | undefined,
  list: () => Promise<Listing<T> | undefined>,
): Promise<readonly T[]> {
  try {
    return (await list())?.items ?? [];
  } catch (error) {
    errors.push({ ...(namespace === undefined ? {} : { namespace }), error: errorText(error) });
    return [];
  }
}

/**
 * Looks in one context for what gameday's Kubernetes kinds leave in place, by their label or annotations: Chaos
 * Mesh experiments labelled `gameday.dev/run` (every kind chaos-mesh can create, in the namespaces the policy
 * allows), nodes annotated `gameday.dev/cordoned-by`, and Deployments and StatefulSets annotated
 * `gameday.dev/scaled-from` in the allowed namespaces. pod-delete's and recovery actions' annotations are markers
 * on objects that were deleted or restarted (nothing stays in place): not looked for.
 */
export async function scanCluster(
  context: string,
  kube: KubernetesClient,
  policy: KubernetesContextPolicy,
): Promise<ClusterScan> {
  const errors: ClusterScanError[] = [];
  const chaos = policy.namespaces.flatMap((namespace) =>
    chaosMeshKinds.map(async (kind) => {
      const { group, version, plural } = chaosMeshResources[kind];
      const items = await listed<ChaosObject>(errors, namespace, () =>
        kube.callIfExists(
          { verb: 'list', resource: resourceName(kind), namespace },
          async () =>
            (await kube.custom.listNamespacedCustomObject({
              group,
              version,
              plural,
              namespace,
              labelSelector: runLabel,
            })) as Listing<ChaosObject>,
        ),
      );
      return items.flatMap((object) => chaosFinding(context, kind, object) ?? []);
    }),
  );
  const nodes = (async () => {
    const items = await listed<V1Node>(errors, undefined, () =>
      kube.call({ verb: 'list', resource: 'nodes' }, () => kube.core.listNode()),
    );
    return items.flatMap((node) => cordonFinding(context, node) ?? []);
  })();
  const workloads = policy.namespaces.map(async (namespace) => {
    const [deployments, statefulSets] = await Promise.all([
      listed<V1Deployment>(errors, namespace, () =>
        kube.call({ verb: 'list', resource: 'deployments', namespace }, () =>
          kube.apps.listNamespacedDeployment({ namespace }),
        ),
      ),
      listed<V1StatefulSet>(errors, namespace, () =>
        kube.call({ verb: 'list', resource: 'statefulsets', namespace }, () =>
          kube.apps.listNamespacedStatefulSet({ namespace }),
        ),
      ),
    ]);
    return [
      ...deployments.flatMap((workload) => scaleFinding(context, 'deployment', workload) ?? []),
      ...statefulSets.flatMap((workload) => scaleFinding(context, 'statefulset', workload) ?? []),
    ];
  });
  const found = (await Promise.all([...chaos, nodes, ...workloads])).flat();
  return { found, errors };
}

/** Whether the one object a leftover names still shows it (read again after its removal). */
export async function stillThere(
  context: string,
  kube: KubernetesClient,
  leftover: ClusterLeftover,
): Promise<FoundClusterFault | undefined> {
  const same = (found: FoundClusterFault | undefined) =>
    found?.leftover !== undefined && JSON.stringify(found.leftover) === JSON.stringify(leftover)
      ? found
      : undefined;
  if (leftover.type === 'chaos-mesh') {
    const kind = chaosMeshKinds.find((known) => known === leftover.kind);
    if (kind === undefined) throw new Error(`${leftover.kind} is not a Chaos Mesh kind gameday creates`);
    const { group, version, plural } = chaosMeshResources[kind];
    const { namespace, name } = leftover;
    const object = await kube.callIfExists(
      { verb: 'get', resource: resourceName(kind), namespace, name },
      async () =>
        (await kube.custom.getNamespacedCustomObject({
          group,
          version,
          plural,
          namespace,
          name,
        })) as ChaosObject,
    );
    return object === undefined ? undefined : chaosFinding(context, kind, object);
  }
  if (leftover.type === 'cordon') {
    const node = await kube.callIfExists({ verb: 'get', resource: 'nodes', name: leftover.node }, () =>
      kube.core.readNode({ name: leftover.node }),
    );
    return same(node && cordonFinding(context, node));
  }
  const at = { namespace: leftover.namespace, name: leftover.name };
  const action = { verb: 'get', resource: `${leftover.resource}s`, ...at };
  const workload =
    leftover.resource === 'deployment'
      ? await kube.callIfExists(action, () => kube.apps.readNamespacedDeployment(at))
      : await kube.callIfExists(action, () => kube.apps.readNamespacedStatefulSet(at));
  return workload && workload.metadata?.uid === leftover.uid
    ? scaleFinding(context, leftover.resource, workload)
    : undefined;
}
