import { posix } from 'node:path';
import { formatDuration } from '../../plan/duration';
import type { KubernetesFaultContext } from '../faults/contract';
import {
  coordinates,
  describeExperiment,
  podOfRecord,
  readExperiment,
  recordFailures,
  recordsOf,
  resourceName,
  type ChaosObject,
  type ExperimentRef,
} from './chaosMeshExperiment';
import { readPod, type InjectedPod } from './chaosMeshInjected';
import { chaosMeshResources, recordsFinalizer } from './chaosMeshSpec';
import { KubernetesError } from './client';
import { controllerOf } from './owners';

// What a Chaos Mesh experiment's rollback does besides deleting it: the finalizer Chaos Mesh cannot let go of,
// and IOChaos's leftover __chaosfs__ directories. Each step ends, with a note, when what it would ask is gone.

/** What the first rollback attempt read before deleting, for the attempts after it (the experiment is gone). */
export interface RollbackProgress {
  readonly injected?: readonly InjectedPod[];
  readonly restarted?: readonly string[];
}

/**
 * The namespace, 'gone', or undefined when it cannot be read: a worker whose Roles are per namespace may not
 * read Namespace objects (cluster-scoped), and nothing here depends on it (the create says what is missing).
 */
export async function readNamespace(ctx: KubernetesFaultContext, name: string) {
  try {
    const found = await ctx.kube.callIfExists({ verb: 'get', resource: 'namespaces', name }, () =>
      ctx.kube.core.readNamespace({ name }),
    );
    return found ?? 'gone';
  } catch {
    return undefined;
  }
}

const deletedAt = (object: ChaosObject): number | undefined => {
  const at = object.metadata?.deletionTimestamp as Date | string | undefined;
  return at === undefined ? undefined : new Date(at).getTime();
};

/** Removes Chaos Mesh's records finalizer, keeping any other (a JSON patch that tests the list it read). */
async function removeRecordsFinalizer(ctx: KubernetesFaultContext, ref: ExperimentRef, object: ChaosObject) {
  const finalizers = object.metadata?.finalizers ?? [];
  const action = {
    verb: 'patch',
    resource: resourceName(ref.kind),
    namespace: ref.namespace,
    name: ref.name,
  };
  try {
    await ctx.kube.callIfExists(action, () =>
      ctx.kube.custom.patchNamespacedCustomObject({
        ...coordinates(ref),
        name: ref.name,
        body: [
          { op: 'test', path: '/metadata/finalizers', value: finalizers },
          {
            op: 'replace',
            path: '/metadata/finalizers',
            value: finalizers.filter((finalizer) => finalizer !== recordsFinalizer),
          },
        ],
      }),
    );
  } catch (error) {
    // The list changed under us (the controller let go at last): the next look decides.
    if (error instanceof KubernetesError && (error.status === 409 || error.status === 422)) return;
    throw error;
  }
}

/**
 * Deletes the experiment and waits for it to go; past `deleteTimeout` after its deletion it removes the records
 * finalizer Chaos Mesh cannot let go of (its daemon lost the process it would undo: seed 000's stuck IOChaos).
 */
export async function deleteExperiment(
  ctx: KubernetesFaultContext,
  ref: ExperimentRef,
  deleteTimeoutMs: number,
) {
  const what = describeExperiment(ref);
  const action = {
    verb: 'delete',
    resource: resourceName(ref.kind),
    namespace: ref.namespace,
    name: ref.name,
  };
  await ctx.kube.callIfExists(action, () =>
    ctx.kube.custom.deleteNamespacedCustomObject({ ...coordinates(ref), name: ref.name }),
  );
  // Each round waits out the bound or removes the finalizer once; a finalizer that comes back is not chased.
  for (let round = 0; round < 5; round++) {
    const object = await readExperiment(ctx.kube, ref);
    if (object === undefined) return;
    const since = deletedAt(object) ?? Date.now();
    const left = since + deleteTimeoutMs - Date.now();
    const finalizers = object.metadata?.finalizers ?? [];
    if (left > 0) {
      const gone = await ctx.pollUntil(
        () => readExperiment(ctx.kube, ref),
        (now) => now === undefined,
        { timeoutMs: left, intervalMs: 250 },
      );
      if (gone === undefined) return;
      continue;
    }
    if (!finalizers.includes(recordsFinalizer)) {
      throw new Error(
        `${what} is still being deleted, held by ${finalizers.join(', ') || 'nothing'}: not Chaos Mesh's ` +
          'finalizer, so gameday leaves it to its owner',
      );
    }
    const failures = recordFailures(object);
    await removeRecordsFinalizer(ctx, ref, object);
    ctx.intervene(
      `removed finalizer ${recordsFinalizer} from ${what}, still being deleted ${formatDuration(deleteTimeoutMs)} ` +
        `after its deletion (Chaos Mesh could not recover it${failures.length ? `: ${failures.slice(0, 3).join('; ')}` : ''}); ` +
        `as kubectl patch ${ref.kind.toLowerCase()} ${ref.name} -n ${ref.namespace} --type=merge -p '{"metadata":{"finalizers":null}}'`,
    );
  }
  throw new Error(`${what} is still there after its ${recordsFinalizer} finalizer was removed`);
}

/** Why a pod's __chaosfs__ directory may be another IOChaos's live proxy, not a leftover; undefined if not. */
async function otherInjection(ctx: KubernetesFaultContext, ref: ExperimentRef, podName: string) {
  const { group, version, plural } = chaosMeshResources.IOChaos;
  try {
    const list = (await ctx.kube.call(
      { verb: 'list', resource: resourceName('IOChaos'), namespace: ref.namespace },
      () => ctx.kube.custom.listNamespacedCustomObject({ group, version, plural, namespace: ref.namespace }),
    )) as { items: ChaosObject[] };
    const other = list.items.find(
      (object) =>
        object.metadata?.name !== ref.name &&
        recordsOf(object).some(
          (record) => record.id.startsWith(`${podName}/`) && record.phase === 'Injected',
        ),
    );
    return other === undefined ? undefined : `IOChaos ${other.metadata?.name ?? '?'} still injects it`;
  } catch (error) {
    return `the other IOChaos experiments could not be listed (${(error as Error).message.slice(0, 200)})`;
  }
}

/**
 * IOChaos mounts a FUSE proxy at `__chaosfs__<dir>__` next to its volumePath; a recovery that failed leaves it,
 * and the next IOChaos on the pod fails. Each injected pod still there is looked at (`ls` of the parent) and,
 * when the plan allows, restarted. A pod that is gone, or that cannot be asked, is a note: never an endless wait.
 */
export async function checkLeftovers(
  ctx: KubernetesFaultContext,
  { ref, volumePath, restart }: { ref: ExperimentRef; volumePath: string; restart: boolean },
  injected: readonly InjectedPod[] | undefined,
  progress: RollbackProgress,
) {
  if (posix.basename(volumePath) === '') return;
  const parent = posix.dirname(volumePath);
  const leftover = `__chaosfs__${posix.basename(volumePath)}__`;
  const shown = posix.join(parent, leftover);
  if (injected === undefined) {
    ctx.note(`no record of injected pods (the experiment was already gone): ${shown} not looked for`);
    return;
  }
  const restarted = [...(progress.restarted ?? [])];
  const seen = new Set<string>();
  for (const record of injected) {
    const where = podOfRecord(record.id);
    if (where === undefined) continue;
    const podName = `${where.namespace}/${where.pod}`;
    if (seen.has(podName) || restarted.includes(podName)) continue;
    seen.add(podName);
    const pod = await readPod(ctx, where.namespace, where.pod);
    if (pod === undefined || pod.metadata?.deletionTimestamp !== undefined) {
      ctx.note(`pod ${podName} is gone: no ${shown} left in it to look for`);
      continue;
    }
    const container = where.container ?? pod.spec?.containers[0]?.name ?? '';
    let listing;
    try {
      listing = await ctx.execInPod(where.namespace, where.pod, container, ['ls', parent]);
    } catch (error) {
      ctx.note(
        `could not look for a leftover ${shown} in ${podName}: ${(error as Error).message.slice(0, 300)}`,
      );
      continue;
    }
    if (listing.exitCode !== 0) {
      const said = listing.stderr.trim().slice(0, 200);
      ctx.note(
        `could not look for a leftover ${shown} in ${podName}: ls exited ${listing.exitCode}${said ? ` (${said})` : ''}`,
      );
      continue;
    }
    if (!listing.stdout.split('\n').some((line) => line.trim() === leftover)) continue;
    const other = await otherInjection(ctx, ref, podName);
    if (other !== undefined) {
      ctx.note(`${podName} has ${shown}, but ${other}: left alone`);
      continue;
    }
    const owner = controllerOf(pod.metadata?.ownerReferences);
    const fix = `kubectl delete pod ${where.pod} -n ${where.namespace}`;
    if (!restart) {
      ctx.note(
        `${podName} still has ${shown}: a later IOChaos on it will fail until it restarts (${fix}, or say ` +
          'restartPodsWithLeftovers: true)',
      );
      continue;
    }
    if (owner === undefined) {
      ctx.note(`${podName} still has ${shown}, and no owner would bring it back: not restarted (${fix})`);
      continue;
    }
    await ctx.kube.callIfExists(
      { verb: 'delete', resource: 'pods', namespace: where.namespace, name: where.pod },
      () =>
        ctx.kube.core.deleteNamespacedPod({
          namespace: where.namespace,
          name: where.pod,
          // Only the pod that has the leftover: never its replacement.
          body: pod.metadata?.uid ? { preconditions: { uid: pod.metadata.uid } } : {},
        }),
    );
    restarted.push(podName);
    ctx.checkpoint({ ...progress, restarted });
    ctx.intervene(
      `restarted pod ${podName} (${owner.kind} ${owner.name}): it still had ${shown} (as ${fix})`,
    );
  }
}
