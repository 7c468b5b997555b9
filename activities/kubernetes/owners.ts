import type { V1OwnerReference } from '@kubernetes/client-node';
import type { KubernetesClient } from './client';

/** The controller of an object (a pod's ReplicaSet, StatefulSet or DaemonSet), by kind and name. */
export interface Owner {
  readonly kind: string;
  readonly name: string;
}

export function controllerOf(references: readonly V1OwnerReference[] | undefined): Owner | undefined {
  const controller = references?.find((reference) => reference.controller === true);
  return controller && { kind: controller.kind, name: controller.name };
}

/** How many of its pods an owner wants, and how many are Ready; undefined when the owner is gone. */
export interface OwnerReadiness {
  readonly ready: number;
  readonly desired: number;
}

/** Owner kinds whose desired and Ready counts gameday can read; another owner is not waited for. */
export const ownersWithReadiness = ['ReplicaSet', 'StatefulSet', 'DaemonSet'] as const;

export async function ownerReadiness(
  kube: KubernetesClient,
  namespace: string,
  owner: Owner,
): Promise<OwnerReadiness | undefined> {
  const action = { verb: 'get', resource: `${owner.kind.toLowerCase()}s`, namespace, name: owner.name };
  const read = <T>(request: () => Promise<T>) => kube.callIfExists(action, request);
  switch (owner.kind) {
    case 'ReplicaSet': {
      const set = await read(() => kube.apps.readNamespacedReplicaSet({ name: owner.name, namespace }));
      return set && { desired: set.spec?.replicas ?? 1, ready: set.status?.readyReplicas ?? 0 };
    }
    case 'StatefulSet': {
      const set = await read(() => kube.apps.readNamespacedStatefulSet({ name: owner.name, namespace }));
      return set && { desired: set.spec?.replicas ?? 1, ready: set.status?.readyReplicas ?? 0 };
    }
    case 'DaemonSet': {
      const set = await read(() => kube.apps.readNamespacedDaemonSet({ name: owner.name, namespace }));
      return set && { desired: set.status?.desiredNumberScheduled ?? 0, ready: set.status?.numberReady ?? 0 };
    }
    default:
      return undefined;
  }
}
