import { writeFile } from 'node:fs/promises';
import { formatPlanError, loadPlanFile } from '../../plan/load';
import { planJsonSchema } from '../../plan/schema';
import {
  gameDayWorkflowType,
  outcomes,
  searchAttributes,
  type GameDayReport,
  type Outcome,
} from '../../workflows/definitions';
import { CliError, exitCodeFor, exitCodes } from '../exitCodes';
import { abortGameDay, currentReport, handleFor, withTemporal, type Temporal } from '../gameDays';
import { attemptEntries, reportWithAttempts, type StepAttempts } from '../retries';
import { uiUrlOf, type GlobalFlags } from '../options';
import { printable } from '../printable';
import { progressLines, samplesSoFar, type SamplesSoFar } from '../progress';
import { renderHtmlReport } from '../htmlReport';
import { outcomeLine, renderReport, timelineLine, uiLink } from '../render';
import { outcomeColour, style } from '../style';
import { workerChecker, type WorkerVerdict } from '../validateAgainstWorker';
import { scheduleIdArgument } from './schedule';
import { workerConfigFor } from './servers';
import { defaultHistorySpanMs, fetchPlanHistory, planNameArgument } from './history';

export function schemaCommand(): number {
  console.log(JSON.stringify(planJsonSchema(), null, 2));
  return exitCodes.passed;
}

/**
 * Checks plan files; with `--config`, also against that worker's configuration, as the worker would at resolve
 * (a plan it would refuse is exit 2, a cluster it could not ask is exit 1).
 */
export async function validateCommand(
  files: readonly string[],
  flags: GlobalFlags & { config?: string } = {},
): Promise<number> {
  const config = flags.config === undefined ? undefined : await workerConfigFor(flags);
  const worker = config === undefined ? undefined : workerChecker(config);
  let invalid = 0;
  let unchecked = 0;
  try {
    for (const file of files) {
      const loaded = await loadPlanFile(file);
      if (!loaded.ok) {
        invalid++;
        for (const error of loaded.errors) console.error(formatPlanError(error));
        continue;
      }
      const counts = `${loaded.plan.faults.length} fault(s), ${loaded.plan.checks.length} check(s)`;
      if (worker === undefined) {
        console.log(`${file}: valid (${counts})`);
        continue;
      }
      let verdict: WorkerVerdict;
      try {
        verdict = await worker.check(loaded.plan);
      } catch (error) {
        unchecked++;
        console.error(`${file}: could not be checked against ${flags.config}: ${failureLine(error)}`);
        continue;
      }
      if (verdict.refusal !== undefined) {
        invalid++;
        console.error(`${file}: the worker of ${flags.config} would refuse it: ${verdict.refusal}`);
      } else {
        const targets = verdict.targets.join(', ') || 'no target';
        console.log(`${file}: valid (${counts}); the worker of ${flags.config} would run it on ${targets}`);
      }
      for (const note of verdict.notes) console.log(`  note: ${note}`);
    }
  } finally {
    await worker?.close();
  }
  return invalid > 0 ? exitCodes.usage : unchecked > 0 ? exitCodes.error : exitCodes.passed;
}

/** An error's own message on one line (a Kubernetes client error carries its cause in its message). */
function failureLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

function printState(
  state: GameDayReport,
  link: string | undefined,
  samples: SamplesSoFar | undefined,
  steps: readonly StepAttempts[],
): void {
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
  if (samples) {
    console.log('samples so far in the window:');
    for (const line of progressLines(samples, process.stdout.columns ?? 200)) console.log(`  ${line}`);
  }
  console.log('recent:');
  const recent = report.timeline.slice(-5);
  for (const entry of recent) console.log(`  ${timelineLine(entry)}`);
  // A step that ran more than once (a worker lost, a retry) is said even when it is no longer recent.
  const earlier = attemptEntries(state, steps).filter(
    (note) => !recent.some((entry) => entry.at === note.at && entry.message === printable(note.message)),
  );
  if (earlier.length > 0) console.log('steps that ran more than once:');
  for (const entry of earlier) console.log(`  ${timelineLine(entry)}`);
  if (report.outcome) console.log(outcomeLine(report));
}

/** Said on stderr: a part of a view left out (the view itself is still shown). */
const leftOut = (line: string) => console.error(printable(line));

export function statusCommand(workflowId: string, flags: GlobalFlags & { json?: boolean }): Promise<number> {
  return withTemporal(flags, async (temporal) => {
    const handle = handleFor(temporal, workflowId);
    const { report, steps } = await reportWithAttempts(
      handle,
      await currentReport(temporal, handle),
      leftOut,
    );
    // Mid-window, the samples so far (heartbeated by the observation activity; a bonus if they cannot be read).
    const samples =
      report.phase === 'observe' ? await samplesSoFar(handle).catch(() => undefined) : undefined;
    if (flags.json)
      console.log(JSON.stringify(samples ? { ...report, samplesSoFar: samples } : report, null, 2));
    else
      printState(
        report,
        uiLink(uiUrlOf(flags, temporal.address), temporal.namespace, workflowId),
        samples,
        steps,
      );
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

export type ReportFormat = 'md' | 'json' | 'html';

/** A report as `gameday report` writes it: Markdown, JSON (with its UI link) or one self-contained HTML page. */
export async function formatReport(
  temporal: Temporal,
  report: GameDayReport,
  format: ReportFormat,
  link: string | undefined,
): Promise<string> {
  if (format === 'json') return JSON.stringify({ ...report, ui: link }, null, 2);
  if (format === 'md') return renderReport(report, link);
  // The page ends with the plan's trend: this run among the others of the last 30 days.
  // The history is a bonus: a visibility store that cannot answer must not cost the report itself.
  const history = await fetchPlanHistory(temporal, report.plan, defaultHistorySpanMs).catch(
    (error: unknown) => {
      console.error(printable(`history of ${report.plan} left out: ${(error as Error).message}`));
      return undefined;
    },
  );
  return renderHtmlReport(report, {
    ...(link ? { uiLink: link } : {}),
    ...(history ? { history } : {}),
  });
}

/** Writes a report to a file, ending with a newline. */
export async function writeReportFile(file: string, output: string): Promise<void> {
  await writeFile(file, output.endsWith('\n') ? output : `${output}\n`);
}

export function reportCommand(
  workflowId: string,
  flags: GlobalFlags & { format?: ReportFormat; out?: string },
): Promise<number> {
  return withTemporal(flags, async (temporal) => {
    const handle = handleFor(temporal, workflowId);
    const { report } = await reportWithAttempts(handle, await currentReport(temporal, handle), leftOut);
    const link = uiLink(uiUrlOf(flags, temporal.address), temporal.namespace, workflowId);
    const output = await formatReport(temporal, report, flags.format ?? 'md', link);
    if (flags.out) await writeReportFile(flags.out, output);
    else console.log(output);
    return exitCodeFor(report.outcome);
  });
}

/** The visibility query behind `list`: every game day, or those one schedule started. */
export interface ListFilters {
  readonly schedule?: string;
  readonly plan?: string;
  readonly outcome?: Outcome;
  /** Only game days started less than this long ago (ms). */
  readonly since?: number;
}

/** The visibility query of `gameday list`; every value in it is checked first (ids, names, a known outcome). */
export function listQuery(filters: ListFilters = {}, now = Date.now()): string {
  const parts = [`WorkflowType = '${gameDayWorkflowType}'`];
  // Temporal sets TemporalScheduledById on every run a schedule starts.
  if (filters.schedule !== undefined) {
    parts.push(`TemporalScheduledById = '${scheduleIdArgument(filters.schedule)}'`);
  }
  if (filters.plan !== undefined)
    parts.push(`${searchAttributes.plan.name} = '${planNameArgument(filters.plan)}'`);
  if (filters.outcome !== undefined) {
    if (!outcomes.includes(filters.outcome))
      throw new CliError(`${filters.outcome}: not an outcome`, exitCodes.usage);
    parts.push(`${searchAttributes.outcome.name} = '${filters.outcome}'`);
  }
  if (filters.since !== undefined)
    parts.push(`StartTime >= '${new Date(now - filters.since).toISOString()}'`);
  return parts.join(' AND ');
}

/** What a game day came to, in one word: its outcome, its phase while running, else how its workflow ended. */
function resultWord(outcome: string, phase: string, status: string): string {
  if (outcome) return outcome;
  return status === 'RUNNING' ? phase || 'running' : status.toLowerCase().replace(/_/g, '-');
}

export function listCommand(
  flags: GlobalFlags & { limit?: number; json?: boolean } & ListFilters,
): Promise<number> {
  const query = listQuery(flags);
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
      const filtered = [flags.schedule, flags.plan, flags.outcome, flags.since].some((f) => f !== undefined);
      console.log(filtered ? 'no game days match' : 'no game days yet');
    } else {
      // The workflow id names the plan (gameday-<plan>-<time>).
      const line = (started: string, result: string, id: string) => `${started.padEnd(24)}  ${result} ${id}`;
      console.log(style.bold(line('STARTED', 'RESULT'.padEnd(14), 'WORKFLOW ID')));
      for (const row of printable(rows)) {
        const result = resultWord(row.outcome, row.phase, row.status).padEnd(14);
        console.log(line(row.started, outcomeColour(row.outcome)(result), row.workflowId));
      }
    }
    return exitCodes.passed;
  });
}
