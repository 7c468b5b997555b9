import { setTimeout as sleep } from 'node:timers/promises';
import type { ScheduleDescription, ScheduleHandle } from '@temporalio/client';
import { identifier } from '../../plan/safeValues';
import { scheduleJsonSchema } from '../../plan/schedule';
import { searchAttributes, type GameDayInput } from '../../workflows/definitions';
import { CliError, exitCodes } from '../exitCodes';
import { withTemporal, type Temporal } from '../gameDays';
import { taskQueueOf, type GlobalFlags } from '../options';
import { printable } from '../printable';
import { carryOut, describeIfExists, isManagedByGameday, planApply, type ApplyStep } from '../scheduleApply';
import { loadSchedules } from '../scheduleFiles';
import { janitorInputOf, janitorWords, type AppliedSpec } from '../scheduleSpec';
import {
  janitorWorkflowType,
  type JanitorInput,
  type JanitorReport,
} from '../../workflows/janitorDefinitions';
import type { janitor } from '../../workflows/janitor';
import { janitorLeftClean } from './janitor';
import { specWords } from '../scheduleWords';
import { outcomeColour, style } from '../style';

interface JsonFlag {
  readonly json?: boolean;
}

/** A schedule id from the command line: what `metadata.name` allows, so it is safe in visibility queries. */
export function scheduleIdArgument(id: string): string {
  const parsed = identifier.safeParse(id);
  if (!parsed.success) {
    throw new CliError(
      `schedule id ${JSON.stringify(id)} ${parsed.error.issues[0]?.message ?? 'is not valid'}`,
      exitCodes.usage,
    );
  }
  return id;
}

/** One of gameday's schedules, or a usage error: no such schedule, or not one gameday applied. */
async function ourSchedule(
  temporal: Temporal,
  id: string,
): Promise<{ handle: ScheduleHandle; description: ScheduleDescription }> {
  const handle = temporal.client.schedule.getHandle(scheduleIdArgument(id));
  const description = await describeIfExists(handle);
  if (description === undefined) throw new CliError(`no schedule ${id}`, exitCodes.usage);
  if (!isManagedByGameday(description.memo)) {
    throw new CliError(
      `schedule ${id} was not created by gameday; manage it with temporal schedule`,
      exitCodes.usage,
    );
  }
  return { handle, description };
}

function printSteps(steps: readonly ApplyStep[], dryRun: boolean): void {
  const verbs = dryRun
    ? {
        create: 'would be created',
        update: 'would be updated',
        unchanged: 'unchanged',
        delete: 'would be deleted',
      }
    : { create: 'created', update: 'updated', unchanged: 'unchanged', delete: 'deleted' };
  const marks = { create: '+', update: '~', unchanged: '=', delete: '-' };
  for (const step of printable(steps)) {
    const reason = step.action === 'delete' ? ' (no file names it; --prune)' : '';
    console.log(`${marks[step.action]} schedule ${step.id} ${verbs[step.action]}${reason}`);
    for (const change of step.changes) {
      if (step.action === 'update') console.log(style.red(`-   ${change.field}: ${change.from}`));
      console.log(style.green(`+   ${change.field}: ${change.to}`));
    }
  }
}

export async function scheduleApplyCommand(
  target: string,
  flags: GlobalFlags & JsonFlag & { dryRun?: boolean; prune?: boolean },
): Promise<number> {
  const loaded = await loadSchedules(target);
  return withTemporal(flags, async (temporal) => {
    const taskQueue = taskQueueOf(flags);
    const steps = await planApply(temporal.client, loaded, taskQueue, flags.prune === true);
    if (!flags.dryRun) await carryOut(temporal.client, steps, loaded, taskQueue);
    if (flags.json) console.log(JSON.stringify({ dryRun: flags.dryRun === true, schedules: steps }, null, 2));
    else printSteps(steps, flags.dryRun === true);
    return exitCodes.passed;
  });
}

interface RecentRun {
  readonly workflowId: string;
  readonly scheduledAt: string;
  readonly status: string;
  readonly phase: string;
  readonly outcome: string;
}

/** A finished sweep's result in one word or two: `clean`, or how many leftovers it found or left. */
function sweepOutcome(report: JanitorReport): string {
  if (janitorLeftClean(report)) return 'clean';
  const left = report.apply ? report.remaining.length + report.failed.length : report.findings.length;
  return `${left} leftover(s)`;
}

async function recentRuns(temporal: Temporal, description: ScheduleDescription): Promise<RecentRun[]> {
  return Promise.all(
    description.info.recentActions.map(async ({ scheduledAt, action }) => {
      const base = { workflowId: action.workflow.workflowId, scheduledAt: scheduledAt.toISOString() };
      try {
        const handle = temporal.client.workflow.getHandle(action.workflow.workflowId);
        const run = await handle.describe();
        const outcome =
          run.type === janitorWorkflowType
            ? run.status.name === 'COMPLETED'
              ? sweepOutcome(
                  await temporal.client.workflow.getHandle<typeof janitor>(run.workflowId).result(),
                )
              : ''
            : (run.typedSearchAttributes.get(searchAttributes.outcome) ?? '');
        return {
          ...base,
          status: run.status.name,
          phase: run.typedSearchAttributes.get(searchAttributes.phase) ?? '',
          outcome,
        };
      } catch {
        return { ...base, status: 'UNKNOWN', phase: '', outcome: '' };
      }
    }),
  );
}

function appliedSpecIn(description: ScheduleDescription): AppliedSpec | undefined {
  const applied = description.action.memo?.appliedSpec;
  return typeof applied === 'object' && applied !== null ? (applied as AppliedSpec) : undefined;
}

function summaryOf(description: ScheduleDescription) {
  const janitor = description.action.workflowType === janitorWorkflowType;
  const input = description.action.args?.[0] as Partial<GameDayInput> | undefined;
  return {
    id: description.scheduleId,
    /** A game day's plan, or empty for a janitor sweep (then `runs` says what it does). */
    plan: janitor ? '' : (input?.plan?.metadata.name ?? ''),
    planDigest: janitor ? '' : (input?.planDigest ?? ''),
    runs: janitor
      ? janitorWords((description.action.args?.[0] ?? {}) as Partial<JanitorInput>)
      : `game day ${input?.plan?.metadata.name ?? '?'}`,
    owner: appliedSpecIn(description)?.owner ?? '',
    paused: description.state.paused,
    note: description.state.note ?? '',
    nextRuns: description.info.nextActionTimes.slice(0, 5).map((at) => at.toISOString()),
  };
}

export function scheduleListCommand(flags: GlobalFlags & JsonFlag): Promise<number> {
  return withTemporal(flags, async (temporal) => {
    const rows: ReturnType<typeof summaryOf>[] = [];
    for await (const summary of temporal.client.schedule.list()) {
      if (!isManagedByGameday(summary.memo)) continue;
      const description = await describeIfExists(temporal.client.schedule.getHandle(summary.scheduleId));
      if (description !== undefined) rows.push(summaryOf(description));
    }
    rows.sort((a, b) => a.id.localeCompare(b.id));
    if (flags.json) console.log(JSON.stringify(rows, null, 2));
    else if (rows.length === 0) console.log('no schedules (apply some with: gameday schedule apply DIR)');
    else {
      for (const row of printable(rows)) {
        const state = row.paused ? style.yellow(`paused: ${row.note}`) : `next ${row.nextRuns[0] ?? 'never'}`;
        const what = row.plan ? `plan ${row.plan.padEnd(24)}` : row.runs.padEnd(29);
        console.log(`${row.id.padEnd(30)} ${what} ${state}`);
      }
    }
    return exitCodes.passed;
  });
}

export function scheduleDescribeCommand(id: string, flags: GlobalFlags & JsonFlag): Promise<number> {
  return withTemporal(flags, async (temporal) => {
    const { description } = await ourSchedule(temporal, id);
    const summary = summaryOf(description);
    const spec = specWords(appliedSpecIn(description), description);
    const runs = await recentRuns(temporal, description);
    if (flags.json) {
      console.log(JSON.stringify({ ...summary, spec, recentRuns: runs }, null, 2));
      return exitCodes.passed;
    }
    const shown = printable({ summary, spec, runs });
    const what = shown.summary.plan
      ? `plan ${shown.summary.plan} (digest ${shown.summary.planDigest})`
      : shown.summary.runs;
    console.log(`${style.bold(`schedule ${shown.summary.id}`)}: ${what}, owner ${shown.summary.owner}`);
    console.log(shown.summary.paused ? style.yellow(`paused: ${shown.summary.note}`) : 'active');
    if (!shown.summary.paused && shown.summary.note) console.log(`note: ${shown.summary.note}`);
    console.log('runs:');
    for (const line of shown.spec) console.log(`  ${line}`);
    console.log('next runs:');
    if (shown.summary.nextRuns.length === 0) console.log('  none');
    for (const at of shown.summary.nextRuns) console.log(`  ${at}`);
    console.log('recent runs:');
    if (shown.runs.length === 0) console.log('  none yet');
    for (const run of shown.runs) {
      const result = run.outcome || (run.status === 'RUNNING' ? run.phase : run.status.toLowerCase());
      console.log(`  ${run.scheduledAt}  ${outcomeColour(run.outcome)(result.padEnd(14))} ${run.workflowId}`);
    }
    return exitCodes.passed;
  });
}

export function schedulePauseCommand(
  id: string,
  reason: string,
  flags: GlobalFlags & JsonFlag,
): Promise<number> {
  return withTemporal(flags, async (temporal) => {
    if (!reason.trim()) throw new CliError('a pause needs a reason (--reason "…")', exitCodes.usage);
    const { handle } = await ourSchedule(temporal, id);
    await handle.pause(reason);
    if (flags.json) console.log(JSON.stringify({ id, paused: true, note: reason }));
    else console.log(`paused ${id}: ${printable(reason)}`);
    return exitCodes.passed;
  });
}

export function scheduleUnpauseCommand(
  id: string,
  flags: GlobalFlags & JsonFlag & { reason?: string },
): Promise<number> {
  return withTemporal(flags, async (temporal) => {
    const { handle } = await ourSchedule(temporal, id);
    const note = flags.reason ?? 'unpaused with gameday schedule unpause';
    await handle.unpause(note);
    if (flags.json) console.log(JSON.stringify({ id, paused: false, note }));
    else console.log(`unpaused ${id}`);
    return exitCodes.passed;
  });
}

/** How long `trigger` waits to see the run it asked for (a SKIPped trigger starts none). */
const triggerWaitMs = 10_000;

export function scheduleTriggerCommand(id: string, flags: GlobalFlags & JsonFlag): Promise<number> {
  return withTemporal(flags, async (temporal) => {
    const { handle, description } = await ourSchedule(temporal, id);
    const before = new Set(description.info.recentActions.map((run) => run.action.workflow.workflowId));
    // The schedule's own overlap policy decides (SKIP: no second run while one is going).
    await handle.trigger();
    let started: string | undefined;
    for (const deadline = Date.now() + triggerWaitMs; started === undefined && Date.now() < deadline;) {
      await sleep(200);
      const now = await handle.describe();
      started = now.info.recentActions
        .map((run) => run.action.workflow.workflowId)
        .find((w) => !before.has(w));
    }
    if (flags.json) console.log(JSON.stringify({ id, workflowId: started ?? null }));
    else if (started !== undefined) console.log(`triggered ${id}: started ${started}`);
    else {
      console.log(
        `triggered ${id}; no run started within ${triggerWaitMs / 1000} s (a run still going and overlap SKIP?)`,
      );
    }
    return exitCodes.passed;
  });
}

/** The longest backfill: a month of nightly runs. Longer is a mistake (hundreds of game days) more than a need. */
const maxBackfillDays = 31;

function timeArgument(name: string, text: string): Date {
  const at = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(at.getTime())) {
    throw new CliError(`--${name} must be an ISO time such as 2026-12-01T00:00:00Z`, exitCodes.usage);
  }
  return at;
}

export function scheduleBackfillCommand(
  id: string,
  flags: GlobalFlags & JsonFlag & { from: string; to: string },
): Promise<number> {
  const start = timeArgument('from', flags.from);
  const end = timeArgument('to', flags.to);
  if (end <= start) throw new CliError('--to must be after --from', exitCodes.usage);
  if (end.getTime() > Date.now())
    throw new CliError('--to is in the future: backfill is for runs missed', exitCodes.usage);
  if (end.getTime() - start.getTime() > maxBackfillDays * 86_400_000) {
    throw new CliError(`a backfill may cover at most ${maxBackfillDays} days`, exitCodes.usage);
  }
  return withTemporal(flags, async (temporal) => {
    const { handle, description } = await ourSchedule(temporal, id);
    // Backfilled runs keep the schedule's overlap policy: one game day of a plan at a time.
    await handle.backfill({ start, end, overlap: description.policies.overlap });
    const range = { id, from: start.toISOString(), to: end.toISOString() };
    if (flags.json) console.log(JSON.stringify(range));
    else
      console.log(
        `backfilling ${id} from ${range.from} to ${range.to} (overlap ${description.policies.overlap})`,
      );
    return exitCodes.passed;
  });
}

export function scheduleDeleteCommand(id: string, flags: GlobalFlags & JsonFlag): Promise<number> {
  return withTemporal(flags, async (temporal) => {
    const { handle } = await ourSchedule(temporal, id);
    // Running game days are not touched: they finish, rollbacks included.
    await handle.delete();
    if (flags.json) console.log(JSON.stringify({ id, deleted: true }));
    else console.log(`deleted ${id} (game days it started are left to finish)`);
    return exitCodes.passed;
  });
}

export async function scheduleValidateCommand(target: string): Promise<number> {
  for (const loaded of await loadSchedules(target)) {
    const what =
      loaded.runs === 'janitor'
        ? janitorWords(janitorInputOf(loaded))
        : `plan ${loaded.planFile}, digest ${loaded.planDigest}`;
    console.log(printable(`${loaded.file}: valid (schedule ${loaded.schedule.metadata.name}, ${what})`));
  }
  return exitCodes.passed;
}

export function scheduleSchemaCommand(): number {
  console.log(JSON.stringify(scheduleJsonSchema(), null, 2));
  return exitCodes.passed;
}
