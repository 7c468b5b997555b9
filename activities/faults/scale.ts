import type { V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import { z } from 'zod';
import { duration, formatDuration } from '../../plan/duration';
import { mergePatch } from '../kubernetes/client';
import { runLabel } from '../kubernetes/clusters';
import { FaultUserError, type KubernetesFaultContext, type KubernetesFaultKind } from './contract';

/** The replicas a workload had before this run scaled it, on the workload itself, for a person or a janitor. */
export const scaledFromAnnotation = 'gameday.dev/scaled-from';

const maxReplicas = 1000;

const params = z
  .strictObject({
    replicas: z.number().int().min(0).max(maxReplicas).optional().describe('scale to this many replicas'),
    delta: z
      .number()
      .int()
      .min(-maxReplicas)
      .max(maxReplicas)
      .refine((delta) => delta !== 0, 'a delta of 0 changes nothing')
      .optional()
      .describe('scale by this many replicas: 2 adds two, -1 removes one'),
    readyTimeout: duration({ min: '1s', max: '1h' })
      .default(300_000)
      .describe('how long rollback waits for the recorded replicas to be Ready again'),
  })
  .refine(
    (p) => (p.replicas === undefined) !== (p.delta === undefined),
    'give replicas or delta (exactly one)',
  );
type Params = z.infer<typeof params>;

type Workload = 'deployment' | 'statefulset';

/** A workload this run scaled, and the replicas it had before: what scaling back needs. */
export interface ScaledWorkload {
  readonly resource: Workload;
  readonly namespace: string;
  readonly name: string;
  /** A workload re-created under the same name is another one, never scaled by this run. */
  readonly uid: string;
  /** `spec.replicas` before the game day: what rollback restores, exactly. */
  readonly replicas: number;
}

interface Saved extends ScaledWorkload {
  /** What inject scales to, computed once, so a retried inject never applies a delta twice. */
  readonly scaledTo: number;
}

const workloadName = (saved: Pick<Saved, 'resource' | 'namespace' | 'name'>) =>
  `${saved.resource} ${saved.namespace}/${saved.name}`;

/** The recorded workload, or undefined when it is gone (or re-created: another UID). */
async function recordedWorkload(
  ctx: KubernetesFaultContext,
  saved: Pick<Saved, 'resource' | 'namespace' | 'name' | 'uid'>,
): Promise<V1Deployment | V1StatefulSet | undefined> {
  const at = { name: saved.name, namespace: saved.namespace };
  const action = { verb: 'get', resource: `${saved.resource}s`, ...at };
  const workload =
    saved.resource === 'deployment'
      ? await ctx.kube.callIfExists(action, () => ctx.kube.apps.readNamespacedDeployment(at))
      : await ctx.kube.callIfExists(action, () => ctx.kube.apps.readNamespacedStatefulSet(at));
  return workload?.metadata?.uid === saved.uid ? workload : undefined;
}

/** Sets `spec.replicas` through the scale subresource, as kubectl scale does. */
async function scaleTo(ctx: KubernetesFaultContext, saved: ScaledWorkload, replicas: number): Promise<void> {
  const at = { name: saved.name, namespace: saved.namespace };
  const action = { verb: 'patch', resource: `${saved.resource}s/scale`, ...at };
  const body = { spec: { replicas } };
  await (saved.resource === 'deployment'
    ? ctx.kube.callIfExists(action, () =>
        ctx.kube.apps.patchNamespacedDeploymentScale({ ...at, body }, mergePatch()),
      )
    : ctx.kube.callIfExists(action, () =>
        ctx.kube.apps.patchNamespacedStatefulSetScale({ ...at, body }, mergePatch()),
      ));
}

/** Writes (or, with null, removes) this run's annotations on the workload. */
async function annotate(
  ctx: KubernetesFaultContext,
  saved: ScaledWorkload,
  annotations: Record<string, string | null>,
): Promise<void> {
  const at = { name: saved.name, namespace: saved.namespace };
  const action = { verb: 'patch', resource: `${saved.resource}s`, ...at };
  const body = { metadata: { annotations } };
  await (saved.resource === 'deployment'
    ? ctx.kube.callIfExists(action, () =>
        ctx.kube.apps.patchNamespacedDeployment({ ...at, body }, mergePatch()),
      )
    : ctx.kube.callIfExists(action, () =>
        ctx.kube.apps.patchNamespacedStatefulSet({ ...at, body }, mergePatch()),
      ));
}

/** Spec and status as they are, in words; `restored` once the recorded replicas are all Ready. */
function readState(workload: V1Deployment | V1StatefulSet, saved: ScaledWorkload) {
  const spec = workload.spec?.replicas ?? 1;
  const ready = workload.status?.readyReplicas ?? 0;
  const current = workload.status?.replicas ?? 0;
  const observed = (workload.status?.observedGeneration ?? 0) >= (workload.metadata?.generation ?? 0);
  return {
    spec,
    restored: spec === saved.replicas && observed && ready >= spec && current === spec,
    detail: `${workloadName(saved)}: ${spec} replicas wanted (recorded ${saved.replicas}), ${current} exist, ${ready} Ready`,
  };
}

/**
 * Scales the workload back to the replicas it had, removes this run's annotations (only when they are this
 * run's: ctx.tag), and waits until the replicas are Ready. The kind's rollback, and the janitor's removal of a
 * workload whose annotations say a finished run scaled it.
 */
export async function scaleBack(
  ctx: KubernetesFaultContext,
  saved: ScaledWorkload,
  readyTimeoutMs: number,
): Promise<void> {
  const workload = await recordedWorkload(ctx, saved);
  if (workload === undefined) return; // deleted meanwhile: verify says so
  if (workload.spec?.replicas !== saved.replicas) await scaleTo(ctx, saved, saved.replicas);
  if (workload.metadata?.annotations?.[runLabel] === ctx.tag) {
    await annotate(ctx, saved, { [runLabel]: null, [scaledFromAnnotation]: null });
  }
  const ready = await ctx.pollUntil(
    async () => {
      const now = await recordedWorkload(ctx, saved);
      return now === undefined
        ? { restored: true, detail: `${workloadName(saved)} is gone` }
        : readState(now, saved);
    },
    (state) => state.restored,
    { timeoutMs: readyTimeoutMs, intervalMs: 500 },
  );
  if (!ready.restored) throw new Error(`${ready.detail} after ${formatDuration(readyTimeoutMs)}`);
}

/**
 * Scales a Deployment or StatefulSet to N replicas or by a delta (kubectl scale), through its scale
 * subresource. Prepare records `spec.replicas`; rollback restores exactly that and waits until they are Ready.
 */
export const scale: KubernetesFaultKind<Params, Saved> = {
  kind: 'scale',
  description:
    'Scales a Deployment or StatefulSet to a number of replicas or by a delta (kubectl scale); rollback restores exactly the recorded replicas and waits until they are Ready.',
  targetKinds: ['kubernetes'],
  kubernetes: { scope: 'objects', resources: ['deployment', 'statefulset'] },
  params,

  describe: (p, target) => ({
    inject:
      p.replicas !== undefined
        ? `scale ${target.name} to ${p.replicas} replicas (context ${target.context})`
        : `scale ${target.name} by ${p.delta !== undefined && p.delta > 0 ? '+' : ''}${p.delta} replicas (context ${target.context})`,
    rollback: `scale ${target.name} back to its recorded replicas and wait until they are Ready`,
  }),

  async prepare(ctx, p) {
    const { namespace, object: name, uid, resource } = ctx.target;
    if (
      (resource !== 'deployment' && resource !== 'statefulset') ||
      namespace === undefined ||
      name === undefined ||
      uid === undefined
    ) {
      throw new Error(`scale needs a resolved Deployment or StatefulSet, not ${ctx.target.name}`);
    }
    const which = { resource, namespace, name, uid };
    const workload = await recordedWorkload(ctx, which);
    if (workload === undefined) {
      throw new FaultUserError(`${workloadName(which)} is gone since the game day resolved it`);
    }
    const replicas = workload.spec?.replicas ?? 1;
    const scaledTo = p.replicas ?? replicas + (p.delta ?? 0);
    if (scaledTo < 0) {
      throw new FaultUserError(
        `${workloadName(which)} has ${replicas} replicas: scaling by ${p.delta} would leave ${scaledTo}; give a smaller delta, or replicas: 0`,
      );
    }
    if (scaledTo > maxReplicas) {
      throw new FaultUserError(
        `${workloadName(which)} has ${replicas} replicas: scaling by ${p.delta} would make ${scaledTo}, more than ${maxReplicas}`,
      );
    }
    if (scaledTo === replicas) {
      throw new FaultUserError(
        `${workloadName(which)} already has ${replicas} replicas: scaling to ${scaledTo} changes nothing`,
      );
    }
    return { ...which, replicas, scaledTo };
  },

  async inject(ctx, _p, saved) {
    const workload = await recordedWorkload(ctx, saved);
    if (workload === undefined) {
      throw new FaultUserError(`${workloadName(saved)} is gone since the game day resolved it`);
    }
    // Annotated first: a worker that dies between the two calls leaves the workload saying what it had.
    await annotate(ctx, saved, { [runLabel]: ctx.tag, [scaledFromAnnotation]: String(saved.replicas) });
    if (workload.spec?.replicas !== saved.scaledTo) await scaleTo(ctx, saved, saved.scaledTo);
  },

  async verify(ctx, _p, saved) {
    const workload = await recordedWorkload(ctx, saved);
    if (workload === undefined) {
      return { active: false, detail: `${workloadName(saved)} is gone: nothing to scale back` };
    }
    const state = readState(workload, saved);
    return { active: state.spec !== saved.replicas, detail: state.detail };
  },

  rollback: (ctx, p, saved) => scaleBack(ctx, saved, p.readyTimeout),
};
