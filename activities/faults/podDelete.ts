import type { V1Pod } from '@kubernetes/client-node';
import { z } from 'zod';
import { duration, formatDuration } from '../../plan/duration';
import { mergePatch } from '../kubernetes/client';
import { runLabel } from '../kubernetes/clusters';
import { controllerOf, ownerReadiness, ownersWithReadiness, type Owner } from '../kubernetes/owners';
import { FaultUserError, type KubernetesFaultContext, type KubernetesFaultKind } from './contract';

const params = z
  .strictObject({
    gracePeriod: duration({ max: '10m' })
      .optional()
      .describe('how long the pod gets to stop (default: its own terminationGracePeriodSeconds)'),
    force: z
      .boolean()
      .default(false)
      .describe('delete at once, as kubectl delete pod --force --grace-period=0'),
    allowOwnerless: z
      .boolean()
      .default(false)
      .describe('a pod no controller owns stays gone after the game day: allowed only when the plan says so'),
    readyTimeout: duration({ min: '1s', max: '1h' })
      .default(300_000)
      .describe("how long rollback waits for the pod's owner to be back to its desired Ready count"),
  })
  .refine((p) => !(p.force && p.gracePeriod !== undefined), 'give force or gracePeriod, not both');
type Params = z.infer<typeof params>;

interface Saved {
  readonly namespace: string;
  readonly pod: string;
  /** The pod deleted: a replacement with the same name (a StatefulSet's) is another one. */
  readonly uid: string;
  readonly owner?: Owner;
}

/** The pod by name, when it is still the recorded one and not already being deleted. */
async function recordedPod(ctx: KubernetesFaultContext, saved: Saved): Promise<V1Pod | undefined> {
  const pod = await ctx.kube.callIfExists(
    { verb: 'get', resource: 'pods', namespace: saved.namespace, name: saved.pod },
    () => ctx.kube.core.readNamespacedPod({ name: saved.pod, namespace: saved.namespace }),
  );
  return pod?.metadata?.uid === saved.uid ? pod : undefined;
}

function gracePeriodSeconds(p: Params): number | undefined {
  if (p.force) return 0;
  return p.gracePeriod === undefined ? undefined : Math.ceil(p.gracePeriod / 1000);
}

/**
 * Deletes pods (kubectl delete pod, optionally --force), as a crashed node or an eviction would. A one-shot
 * disturbance: verify says it happened once the recorded pod (by UID) is gone or terminating, and recovered
 * once its owner is back to its desired Ready count; rollback waits for that. A pod nobody owns stays gone.
 */
export const podDelete: KubernetesFaultKind<Params, Saved> = {
  kind: 'pod-delete',
  description:
    'Deletes pods (grace period, or force); rollback waits until the owner (ReplicaSet, StatefulSet, DaemonSet) is back to its desired Ready count.',
  targetKinds: ['kubernetes'],
  kubernetes: { scope: 'objects', resources: ['pod'] },
  params,

  describe: (p, target) => {
    const how = p.force
      ? 'force, grace 0'
      : p.gracePeriod === undefined
        ? 'its own grace period'
        : `grace ${formatDuration(p.gracePeriod)}`;
    return {
      inject: `delete pod ${target.name} (${how}, context ${target.context})`,
      rollback: `wait until the owner of ${target.name} has its desired pods Ready again`,
    };
  },

  async prepare(ctx, p) {
    const { namespace, object: name, uid } = ctx.target;
    if (namespace === undefined || name === undefined || uid === undefined) {
      throw new Error(`pod-delete needs a resolved pod, not ${ctx.target.name}`);
    }
    const pod = await recordedPod(ctx, { namespace, pod: name, uid });
    if (pod === undefined)
      throw new FaultUserError(`pod ${ctx.target.name} is gone since the game day resolved it`);
    const owner = controllerOf(pod.metadata?.ownerReferences);
    if (owner === undefined && !p.allowOwnerless) {
      throw new FaultUserError(
        `pod ${ctx.target.name} has no owner: deleted, nothing would bring it back; say allowOwnerless: true if that is meant`,
      );
    }
    return { namespace, pod: name, uid, ...(owner ? { owner } : {}) };
  },

  async inject(ctx, p, saved) {
    const pod = await recordedPod(ctx, saved);
    if (pod === undefined || pod.metadata?.deletionTimestamp !== undefined) return; // an earlier attempt did it
    const at = { namespace: saved.namespace, name: saved.pod };
    await ctx.kube.callIfExists({ verb: 'patch', resource: 'pods', ...at }, () =>
      ctx.kube.core.patchNamespacedPod(
        { ...at, body: { metadata: { annotations: { [runLabel]: ctx.tag } } } },
        mergePatch(),
      ),
    );
    const grace = gracePeriodSeconds(p);
    try {
      await ctx.kube.callIfExists({ verb: 'delete', resource: 'pods', ...at }, () =>
        ctx.kube.core.deleteNamespacedPod({
          ...at,
          ...(grace === undefined ? {} : { gracePeriodSeconds: grace }),
          // Only the recorded pod: a replacement under the same name is never deleted by a retry.
          body: {
            preconditions: { uid: saved.uid },
            ...(grace === undefined ? {} : { gracePeriodSeconds: grace }),
          },
        }),
      );
    } catch (error) {
      if ((await recordedPod(ctx, saved)) === undefined) return; // the UID precondition: already replaced
      throw error;
    }
  },

  async verify(ctx, _p, saved) {
    const pod = await recordedPod(ctx, saved);
    const deleted = pod === undefined || pod.metadata?.deletionTimestamp !== undefined;
    const what = `pod ${saved.namespace}/${saved.pod} (uid ${saved.uid.slice(0, 8)})`;
    if (!deleted) return { active: false, recovered: true, detail: `${what} still runs` };
    if (saved.owner === undefined) {
      return {
        active: true,
        recovered: pod === undefined,
        detail: `${what} deleted; it had no owner and stays gone`,
      };
    }
    const readiness = (ownersWithReadiness as readonly string[]).includes(saved.owner.kind)
      ? await ownerReadiness(ctx.kube, saved.namespace, saved.owner)
      : undefined;
    const owner = `${saved.owner.kind} ${saved.owner.name}`;
    if (readiness === undefined) {
      return {
        active: true,
        recovered: pod === undefined,
        detail: `${what} deleted; its owner ${owner} is not waited for (gone, or its readiness unknown)`,
      };
    }
    const whole = pod === undefined && readiness.ready >= readiness.desired;
    return {
      active: true,
      recovered: whole,
      detail: `${what} deleted; ${owner} has ${readiness.ready} of ${readiness.desired} pods Ready`,
    };
  },

  async rollback(ctx, p, saved) {
    const untouched = await recordedPod(ctx, saved);
    if (untouched !== undefined && untouched.metadata?.deletionTimestamp === undefined) {
      // Never deleted (the inject failed, e.g. not allowed): take our annotation off again.
      const at = { namespace: saved.namespace, name: saved.pod };
      await ctx.kube.callIfExists({ verb: 'patch', resource: 'pods', ...at }, () =>
        ctx.kube.core.patchNamespacedPod(
          { ...at, body: { metadata: { annotations: { [runLabel]: null } } } },
          mergePatch(),
        ),
      );
      return;
    }
    if (saved.owner === undefined) return; // nothing brings an ownerless pod back: verify says so
    const state = await ctx.pollUntil(
      () => podDelete.verify(ctx, p, saved),
      (now) => now.recovered === true,
      { timeoutMs: p.readyTimeout, intervalMs: 500 },
    );
    if (state.recovered !== true) {
      throw new Error(`${state.detail} after ${formatDuration(p.readyTimeout)}`);
    }
  },
};
