import { kubernetesLibrary } from '../activities/kubernetes/library';
import { KubernetesClient } from '../activities/kubernetes/client';
import type { KubernetesClusters } from '../activities/kubernetes/clusters';
import type { WorkerConfig } from './config';

/**
 * The worker's Kubernetes contexts: each loaded when first used (a kubeconfig file and context, or the pod's
 * own service account), its credentials never leaving the KubeConfig.
 */
export function kubernetesClusters(config: WorkerConfig['kubernetes']): KubernetesClusters {
  const clients = new Map<string, KubernetesClient>();
  const contexts = Object.keys(config.contexts);
  return {
    contexts,
    policy: (name) => {
      const context = config.contexts[name];
      return context && { namespaces: context.namespaces, requireOptIn: context.requireOptIn };
    },
    client(name) {
      const known = clients.get(name);
      if (known) return known;
      const context = config.contexts[name];
      if (context === undefined)
        throw new Error(`no Kubernetes context "${name}" in this worker's configuration`);
      const kubeConfig = new (kubernetesLibrary().KubeConfig)();
      if (context.inCluster) {
        kubeConfig.loadFromCluster();
      } else {
        kubeConfig.loadFromFile(context.kubeconfig ?? '');
        if (context.context !== undefined) kubeConfig.setCurrentContext(context.context);
      }
      const client = new KubernetesClient(name, kubeConfig);
      clients.set(name, client);
      return client;
    },
  };
}
