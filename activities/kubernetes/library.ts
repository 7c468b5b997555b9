import type * as KubernetesLibrary from '@kubernetes/client-node';

let loaded: typeof KubernetesLibrary | undefined;

/**
 * @kubernetes/client-node, loaded on first use. It takes about a second to load, and the CLI reaches every
 * fault and check kind through the plan schema's registries without ever calling it; only a worker with
 * Kubernetes contexts does. Types come from `import type`, which loads nothing.
 */
export function kubernetesLibrary(): typeof KubernetesLibrary {
  // A synchronous require (this project compiles to CommonJS): an `instanceof ApiException` cannot await.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require('@kubernetes/client-node') as typeof KubernetesLibrary;
  return loaded;
}
