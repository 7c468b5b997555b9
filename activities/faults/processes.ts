import { z } from 'zod';
import { matches } from '../../plan/regex';
import { absolutePath, processPattern } from '../../plan/safeValues';
import { ExecutorError, type Executor } from '../executors/executor';
import { TrustedScript } from '../executors/shellQuote';
import { FaultUserError } from './contract';

/**
 * How a fault finds its processes: a pidfile, or a pattern. A pattern is an RE2 regular expression matched
 * against each process's full command line (arguments joined by spaces, as `pgrep -f` matches); the worker
 * lists the host's processes and matches them itself. It may select at most `maxMatches` processes (default
 * 1): a typo such as `.` must not stop a whole host.
 */
export const processSelectorFields = {
  pidfile: absolutePath.optional().describe('pidfile of the process'),
  pattern: processPattern
    .optional()
    .describe('RE2 regular expression matched against each full command line, as pgrep -f matches'),
  maxMatches: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe(
      'how many processes the pattern may select on one host (default 1); more is refused before anything changes',
    ),
};
export interface ProcessSelector {
  readonly pidfile?: string | undefined;
  readonly pattern?: string | undefined;
  readonly maxMatches?: number | undefined;
}

/** Parameters that embed the selector fields must give exactly one of them (and a limit only for a pattern). */
export const exactlyOneSelector = [
  (s: ProcessSelector) =>
    (s.pidfile === undefined) !== (s.pattern === undefined) &&
    (s.maxMatches === undefined || s.pattern !== undefined),
  { message: 'give exactly one of "pidfile" or "pattern" ("maxMatches" goes with a pattern)' },
] as const;

/** A pattern that selects more than this share of a host's processes is refused, whatever maxMatches says. */
const maxShareOfHost = 0.25;

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

/** One line of the host's process list. */
interface ListedProcess {
  readonly pid: number;
  readonly ppid: number;
  /** The full command line, arguments joined by spaces (as `ps -o args` and `pgrep -f` see it). */
  readonly args: string;
}

interface ProcessListing {
  /** The pid of the lookup itself (the shell, exec'd into ps). */
  readonly self: number;
  readonly processes: readonly ListedProcess[];
}

// One round trip: the lookup's own pid, then every process. `-ww`: command lines are never cut to a width.
const listingScript = new TrustedScript('gameday-processes', 'echo "$$"; exec ps -e -ww -o pid=,ppid=,args=');

async function listProcesses(exec: Executor): Promise<ProcessListing> {
  const result = await exec.runScript(listingScript, []);
  const [first, ...lines] = result.stdout.split('\n');
  const self = Number(first);
  if (result.exitCode !== 0 || !Number.isInteger(self)) {
    throw new ExecutorError(
      `cannot list the processes on ${exec.host}: ${result.stderr.trim() || `ps exited ${result.exitCode}`}`,
    );
  }
  const processes = lines
    .map((line) => /^\s*(\d+)\s+(\d+) ?(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ pid: Number(match[1]), ppid: Number(match[2]), args: match[3] ?? '' }));
  return { self, processes };
}

const kthreadd = 2;
const isKernelThread = (process: ListedProcess) => process.pid === kthreadd || process.ppid === kthreadd;
const isSshd = (process: ListedProcess) => /^(\S*\/)?sshd(:|\s|$)/.test(process.args);

/**
 * Processes no selector may ever name, whatever the plan says: PID 1, kernel threads, every sshd (gameday's
 * own way in, and everyone else's), the lookup and all its ancestors (the shell and `timeout` running it; on
 * the worker's machine, the worker itself), and the caller's protected pids.
 */
function untouchable(listing: ProcessListing, protectedPids: readonly number[]): Set<number> {
  const never = new Set([1, ...protectedPids]);
  const parents = new Map(listing.processes.map((process) => [process.pid, process.ppid]));
  for (let pid = listing.self, hops = 0; pid > 0 && hops < 100; hops++) {
    never.add(pid);
    pid = parents.get(pid) ?? 0;
  }
  for (const process of listing.processes) {
    if (isKernelThread(process) || isSshd(process)) never.add(process.pid);
  }
  return never;
}

interface Matched {
  /** The pids the selector names, untouchable ones left out. */
  readonly pids: number[];
  /** How many user-space processes the host runs. */
  readonly total: number;
  /** Pids the selector named that no fault may touch. */
  readonly refused: number[];
}

async function matchSelector(
  exec: Executor,
  selector: ProcessSelector,
  protectedPids: readonly number[],
): Promise<Matched> {
  const pidfilePid = async () => {
    const content = selector.pidfile === undefined ? undefined : await exec.readFile(selector.pidfile);
    const pid = Number.parseInt(content?.trim() ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  };
  const [listing, fromPidfile] = await Promise.all([listProcesses(exec), pidfilePid()]);
  const never = untouchable(listing, protectedPids);
  const named = listing.processes
    .filter((process) =>
      selector.pattern !== undefined ? matches(selector.pattern, process.args) : process.pid === fromPidfile,
    )
    .map((process) => process.pid);
  return {
    pids: named.filter((pid) => !never.has(pid)),
    total: listing.processes.filter((process) => !isKernelThread(process)).length,
    refused: named.filter((pid) => never.has(pid)),
  };
}

/** The pids a selector names now, before liveness checks (exported for tests of the lookup itself). */
export async function matchingPids(
  exec: Executor,
  selector: ProcessSelector,
  protectedPids: readonly number[] = [],
): Promise<number[]> {
  return (await matchSelector(exec, selector, protectedPids)).pids;
}

async function liveStats(exec: Executor, pids: readonly number[]): Promise<ProcessStat[]> {
  const stats = await Promise.all(pids.map((pid) => readStat(exec, pid)));
  return stats.filter(isLive);
}

/** The live processes a selector names now, never untouchable ones; for verify and rollback (no limits). */
export async function findProcesses(
  exec: Executor,
  selector: ProcessSelector,
  protectedPids: readonly number[],
): Promise<ProcessStat[]> {
  return liveStats(exec, await matchingPids(exec, selector, protectedPids));
}

const listPids = (pids: readonly number[]) =>
  pids.length > 8 ? `${pids.slice(0, 8).join(', ')}, …` : pids.join(', ');

/**
 * The processes a fault will act on, chosen at prepare, before anything changes: refused (a FaultUserError
 * naming the count) when the selector names nothing, more than `maxMatches`, more than a quarter of the
 * host's processes, or only processes no fault may touch.
 */
export async function selectProcesses(
  exec: Executor,
  selector: ProcessSelector,
  protectedPids: readonly number[],
): Promise<ProcessStat[]> {
  const { pids, total, refused } = await matchSelector(exec, selector, protectedPids);
  const what = describeSelector(selector);
  if (pids.length === 0 && refused.length > 0) {
    throw new FaultUserError(
      `${what} on ${exec.host} names only pid ${listPids(refused)}, which no fault may touch ` +
        '(PID 1, sshd, kernel threads, gameday itself and what runs it)',
    );
  }
  const allowed = selector.maxMatches ?? 1;
  if (pids.length > allowed) {
    throw new FaultUserError(
      `${what} matches ${pids.length} processes on ${exec.host} (pid ${listPids(pids)}), more than ` +
        `maxMatches ${allowed}: make the pattern narrower, or raise maxMatches if all of them are meant`,
    );
  }
  if (pids.length > 1 && pids.length > total * maxShareOfHost) {
    throw new FaultUserError(
      `${what} matches ${pids.length} of the ${total} processes on ${exec.host}: a selector that takes ` +
        `more than ${maxShareOfHost * 100} % of a host is refused; make the pattern narrower`,
    );
  }
  const live = await liveStats(exec, pids);
  if (live.length === 0) {
    throw new FaultUserError(`no running process for ${what} on ${exec.host}: is it started?`);
  }
  return live;
}

export interface ProcessCommand {
  /** argv with argv[0] replaced by the absolute path of the executable. */
  readonly argv: string[];
  readonly cwd: string;
  /** Where its stdout and stderr went: a file (appended to on restart), else /dev/null. */
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A restarted process writes where the killed one did when that was a file; a pipe, socket or terminal died
 * with the process, so its output then goes to /dev/null — gameday leaves no log file of its own behind.
 */
function outputTarget(link: string | undefined): string {
  if (link === undefined || link.endsWith(' (deleted)')) return '/dev/null';
  if (link.startsWith('/dev/') || !absolutePath.safeParse(link).success) return '/dev/null';
  return link;
}

/** The command line, working directory and output files a process was started with, to start it again. */
export async function readCommand(exec: Executor, pid: number): Promise<ProcessCommand | undefined> {
  const link = async (name: string) => {
    const result = await exec.run(['readlink', `/proc/${pid}/${name}`]);
    return result.exitCode === 0 ? result.stdout.trim() : undefined;
  };
  const [cmdline, exe, cwd, stdout, stderr] = await Promise.all([
    exec.readFile(`/proc/${pid}/cmdline`),
    link('exe'),
    link('cwd'),
    link('fd/1'),
    link('fd/2'),
  ]);
  if (cmdline === undefined || exe === undefined || cwd === undefined) return undefined;
  const argv = cmdline.split('\0').filter((arg, index, all) => index < all.length - 1 || arg !== '');
  argv[0] = exe;
  return { argv, cwd, stdout: outputTarget(stdout), stderr: outputTarget(stderr) };
}

export async function signal(exec: Executor, pid: number, name: string): Promise<void> {
  // A process that exits between our check and the signal is not an error: the result is the same.
  await exec.signal(pid, name);
}
