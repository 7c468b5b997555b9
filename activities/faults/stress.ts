import { z } from 'zod';
import { duration, formatDuration } from '../../plan/duration';
import { absolutePath } from '../../plan/safeValues';
import { ExecutorError, runOrNotFound } from '../executors/executor';
import { logTail } from './context';
import { FaultUserError, type FaultContext, type FaultKind } from './contract';
import { readStat, statIfSame, type ProcessIdentity } from './processes';

const size = z
  .string()
  .max(20)
  .regex(/^\d+(K|M|G)$/, 'must be a size such as "256M" or "2G"');
const workers = (max: number) => z.number().int().min(1).max(max);

const params = z
  .strictObject({
    cpu: z
      .strictObject({
        workers: z.number().int().min(0).max(256).default(0).describe('0: one per CPU'),
        load: z.number().int().min(1).max(100).default(100).describe('percent of each CPU'),
      })
      .optional()
      .describe('CPU workers (stress-ng --cpu, --cpu-load)'),
    memory: z
      .strictObject({
        workers: workers(64).default(1),
        bytes: z
          .union([
            size,
            z
              .string()
              .max(3)
              .regex(/^([1-9]|[1-8]\d|90)%$/, 'or a percentage of available memory, at most "90%"'),
          ])
          .describe('memory held by all memory workers together ("512M", or "50%" of available memory)'),
      })
      .optional()
      .describe(
        'memory workers that allocate and keep touching memory (stress-ng --vm, --vm-bytes, --vm-keep)',
      ),
    io: z
      .strictObject({
        workers: workers(64).default(1),
        path: absolutePath.default('/tmp').describe('a directory on the filesystem to write to'),
        bytes: size.default('64M').describe('written per worker, then rewritten'),
      })
      .optional()
      .describe('disk writers (stress-ng --hdd) in a tagged directory under path'),
    duration: duration({ min: '1s', max: '24h' })
      .default(600_000)
      .describe(
        'how long the stress may last: stress-ng stops by itself shortly after (its own --timeout), even ' +
          'if gameday is gone. Must cover the observation window.',
      ),
  })
  .refine((p) => p.cpu !== undefined || p.memory !== undefined || p.io !== undefined, {
    message: 'give at least one of cpu, memory or io',
  });
type Params = z.infer<typeof params>;

export interface StressSaved {
  /** Holds the pid (first line, as any pidfile) and its start time (second line), written by inject. */
  readonly pidfile: string;
  /** stress-ng's output. */
  readonly log: string;
  /** stress-ng's --temp-path: the io workers' files; first on its command line, so it names the process. */
  readonly dir: string;
  readonly argv: readonly string[];
}

/** stress-ng's own timeout: the planned duration plus a margin for the steps around the window. */
export function selfTimeoutSeconds(durationMs: number): number {
  const margin = Math.min(120_000, Math.max(5_000, durationMs * 0.1));
  return Math.ceil((durationMs + margin) / 1000);
}

/**
 * Matches the command line of the stress-ng started for this fault, and of nothing else: anchored at its
 * start (so never the pkill, timeout or shell that carries the pattern) and naming the tagged directory.
 */
function ownCommandLine(saved: StressSaved): string {
  // '.' matches the one path character that means something in a regular expression ('+').
  return `^stress-ng --temp-path ${saved.dir.replace(/\+/g, '.')} `;
}

async function readIdentity(ctx: FaultContext, pidfile: string): Promise<ProcessIdentity | undefined> {
  const [pid, startTime] = ((await ctx.exec.readFile(pidfile)) ?? '').trim().split('\n');
  const number = Number(pid);
  return Number.isInteger(number) && number > 0 && startTime ? { pid: number, startTime } : undefined;
}

async function pgrep(ctx: FaultContext, args: readonly string[]): Promise<number[]> {
  const result = await ctx.exec.run(['pgrep', ...args]);
  // pgrep exits 1 when nothing matches.
  if (result.exitCode > 1) throw new ExecutorError(`pgrep on ${ctx.target.name}: ${result.stderr.trim()}`);
  return result.stdout
    .split('\n')
    .filter((line) => /^\d+$/.test(line))
    .map(Number);
}

/** The fault's live stress-ng processes (parents and workers; zombies are not alive). */
async function liveProcesses(ctx: FaultContext, saved: StressSaved): Promise<number[]> {
  const identity = await readIdentity(ctx, saved.pidfile);
  const parents = await pgrep(ctx, ['-f', ownCommandLine(saved)]);
  const groups = [...new Set([...parents, ...(identity ? [identity.pid] : [])])];
  // Workers stay in the parent's process group; a group id is never reused while any member lives.
  const members = (
    await Promise.all(groups.map((group) => pgrep(ctx, ['-g', String(group), '^stress-ng'])))
  ).flat();
  const stats = await Promise.all(
    [...new Set([...parents, ...members])].map((pid) => readStat(ctx.exec, pid)),
  );
  return stats.flatMap((stat) =>
    stat !== undefined && stat.state !== 'Z' && stat.state !== 'X' ? [stat.pid] : [],
  );
}

function describeLoad(p: Params): string {
  const parts: string[] = [];
  if (p.cpu) parts.push(`${p.cpu.workers || 'one per CPU'} CPU worker(s) at ${p.cpu.load}%`);
  if (p.memory) parts.push(`${p.memory.workers} memory worker(s) holding ${p.memory.bytes}`);
  if (p.io) parts.push(`${p.io.workers} disk writer(s) in ${p.io.path}`);
  return parts.join(', ');
}

/**
 * Stops the fault's stress-ng and its workers and removes its files: its rollback, also what the janitor runs
 * for a stress-ng left running by a run no history explains (see `stressLeftover`).
 */
export async function stopStress(ctx: FaultContext, saved: StressSaved): Promise<void> {
  // Kill, then look again: the recorded group and any parent by its command line (its workers die with it:
  // stress-ng gives them a parent-death signal), then each live process left.
  const killAll = async () => {
    const live = await liveProcesses(ctx, saved);
    if (live.length === 0) return live;
    const identity = await readIdentity(ctx, saved.pidfile);
    if (identity) await ctx.exec.run(['pkill', '-KILL', '-g', String(identity.pid), '^stress-ng']);
    await ctx.exec.run(['pkill', '-KILL', '-f', ownCommandLine(saved)]);
    for (const pid of live) await ctx.exec.signal(pid, 'KILL');
    return live;
  };
  const left = await ctx.pollUntil(killAll, (live) => live.length === 0, {
    timeoutMs: 10_000,
    intervalMs: 100,
  });
  if (left.length > 0) {
    throw new ExecutorError(`stress-ng processes ${left.join(', ')} on ${ctx.target.name} survived SIGKILL`);
  }
  await ctx.run(['rm', '-f', '--', saved.pidfile, saved.log]);
  await ctx.run(['rm', '-rf', '--', saved.dir]);
}

/**
 * The saved state of a stress-ng found running with `--temp-path DIR` (DIR named `.gameday-<tag>-stress-<hash>`
 * by prepare): its pidfile and log are beside the same name in /tmp. Undefined for any other stress-ng.
 */
export function stressLeftover(dir: string, argv: readonly string[]): StressSaved | undefined {
  const name = /\/(\.gameday-[a-z0-9]+-stress-[0-9a-f]{6})$/.exec(dir)?.[1];
  if (name === undefined || argv[0] !== 'stress-ng' || argv[2] !== dir) return undefined;
  const own = `/tmp/${name}`;
  return { pidfile: `${own}.pid`, log: `${own}.log`, dir, argv };
}

/** Loads a host with stress-ng, which ends itself shortly after the planned duration whatever happens. */
export const stress: FaultKind<Params, StressSaved> = {
  kind: 'stress',
  description:
    'Loads CPU, memory and/or disk with stress-ng, started detached with a tagged pidfile and its own ' +
    'timeout (duration plus a margin), so it ends by itself even if gameday is gone; rollback kills it and ' +
    'all its workers.',
  targetKinds: ['local', 'ssh'],
  params,

  // A fault that ends by itself must last the whole window, or the window would observe nothing.
  planProblems: (p, { windowMs }) =>
    p.duration < windowMs
      ? [
          {
            path: ['duration'],
            message:
              `stress would stop by itself after ${formatDuration(p.duration)}, before the observation window ` +
              `(${formatDuration(windowMs)}) ends: set duration to at least the window`,
          },
        ]
      : [],

  describe: (p, target) => ({
    inject: `stress ${target.name} with ${describeLoad(p)} (stress-ng, ends by itself after ${formatDuration(selfTimeoutSeconds(p.duration) * 1000)})`,
    rollback: `stop stress-ng and all its workers on ${target.name}`,
  }),

  async prepare(ctx, p) {
    // Only the host's own answer says "not installed": one it could not ask fails the prepare (retried).
    const version = await runOrNotFound(ctx.exec, ['stress-ng', '--version']);
    if (version.exitCode !== 0) {
      throw new FaultUserError(
        `stress-ng is not installed on ${ctx.target.name} (Debian and Ubuntu: apt-get install stress-ng)`,
      );
    }
    if (p.io && (await ctx.exec.run(['test', '-d', p.io.path])).exitCode !== 0) {
      throw new FaultUserError(`${p.io.path} is not a directory on ${ctx.target.name}`);
    }
    const dir = ctx.artifactPath('stress', p.io?.path);
    const own = ctx.artifactPath('stress');
    const argv = [
      'stress-ng', '--temp-path', dir, '--timeout', `${selfTimeoutSeconds(p.duration)}s`,
      ...(p.cpu ? ['--cpu', String(p.cpu.workers), '--cpu-load', String(p.cpu.load)] : []),
      ...(p.memory ? ['--vm', String(p.memory.workers), '--vm-bytes', p.memory.bytes, '--vm-keep'] : []),
      ...(p.io ? ['--hdd', String(p.io.workers), '--hdd-bytes', p.io.bytes] : []),
    ]; // prettier-ignore
    return { pidfile: `${own}.pid`, log: `${own}.log`, dir, argv };
  },

  async inject(ctx, _p, saved) {
    const recorded = await readIdentity(ctx, saved.pidfile);
    if (recorded && (await statIfSame(ctx.exec, recorded))) return; // already running
    // One that an earlier attempt started but never recorded (the worker died in between) goes first.
    await ctx.exec.run(['pkill', '-KILL', '-f', ownCommandLine(saved)]);
    await ctx.run(['mkdir', '-p', '--', saved.dir]);
    const pid = await ctx.exec.startDetached(saved.argv, { cwd: saved.dir, logPath: saved.log });
    const stat = await readStat(ctx.exec, pid);
    if (stat === undefined) {
      throw new ExecutorError(
        `stress-ng exited at once on ${ctx.target.name}: ${await logTail(ctx, saved.log)}`,
      );
    }
    await ctx.exec.writeFile(saved.pidfile, `${pid}\n${stat.startTime}\n`);
    // Bad options or a missing stressor end stress-ng within moments: report its words, not a silent no-op.
    await ctx.sleep(300);
    if (!(await statIfSame(ctx.exec, stat))) {
      throw new ExecutorError(
        `stress-ng exited at once on ${ctx.target.name}: ${await logTail(ctx, saved.log)}`,
      );
    }
  },

  async verify(ctx, _p, saved) {
    const identity = await readIdentity(ctx, saved.pidfile);
    const leader = identity && (await statIfSame(ctx.exec, identity));
    const live = await liveProcesses(ctx, saved);
    return {
      active: leader !== undefined || live.length > 0,
      detail: leader
        ? `stress-ng pid ${leader.pid} running with ${live.length - 1} worker process(es)`
        : live.length > 0
          ? `stress-ng processes still running: ${live.join(', ')}`
          : 'no stress-ng process of this fault is running',
    };
  },

  rollback: (ctx, _p, saved) => stopStress(ctx, saved),

  // By command line, not pid: the revert is built before the process exists. TERM lets stress-ng stop its
  // workers and remove its files; KILL ends whatever ignored it (workers follow their parent). Once the fault
  // is gone nothing matches, and the files are already removed.
  hostRevert: (_p, saved) => [
    ['pkill', '-TERM', '-f', ownCommandLine(saved)],
    ['sleep', '2'],
    ['pkill', '-KILL', '-f', ownCommandLine(saved)],
    ['rm', '-f', '--', saved.pidfile, saved.log],
    ['rm', '-rf', '--', saved.dir],
  ],
};
