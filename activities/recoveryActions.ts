import type { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { V1Deployment, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { formatDuration } from '../plan/duration';
import type { DeletePodsAction, RolloutRestartAction } from '../plan/recoveryActions';
import type { RecoveryActionInput, RecoveryActionResult } from '../workflows/definitions';
import { clientFor, listPods, podName, podReady } from './checks/kubernetesPods';
import type { ActivityDeps } from './deps';
import { heartbeat, withHeartbeats } from './heartbeat';
import { KubernetesError, mergePatch, type KubernetesClient } from './kubernetes/client';
import { runLabel } from './kubernetes/clusters';
import { controllerOf, ownerReadiness, type Owner } from './kubernetes/owners';

// Recovery actions (plan `recovery.actions`), each one activity: what an operator does by hand when a service
// does not come back by itself (seed 003's quick recovery). Every object they change carries the run's tag.

/** The annotation `kubectl rollout restart` sets on the pod template: a changed value rolls every pod. */
export const restartedAtAnnotation = 'kubectl.kubernetes.io/restartedAt';

/** A failure retrying cannot fix (refused by RBAC, a workload that cannot be restarted, a wait that ran out). */
function actionFailed(message: string): never {
  throw ApplicationFailure.create({ type: 'RecoveryActionFailed', message, nonRetryable: true });
}

/** A pod this action deleted, and what must have it back. */
interface DeletedPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly owner: Owner;
}

/** Heartbeat details: once pods are deleted, a retry waits for them instead of choosing again. */
interface DeleteProgress {
  deleted?: DeletedPod[];
  skipped?: string[];
}

const sleep = (ctx: Context, ms: number) => ctx.sleep(ms);

/** The selected pods the action may delete: created before it began, and (with `failing`) not Ready now. */
async function podsToDelete(
  deps: ActivityDeps,
  kube: KubernetesClient,
  action: DeletePodsAction,
  input: RecoveryActionInput,
): Promise<V1Pod[]> {
  const began = Date.parse(input.at);
  // A pod created since the action began is a replacement: never deleted by it, whatever a retry sees.
  const older = (await listPods(kube, action)).filter(
    (pod) => (pod.metadata?.creationTimestamp?.getTime() ?? 0) < began,
  );
  const check = input.failing?.kubernetes;
  if (check === undefined) return older;
  const checked = await listPods(clientFor(deps.kubernetes, check), check);
  const notReady = new Set(checked.filter((pod) => !podReady(pod)).map((pod) => pod.metadata?.uid));
  return older.filter((pod) => notReady.has(pod.metadata?.uid));
}

/** Deletes one pod, by UID (never a replacement with its name), after tagging it with the run. */
async function deletePod(
  kube: KubernetesClient,
  pod: DeletedPod,
  tag: string,
  gracePeriodMs?: number,
): Promise<void> {
  const at = { namespace: pod.namespace, name: pod.name };
  await kube.callIfExists({ verb: 'patch', resource: 'pods', ...at }, () =>
    kube.core.patchNamespacedPod(
      { ...at, body: { metadata: { annotations: { [runLabel]: tag } } } },
      mergePatch(),
    ),
  );
  const grace = gracePeriodMs === undefined ? {} : { gracePeriodSeconds: Math.ceil(gracePeriodMs / 1000) };
  try {
    await kube.callIfExists({ verb: 'delete', resource: 'pods', ...at }, () =>
      kube.core.deleteNamespacedPod({ ...at, ...grace, body: { preconditions: { uid: pod.uid }, ...grace } }),
    );
  } catch (error) {
    // The UID precondition failed: the pod was already replaced.
    if (error instanceof KubernetesError && error.status === 409) return;
    throw error;
  }
}

/** Whether each deleted pod is gone and its owner has its desired pods Ready; in words either way. */
async function deletedAreBack(
  kube: KubernetesClient,
  deleted: readonly DeletedPod[],
): Promise<{ back: boolean; detail: string }> {
  const owners = new Map(deleted.map((pod) => [`${pod.namespace}/${pod.owner.kind}/${pod.owner.name}`, pod]));
  const states = await Promise.all(
    [...owners.values()].map(async ({ namespace, owner }) => {
      const readiness = await ownerReadiness(kube, namespace, owner);
      const name = `${owner.kind} ${owner.name}`;
      if (readiness === undefined) return { back: true, detail: `${name} is gone or not waited for` };
      return {
        back: readiness.ready >= readiness.desired,
        detail: `${name} has ${readiness.ready} of ${readiness.desired} pods Ready`,
      };
    }),
  );
  const lingering = await Promise.all(
    deleted.map(async (pod) => {
      const now = await kube.callIfExists(
        { verb: 'get', resource: 'pods', namespace: pod.namespace, name: pod.name },
        () => kube.core.readNamespacedPod({ name: pod.name, namespace: pod.namespace }),
      );
      return now?.metadata?.uid === pod.uid ? [pod.name] : [];
    }),
  );
  const stillThere = lingering.flat();
  return {
    back: stillThere.length === 0 && states.every((state) => state.back),
    detail: [
      ...states.map((state) => state.detail),
      ...(stillThere.length > 0 ? [`still terminating: ${stillThere.join(', ')}`] : []),
    ].join('; '),
  };
}

async function deletePods(
  deps: ActivityDeps,
  ctx: Context,
  input: RecoveryActionInput,
  action: DeletePodsAction,
  progress: DeleteProgress,
): Promise<RecoveryActionResult> {
  const kube = clientFor(deps.kubernetes, action);
  if (progress.deleted === undefined) {
    const chosen = await podsToDelete(deps, kube, action, input);
    const skipped = chosen.filter((pod) => controllerOf(pod.metadata?.ownerReferences) === undefined);
    const deleted = chosen.flatMap((pod): DeletedPod[] => {
      const owner = controllerOf(pod.metadata?.ownerReferences);
      return owner === undefined
        ? []
        : [{ namespace: action.namespace ?? '', name: podName(pod), uid: pod.metadata?.uid ?? '', owner }];
    });
    for (const pod of deleted) await deletePod(kube, pod, input.tag, action.gracePeriod);
    progress.deleted = deleted;
    progress.skipped = skipped.map(podName);
    heartbeat(ctx, progress);
  }
  const deleted = progress.deleted;
  const skipped =
    (progress.skipped ?? []).length > 0
      ? `; left alone, since no controller would bring them back: ${(progress.skipped ?? []).join(', ')}`
      : '';
  if (deleted.length === 0) {
    const why =
      action.failing === undefined ? 'none selected' : `check ${action.failing} finds every pod Ready`;
    return { detail: `no pod deleted: ${why}${skipped}` };
  }
  const names = deleted.map((pod) => pod.name).join(', ');
  const deadline = Date.now() + action.timeout;
  for (;;) {
    const state = await deletedAreBack(kube, deleted);
    if (state.back) return { detail: `deleted ${names}; ${state.detail}${skipped}` };
    if (Date.now() >= deadline) {
      actionFailed(`deleted ${names}, not back after ${formatDuration(action.timeout)}: ${state.detail}`);
    }
    await sleep(ctx, 500);
  }
}

/** Where a rollout stands, as `kubectl rollout status` judges it. */
interface RolloutState {
  readonly done: boolean;
  readonly detail: string;
}

export function deploymentRollout(deployment: V1Deployment): RolloutState {
  const generation = deployment.metadata?.generation ?? 0;
  const status = deployment.status ?? {};
  if ((status.observedGeneration ?? 0) < generation)
    return { done: false, detail: 'the new spec is not observed yet' };
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    actionFailed(
      `deployment ${deployment.metadata?.name ?? ''} exceeded its progress deadline: ${progressing.message ?? ''}`,
    );
  }
  const desired = deployment.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < desired) return { done: false, detail: `${updated} of ${desired} replicas updated` };
  if ((status.replicas ?? 0) > updated) {
    return { done: false, detail: `${(status.replicas ?? 0) - updated} old replica(s) pending termination` };
  }
  if (available < updated)
    return { done: false, detail: `${available} of ${updated} updated replicas available` };
  return { done: true, detail: `${updated} of ${desired} replicas updated and available` };
}

export function statefulSetRollout(set: V1StatefulSet): RolloutState {
  const generation = set.metadata?.generation ?? 0;
  const status = set.status;
  if (status === undefined || (status.observedGeneration ?? 0) < generation) {
    return { done: false, detail: 'the new spec is not observed yet' };
  }
  const desired = set.spec?.replicas ?? 1;
  const ready = status.readyReplicas ?? 0;
  if (ready < desired) return { done: false, detail: `${ready} of ${desired} pods Ready` };
  const partition = set.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
  if (partition > 0) {
    const updated = status.updatedReplicas ?? 0;
    return updated < desired - partition
      ? { done: false, detail: `${updated} of ${desired - partition} pods above the partition updated` }
      : { done: true, detail: `partitioned rollout complete: ${updated} pods updated` };
  }
  if (status.updateRevision !== status.currentRevision) {
    return { done: false, detail: `${status.updatedReplicas ?? 0} of ${desired} pods at the new revision` };
  }
  return {
    done: true,
    detail: `${ready} of ${desired} pods Ready at revision ${status.currentRevision ?? ''}`,
  };
}

async function rolloutRestart(
  deps: ActivityDeps,
  ctx: Context,
  input: RecoveryActionInput,
  action: RolloutRestartAction,
): Promise<RecoveryActionResult> {
  const kube = clientFor(deps.kubernetes, action);
  const { namespace, name } = action;
  const resource = `${action.kind}s`;
  const what = `${action.kind} ${namespace}/${name}`;
  // restartedAt is the workflow's time for this action: a retried patch changes nothing and rolls no pod twice.
  const body = {
    metadata: { annotations: { [runLabel]: input.tag } },
    spec: { template: { metadata: { annotations: { [restartedAtAnnotation]: input.at } } } },
  };
  const call = <T>(verb: string, request: () => Promise<T>) =>
    kube
      .callIfExists({ verb, resource, namespace, name }, request)
      .then((found) => found ?? actionFailed(`${what} does not exist (context ${action.context})`));
  const read =
    action.kind === 'deployment'
      ? async () =>
          deploymentRollout(await call('get', () => kube.apps.readNamespacedDeployment({ name, namespace })))
      : async () =>
          statefulSetRollout(
            await call('get', () => kube.apps.readNamespacedStatefulSet({ name, namespace })),
          );
  if (action.kind === 'deployment') {
    await call('patch', () => kube.apps.patchNamespacedDeployment({ name, namespace, body }, mergePatch()));
  } else {
    const set = await call('get', () => kube.apps.readNamespacedStatefulSet({ name, namespace }));
    if (set.spec?.updateStrategy?.type === 'OnDelete') {
      actionFailed(`${what} updates OnDelete: a rollout restart replaces none of its pods; use deletePods`);
    }
    await call('patch', () => kube.apps.patchNamespacedStatefulSet({ name, namespace, body }, mergePatch()));
  }
  const deadline = Date.now() + action.timeout;
  for (;;) {
    const state = await read();
    if (state.done) return { detail: `${what} restarted (restartedAt ${input.at}): ${state.detail}` };
    if (Date.now() >= deadline) {
      actionFailed(
        `${what} restarted, rollout not finished after ${formatDuration(action.timeout)}: ${state.detail}`,
      );
    }
    await sleep(ctx, 500);
  }
}

/** Runs one recovery action of the plan and waits for its effect; its failure names what it did and saw. */
export function runRecoveryAction(
  deps: ActivityDeps,
  input: RecoveryActionInput,
): Promise<RecoveryActionResult> {
  let progress: DeleteProgress = {};
  return withHeartbeats(
    async (ctx) => {
      progress = (ctx.info.heartbeatDetails as DeleteProgress | undefined) ?? progress;
      const { deletePods: d, rolloutRestart: r } = input.action;
      try {
        if (d !== undefined) return await deletePods(deps, ctx, input, d, progress);
        if (r !== undefined) return await rolloutRestart(deps, ctx, input, r);
      } catch (error) {
        if (error instanceof KubernetesError && error.refused) actionFailed(error.message);
        throw error;
      }
      return actionFailed('a recovery action names deletePods or rolloutRestart');
    },
    () => progress,
  );
}
