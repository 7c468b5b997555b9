import type { KubernetesClient } from './client';

/** What the worker allows in one of its Kubernetes contexts. */
export interface KubernetesContextPolicy {
  /** The namespaces plans may act in; nothing else is ever touched (nodes are cluster-wide). */
  readonly namespaces: readonly string[];
  /** Whether a target namespace must carry `gameday.dev/chaos: enabled` to be acted in. */
  readonly requireOptIn: boolean;
}

/** The annotation a namespace carries when its owners opted in to game days. */
export const optInAnnotation = { key: 'gameday.dev/chaos', value: 'enabled' } as const;

/** The label and annotation every object gameday creates or changes carries: the run's tag. */
export const runLabel = 'gameday.dev/run';

/** The worker's Kubernetes contexts, by the names plans use; each a client and its allow-list. */
export interface KubernetesClusters {
  readonly contexts: readonly string[];
  policy(context: string): KubernetesContextPolicy | undefined;
  /** The client of a context this worker has (plans naming others are refused at resolve). */
  client(context: string): KubernetesClient;
}
