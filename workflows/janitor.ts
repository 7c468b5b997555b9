import { activities, readOnly, rollbackOptions } from './activityOptions';
import type { JanitorFinding, JanitorInput, JanitorRemoval, JanitorReport } from './janitorDefinitions';

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
  throw new Error(removal.why);
}

/**
 * The janitor: finds what finished game days left on the worker's hosts and, with `apply`, removes each
 * through the same fault kind's rollback (never ad-hoc commands), then looks again. A workflow, so a sweep
 * interrupted by a worker crash carries on where it was. One failed removal never stops the others.
 */
export async function janitor(input: JanitorInput): Promise<JanitorReport> {
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
