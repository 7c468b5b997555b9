import { dirname, isAbsolute, resolve } from 'node:path';
import { loadPlanFile, parseYamlWith, readYamlFile, type PlanError } from './load';
import type { Plan } from './schema';
import { scheduleSchema, type JanitorSweep, type ScheduleFile } from './schedule';

/** A schedule file of a game day, with its plan read, validated and ready to embed. */
export interface LoadedGameDaySchedule {
  readonly runs: 'game-day';
  readonly file: string;
  readonly schedule: ScheduleFile;
  /** The plan file as resolved from the schedule's directory. */
  readonly planFile: string;
  readonly plan: Plan;
  readonly planDigest: string;
}

/** A schedule file of a janitor sweep (`janitor:` instead of `plan:`). */
export interface LoadedJanitorSchedule {
  readonly runs: 'janitor';
  readonly file: string;
  readonly schedule: ScheduleFile;
  readonly janitor: JanitorSweep;
}

export type LoadedSchedule = LoadedGameDaySchedule | LoadedJanitorSchedule;

export type ScheduleLoadResult =
  ({ readonly ok: true } & LoadedSchedule) | { readonly ok: false; readonly errors: readonly PlanError[] };

/** Parses and validates a schedule's text (its plan is not read). */
export function parseSchedule(
  text: string,
  file: string,
):
  | { readonly ok: true; readonly value: ScheduleFile }
  | { readonly ok: false; readonly errors: readonly PlanError[] } {
  return parseYamlWith(scheduleSchema, text, file);
}

/**
 * Reads a schedule file and the plan it names (relative to the schedule's directory). The plan's own errors are
 * reported at their place in the plan file; a plan that cannot be read is reported at the schedule's `plan`.
 */
export async function loadScheduleFile(file: string): Promise<ScheduleLoadResult> {
  const read = await readYamlFile(file);
  if (!read.ok) return read;
  const parsed = parseSchedule(read.text, file);
  if (!parsed.ok) return parsed;
  const schedule = parsed.value;
  // The schema takes exactly one of plan and janitor.
  if (schedule.plan === undefined) {
    return { ok: true, runs: 'janitor', file, schedule, janitor: schedule.janitor ?? { apply: false } };
  }
  const planFile = isAbsolute(schedule.plan) ? schedule.plan : resolve(dirname(file), schedule.plan);
  const plan = await loadPlanFile(planFile);
  if (!plan.ok) {
    // A plan that cannot be read is the schedule's mistake: said at its `plan:` line. A plan that can be read
    // reports its own errors at their place in the plan file.
    const at = planLine(read.text);
    return {
      ok: false,
      errors: plan.errors.map((error) =>
        error.line === undefined
          ? { file, ...at, path: 'plan', message: `cannot read ${planFile}: ${error.message}` }
          : error,
      ),
    };
  }
  return { ok: true, runs: 'game-day', file, schedule, planFile, plan: plan.plan, planDigest: plan.digest };
}

/** Where the top-level `plan:` key is (the schema has accepted the file, so there is one). */
function planLine(text: string): { line: number; col: number } {
  const lines = text.split('\n');
  const index = lines.findIndex((line) => /^plan\s*:/.test(line));
  return index < 0 ? { line: 1, col: 1 } : { line: index + 1, col: 1 };
}
