import { ContainerNetworkExecutor, wrapRevertForContainer } from '../executors/containerNetwork';
import { faultContext } from './context';
import { isHostTarget, type Target } from '../../plan/targets';
import {
  FaultUserError,
  isKubernetesKind,
  type AnyFaultKind,
  type FaultContext,
  type FaultDescription,
  type FaultKind,
} from './contract';
import { inspectContainer, recordContainer, shortId, type ContainerState } from './containers';
import { getFaultKind } from './registry';

/** What a network fault aimed at a container records: the container (by id) and the kind's own state. */
export interface InContainerSaved {
  readonly container: { readonly id: string; readonly name: string; readonly pid: number };
  readonly inner: unknown;
}

function inside(ctx: FaultContext, state: ContainerState): FaultContext {
  return faultContext({ ...ctx, exec: new ContainerNetworkExecutor(ctx.exec, state.pid, state.name) });
}

const gone = (saved: InContainerSaved, now: ContainerState | undefined) =>
  `container ${saved.container.name} (${shortId(saved.container.id)}) is ${now?.status ?? 'removed'}: ` +
  'its network namespace, and the fault in it, are gone';

/**
 * A network kind run inside a container's network namespace on the target host. The container is the one
 * found at prepare, by id; its pid is read again by every step (a restarted container has a new one). When
 * it has stopped or was removed, its namespace went with it: verify reports the fault gone and rollback has
 * nothing to do. A container re-created under the same name is a new namespace the fault never touched.
 */
export function inContainerNetwork(
  kind: FaultKind<unknown, unknown>,
  container: string,
): FaultKind<unknown, InContainerSaved> {
  if (kind.networkNamespace !== true) {
    throw new Error(
      `fault kind ${kind.kind} does not act on a network namespace: it cannot target a container`,
    );
  }
  /** The recorded container now, running, or undefined. */
  const running = async (ctx: FaultContext, saved: InContainerSaved) => {
    const now = await inspectContainer(ctx.exec, saved.container.id);
    return { now, up: now !== undefined && now.running && now.pid > 1 };
  };
  const mustRun = async (ctx: FaultContext, saved: InContainerSaved) => {
    const { now, up } = await running(ctx, saved);
    if (!up || now === undefined) {
      throw new FaultUserError(`${gone(saved, now)} on host ${ctx.target.name} since its state was recorded`);
    }
    return now;
  };
  return {
    kind: kind.kind,
    description: kind.description,
    targetKinds: kind.targetKinds,
    params: kind.params,

    describe(p, target) {
      const words = kind.describe(p, target);
      return {
        inject: `${words.inject}, inside container ${container}`,
        rollback: `${words.rollback}, inside container ${container}`,
      };
    },

    async prepare(ctx, p) {
      const state = await recordContainer(ctx, container);
      if (!state.running || state.pid <= 1) {
        throw new FaultUserError(
          `container ${container} on host ${ctx.target.name} is ${state.status}: it has no network namespace to act on`,
        );
      }
      const inner = await kind.prepare(inside(ctx, state), p);
      return { container: { id: state.id, name: state.name, pid: state.pid }, inner };
    },

    async inject(ctx, p, saved) {
      await kind.inject(inside(ctx, await mustRun(ctx, saved)), p, saved.inner);
    },

    async verify(ctx, p, saved) {
      const { now, up } = await running(ctx, saved);
      if (!up || now === undefined) return { active: false, detail: gone(saved, now) };
      const state = await kind.verify(inside(ctx, now), p, saved.inner);
      return { active: state.active, detail: `in container ${saved.container.name}: ${state.detail}` };
    },

    async rollback(ctx, p, saved) {
      const { now, up } = await running(ctx, saved);
      if (!up || now === undefined) return;
      await kind.rollback(inside(ctx, now), p, saved.inner);
    },

    // The pid recorded at prepare: the lease is minutes long, and a container restarted since has a new
    // namespace without the fault (nsenter into a pid that is gone fails and runs nothing).
    hostRevert: (p, saved, ctx) =>
      wrapRevertForContainer(saved.container.pid, kind.hostRevert(p, saved.inner, ctx)),
  };
}

/** The fault kind a step runs: its registered kind, inside a container's network namespace when it names one. */
export function faultKindFor(step: {
  readonly kind: string;
  readonly container?: string | undefined;
}): AnyFaultKind {
  const kind = getFaultKind(step.kind);
  if (step.container === undefined) return kind;
  if (isKubernetesKind(kind))
    throw new Error(`fault kind ${kind.kind} acts on Kubernetes: it cannot target a container`);
  return inContainerNetwork(kind, step.container);
}

/** A host step's kind (its container's network namespace when it names one); fails for a Kubernetes kind. */
export function hostKindFor(step: { readonly kind: string; readonly container?: string | undefined }) {
  const kind = faultKindFor(step);
  if (isKubernetesKind(kind)) throw new Error(`fault kind ${kind.kind} acts on Kubernetes, not on hosts`);
  return kind;
}

/** A step's plain words, from the kind that acts on its kind of target. */
export function describeStep(kind: AnyFaultKind, params: unknown, target: Target): FaultDescription {
  if (isKubernetesKind(kind)) {
    if (target.kind !== 'kubernetes')
      throw new Error(`fault kind ${kind.kind} acts on Kubernetes objects only`);
    return kind.describe(params, target);
  }
  if (!isHostTarget(target)) throw new Error(`fault kind ${kind.kind} acts on hosts only`);
  return kind.describe(params, target);
}
