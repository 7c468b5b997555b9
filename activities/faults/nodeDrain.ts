import type { ApiException, V1Pod } from '@kubernetes/client-node';
import { kubernetesLibrary } from '../kubernetes/library';
import { z } from 'zod';
import { duration, formatDuration } from '../../plan/duration';
import { mergePatch } from '../kubernetes/client';
import { optInAnnotation, runLabel } from '../kubernetes/clusters';
import { controllerOf, ownerReadiness, ownersWithReadiness, type Owner } from '../kubernetes/owners';
import {
  FaultUserError,
  type FaultState,
  type KubernetesFaultContext,
  type KubernetesFaultKind,
} from './contract';
import { cordon, cordonState, prepareCordon, uncordon, type CordonSaved } from './nodeCordon';

const params = z
  .strictObject({
    deleteEmptyDirData: z
      .boolean()
      .default(false)
      .describe(
        'evict pods with emptyDir volumes too (their data is lost), as kubectl drain --delete-emptydir-data',
      ),
    force: z
      .boolean()
      .default(false)
      .describe('evict pods no controller owns too (they stay gone), as kubectl drain --force'),
    gracePeriod: duration({ max: '10m' })
      .optional()
      .describe('how long each evicted pod gets to stop (default: its own terminationGracePeriodSeconds)'),
    // Below the inject activity's 60 s, so that a budget that never yields fails the step, not its activity.
    timeout: duration({ min: '1s', max: '45s' })
      .default(30_000)
      .describe(
        'how long inject waits for the evictions: one a PodDisruptionBudget refuses (429) is retried until then',
      ),
    readyTimeout: duration({ min: '1s', max: '1h' })
      .default(300_000)
      .describe(
        "how long rollback waits for the evicted pods' owners to be back to their desired Ready counts",
      ),
  })
  // A plan may leave params out: kubectl drain --ignore-daemonsets, nothing more.
  .prefault({});
type Params = z.infer<typeof params>;

/** A pod the drain evicts, by UID: a replacement under the same name (a StatefulSet's) is another one. */
interface DrainedPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly owner?: Owner;
}

interface Saved extends CordonSaved {
  readonly pods: readonly DrainedPod[];
  /** DaemonSet and mirror pods on the node, left running (as kubectl drain --ignore-daemonsets). */
  readonly left: number;
}

const podName = (pod: { namespace: string; name: string }) => `${pod.namespace}/${pod.name}`;

/** "a/b, a/c, … and 7 more": names for a one-line message. */
function someNames(names: readonly string[], shown = 5): string {
  const more = names.length - shown;
  return names.slice(0, shown).join(', ') + (more > 0 ? ` and ${more} more` : '');
}

async function podsOn(ctx: KubernetesFaultContext, node: string): Promise<V1Pod[]> {
  const list = await ctx.kube.call({ verb: 'list', resource: 'pods' }, () =>
    ctx.kube.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }),
  );
  return list.items;
}

const isMirror = (pod: V1Pod) => pod.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined;
const isFinished = (pod: V1Pod) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
const hasEmptyDir = (pod: V1Pod) => pod.spec?.volumes?.some((volume) => volume.emptyDir) ?? false;

/** Namespaces among these that have not opted in to game days, when the context requires it. */
async function notOptedIn(
  ctx: KubernetesFaultContext,
  namespaces: ReadonlySet<string>,
): Promise<Set<string>> {
  const refused = new Set<string>();
  if (!ctx.policy.requireOptIn) return refused;
  for (const name of namespaces) {
    const namespace = await ctx.kube.callIfExists({ verb: 'get', resource: 'namespaces', name }, () =>
      ctx.kube.core.readNamespace({ name }),
    );
    if (namespace?.metadata?.annotations?.[optInAnnotation.key] !== optInAnnotation.value) refused.add(name);
  }
  return refused;
}

/**
 * The pods a drain evicts, chosen as `kubectl drain --ignore-daemonsets` does: DaemonSet and mirror pods are
 * left, pods already terminating are leaving anyway. What kubectl refuses (emptyDir without
 * deleteEmptyDirData, no controller without force) is refused here too, and so are pods in namespaces the
 * worker does not allow: a node is cluster-wide, its pods are not. All in one line, before anything changes.
 */
async function podsToEvict(
  ctx: KubernetesFaultContext,
  p: Params,
  node: string,
): Promise<Pick<Saved, 'pods' | 'left'>> {
  const pods: DrainedPod[] = [];
  let left = 0;
  const notAllowed: string[] = [];
  const emptyDir: string[] = [];
  const ownerless: string[] = [];
  for (const pod of await podsOn(ctx, node)) {
    const owner = controllerOf(pod.metadata?.ownerReferences);
    if (isMirror(pod) || owner?.kind === 'DaemonSet') {
      left += 1;
      continue;
    }
    const { namespace = '', name = '', uid = '', deletionTimestamp } = pod.metadata ?? {};
    if (deletionTimestamp !== undefined) continue;
    const which = podName({ namespace, name });
    if (!ctx.policy.namespaces.includes(namespace)) notAllowed.push(which);
    // A finished pod has nothing left to lose or to bring back: kubectl evicts it whatever its volumes or owner.
    if (!isFinished(pod) && owner === undefined && !p.force) ownerless.push(which);
    if (!isFinished(pod) && hasEmptyDir(pod) && !p.deleteEmptyDirData) emptyDir.push(which);
    pods.push({ namespace, name, uid, ...(owner ? { owner } : {}) });
  }
  const allowed = new Set(
    pods.map((pod) => pod.namespace).filter((ns) => ctx.policy.namespaces.includes(ns)),
  );
  const optedOut = await notOptedIn(ctx, allowed);
  const problems = [
    notAllowed.length > 0 &&
      `pods in namespaces context ${ctx.kube.context} does not allow (allowed: ${ctx.policy.namespaces.join(', ') || 'none'}): ${someNames(notAllowed)}`,
    optedOut.size > 0 &&
      `pods in namespaces that have not opted in to game days (${optInAnnotation.key}=${optInAnnotation.value}): ${someNames(pods.filter((pod) => optedOut.has(pod.namespace)).map(podName))}`,
    emptyDir.length > 0 &&
      `pods with emptyDir volumes, whose data would be lost (say deleteEmptyDirData: true): ${someNames(emptyDir)}`,
    ownerless.length > 0 &&
      `pods no controller owns, which would stay gone (say force: true): ${someNames(ownerless)}`,
  ].filter((problem): problem is string => typeof problem === 'string');
  if (problems.length > 0) {
    throw new FaultUserError(`cannot drain node ${node}: ${problems.join('; ')}; nothing was changed`);
  }
  return { pods, left };
}

/** The pod by name, when it is still the recorded one (by UID). */
async function recordedPod(ctx: KubernetesFaultContext, pod: DrainedPod): Promise<V1Pod | undefined> {
  const found = await ctx.kube.callIfExists(
    { verb: 'get', resource: 'pods', namespace: pod.namespace, name: pod.name },
    () => ctx.kube.core.readNamespacedPod({ name: pod.name, namespace: pod.namespace }),
  );
  return found?.metadata?.uid === pod.uid ? found : undefined;
}

/** The API server's reason for a refusal: its Status message and each cause's ("The disruption budget …"). */
function refusalReason(body: unknown): string {
  let status: unknown = body;
  if (typeof body === 'string') {
    try {
      status = JSON.parse(body) as unknown;
    } catch {
      return body.slice(0, 300);
    }
  }
  const { message, details } = (status ?? {}) as {
    message?: unknown;
    details?: { causes?: { message?: unknown }[] };
  };
  const causes = (details?.causes ?? []).map((cause) => cause.message).filter((m) => typeof m === 'string');
  return [message, ...causes].filter((m): m is string => typeof m === 'string' && m !== '').join(' ');
}

type EvictionAnswer = { readonly done: true } | { readonly done: false; readonly refusal: string };

/** One eviction request: done (evicted, or already gone), or refused for now (a budget, a conflict). */
async function requestEviction(
  ctx: KubernetesFaultContext,
  p: Params,
  pod: DrainedPod,
): Promise<EvictionAnswer> {
  const at = { name: pod.name, namespace: pod.namespace };
  const grace = p.gracePeriod === undefined ? {} : { gracePeriodSeconds: Math.ceil(p.gracePeriod / 1000) };
  try {
    await ctx.kube.core.createNamespacedPodEviction({
      ...at,
      body: {
        apiVersion: 'policy/v1',
        kind: 'Eviction',
        metadata: at,
        // Only the recorded pod: a replacement under the same name is never evicted by a retry.
        deleteOptions: { preconditions: { uid: pod.uid }, ...grace },
      },
    });
    return { done: true };
  } catch (error) {
    if (error instanceof kubernetesLibrary().ApiException) {
      const { code, body } = error as ApiException<unknown>;
      if (code === 404) return { done: true };
      // 409: a conflict, or the UID precondition (the pod was replaced): which one, the next read says.
      if (code === 409 && (await recordedPod(ctx, pod)) === undefined) return { done: true };
      if (code === 429 || code === 409) return { done: false, refusal: `${code}: ${refusalReason(body)}` };
    }
    throw ctx.kube.failure({ verb: 'create', resource: 'pods/eviction', ...at }, error);
  }
}

/**
 * Evicts one pod, as kubectl drain does: a refusal (a PodDisruptionBudget's 429) is retried with backoff
 * until the deadline, and then fails the drain naming the budget's answer. Never deleted past it.
 */
async function evict(
  ctx: KubernetesFaultContext,
  p: Params,
  pod: DrainedPod,
  deadline: number,
): Promise<void> {
  const found = await recordedPod(ctx, pod);
  if (found === undefined || found.metadata?.deletionTimestamp !== undefined) return; // evicted earlier
  const at = { namespace: pod.namespace, name: pod.name };
  await ctx.kube.callIfExists({ verb: 'patch', resource: 'pods', ...at }, () =>
    ctx.kube.core.patchNamespacedPod(
      { ...at, body: { metadata: { annotations: { [runLabel]: ctx.tag } } } },
      mergePatch(),
    ),
  );
  const started = Date.now();
  for (let backoff = 250; ; backoff = Math.min(backoff * 2, 5000)) {
    const answer = await requestEviction(ctx, p, pod);
    if (answer.done) return;
    const now = Date.now();
    if (now >= deadline) {
      throw new FaultUserError(
        `eviction of pod ${podName(pod)} refused for ${formatDuration(now - started)} (${answer.refusal}); ` +
          'a drain only evicts and never deletes past a PodDisruptionBudget: give the budget room, or a longer timeout',
      );
    }
    ctx.heartbeat();
    // The last attempt is made at the deadline itself.
    await ctx.sleep(Math.min(backoff, deadline - now));
  }
}

/** The recorded pods still on the node (terminating ones included), by UID. */
async function podsLeft(ctx: KubernetesFaultContext, saved: Saved): Promise<DrainedPod[]> {
  const uids = new Set((await podsOn(ctx, saved.node)).map((pod) => pod.metadata?.uid));
  return saved.pods.filter((pod) => uids.has(pod.uid));
}

/** Whether the evicted pods' owners are back to their desired Ready counts, and in words. */
async function ownersState(
  ctx: KubernetesFaultContext,
  saved: Saved,
): Promise<{ whole: boolean; detail: string }> {
  const owners = new Map<string, { namespace: string; owner: Owner }>();
  let ownerless = 0;
  for (const pod of saved.pods) {
    if (pod.owner === undefined) ownerless += 1;
    else
      owners.set(`${pod.namespace}/${pod.owner.kind}/${pod.owner.name}`, {
        namespace: pod.namespace,
        owner: pod.owner,
      });
  }
  let whole = true;
  const words: string[] = [];
  for (const { namespace, owner } of owners.values()) {
    const what = `${owner.kind} ${namespace}/${owner.name}`;
    if (!(ownersWithReadiness as readonly string[]).includes(owner.kind)) {
      words.push(`${what} not waited for (its readiness is unknown)`);
      continue;
    }
    const readiness = await ownerReadiness(ctx.kube, namespace, owner);
    if (readiness === undefined) {
      words.push(`${what} is gone: not waited for`);
      continue;
    }
    whole &&= readiness.ready >= readiness.desired;
    words.push(`${what} has ${readiness.ready} of ${readiness.desired} pods Ready`);
  }
  if (ownerless > 0) words.push(`${ownerless} pod(s) without a controller stay gone`);
  return { whole, detail: words.join(', ') };
}

/**
 * Drains nodes as `kubectl drain --ignore-daemonsets` does: cordon, then evict each pod through the Eviction
 * API, so PodDisruptionBudgets are honoured (a 429 is waited on within `timeout`, then fails the step).
 * Rollback uncordons what this run cordoned and waits until the evicted pods' owners have their pods Ready.
 */
export const nodeDrain: KubernetesFaultKind<Params, Saved> = {
  kind: 'node-drain',
  description:
    'Cordons nodes and evicts their pods through the Eviction API (PodDisruptionBudgets honoured: a refusal is waited on, never bypassed), as kubectl drain --ignore-daemonsets; rollback uncordons what this run cordoned and waits until the owners have their pods Ready.',
  targetKinds: ['kubernetes'],
  kubernetes: { scope: 'objects', resources: ['node'] },
  params,

  describe: (p, target) => {
    const also = [p.deleteEmptyDirData && 'emptyDir pods too', p.force && 'pods without a controller too']
      .filter(Boolean)
      .join(', ');
    return {
      inject: `drain node ${target.name} (cordon, evict its pods${also ? `, ${also}` : ''}; context ${target.context})`,
      rollback: `uncordon node ${target.name} if this game day cordoned it, and wait until the evicted pods' owners have their pods Ready`,
    };
  },

  async prepare(ctx, p) {
    const cordonSaved = await prepareCordon(ctx, 'node-drain');
    return { ...cordonSaved, ...(await podsToEvict(ctx, p, cordonSaved.node)) };
  },

  async inject(ctx, p, saved) {
    const deadline = Date.now() + p.timeout;
    await cordon(ctx, saved);
    const evictions = await Promise.allSettled(saved.pods.map((pod) => evict(ctx, p, pod, deadline)));
    const failed = evictions.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    // kubectl drain waits for the evicted pods to be gone; so does this, within the same timeout.
    const left = await ctx.pollUntil(
      () => podsLeft(ctx, saved),
      (pods) => pods.length === 0,
      { timeoutMs: Math.max(0, deadline - Date.now()), intervalMs: 250 },
    );
    if (left.length > 0) {
      throw new Error(
        `evicted pods still on node ${saved.node} after ${formatDuration(p.timeout)}: ${someNames(left.map(podName))}`,
      );
    }
  },

  async verify(ctx, _p, saved): Promise<FaultState> {
    const node = await cordonState(ctx, saved);
    if (node.gone) return { active: false, recovered: true, detail: `${node.detail}; its pods went with it` };
    const left = await podsLeft(ctx, saved);
    const owners = await ownersState(ctx, saved);
    const evicted = `${saved.pods.length - left.length} of ${saved.pods.length} pod(s) evicted`;
    const parts = [
      node.detail,
      left.length === 0 ? evicted : `${evicted}, still on it: ${someNames(left.map(podName))}`,
      ...(saved.left > 0 ? [`${saved.left} DaemonSet or mirror pod(s) left running`] : []),
      ...(owners.detail ? [owners.detail] : []),
    ];
    return {
      active: node.unschedulable && left.length === 0,
      // Rollback is verified by this: the cordon is back as found, and the evicted pods' owners are whole.
      recovered: node.restored && owners.whole,
      detail: parts.join('; '),
    };
  },

  async rollback(ctx, p, saved) {
    await uncordon(ctx, saved);
    const state = await ctx.pollUntil(
      () => nodeDrain.verify(ctx, p, saved),
      (now) => now.recovered === true,
      { timeoutMs: p.readyTimeout, intervalMs: 500 },
    );
    if (state.recovered !== true) throw new Error(`${state.detail} after ${formatDuration(p.readyTimeout)}`);
  },
};
