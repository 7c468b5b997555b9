import type {
  ApiException,
  AppsV1Api,
  ConfigurationOptions,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PolicyV1Api,
} from '@kubernetes/client-node';
import { kubernetesLibrary } from './library';

/** What a Kubernetes call was for, so its failure names the verb, the resource and the namespace. */
export interface KubernetesAction {
  readonly verb: string;
  /** "pods", "pods/eviction", "iochaos.chaos-mesh.org", … */
  readonly resource: string;
  readonly namespace?: string;
  readonly name?: string;
}

/**
 * A Kubernetes call that failed. `status` is the HTTP status (0 when the API server could not be reached);
 * `refused` marks what retrying cannot fix (RBAC, a bad request), said once instead of retried.
 */
export class KubernetesError extends Error {
  override readonly name = 'KubernetesError';
  constructor(
    message: string,
    readonly status: number,
    readonly refused: boolean,
  ) {
    super(message);
  }
}

function describeAction(action: KubernetesAction, context: string): string {
  const object = action.name === undefined ? action.resource : `${action.resource} ${action.name}`;
  const where = action.namespace === undefined ? '' : ` in namespace ${action.namespace}`;
  return `${action.verb} ${object}${where} (context ${context})`;
}

/** The Status message the API server sent with a refusal, if any. */
function statusMessage(body: unknown): string | undefined {
  if (typeof body === 'string') {
    try {
      return statusMessage(JSON.parse(body) as unknown);
    } catch {
      return body.slice(0, 300) || undefined;
    }
  }
  if (typeof body === 'object' && body !== null && 'message' in body) {
    const message = (body as { message?: unknown }).message;
    return typeof message === 'string' ? message : undefined;
  }
  return undefined;
}

/**
 * One context of the worker's Kubernetes configuration: the typed API clients fault and check kinds use, and
 * one place that turns a failed call into a message naming what was asked. Credentials stay in the KubeConfig.
 */
export class KubernetesClient {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly policy: PolicyV1Api;
  readonly custom: CustomObjectsApi;

  constructor(
    /** The worker's name for this context, as plans write it. */
    readonly context: string,
    readonly config: KubeConfig,
  ) {
    const k8s = kubernetesLibrary();
    this.core = config.makeApiClient(k8s.CoreV1Api);
    this.apps = config.makeApiClient(k8s.AppsV1Api);
    this.policy = config.makeApiClient(k8s.PolicyV1Api);
    this.custom = config.makeApiClient(k8s.CustomObjectsApi);
  }

  /** Requests made through `call` and `callIfExists`, for benchmarks (API calls per target). */
  requests = 0;

  /** Runs a call; its failure becomes a KubernetesError naming the verb, resource and namespace. */
  async call<T>(action: KubernetesAction, request: () => Promise<T>): Promise<T> {
    this.requests++;
    try {
      return await request();
    } catch (error) {
      throw this.failure(action, error);
    }
  }

  /** Like `call`, but a 404 (the object is gone) is `undefined`: a rollback of something gone succeeds. */
  async callIfExists<T>(action: KubernetesAction, request: () => Promise<T>): Promise<T | undefined> {
    this.requests++;
    try {
      return await request();
    } catch (error) {
      if (error instanceof kubernetesLibrary().ApiException && error.code === 404) return undefined;
      throw this.failure(action, error);
    }
  }

  failure(action: KubernetesAction, error: unknown): KubernetesError {
    const what = describeAction(action, this.context);
    if (!(error instanceof kubernetesLibrary().ApiException)) {
      const reason = error instanceof Error ? error.message : String(error);
      return new KubernetesError(`cannot ${what}: the API server did not answer (${reason})`, 0, false);
    }
    const status = (error as ApiException<unknown>).code;
    const message = statusMessage((error as ApiException<unknown>).body) ?? `HTTP ${status}`;
    if (status === 401 || status === 403) {
      return new KubernetesError(
        `not allowed to ${what}: ${message}; grant the worker's identity "${action.verb}" on ` +
          `${action.resource} (deploy/kubernetes has the roles gameday needs)`,
        status,
        true,
      );
    }
    const refused = status >= 400 && status < 500 && status !== 404 && status !== 409 && status !== 429;
    return new KubernetesError(`cannot ${what}: HTTP ${status}: ${message}`, status, refused);
  }
}

/** Options that send a patch as a JSON merge patch (the client's default content type is JSON Patch). */
export const mergePatch = (): ConfigurationOptions => {
  const { setHeaderOptions, PatchStrategy } = kubernetesLibrary();
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
};
