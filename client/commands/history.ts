import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../../plan/duration';
import { gameDayWorkflowType, searchAttributes, type GameDayReport } from '../../workflows/definitions';
import { CliError, exitCodes } from '../exitCodes';
import { withTemporal, type Temporal } from '../gameDays';
import {
  historyRun,
  historySection,
  historyTable,
  planHistory,
  type HistoryRun,
  type PlanHistory,
} from '../history';
import { htmlPage } from '../htmlReport';
import type { GlobalFlags } from '../options';
import { printable } from '../printable';

/** Runs of more than this many are cut to the newest: a nightly plan has 30 in a month. */
const maxHistoryRuns = 500;

/** What `history` (and the HTML report's history section) look back over without `--since`. */
export const defaultHistorySpanMs = 30 * 86_400_000;

/** `--since 30d`: milliseconds back from now. */
export function sinceOption(value: string): number {
  const millis = parseDuration(value, ['m', 'h', 'd', 'w'], false);
  if (millis === undefined || millis <= 0)
    throw new InvalidArgumentError('must be a duration such as 30d, 2w or 12h');
  return millis;
}

/** Plan names are identifiers (`plan/safeValues.ts`): anything else cannot have runs, and must not reach a query. */
const planName = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A plan name given on the command line, checked before it is put in a visibility query. */
export function planNameArgument(plan: string): string {
  if (!planName.test(plan)) throw new CliError(`${plan}: not a plan name`, exitCodes.usage);
  return plan;
}

/**
 * The plan's runs since a moment, found through visibility by its search attribute (as `gameday list` finds
 * game days), each finished one read from its result.
 */
export async function fetchPlanHistory(
  temporal: Temporal,
  plan: string,
  sinceMs: number,
): Promise<PlanHistory> {
  // Checked here too: the report page passes the plan name a workflow's result carries.
  planNameArgument(plan);
  const since = new Date(Date.now() - sinceMs).toISOString();
  const runs: HistoryRun[] = [];
  const query = `WorkflowType = '${gameDayWorkflowType}' AND ${searchAttributes.plan.name} = '${plan}' AND StartTime >= '${since}'`;
  for await (const execution of temporal.client.workflow.list({ query, pageSize: 100 })) {
    if (execution.status.name === 'COMPLETED') {
      const report = (await temporal.client.workflow
        .getHandle(execution.workflowId, execution.runId)
        .result()) as GameDayReport;
      runs.push(historyRun(report));
    } else {
      // Running, terminated, timed out…: no report to read, the status says what happened.
      runs.push({
        workflowId: execution.workflowId,
        startedAt: execution.startTime.toISOString(),
        outcome: execution.status.name.toLowerCase().replace(/_/g, '-'),
      });
    }
    if (runs.length >= maxHistoryRuns) break;
  }
  return planHistory(plan, since, runs);
}

export function historyCommand(
  plan: string,
  flags: GlobalFlags & { since?: number; json?: boolean; format?: string; out?: string },
): Promise<number> {
  if (!planName.test(plan)) {
    console.error(printable(`${plan}: not a plan name (lower-case letters, digits and "-")`));
    return Promise.resolve(exitCodes.usage);
  }
  return withTemporal(flags, async (temporal) => {
    const history = await fetchPlanHistory(temporal, plan, flags.since ?? defaultHistorySpanMs);
    let output: string;
    if (flags.json) output = JSON.stringify(history, null, 2);
    else if (flags.format === 'html') output = htmlPage(`History of ${plan}`, historySection(history));
    else output = printable(historyTable(history));
    if (flags.out) await writeFile(flags.out, output.endsWith('\n') ? output : `${output}\n`);
    else console.log(output);
    return exitCodes.passed;
  });
}
