import type { V1Pod } from '@kubernetes/client-node';
import type { KubernetesFaultContext } from '../faults/contract';
import { podOfRecord, recordsOf, type ChaosObject } from './chaosMeshExperiment';

// The pods an experiment injected, recorded by inject (on the experiment, in an annotation) with each pod's UID
// and restart count, so that rollback can say which of them restarted or were replaced during the window.

/** A pod the experiment injected, as it was once Chaos Mesh said AllInjected. */
export interface InjectedPod {
  /** The record's id: `namespace/pod` or `namespace/pod/container`. */
  readonly id: string;
  readonly uid?: string;
  readonly restarts?: number;
  readonly injectedCount?: number;
}

/** The annotation that carries the injected pods from inject to rollback, on the experiment itself. */
export const injectedAnnotation = 'gameday.dev/injected';
const maxRecordedPods = 200;

/** The pod by name, or undefined when it (or its namespace) is gone. */
export async function readPod(ctx: KubernetesFaultContext, namespace: string, name: string) {
  return ctx.kube.callIfExists({ verb: 'get', resource: 'pods', namespace, name }, () =>
    ctx.kube.core.readNamespacedPod({ namespace, name }),
  );
}

/**
 * The pods of these records by `namespace/name`, one list per namespace (an experiment on 100 pods is one
 * request, not 100). A pod (or namespace) that is gone is simply absent.
 */
async function podsOfRecords(
  ctx: KubernetesFaultContext,
  ids: readonly string[],
): Promise<Map<string, V1Pod>> {
  const namespaces = new Set(ids.flatMap((id) => podOfRecord(id)?.namespace ?? []));
  const pods = new Map<string, V1Pod>();
  for (const namespace of namespaces) {
    const list = await ctx.kube.call({ verb: 'list', resource: 'pods', namespace }, () =>
      ctx.kube.core.listNamespacedPod({ namespace }),
    );
    for (const pod of list.items) pods.set(`${namespace}/${pod.metadata?.name ?? ''}`, pod);
  }
  return pods;
}

/** The injected pods, with each one's UID and restart count now (the baseline rollback compares with). */
export async function injectedPods(ctx: KubernetesFaultContext, object: ChaosObject): Promise<InjectedPod[]> {
  const records = recordsOf(object).slice(0, maxRecordedPods);
  const pods = await podsOfRecords(
    ctx,
    records.map((record) => record.id),
  );
  const result: InjectedPod[] = [];
  for (const record of records) {
    const where = podOfRecord(record.id);
    if (where === undefined) continue;
    const pod = pods.get(`${where.namespace}/${where.pod}`);
    const statuses = pod?.status?.containerStatuses ?? [];
    const restarts = where.container
      ? statuses.find((status) => status.name === where.container)?.restartCount
      : statuses.reduce((sum, status) => sum + status.restartCount, 0);
    result.push({
      id: record.id,
      ...(pod?.metadata?.uid ? { uid: pod.metadata.uid } : {}),
      ...(restarts === undefined ? {} : { restarts }),
      ...(record.injectedCount === undefined ? {} : { injectedCount: record.injectedCount }),
    });
  }
  return result;
}

/** The injected pods recorded on the experiment, if inject got that far. */
export function injectedOf(object: ChaosObject | undefined): InjectedPod[] | undefined {
  const text = object?.metadata?.annotations?.[injectedAnnotation];
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    return Array.isArray(parsed) ? (parsed as InjectedPod[]) : undefined;
  } catch {
    return undefined;
  }
}

/** Notes, per injected pod, whether it restarted or was replaced during the window, and whether Chaos Mesh re-injected it. */
export async function noteRestarts(
  ctx: KubernetesFaultContext,
  object: ChaosObject,
  injected: readonly InjectedPod[],
) {
  const pods = await podsOfRecords(
    ctx,
    injected.map((pod) => pod.id),
  );
  for (const pod of injected) {
    const where = podOfRecord(pod.id);
    if (where === undefined) continue;
    const now = pods.get(`${where.namespace}/${where.pod}`);
    const record = recordsOf(object).find((r) => r.id === pod.id);
    const before = pod.injectedCount ?? 0;
    const after = record?.injectedCount ?? 0;
    const reinjected =
      record === undefined
        ? 'its record is gone from the experiment'
        : after > before
          ? `Chaos Mesh re-injected it (injectedCount ${before} → ${after})`
          : `Chaos Mesh did not re-inject it (injectedCount still ${after})`;
    const container = where.container
      ? now?.status?.containerStatuses?.find((s) => s.name === where.container)
      : undefined;
    const restarts = where.container
      ? container?.restartCount
      : (now?.status?.containerStatuses ?? []).reduce((sum, s) => sum + s.restartCount, 0);
    if (now === undefined)
      ctx.note(`pod ${where.namespace}/${where.pod} was deleted during the window; ${reinjected}`);
    else if (pod.uid !== undefined && now.metadata?.uid !== pod.uid)
      ctx.note(`pod ${where.namespace}/${where.pod} was replaced during the window (new UID); ${reinjected}`);
    else if (restarts !== undefined && pod.restarts !== undefined && restarts > pod.restarts)
      ctx.note(
        `${pod.id} restarted ${restarts - pod.restarts} time(s) during the window (restarts ${pod.restarts} → ${restarts}); ${reinjected}`,
      );
  }
}
