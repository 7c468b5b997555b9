import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { formatPlanError } from '../plan/load';
import { loadScheduleFile, type LoadedSchedule } from '../plan/loadSchedule';
import { CliError, exitCodes } from './exitCodes';

/** Schedule files given as one file or a directory of them (its *.yaml and *.yml, not its subdirectories). */
async function scheduleFilesIn(target: string): Promise<string[]> {
  const stats = await stat(target).catch(() => undefined);
  if (stats === undefined)
    throw new CliError(`cannot read ${target}: no such file or directory`, exitCodes.usage);
  if (!stats.isDirectory()) return [target];
  const entries = await readdir(target, { withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => join(target, entry.name))
    .sort();
  if (files.length === 0) throw new CliError(`${target} holds no schedule files (*.yaml)`, exitCodes.usage);
  return files;
}

/**
 * Every schedule file of the target with its plan, or a usage error listing every problem (file:line:col) when
 * any is invalid: `apply` changes nothing unless all of them are valid.
 */
export async function loadSchedules(target: string): Promise<LoadedSchedule[]> {
  const loaded: LoadedSchedule[] = [];
  const problems: string[] = [];
  for (const file of await scheduleFilesIn(target)) {
    const result = await loadScheduleFile(file);
    if (result.ok) loaded.push(result);
    else problems.push(...result.errors.map(formatPlanError));
  }
  const seen = new Map<string, string>();
  for (const { schedule, file } of loaded) {
    const first = seen.get(schedule.metadata.name);
    if (first !== undefined)
      problems.push(`${file}: schedule ${schedule.metadata.name} is also defined in ${first}`);
    seen.set(schedule.metadata.name, file);
  }
  if (problems.length > 0) throw new CliError(problems.join('\n'), exitCodes.usage);
  return loaded;
}
