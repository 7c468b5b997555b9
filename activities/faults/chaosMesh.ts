import { z } from 'zod';
import { duration, formatDuration } from '../../plan/duration';
import type { KubernetesTarget } from '../../plan/targets';
import {
  checkLeftovers,
  deleteExperiment,
  readNamespace,
  type RollbackProgress,
} from '../kubernetes/chaosMeshCleanup';
import {
  coordinates,
  describeConditions,
  describeExperiment,
  experimentEvents,
  isInjected,
  previewSelection,
  readExperiment,
  recordFailures,
  recordsOf,
  resourceName,
  type ChaosObject,
  type ExperimentRef,
} from '../kubernetes/chaosMeshExperiment';
import { injectedAnnotation, injectedOf, injectedPods, noteRestarts } from '../kubernetes/chaosMeshInjected';
import {
  chaosMeshApiVersion,
  chaosMeshKinds,
  chaosMeshSpec,
  goDurationMs,
  goDurationText,
  recordsFinalizer,
  selectorsOf,
  type ChaosMeshKind,
} from '../kubernetes/chaosMeshSpec';
import { KubernetesError, mergePatch } from '../kubernetes/client';
import { runLabel } from '../kubernetes/clusters';
import { faultHash } from './context';
import {
  FaultUserError,
  type KubernetesFaultContext,
  type KubernetesFaultKind,
  type PlanProblem,
} from './contract';

interface Experiment {
  readonly apiVersion?: string;
  readonly kind: ChaosMeshKind;
  readonly spec: Record<string, unknown>;
}

const experiment = z.discriminatedUnion(
  'kind',
  chaosMeshKinds.map((kind) =>
    z.strictObject({
      apiVersion: z
        .literal(chaosMeshApiVersion)
        .optional()
        .describe("as in the experiment's YAML; may be left out"),
      kind: z.literal(kind),
      spec: chaosMeshSpec(kind),
    }),
  ) as unknown as [z.ZodObject, ...z.ZodObject[]],
  { error: `kind must be one of: ${chaosMeshKinds.join(', ')}` },
) as unknown as z.ZodType<Experiment, unknown>;

/** The kind's default bound on the wait for a deleted experiment before its finalizer is removed. */
export const defaultDeleteTimeoutMs = 60_000;

const params = z.strictObject({
  experiment: experiment.describe(
    "the experiment as written for Chaos Mesh: its kind and its spec, verbatim (checked against the kind's " +
      'CRD schema); gameday names it, labels it with the run and creates it in the target group namespace',
  ),
  restartPodsWithLeftovers: z
    .boolean()
    .default(false)
    .describe(
      'IOChaos: restart (delete) each injected pod that still has a __chaosfs__ directory after the rollback, ' +
        'as `kubectl delete pod` would; otherwise the leftover is reported',
    ),
  injectTimeout: duration({ min: '1s', max: '45s' })
    .default(30_000)
    .describe('how long inject waits for Chaos Mesh to report AllInjected'),
  deleteTimeout: duration({ min: '1s', max: '10m' })
    .default(defaultDeleteTimeoutMs)
    .describe(
      "how long rollback waits for the deleted experiment to go before it removes Chaos Mesh's " +
        `${recordsFinalizer} finalizer itself (what operators do with kubectl patch … finalizers: null)`,
    ),
  durationMargin: duration({ min: '30s', max: '1h' })
    .default(300_000)
    .describe(
      'when the spec gives no duration, gameday sets the observation window plus this: Chaos Mesh then ends ' +
        'the experiment by itself if every worker is gone',
    ),
});
type Params = z.infer<typeof params>;

type Saved = ExperimentRef;

const experimentName = (tag: string, fault: string) => `gd-${tag}-${faultHash(fault)}`;

function refOf(ctx: KubernetesFaultContext, p: Params): ExperimentRef {
  const namespace = ctx.target.namespace;
  if (namespace === undefined) throw new Error(`chaos-mesh needs a namespace, not ${ctx.target.name}`);
  return { kind: p.experiment.kind, namespace, name: experimentName(ctx.tag, ctx.fault) };
}

const specDuration = (p: Params) =>
  typeof p.experiment.spec.duration === 'string' ? p.experiment.spec.duration : undefined;

/** The spec as created: the plan's, with a duration when it gave none (Kubernetes' own dead-man switch). */
function specToCreate(ctx: KubernetesFaultContext, p: Params): Record<string, unknown> {
  if (specDuration(p) !== undefined) return p.experiment.spec;
  if (ctx.windowMs === undefined) {
    throw new Error(
      'this step carries no observation window (resolved by an older worker): resolve it again',
    );
  }
  return { ...p.experiment.spec, duration: goDurationText(ctx.windowMs + p.durationMargin) };
}

function describeSpec(p: Params): string {
  const spec = p.experiment.spec;
  const action = typeof spec.action === 'string' ? ` ${spec.action}` : '';
  const mode = typeof spec.mode === 'string' ? `mode ${spec.mode}` : '';
  const selector = spec.selector as Record<string, unknown> | undefined;
  const labels = Object.entries((selector?.labelSelectors ?? {}) as Record<string, string>)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
  const which = [mode, labels && `pods ${labels}`].filter(Boolean).join(', ');
  return `${p.experiment.kind}${action}${which ? ` (${which})` : ''}`;
}

// ---- inject ---------------------------------------------------------------------------------------------

async function notInjected(ctx: KubernetesFaultContext, ref: ExperimentRef, p: Params, object?: ChaosObject) {
  const what = describeExperiment(ref);
  const within = formatDuration(p.injectTimeout);
  if (object === undefined) return `${what} vanished while gameday waited for AllInjected`;
  if (object.status?.conditions === undefined || object.status.conditions.length === 0) {
    return (
      `Chaos Mesh did not answer for ${what} within ${within} (it has no status): is the Chaos Mesh ` +
      `controller running, and does it watch namespace ${ref.namespace}? events: ${await experimentEvents(ctx.kube, ref)}`
    );
  }
  const failures = recordFailures(object);
  return (
    `Chaos Mesh did not report AllInjected for ${what} within ${within}: ${describeConditions(object)}` +
    (failures.length > 0 ? `; ${failures.slice(0, 5).join('; ')}` : '') +
    `; events: ${await experimentEvents(ctx.kube, ref)}`
  );
}

// ---- plan rules -----------------------------------------------------------------------------------------

function planProblems(p: Params, windowMs: number, namespace: string | undefined): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const at = (...path: (string | number)[]) => ['experiment', 'spec', ...path];
  const given = specDuration(p);
  const ms = given === undefined ? undefined : goDurationMs(given);
  if (ms !== undefined && ms < windowMs) {
    problems.push({
      path: at('duration'),
      message:
        `Chaos Mesh would end the experiment after ${given}, before the observation window ` +
        `(${formatDuration(windowMs)}) ends: leave duration out (gameday sets the window plus durationMargin) ` +
        'or make it at least the window',
    });
  }
  for (const { path, selector } of selectorsOf(p.experiment.spec)) {
    if (typeof selector !== 'object' || selector === null || namespace === undefined) continue;
    const { namespaces, pods } = selector as { namespaces?: unknown; pods?: unknown };
    if (Array.isArray(namespaces)) {
      namespaces.forEach((name, i) => {
        if (name !== namespace) {
          problems.push({
            path: at(...path, 'namespaces', i),
            message: `the experiment acts in its target group's namespace (${namespace}) only: leave namespaces out or name ${namespace}`,
          });
        }
      });
    }
    if (typeof pods === 'object' && pods !== null) {
      for (const name of Object.keys(pods)) {
        if (name !== namespace) {
          problems.push({
            path: at(...path, 'pods', name),
            message: `the experiment acts in its target group's namespace (${namespace}) only`,
          });
        }
      }
    }
  }
  if (p.restartPodsWithLeftovers && p.experiment.kind !== 'IOChaos') {
    problems.push({
      path: ['restartPodsWithLeftovers'],
      message: `only IOChaos leaves __chaosfs__ directories behind; ${p.experiment.kind} has nothing to restart for`,
    });
  }
  return problems;
}

/** The plan's selectors, checked against the pods there now: nothing selected, or every pod unasked. */
async function checkSelection(ctx: KubernetesFaultContext, p: Params, namespace: string) {
  for (const preview of await previewSelection(ctx.kube, namespace, p.experiment.spec)) {
    const where = `spec.${preview.path} of ${p.experiment.kind}`;
    if (preview.matched === 0) {
      throw new FaultUserError(
        `${where} selects no pod in namespace ${namespace}: check its labels and selectors`,
      );
    }
    if (!preview.upperBound && preview.mode !== 'all' && preview.matched === preview.inNamespace) {
      throw new FaultUserError(
        `${where} selects every pod of namespace ${namespace} (${preview.matched}); narrow it, or say mode: all ` +
          'if the whole namespace is meant',
      );
    }
  }
}

/** What removing an experiment needs besides where it is: its plan's bounds, or the janitor's. */
export interface ExperimentRemoval {
  readonly deleteTimeoutMs: number;
  /** IOChaos's volumePath: where leftover `__chaosfs__` directories are looked for. */
  readonly volumePath?: string;
  readonly restartPodsWithLeftovers: boolean;
}

/**
 * Deletes the experiment and waits until it is gone (removing a finalizer Chaos Mesh cannot let go of), noting
 * restarts of the pods it injected, and for IOChaos looks for leftover `__chaosfs__` directories. The kind's
 * rollback, and the janitor's removal of an experiment whose label says a finished run created it.
 */
export async function removeExperiment(
  ctx: KubernetesFaultContext,
  ref: ExperimentRef,
  options: ExperimentRemoval,
): Promise<void> {
  const progress = (ctx.resumed ?? {}) as RollbackProgress;
  const namespace = await readNamespace(ctx, ref.namespace);
  if (namespace === 'gone') ctx.note(`namespace ${ref.namespace} is gone, and the experiment with it`);
  else if (namespace?.metadata?.deletionTimestamp !== undefined)
    ctx.note(`namespace ${ref.namespace} is being deleted`);
  const object = await readExperiment(ctx.kube, ref);
  let injected = progress.injected;
  if (object !== undefined) {
    // Without AllInjected there is no record of ours: what Chaos Mesh did inject is in its records.
    injected ??= injectedOf(object) ?? recordsOf(object).map((record) => ({ id: record.id }));
    if (object.metadata?.deletionTimestamp === undefined && injected !== undefined) {
      await noteRestarts(ctx, object, injected);
    }
    // Kept for the attempts after this one: the experiment, and its record of the pods, go next.
    if (injected !== undefined) ctx.checkpoint({ ...progress, injected });
    await deleteExperiment(ctx, ref, options.deleteTimeoutMs);
  }
  if (ref.kind === 'IOChaos' && options.volumePath !== undefined) {
    const leftovers = { ref, volumePath: options.volumePath, restart: options.restartPodsWithLeftovers };
    await checkLeftovers(ctx, leftovers, injected, { ...progress, ...(injected ? { injected } : {}) });
  }
}

/**
 * Any Chaos Mesh experiment, written as for Chaos Mesh. gameday creates it in the target group's namespace
 * (named and labelled with the run's tag, with a duration that outlasts the window when the plan gave none, so
 * Chaos Mesh ends it by itself if every worker is gone), waits for AllInjected and records the injected pods.
 * Rollback deletes it, removes a finalizer Chaos Mesh cannot let go of, and for IOChaos looks for leftover
 * `__chaosfs__` directories (restarting those pods when the plan allows).
 */
export const chaosMesh: KubernetesFaultKind<Params, Saved> = {
  kind: 'chaos-mesh',
  description:
    'Creates a Chaos Mesh experiment (PodChaos, NetworkChaos, IOChaos, StressChaos, HTTPChaos, DNSChaos, ' +
    "TimeChaos) from its spec as written for Chaos Mesh, in the target group's namespace, with a duration that " +
    'outlasts the window; waits for AllInjected. Rollback deletes it, removes a stuck chaos-mesh/records ' +
    'finalizer, and finds (optionally restarts) pods with leftover IOChaos __chaosfs__ directories.',
  targetKinds: ['kubernetes'],
  kubernetes: { scope: 'namespace' },
  params,

  planProblems: (p, { windowMs, namespace }) => planProblems(p, windowMs, namespace),

  describe: (p, target: KubernetesTarget) => ({
    inject: `create Chaos Mesh ${describeSpec(p)} in ${target.name} (context ${target.context})`,
    rollback:
      `delete the ${p.experiment.kind} in ${target.name} (its finalizer removed if stuck` +
      `${p.experiment.kind === 'IOChaos' ? '; leftover __chaosfs__ directories looked for' : ''})`,
  }),

  async prepare(ctx, p) {
    const ref = refOf(ctx, p);
    if ((await readNamespace(ctx, ref.namespace)) === 'gone') {
      throw new FaultUserError(`namespace ${ref.namespace} does not exist (context ${ctx.kube.context})`);
    }
    if ((await readExperiment(ctx.kube, ref)) !== undefined) {
      throw new FaultUserError(
        `${describeExperiment(ref)} already exists: this run's experiment, left from before?`,
      );
    }
    const problems = planProblems(p, ctx.windowMs ?? 0, ref.namespace);
    if (problems[0] !== undefined)
      throw new FaultUserError(`params.${problems[0].path.join('.')}: ${problems[0].message}`);
    await checkSelection(ctx, p, ref.namespace);
    return ref;
  },

  async inject(ctx, p, ref) {
    const what = describeExperiment(ref);
    const existing = await readExperiment(ctx.kube, ref);
    if (existing === undefined) {
      const body = {
        apiVersion: chaosMeshApiVersion,
        kind: ref.kind,
        metadata: {
          name: ref.name,
          namespace: ref.namespace,
          labels: { [runLabel]: ctx.tag },
          annotations: { 'gameday.dev/fault': ctx.fault },
        },
        spec: specToCreate(ctx, p),
      };
      try {
        await ctx.kube.call(
          { verb: 'create', resource: resourceName(ref.kind), namespace: ref.namespace },
          () =>
            // Strict: a field the API server does not know is refused, never silently dropped.
            ctx.kube.custom.createNamespacedCustomObject({
              ...coordinates(ref),
              body,
              fieldValidation: 'Strict',
            }),
        );
      } catch (error) {
        if (!(error instanceof KubernetesError && error.status === 409)) throw error; // 409: a retry's twin
      }
    } else if (existing.metadata?.labels?.[runLabel] !== ctx.tag) {
      throw new FaultUserError(`${what} exists and is not this run's (label ${runLabel})`);
    } else if (existing.metadata?.deletionTimestamp !== undefined) {
      throw new Error(`${what} is being deleted`);
    }
    const object = await ctx.pollUntil(
      () => readExperiment(ctx.kube, ref),
      (now) => isInjected(now) || now === undefined,
      { timeoutMs: p.injectTimeout, intervalMs: 250 },
    );
    if (!isInjected(object)) throw new FaultUserError(await notInjected(ctx, ref, p, object));
    if (object === undefined || injectedOf(object) !== undefined) return;
    const injected = await injectedPods(ctx, object);
    const action = {
      verb: 'patch',
      resource: resourceName(ref.kind),
      namespace: ref.namespace,
      name: ref.name,
    };
    await ctx.kube.callIfExists(action, () =>
      ctx.kube.custom.patchNamespacedCustomObject(
        {
          ...coordinates(ref),
          name: ref.name,
          body: { metadata: { annotations: { [injectedAnnotation]: JSON.stringify(injected) } } },
        },
        mergePatch(),
      ),
    );
  },

  async verify(ctx, _p, ref) {
    const what = describeExperiment(ref);
    const object = await readExperiment(ctx.kube, ref);
    if (object === undefined) return { active: false, detail: `${what} is gone` };
    if (object.metadata?.deletionTimestamp !== undefined) {
      const held = object.metadata.finalizers?.join(', ') || 'no finalizer';
      return { active: true, detail: `${what} is being deleted (held by ${held})` };
    }
    if (!isInjected(object)) {
      return { active: false, detail: `${what} is not injected: ${describeConditions(object)}` };
    }
    const records = recordsOf(object);
    const shown = records.slice(0, 5).map((record) => record.id);
    const more = records.length > shown.length ? ` and ${records.length - shown.length} more` : '';
    const ends =
      typeof object.spec?.duration === 'string' ? `; Chaos Mesh ends it after ${object.spec.duration}` : '';
    return {
      active: true,
      detail: `${what} AllInjected into ${shown.join(', ') || 'nothing'}${more}${ends}`,
    };
  },

  rollback: (ctx, p, ref) =>
    removeExperiment(ctx, ref, {
      deleteTimeoutMs: p.deleteTimeout,
      ...(typeof p.experiment.spec.volumePath === 'string'
        ? { volumePath: p.experiment.spec.volumePath }
        : {}),
      restartPodsWithLeftovers: p.restartPodsWithLeftovers,
    }),
};
