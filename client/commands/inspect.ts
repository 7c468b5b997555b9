import { writeFile } from 'node:fs/promises';
import { formatPlanError, loadPlanFile } from '../../plan/load';
import { planJsonSchema } from '../../plan/schema';
import { gameDayWorkflowType, searchAttributes, type GameDayReport } from '../../workflows/definitions';
import { exitCodeFor, exitCodes } from '../exitCodes';
import { abortGameDay, currentReport, handleFor, withTemporal } from '../gameDays';
import { uiUrlOf, type GlobalFlags } from '../options';
import { printable } from '../printable';
import { renderHtmlReport } from '../htmlReport';
import { outcomeLine, renderReport, timelineLine, uiLink } from '../render';
import { style } from '../style';
import { scheduleIdArgument } from './schedule';
import { defaultHistorySpanMs, fetchPlanHistory } from './history';

export function schemaCommand(): number {
  console.log(JSON.stringify(planJsonSchema(), null, 2));
  return exitCodes.passed;
}

export async function validateCommand(files: readonly string[]): Promise<number> {
  let invalid = 0;
  for (const file of files) {
    const loaded = await loadPlanFile(file);
    if (loaded.ok) {
      console.log(
        `${file}: valid (${loaded.plan.faults.length} fault(s), ${loaded.plan.checks.length} check(s))`,
      );
    } else {
      invalid++;
      for (const error of loaded.errors) console.error(formatPlanError(error));
    }
  }
  return invalid > 0 ? exitCodes.usage : exitCodes.passed;
}

function printState(state: GameDayReport, link: string | undefined): void {
  const report = printable(state);
  console.log(`${style.bold(report.workflowId)}${link ? `  ${style.dim(link)}` : ''}`);
  console.log(`phase: ${report.phase}${report.outcome ? `  outcome: ${report.outcome}` : ''}`);
  const active = report.faults.filter((f) => f.status !== 'rolled-back');
  console.log(`faults: ${report.faults.length} (${active.length} not rolled back)`);
  for (const f of report.faults)
    console.log(`  - [${f.status}] ${f.inject}${f.error ? ` — ${f.error}` : ''}`);
  const checks = Object.values(report.lastChecks);
  if (checks.length > 0) console.log('last check values:');
  for (const c of checks) console.log(`  - ${c.name}: ${c.holds ? 'held' : 'deviated'} (${c.detail})`);
  console.log('recent:');
  for (const entry of report.timeline.slice(-5)) console.log(`  ${timelineLine(entry)}`);
  if (report.outcome) console.log(outcomeLine(report));
}

export function statusCommand(workflowId: string, flags: GlobalFlags & { json?: boolean }): Promise<number> {
  return withTemporal(flags, async (temporal) => {
    const report = await currentReport(handleFor(temporal, workflowId));
    if (flags.json) console.log(JSON.stringify(report, null, 2));
    else printState(report, uiLink(uiUrlOf(flags, temporal.address), temporal.namespace, workflowId));
    return report.outcome
      ? exitCodeFor(report.outcome)
      : report.phase === 'rollback-stuck'
        ? exitCodes['rollback-stuck']
        : 0;
  });
}

export function abortCommand(workflowId: string, reason: string, flags: GlobalFlags): Promise<number> {
  return withTemporal(flags, async (temporal) => {
    const phase = await abortGameDay(temporal, workflowId, reason);
    console.log(`abort accepted during ${printable(phase)}: every fault is being rolled back`);
    return exitCodes.passed;
  });
}

export function reportCommand(
  workflowId: string,
  flags: GlobalFlags & { format?: string; out?: string },
): Promise<number> {
  return withTemporal(flags, async (temporal) => {
    const report = await currentReport(handleFor(temporal, workflowId));
    const link = uiLink(uiUrlOf(flags, temporal.address), temporal.namespace, workflowId);
    let output: string;
    if (flags.format === 'json') output = JSON.stringify({ ...report, ui: link }, null, 2);
    else if (flags.format === 'html') {
      // The page ends with the plan's trend: this run among the others of the last 30 days.
      // The history is a bonus: a visibility store that cannot answer must not cost the report itself.
      const history = await fetchPlanHistory(temporal, report.plan, defaultHistorySpanMs).catch(
        (error: unknown) => {
          console.error(printable(`history of ${report.plan} left out: ${(error as Error).message}`));
          return undefined;
        },
      );
      output = renderHtmlReport(report, {
        ...(link ? { uiLink: link } : {}),
        ...(history ? { history } : {}),
      });
    } else output = renderReport(report, link);
    if (flags.out) await writeFile(flags.out, output.endsWith('\n') ? output : `${output}\n`);
    else console.log(output);
    return exitCodeFor(report.outcome);
  });
}

/** The visibility query behind `list`: every game day, or those one schedule started. */
export function listQuery(schedule?: string): string {
  const all = `WorkflowType = '${gameDayWorkflowType}'`;
  // Temporal sets TemporalScheduledById on every run a schedule starts.
  return schedule === undefined
    ? all
    : `${all} AND TemporalScheduledById = '${scheduleIdArgument(schedule)}'`;
}

export function listCommand(
  flags: GlobalFlags & { limit?: number; json?: boolean; schedule?: string },
): Promise<number> {
  const query = listQuery(flags.schedule);
  return withTemporal(flags, async (temporal) => {
    const rows: {
      workflowId: string;
      plan: string;
      phase: string;
      outcome: string;
      status: string;
      started: string;
    }[] = [];
    for await (const execution of temporal.client.workflow.list({
      query,
      pageSize: 50,
    })) {
      const attributes = execution.typedSearchAttributes;
      rows.push({
        workflowId: execution.workflowId,
        plan: attributes.get(searchAttributes.plan) ?? '',
        phase: attributes.get(searchAttributes.phase) ?? '',
        outcome: attributes.get(searchAttributes.outcome) ?? '',
        status: execution.status.name,
        started: execution.startTime.toISOString(),
      });
      if (rows.length >= (flags.limit ?? 20)) break;
    }
    if (flags.json) {
      console.log(JSON.stringify(rows, null, 2));
    } else if (rows.length === 0) {
      console.log(
        flags.schedule === undefined ? 'no game days yet' : `no game days of schedule ${flags.schedule}`,
      );
    } else {
      for (const row of printable(rows)) {
        console.log(`${row.started}  ${(row.outcome || row.phase).padEnd(14)} ${row.workflowId}`);
      }
    }
    return exitCodes.passed;
  });
}
