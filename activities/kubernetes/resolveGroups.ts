import type { KubernetesObject } from '@kubernetes/client-node';
import { describeSelection, labelSelectorText, type KubernetesSelection } from '../../plan/kubernetes';
import type { Plan } from '../../plan/schema';
import type { KubernetesTarget } from '../../plan/targets';
import type { KubernetesClient } from './client';
import { optInAnnotation, type KubernetesClusters } from './clusters';

/** A Kubernetes target group, resolved: its objects now, and whether they are every pod of the namespace. */
export interface KubernetesGroup {
  readonly targets: readonly KubernetesTarget[];
  /** The selector takes every pod of its namespace: only `select: { mode: all }` may say so. */
  readonly wholeNamespace: boolean;
  /** The group's namespace as one target, for kinds that act on a namespace (a Chaos Mesh experiment). */
  readonly namespace?: KubernetesTarget;
}

export type KubernetesGroups = ReadonlyMap<string, KubernetesGroup>;

type Refuse = (message: string) => never;

/** Who in the plan uses a context, for refusals: `target group "brokers"`, `check web-ready`. */
export interface KubernetesUser {
  readonly who: string;
  /** How it uses the namespace: target groups and recovery actions act in it, checks read it. */
  readonly verb: 'acts in' | 'reads';
}

/** The worker's context a plan names, its namespace allow-list enforced (no request made). */
export function allowedContext(
  clusters: KubernetesClusters | undefined,
  { who, verb }: KubernetesUser,
  selection: { readonly context: string; readonly namespace?: string | undefined },
  refuse: Refuse,
): KubernetesClient {
  const policy = clusters?.policy(selection.context);
  if (clusters === undefined || policy === undefined) {
    refuse(
      `${who} names Kubernetes context "${selection.context}", which this worker does not have ` +
        `(known: ${clusters?.contexts.join(', ') || 'none'}); add it under kubernetes.contexts in the worker configuration`,
    );
  }
  const { namespace } = selection;
  if (namespace !== undefined && !policy.namespaces.includes(namespace)) {
    refuse(
      `${who} ${verb} namespace ${namespace}, which context ${selection.context} does not allow ` +
        `(allowed: ${policy.namespaces.join(', ') || 'none'}); add it to kubernetes.contexts.${selection.context}.namespaces`,
    );
  }
  return clusters.client(selection.context);
}

/** The context's client, its allow-list enforced and, where the context requires it, the namespace's opt-in. */
export async function allowedClient(
  clusters: KubernetesClusters | undefined,
  user: KubernetesUser,
  selection: { readonly context: string; readonly namespace?: string | undefined },
  refuse: Refuse,
): Promise<KubernetesClient> {
  const client = allowedContext(clusters, user, selection, refuse);
  const { namespace } = selection;
  if (namespace !== undefined && clusters?.policy(selection.context)?.requireOptIn === true) {
    const found = await client.callIfExists({ verb: 'get', resource: 'namespaces', name: namespace }, () =>
      client.core.readNamespace({ name: namespace }),
    );
    if (found === undefined)
      refuse(`${user.who}: namespace ${namespace} does not exist (context ${selection.context})`);
    if (found.metadata?.annotations?.[optInAnnotation.key] !== optInAnnotation.value) {
      refuse(
        `${user.who}: namespace ${namespace} has not opted in to game days; its owners can ` +
          `annotate it: kubectl annotate namespace ${namespace} ${optInAnnotation.key}=${optInAnnotation.value}`,
      );
    }
  }
  return client;
}

const live = (object: KubernetesObject) => object.metadata?.deletionTimestamp === undefined;

/** The group's objects now (not those being deleted), by its selectors. */
async function listObjects(
  client: KubernetesClient,
  selection: KubernetesSelection,
): Promise<KubernetesObject[]> {
  const labelSelector = labelSelectorText(selection.selector.labels);
  const query = {
    ...(labelSelector === undefined ? {} : { labelSelector }),
    ...(selection.selector.fields === undefined ? {} : { fieldSelector: selection.selector.fields }),
  };
  const namespace = selection.namespace ?? '';
  const resource = `${selection.kind}s`;
  const list = (request: () => Promise<{ items: KubernetesObject[] }>) =>
    client.call({ verb: 'list', resource, ...(selection.namespace ? { namespace } : {}) }, request);
  switch (selection.kind) {
    case 'pod':
      return (await list(() => client.core.listNamespacedPod({ namespace, ...query }))).items.filter(live);
    case 'node':
      return (await list(() => client.core.listNode(query))).items.filter(live);
    case 'deployment':
      return (await list(() => client.apps.listNamespacedDeployment({ namespace, ...query }))).items.filter(
        live,
      );
    case 'statefulset':
      return (await list(() => client.apps.listNamespacedStatefulSet({ namespace, ...query }))).items.filter(
        live,
      );
  }
}

function targetOf(group: string, selection: KubernetesSelection, object: KubernetesObject): KubernetesTarget {
  const name = object.metadata?.name ?? '';
  const { namespace, kind: resource, context } = selection;
  return {
    group,
    kind: 'kubernetes',
    name:
      namespace === undefined
        ? name
        : resource === 'pod'
          ? `${namespace}/${name}`
          : `${namespace}/${resource}/${name}`,
    context,
    ...(namespace === undefined ? {} : { namespace }),
    resource,
    object: name,
    ...(object.metadata?.uid === undefined ? {} : { uid: object.metadata.uid }),
  };
}

/**
 * Lists the objects of every Kubernetes target group, enforcing the worker's allow-lists and the namespaces'
 * opt-in. A selector that matches nothing is the plan's mistake, said plainly. Groups only namespace-scoped
 * kinds act on are not listed (the kind selects its own objects, e.g. a Chaos Mesh experiment's selector).
 */
export async function resolveKubernetesGroups(
  clusters: KubernetesClusters | undefined,
  plan: Plan,
  needsObjects: (group: string) => boolean,
  refuse: Refuse,
): Promise<KubernetesGroups> {
  const groups = new Map<string, KubernetesGroup>();
  for (const [group, definition] of Object.entries(plan.targets)) {
    const selection = definition.kubernetes;
    if (selection === undefined) continue;
    const client = await allowedClient(
      clusters,
      { who: `target group "${group}"`, verb: 'acts in' },
      selection,
      refuse,
    );
    const namespace: KubernetesTarget | undefined =
      selection.namespace === undefined
        ? undefined
        : {
            group,
            kind: 'kubernetes',
            name: selection.namespace,
            context: selection.context,
            namespace: selection.namespace,
            resource: 'namespace',
          };
    if (!needsObjects(group)) {
      groups.set(group, { targets: [], wholeNamespace: false, ...(namespace ? { namespace } : {}) });
      continue;
    }
    const objects = await listObjects(client, selection);
    if (objects.length === 0) {
      refuse(
        `target group "${group}" selects nothing: no ${describeSelection(selection)}; check its labels and namespace`,
      );
    }
    let wholeNamespace = false;
    if (selection.kind === 'pod' && selection.namespace !== undefined) {
      const all = await listObjects(client, { ...selection, selector: {} });
      wholeNamespace = all.length === objects.length;
    }
    const targets = objects.map((object) => targetOf(group, selection, object));
    groups.set(group, { targets, wholeNamespace, ...(namespace ? { namespace } : {}) });
  }
  return groups;
}
