import { z } from 'zod';
import { duration, formatDuration } from './duration';
import { describeSelection, kubernetesSelection } from './kubernetes';
import { identifier, kubernetesContext, kubernetesName } from './safeValues';

// Recovery actions: what seed 003's "quick recovery" does by hand (kubectl delete pod, kubectl rollout restart),
// run by gameday after rollback only when the recovery checks still fail, and only when the plan names them.

const waitTimeout = duration({ min: '1s', max: '1h' }).default(300_000);

const deletePods = kubernetesSelection
  .safeExtend({
    kind: z.literal('pod').default('pod').describe('recovery actions delete pods'),
    failing: identifier
      .optional()
      .describe(
        'only the selected pods this check (a kubernetes ready check of the plan) finds not Ready at the time',
      ),
    gracePeriod: duration({ max: '10m' })
      .optional()
      .describe('how long each pod gets to stop (default: its own terminationGracePeriodSeconds)'),
    timeout: waitTimeout.describe(
      "how long to wait until the pods' owners have their desired pods Ready again",
    ),
  })
  .describe(
    'delete the selected pods (as kubectl delete pod) and wait until their owners have them Ready again; ' +
      'pods no controller owns are left alone (nothing would bring them back)',
  );

const rolloutRestart = z
  .strictObject({
    context: kubernetesContext.describe("a context of the worker's configuration (kubernetes.contexts)"),
    namespace: kubernetesName,
    kind: z.enum(['deployment', 'statefulset']),
    name: kubernetesName,
    timeout: waitTimeout.describe('how long to wait for the rollout to finish'),
  })
  .describe(
    'restart a workload as kubectl rollout restart does (the pod template annotation ' +
      'kubectl.kubernetes.io/restartedAt) and wait for the rollout, as kubectl rollout status',
  );

const kinds = ['deletePods', 'rolloutRestart'] as const;

export const recoveryActionSchema = z
  .strictObject({ deletePods: deletePods.optional(), rolloutRestart: rolloutRestart.optional() })
  .refine((action) => kinds.filter((kind) => action[kind] !== undefined).length === 1, {
    message: `give exactly one of ${kinds.join(', ')}`,
  });
export type RecoveryAction = z.output<typeof recoveryActionSchema>;
export type DeletePodsAction = NonNullable<RecoveryAction['deletePods']>;
export type RolloutRestartAction = NonNullable<RecoveryAction['rolloutRestart']>;

/** The most recovery actions a plan may name. */
export const maxRecoveryActions = 20;

/** Where an action acts: its context and namespace (for the worker's allow-lists). */
export function actionScope(action: RecoveryAction): { context: string; namespace: string } {
  const scope = action.deletePods ?? action.rolloutRestart;
  if (scope === undefined) throw new Error('a recovery action names deletePods or rolloutRestart');
  return { context: scope.context, namespace: scope.namespace ?? '' };
}

/** Plain words for the timeline, the report and the activity's summary. */
export function describeRecoveryAction(action: RecoveryAction): string {
  if (action.deletePods !== undefined) {
    const d = action.deletePods;
    const which = d.failing === undefined ? '' : ` that check ${d.failing} finds not Ready`;
    return `delete ${describeSelection(d)}${which}, then wait up to ${formatDuration(d.timeout)} for them to be Ready`;
  }
  if (action.rolloutRestart !== undefined) {
    const r = action.rolloutRestart;
    return (
      `rollout restart ${r.kind} ${r.namespace}/${r.name} (context ${r.context}), then wait up to ` +
      `${formatDuration(r.timeout)} for the rollout`
    );
  }
  throw new Error('a recovery action names deletePods or rolloutRestart');
}
