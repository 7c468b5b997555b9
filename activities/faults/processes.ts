import { absolutePath, processPattern } from '../../plan/safeValues';
import type { Executor } from '../executors/executor';

/** How a fault finds its processes: a pidfile, or a pattern over the full command line (like pgrep -f). */
export const processSelectorFields = {
  pidfile: absolutePath.optional().describe('pidfile of the process'),
  pattern: processPattern.optional().describe('pattern matched against full command lines, as pgrep -f'),
};
export interface ProcessSelector {
  readonly pidfile?: string | undefined;
  readonly pattern?: string | undefined;
}

/** Parameters that embed the selector fields must give exactly one of them. */
export const exactlyOneSelector = [
  (s: ProcessSelector) => (s.pidfile === undefined) !== (s.pattern === undefined),
  { message: 'give exactly one of "pidfile" or "pattern"' },
] as const;

/** A pid plus its start time, so that a reused pid is never mistaken for the process we changed. */
export interface ProcessIdentity {
  readonly pid: number;
  readonly startTime: string;
}

export interface ProcessStat extends ProcessIdentity {
  /** R running, S sleeping, T stopped, Z zombie … as in /proc/PID/stat. */
  readonly state: string;
}

export function describeSelector(selector: ProcessSelector): string {
  return selector.pidfile !== undefined
    ? `pidfile ${selector.pidfile}`
    : `processes matching "${selector.pattern}"`;
}

export async function readStat(exec: Executor, pid: number): Promise<ProcessStat | undefined> {
  const stat = await exec.readFile(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses: parse from the last ')'.
  const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = afterName[0];
  const startTime = afterName[19];
  if (state === undefined || startTime === undefined) return undefined;
  return { pid, state, startTime };
}

function isLive(stat: ProcessStat | undefined): stat is ProcessStat {
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** The process as recorded, if it still runs (not a zombie, not a new process with the same pid). */
export async function statIfSame(
  exec: Executor,
  identity: ProcessIdentity,
): Promise<ProcessStat | undefined> {
  const stat = await readStat(exec, identity.pid);
  return isLive(stat) && stat.startTime === identity.startTime ? stat : undefined;
}

/** The pids a selector names, before liveness checks (exported for tests of the lookup itself). */
export async function candidatePids(exec: Executor, selector: ProcessSelector): Promise<number[]> {
  if (selector.pidfile !== undefined) {
    const content = await exec.readFile(selector.pidfile);
    const pid = Number.parseInt(content?.trim() ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? [pid] : [];
  }
  // -a lists each match with its command line, read in the same pass as the match itself.
  const result = await exec.run(['pgrep', '-af', '--', selector.pattern ?? '']);
  // pgrep exits 1 when nothing matches; anything above is a real error.
  if (result.exitCode > 1) throw new Error(`pgrep on ${exec.host} failed: ${result.stderr.trim()}`);
  // Over SSH, pgrep runs under `timeout` (and sometimes a shell) whose command lines hold the pattern too:
  // never select the processes of our own lookup.
  const ownLookup = /(^|[\s/])pgrep\s+-af?\s/;
  return result.stdout
    .split('\n')
    .map((line) => /^(\d+) (.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null && !ownLookup.test(`${match[2]} `))
    .map((match) => Number(match[1]));
}

/** The live processes a selector names now, never including protected ones (the worker itself). */
export async function findProcesses(
  exec: Executor,
  selector: ProcessSelector,
  protectedPids: readonly number[],
): Promise<ProcessStat[]> {
  const pids = (await candidatePids(exec, selector)).filter((pid) => !protectedPids.includes(pid));
  const stats = await Promise.all(pids.map((pid) => readStat(exec, pid)));
  return stats.filter(isLive);
}

export interface ProcessCommand {
  /** argv with argv[0] replaced by the absolute path of the executable. */
  readonly argv: string[];
  readonly cwd: string;
}

/** The command line and working directory a process was started with, to start it again later. */
export async function readCommand(exec: Executor, pid: number): Promise<ProcessCommand | undefined> {
  const [cmdline, exe, cwd] = await Promise.all([
    exec.readFile(`/proc/${pid}/cmdline`),
    exec.run(['readlink', `/proc/${pid}/exe`]),
    exec.run(['readlink', `/proc/${pid}/cwd`]),
  ]);
  if (cmdline === undefined || exe.exitCode !== 0 || cwd.exitCode !== 0) return undefined;
  const argv = cmdline.split('\0').filter((arg, index, all) => index < all.length - 1 || arg !== '');
  argv[0] = exe.stdout.trim();
  return { argv, cwd: cwd.stdout.trim() };
}

export async function signal(exec: Executor, pid: number, name: string): Promise<void> {
  // A process that exits between our check and the signal is not an error: the result is the same.
  await exec.signal(pid, name);
}
