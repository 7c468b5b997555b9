import type { ConfigurationOptions, V1Pod } from '@kubernetes/client-node';
import { kubernetesLibrary } from '../kubernetes/library';
import { describeSelection, labelSelectorText, type KubernetesSelection } from '../../plan/kubernetes';
import type { KubernetesClient } from '../kubernetes/client';
import type { KubernetesClusters } from '../kubernetes/clusters';
import { CouldNotAsk } from './contract';

// What the kubernetes check and the recovery actions share: the worker's client for a selection (its
// allow-list enforced again where the request is made), pods as `kubectl get pods -l` lists them, and
// readiness as kubectl's READY column counts it.

/** The pods of a selection: context, namespace and selectors (kind is pod). */
export type PodSelection = Pick<KubernetesSelection, 'context' | 'namespace' | 'selector'>;

/**
 * The client of the selection's context, when the worker has it and allows its namespace; otherwise the
 * probe could not ask (resolve refuses such plans, so this is met only outside a game day, or by a worker
 * whose configuration changed under a running one).
 */
export function clientFor(
  clusters: KubernetesClusters | undefined,
  selection: Pick<PodSelection, 'context' | 'namespace'>,
): KubernetesClient {
  const policy = clusters?.policy(selection.context);
  if (clusters === undefined || policy === undefined) {
    throw new CouldNotAsk(
      `this worker has no Kubernetes context "${selection.context}" ` +
        `(known: ${clusters?.contexts.join(', ') || 'none'})`,
    );
  }
  const namespace = selection.namespace ?? '';
  if (!policy.namespaces.includes(namespace)) {
    throw new CouldNotAsk(
      `context ${selection.context} does not allow namespace ${namespace} ` +
        `(allowed: ${policy.namespaces.join(', ') || 'none'})`,
    );
  }
  return clusters.client(selection.context);
}

/**
 * Request options that abort the request when `signal` fires (a check's timeout, the activity's cancellation):
 * the client has no timeout of its own, and a stalled API server must not hold a probe forever. The signal is
 * set on each request by a middleware, the client's own hook for changing a request.
 */
export function abortedBy(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (request) => {
          request.setSignal(signal);
          return new (kubernetesLibrary().Observable)(Promise.resolve(request));
        },
        post: (response) => new (kubernetesLibrary().Observable)(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

/** A signal that fires after `ms`, or when `outer` (the activity's cancellation) fires. */
export function timeoutSignal(ms: number, outer?: AbortSignal): AbortSignal {
  return outer === undefined ? AbortSignal.timeout(ms) : AbortSignal.any([outer, AbortSignal.timeout(ms)]);
}

/** The selection's pods now, not those being deleted, by name. */
export async function listPods(
  kube: KubernetesClient,
  selection: PodSelection,
  options?: ConfigurationOptions,
): Promise<V1Pod[]> {
  const namespace = selection.namespace ?? '';
  const labelSelector = labelSelectorText(selection.selector.labels);
  const fieldSelector = selection.selector.fields;
  const list = await kube.call({ verb: 'list', resource: 'pods', namespace }, () =>
    kube.core.listNamespacedPod(
      {
        namespace,
        ...(labelSelector === undefined ? {} : { labelSelector }),
        ...(fieldSelector === undefined ? {} : { fieldSelector }),
      },
      options,
    ),
  );
  return list.items
    .filter((pod) => pod.metadata?.deletionTimestamp === undefined)
    .sort((a, b) => podName(a).localeCompare(podName(b)));
}

export const podName = (pod: V1Pod): string => pod.metadata?.name ?? '';

/** "pods app=web in shop (context prod)". */
export const describePods = (selection: PodSelection): string =>
  describeSelection({ ...selection, kind: 'pod' });

/**
 * Whether a pod is Ready as kubectl's READY column says it: every container reports `ready` (n/n), whatever
 * the phase — a Running pod whose container fails its readiness probe is not Ready.
 */
export function podReady(pod: V1Pod): boolean {
  const statuses = pod.status?.containerStatuses ?? [];
  const containers = pod.spec?.containers.length ?? 0;
  return statuses.length > 0 && statuses.length >= containers && statuses.every((status) => status.ready);
}

/** Why a pod is not Ready, in kubectl's words: "0/1 ready, Running", "Pending, no container started". */
export function readiness(pod: V1Pod): string {
  const statuses = pod.status?.containerStatuses ?? [];
  const phase = pod.status?.phase ?? 'Unknown';
  if (statuses.length === 0) return `${phase}, no container started`;
  const containers = Math.max(pod.spec?.containers.length ?? 0, statuses.length);
  const ready = statuses.filter((status) => status.ready).length;
  return `${ready}/${containers} ready, ${phase}`;
}

/** The pod's restarts as kubectl's RESTARTS column counts them: its containers' restart counts summed. */
export function restartCount(pod: V1Pod): number {
  return (pod.status?.containerStatuses ?? []).reduce((sum, status) => sum + status.restartCount, 0);
}
