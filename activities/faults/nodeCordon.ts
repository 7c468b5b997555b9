import type { V1Node } from '@kubernetes/client-node';
import { z } from 'zod';
import { mergePatch } from '../kubernetes/client';
import { runLabel } from '../kubernetes/clusters';
import {
  FaultUserError,
  type FaultState,
  type KubernetesFaultContext,
  type KubernetesFaultKind,
} from './contract';

/** The annotation a node carries while a run holds it cordoned (its tag): rollback uncordons only those. */
export const cordonedByAnnotation = 'gameday.dev/cordoned-by';

/** What cordon's rollback needs: which node, and whether it was unschedulable before the game day. */
export interface CordonSaved {
  readonly node: string;
  /** A node re-created under the same name is another one, and never uncordoned. */
  readonly uid: string;
  /** Someone else's cordon: the node is left unschedulable, never annotated nor uncordoned by this run. */
  readonly wasUnschedulable: boolean;
}

/** The recorded node, or undefined when it is gone (or re-created: another UID). */
export async function recordedNode(
  ctx: KubernetesFaultContext,
  saved: Pick<CordonSaved, 'node' | 'uid'>,
): Promise<V1Node | undefined> {
  const node = await ctx.kube.callIfExists({ verb: 'get', resource: 'nodes', name: saved.node }, () =>
    ctx.kube.core.readNode({ name: saved.node }),
  );
  return node?.metadata?.uid === saved.uid ? node : undefined;
}

const cordonedByRun = (node: V1Node, tag: string) =>
  node.metadata?.annotations?.[cordonedByAnnotation] === tag;

/** Reads the node the game day resolved, and whether it is already unschedulable. */
export async function prepareCordon(ctx: KubernetesFaultContext, kind: string): Promise<CordonSaved> {
  const { object: name, uid, resource } = ctx.target;
  if (resource !== 'node' || name === undefined || uid === undefined) {
    throw new Error(`${kind} needs a resolved node, not ${ctx.target.name}`);
  }
  const node = await recordedNode(ctx, { node: name, uid });
  if (node === undefined) throw new FaultUserError(`node ${name} is gone since the game day resolved it`);
  return { node: name, uid, wasUnschedulable: node.spec?.unschedulable === true };
}

/**
 * Marks the node unschedulable and annotates it with the run's tag, in one merge patch (so the annotation is
 * there exactly when the cordon is ours). The read node's resourceVersion guards against a concurrent
 * change; the activity's retry reads it again. A node that was already unschedulable is left alone.
 */
export async function cordon(ctx: KubernetesFaultContext, saved: CordonSaved): Promise<void> {
  if (saved.wasUnschedulable) return;
  const node = await recordedNode(ctx, saved);
  if (node === undefined)
    throw new FaultUserError(`node ${saved.node} is gone since the game day resolved it`);
  if (node.spec?.unschedulable === true && cordonedByRun(node, ctx.tag)) return; // an earlier attempt did it
  await ctx.kube.call({ verb: 'patch', resource: 'nodes', name: saved.node }, () =>
    ctx.kube.core.patchNode(
      {
        name: saved.node,
        body: {
          metadata: {
            resourceVersion: node.metadata?.resourceVersion,
            annotations: { [runLabel]: ctx.tag, [cordonedByAnnotation]: ctx.tag },
          },
          spec: { unschedulable: true },
        },
      },
      mergePatch(),
    ),
  );
}

/** Uncordons the node only if this run cordoned it (its annotation says so), and removes the annotations. */
export async function uncordon(ctx: KubernetesFaultContext, saved: CordonSaved): Promise<void> {
  const node = await recordedNode(ctx, saved);
  if (node === undefined || !cordonedByRun(node, ctx.tag)) return; // gone, or never ours: nothing to undo
  await ctx.kube.callIfExists({ verb: 'patch', resource: 'nodes', name: saved.node }, () =>
    ctx.kube.core.patchNode(
      {
        name: saved.node,
        body: {
          metadata: { annotations: { [runLabel]: null, [cordonedByAnnotation]: null } },
          spec: { unschedulable: null },
        },
      },
      mergePatch(),
    ),
  );
}

/** The node's cordon as it is now: whether it is unschedulable, and whether this run's cordon is still on it. */
export interface CordonState {
  readonly gone: boolean;
  readonly unschedulable: boolean;
  readonly ours: boolean;
  /** Nothing of this run is left on the node, and it is as schedulable as prepare found it (or gone). */
  readonly restored: boolean;
  readonly detail: string;
}

export async function cordonState(ctx: KubernetesFaultContext, saved: CordonSaved): Promise<CordonState> {
  const node = await recordedNode(ctx, saved);
  if (node === undefined) {
    const detail = `node ${saved.node} is gone: nothing to uncordon`;
    return { gone: true, unschedulable: false, ours: false, restored: true, detail };
  }
  const unschedulable = node.spec?.unschedulable === true;
  const ours = cordonedByRun(node, ctx.tag);
  const restored = !ours && (saved.wasUnschedulable || !unschedulable);
  const detail = saved.wasUnschedulable
    ? `node ${saved.node} was already unschedulable before the game day and is left so` +
      (unschedulable ? '' : ' (someone has uncordoned it since)')
    : ours && unschedulable
      ? `node ${saved.node} cordoned by this game day`
      : unschedulable
        ? `node ${saved.node} is unschedulable, but not by this game day`
        : `node ${saved.node} is schedulable`;
  return { gone: false, unschedulable, ours, restored, detail };
}

/**
 * The fault's state from the node's cordon. `active` says the node is unschedulable (a node cordoned before
 * the game day counts: the condition holds); `recovered` says the node is back as prepare found it, which is
 * what rollback is verified by, so an already-cordoned node that stays cordoned still rolls back clean.
 */
export function cordonFaultState(state: CordonState): FaultState {
  return { active: state.unschedulable, recovered: state.restored, detail: state.detail };
}

const params = z.strictObject({}).prefault({});
type Params = z.infer<typeof params>;

/**
 * Marks nodes unschedulable (kubectl cordon): pods already there keep running, new ones go elsewhere. A node
 * that was unschedulable before the game day is left so; rollback uncordons only what this run cordoned.
 */
export const nodeCordon: KubernetesFaultKind<Params, CordonSaved> = {
  kind: 'node-cordon',
  description:
    'Marks nodes unschedulable (kubectl cordon), annotated with the run; rollback uncordons only the nodes this run cordoned (one already unschedulable is left so).',
  targetKinds: ['kubernetes'],
  kubernetes: { scope: 'objects', resources: ['node'] },
  params,

  describe: (_p, target) => ({
    inject: `cordon node ${target.name} (context ${target.context})`,
    rollback: `uncordon node ${target.name} if this game day cordoned it`,
  }),

  prepare: (ctx) => prepareCordon(ctx, 'node-cordon'),
  inject: (ctx, _p, saved) => cordon(ctx, saved),
  verify: async (ctx, _p, saved) => cordonFaultState(await cordonState(ctx, saved)),
  rollback: (ctx, _p, saved) => uncordon(ctx, saved),
};
