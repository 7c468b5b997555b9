import { workflowInfo } from '@temporalio/workflow';
import type { JanitorNotificationSummary } from '../activities/notify';
import { activities, readOnly, rollbackOptions } from './activityOptions';
import type { JanitorFinding, JanitorInput, JanitorRemoval, JanitorReport } from './janitorDefinitions';
import { notifyOptions } from './notify';

const failureText = (error: unknown): string => {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
};

/** Reverting a bare dead-man switch: a few attempts, like an inject; what is left is listed again next time. */
const hostRevertOptions = {
  startToCloseTimeout: '2m',
  heartbeatTimeout: '5s',
  retry: { initialInterval: '500ms', maximumAttempts: 3 },
} as const;

/**
 * Removing a cluster's leftover waits like its kind's rollback: a deleted experiment until gone (its finalizer
 * removed after a minute), a scaled workload until its replicas are Ready (two minutes).
 */
const clusterRevertOptions = {
  startToCloseTimeout: '5m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
} as const;

/** Removes one finding the way its run would have: its fault kind's rollback, or its switch's own revert. */
async function remove(finding: JanitorFinding): Promise<string> {
  const { removal } = finding;
  if (removal.kind === 'rollback') {
    const result = await activities({
      ...rollbackOptions,
      summary: `janitor: ${removal.fault.step.rollback} (left by run ${removal.fault.tag})`,
    }).rollbackFault(removal.fault);
    return result.revertedByHost === undefined
      ? result.detail
      : `${result.detail}; the host had already reverted it: ${result.revertedByHost}`;
  }
  if (removal.kind === 'host-revert') {
    return activities({
      ...hostRevertOptions,
      summary: `janitor: fire and remove the dead-man switch ${removal.base} on ${finding.host}`,
    }).revertDeadManSwitch({ target: removal.target, base: removal.base });
  }
  if (removal.kind === 'fault-revert') {
    return activities({
      ...hostRevertOptions,
      summary: `janitor: remove ${finding.what} on ${finding.host}`,
    }).revertHostFault({ target: removal.target, leftover: removal.leftover });
  }
  if (removal.kind === 'cluster-revert') {
    return activities({
      ...clusterRevertOptions,
      summary: `janitor: remove ${finding.what}`,
    }).revertClusterLeftover({ context: removal.context, leftover: removal.leftover });
  }
  throw new Error(removal.why);
}

/** A chat message lists a few findings; the janitor's report has them all. */
const maxNotifiedFindings = 20;

function notificationOf(report: JanitorReport): JanitorNotificationSummary {
  const { findings } = report;
  return {
    workflowId: workflowInfo().workflowId,
    apply: report.apply,
    found: findings.length,
    inPlace: findings.filter((finding) => finding.inert !== true).length,
    removed: report.removed.length,
    failed: report.failed.length,
    remaining: report.remaining.length,
    hosts: [...new Set(findings.map((finding) => finding.host))].sort(),
    items: findings.slice(0, maxNotifiedFindings).map(({ host, tag, what, since }) => ({
      host,
      tag,
      what,
      ...(since === undefined ? {} : { since }),
    })),
  };
}

/** Tells the sweep's webhooks about its findings; a failure becomes a note of the report, never an error. */
async function notifyFindings(report: JanitorReport, names: readonly string[]): Promise<JanitorReport> {
  if (names.length === 0 || report.findings.length === 0) return report;
  try {
    const result = await activities({
      ...notifyOptions,
      summary: `notify ${names.join(', ')}: janitor-findings`,
    }).notify({ names, event: 'janitor-findings', janitor: notificationOf(report) });
    return {
      ...report,
      notes: [
        ...result.sent.map((name) => `notified ${name}: janitor-findings`),
        ...result.failed.map((failure) => `notification not sent: ${failure}`),
      ],
    };
  } catch (error) {
    return { ...report, notes: [`notification not sent: ${failureText(error)}`] };
  }
}

/**
 * The janitor: finds what finished game days left on the worker's hosts and, with `apply`, removes each
 * through the same fault kind's rollback (never ad-hoc commands), then looks again. A workflow, so a sweep
 * interrupted by a worker crash carries on where it was. One failed removal never stops the others.
 */
export async function janitor(input: JanitorInput): Promise<JanitorReport> {
  return notifyFindings(await sweep(input), input.notify ?? []);
}

async function sweep(input: JanitorInput): Promise<JanitorReport> {
  const startedAt = new Date().toISOString();
  const scope = {
    ...(input.targets === undefined ? {} : { targets: input.targets }),
    ...(input.plan === undefined ? {} : { plan: input.plan }),
    ...(input.tags === undefined ? {} : { tags: input.tags }),
  };
  const find = (summary: string) => activities({ ...readOnly, summary }).findJanitorFindings(scope);
  const findings = await find('janitor: look for leftovers of finished game days');
  const apply = input.apply === true;
  const removable = findings.filter((finding) => finding.removal.kind !== 'none');
  const skipped = findings.filter((finding) => finding.removal.kind === 'none');
  if (!apply || removable.length === 0) {
    return { apply, startedAt, findings, removed: [], failed: [], skipped, remaining: apply ? findings : [] };
  }
  const removed: JanitorRemoval[] = [];
  const failed: JanitorRemoval[] = [];
  // Hosts are independent; on one host, findings are removed in turn (a run's last fault first, as its
  // rollback would have).
  const byHost = new Map<string, JanitorFinding[]>();
  for (const finding of [...removable].reverse()) {
    byHost.set(finding.host, [...(byHost.get(finding.host) ?? []), finding]);
  }
  await Promise.all(
    [...byHost.values()].map(async (hostFindings) => {
      for (const finding of hostFindings) {
        const done = { host: finding.host, tag: finding.tag, what: finding.what };
        try {
          removed.push({ ...done, detail: await remove(finding) });
        } catch (error) {
          failed.push({ ...done, error: failureText(error) });
        }
      }
    }),
  );
  const remaining = await find('janitor: look again after removing');
  return { apply, startedAt, findings, removed, failed, skipped, remaining };
}
