import { randomBytes } from 'node:crypto';
import {
  janitorWorkflowType,
  type JanitorInput,
  type JanitorReport,
} from '../../workflows/janitorDefinitions';
import type { janitor } from '../../workflows/janitor';
import { exitCodes } from '../exitCodes';
import { withTemporal } from '../gameDays';
import { renderJanitorReport } from '../janitorRender';
import { taskQueueOf, type GlobalFlags } from '../options';

export interface JanitorFlags extends GlobalFlags {
  readonly targets?: readonly string[];
  readonly tag?: readonly string[];
  readonly apply?: boolean;
  readonly notify?: readonly string[];
  readonly json?: boolean;
}

/** `gameday-janitor-<UTC timestamp>-<4 hex>`: several sweeps may start in one second (a schedule, a person). */
function janitorWorkflowId(at = new Date()): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `gameday-janitor-${stamp}-${randomBytes(2).toString('hex')}`;
}

/** Whether the hosts are clean after this sweep (a dry run: whether they were). */
export const janitorLeftClean = (report: JanitorReport): boolean =>
  (report.apply ? report.remaining : report.findings).length === 0 && report.failed.length === 0;

/**
 * Runs the janitor workflow on the worker (it alone reaches the hosts) and waits for its report. Exit 0 when
 * the hosts are clean (after `--apply`, when nothing remains), 1 when leftovers were found or remain.
 */
export function janitorCommand(flags: JanitorFlags): Promise<number> {
  const input: JanitorInput = {
    ...(flags.targets === undefined || flags.targets.length === 0 ? {} : { targets: flags.targets }),
    ...(flags.tag === undefined || flags.tag.length === 0 ? {} : { tags: flags.tag }),
    apply: flags.apply === true,
    ...(flags.notify === undefined || flags.notify.length === 0 ? {} : { notify: flags.notify }),
  };
  return withTemporal(flags, async (temporal) => {
    const report = await temporal.client.workflow.execute<typeof janitor>(janitorWorkflowType, {
      taskQueue: taskQueueOf(flags),
      workflowId: janitorWorkflowId(),
      args: [input],
      staticSummary: input.apply ? 'janitor: remove leftovers of finished game days' : 'janitor: dry run',
    });
    console.log(flags.json ? JSON.stringify(report, null, 2) : renderJanitorReport(report));
    return janitorLeftClean(report) ? exitCodes.passed : exitCodes.failed;
  });
}
