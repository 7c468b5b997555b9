import type { V1ObjectMeta, V1Pod } from '@kubernetes/client-node';
import type { KubernetesClient } from './client';
import { chaosMeshResources, selectorsOf, type ChaosMeshKind } from './chaosMeshSpec';

// Reading a Chaos Mesh experiment as its controller leaves it: conditions, container records, events; and
// choosing pods as its selector would, to refuse one that selects nothing or the whole namespace.

export interface ChaosCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
}

/** One injected container (or pod) of an experiment: `namespace/pod` or `namespace/pod/container`. */
export interface ContainerRecord {
  readonly id: string;
  readonly phase?: string;
  readonly injectedCount?: number;
  readonly recoveredCount?: number;
  readonly events?: readonly { type?: string; operation?: string; message?: string; timestamp?: string }[];
}

/** A Chaos Mesh custom object, as the API returns it (the client hands custom objects back untyped). */
export interface ChaosObject {
  readonly metadata?: V1ObjectMeta;
  readonly spec?: Record<string, unknown>;
  readonly status?: {
    readonly conditions?: readonly ChaosCondition[];
    readonly experiment?: {
      readonly containerRecords?: readonly ContainerRecord[];
      readonly desiredPhase?: string;
    };
  };
}

/** Where one experiment of a run lives. */
export interface ExperimentRef {
  readonly kind: ChaosMeshKind;
  readonly namespace: string;
  readonly name: string;
}

export const resourceName = (kind: ChaosMeshKind) =>
  `${chaosMeshResources[kind].plural}.${chaosMeshResources[kind].group}`;

export const describeExperiment = (ref: ExperimentRef) => `${ref.kind} ${ref.namespace}/${ref.name}`;

/** The coordinates of an experiment's kind for CustomObjectsApi. */
export function coordinates(ref: ExperimentRef) {
  const { group, version, plural } = chaosMeshResources[ref.kind];
  return { group, version, plural, namespace: ref.namespace };
}

/** The experiment now, or undefined when it (or its namespace) is gone. */
export async function readExperiment(
  kube: KubernetesClient,
  ref: ExperimentRef,
): Promise<ChaosObject | undefined> {
  return kube.callIfExists(
    { verb: 'get', resource: resourceName(ref.kind), namespace: ref.namespace, name: ref.name },
    async () =>
      (await kube.custom.getNamespacedCustomObject({ ...coordinates(ref), name: ref.name })) as ChaosObject,
  );
}

export const conditionOf = (object: ChaosObject | undefined, type: string) =>
  object?.status?.conditions?.find((condition) => condition.type === type);

export const isInjected = (object: ChaosObject | undefined) =>
  conditionOf(object, 'AllInjected')?.status === 'True';

export const recordsOf = (object: ChaosObject | undefined): readonly ContainerRecord[] =>
  object?.status?.experiment?.containerRecords ?? [];

/** "Selected=True, AllInjected=False (reason)". */
export function describeConditions(object: ChaosObject | undefined): string {
  const conditions = object?.status?.conditions ?? [];
  if (conditions.length === 0) return 'no conditions';
  return conditions
    .map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}`)
    .join(', ')
    .slice(0, 500);
}

/** What the controller said about its records that did not go well: "ns/pod/c: Failed Apply: toda …". */
export function recordFailures(object: ChaosObject | undefined): string[] {
  return recordsOf(object).flatMap((record) => {
    const failed = (record.events ?? []).filter((event) => event.type === 'Failed' && event.message);
    const last = failed[failed.length - 1];
    return last ? [`${record.id}: ${last.operation ?? 'Failed'}: ${last.message?.slice(0, 300) ?? ''}`] : [];
  });
}

/** The experiment's own Kubernetes events (Warning first), as `kubectl describe` shows them. */
export async function experimentEvents(kube: KubernetesClient, ref: ExperimentRef): Promise<string> {
  try {
    const events = await kube.call({ verb: 'list', resource: 'events', namespace: ref.namespace }, () =>
      kube.core.listNamespacedEvent({
        namespace: ref.namespace,
        fieldSelector: `involvedObject.kind=${ref.kind},involvedObject.name=${ref.name}`,
      }),
    );
    const said = [...new Set(events.items.map((event) => `${event.reason ?? event.type}: ${event.message}`))];
    return said.length === 0 ? 'no events' : said.slice(-5).join('; ').slice(0, 1000);
  } catch (error) {
    return `events not read (${(error as Error).message})`;
  }
}

/** "namespace/pod" of a record id ("namespace/pod" or "namespace/pod/container"), and its container if any. */
export function podOfRecord(id: string): { namespace: string; pod: string; container?: string } | undefined {
  const [namespace, pod, container] = id.split('/');
  if (!namespace || !pod) return undefined;
  return { namespace, pod, ...(container ? { container } : {}) };
}

// ---- the pods a selector would choose -----------------------------------------------------------------------

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const stringMap = (value: unknown): Record<string, string> =>
  isRecord(value)
    ? Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'))
    : {};

/** The label selector text of labelSelectors and expressionSelectors, as the API takes it. */
export function labelSelectorOf(selector: Record<string, unknown>): string {
  const parts = Object.entries(stringMap(selector.labelSelectors)).map(([key, value]) => `${key}=${value}`);
  const expressions = Array.isArray(selector.expressionSelectors) ? selector.expressionSelectors : [];
  for (const expression of expressions) {
    if (!isRecord(expression) || typeof expression.key !== 'string') continue;
    const values = Array.isArray(expression.values) ? expression.values.join(',') : '';
    switch (expression.operator) {
      case 'In':
        parts.push(`${expression.key} in (${values})`);
        break;
      case 'NotIn':
        parts.push(`${expression.key} notin (${values})`);
        break;
      case 'Exists':
        parts.push(expression.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${expression.key}`);
        break;
    }
  }
  return parts.join(',');
}

/** Whether a pod passes the selector's filters the API cannot apply (annotations, names, nodes, phases). */
function passesFilters(selector: Record<string, unknown>, namespace: string, pod: V1Pod): boolean {
  const annotations = pod.metadata?.annotations ?? {};
  if (!Object.entries(stringMap(selector.annotationSelectors)).every(([k, v]) => annotations[k] === v))
    return false;
  const names = isRecord(selector.pods) ? selector.pods[namespace] : undefined;
  if (isRecord(selector.pods) && !(Array.isArray(names) && names.includes(pod.metadata?.name))) return false;
  if (
    Array.isArray(selector.nodes) &&
    selector.nodes.length > 0 &&
    !selector.nodes.includes(pod.spec?.nodeName)
  )
    return false;
  const phases = selector.podPhaseSelectors;
  return !(Array.isArray(phases) && phases.length > 0 && !phases.includes(pod.status?.phase));
}

export interface SelectionPreview {
  /** "selector" or "target.selector". */
  readonly path: string;
  readonly matched: number;
  /** Live pods of the namespace. */
  readonly inNamespace: number;
  readonly mode: unknown;
  /** nodeSelectors are not applied here: `matched` is then an upper bound. */
  readonly upperBound: boolean;
}

/** How many live pods of the namespace each selector of the spec matches now. */
export async function previewSelection(
  kube: KubernetesClient,
  namespace: string,
  spec: Record<string, unknown>,
): Promise<SelectionPreview[]> {
  const live = (pods: V1Pod[]) => pods.filter((pod) => pod.metadata?.deletionTimestamp === undefined);
  const list = (query: { labelSelector?: string; fieldSelector?: string }) =>
    kube.call({ verb: 'list', resource: 'pods', namespace }, () =>
      kube.core.listNamespacedPod({ namespace, ...query }),
    );
  const all = live((await list({})).items);
  const previews: SelectionPreview[] = [];
  for (const { path, selector, mode } of selectorsOf(spec)) {
    if (!isRecord(selector)) continue;
    const labelSelector = labelSelectorOf(selector);
    const fieldSelector = Object.entries(stringMap(selector.fieldSelectors))
      .map(([key, value]) => `${key}=${value}`)
      .join(',');
    const candidates =
      labelSelector === '' && fieldSelector === ''
        ? all
        : live(
            (
              await list({
                ...(labelSelector ? { labelSelector } : {}),
                ...(fieldSelector ? { fieldSelector } : {}),
              })
            ).items,
          );
    previews.push({
      path: path.join('.'),
      matched: candidates.filter((pod) => passesFilters(selector, namespace, pod)).length,
      inNamespace: all.length,
      mode,
      upperBound: Object.keys(stringMap(selector.nodeSelectors)).length > 0,
    });
  }
  return previews;
}
