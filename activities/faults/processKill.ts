import { z } from 'zod';
import { duration } from '../../plan/duration';
import { absolutePath, commandLine, tcpPort } from '../../plan/safeValues';
import type { Executor } from '../executors/executor';
import { logTail } from './context';
import { FaultUserError, type FaultContext, type FaultKind } from './contract';
import {
  describeSelector,
  findProcesses,
  exactlyOneSelector,
  processSelectorFields,
  readCommand,
  readStat,
  selectProcesses,
  signal,
  statIfSame,
  type ProcessCommand,
  type ProcessIdentity,
} from './processes';

const params = z
  .strictObject({
    ...processSelectorFields,
    signal: z.enum(['KILL', 'TERM', 'INT', 'QUIT', 'HUP']).default('KILL').describe('signal to send'),
    restart: z
      .object({
        argv: commandLine.optional().describe('command to start instead of the recorded one'),
        cwd: absolutePath.optional(),
      })
      .strict()
      .default({})
      .describe('how rollback starts the process again (default: its recorded command line and directory)'),
    ready: z
      .object({
        tcpPort: tcpPort
          .optional()
          .describe('rollback waits until this port on the host accepts connections'),
        timeout: duration({ min: '1s', max: '10m' }).default(30_000),
        settle: duration({ max: '1m' }).default(500).describe('how long the restarted process must stay up'),
      })
      .strict()
      .default({ timeout: 30_000, settle: 500 }),
  })
  .refine(...exactlyOneSelector);
type Params = z.infer<typeof params>;

interface SavedProcess extends ProcessIdentity, ProcessCommand {}
interface Saved {
  readonly processes: readonly SavedProcess[];
}

const exitWait = { timeoutMs: 10_000, intervalMs: 100 };

/** A signal takes a moment to end a process (or longer, for TERM): wait, briefly, until all are gone. */
async function waitUntilGone(ctx: FaultContext, processes: readonly ProcessIdentity[]): Promise<void> {
  await ctx.pollUntil(
    () => Promise.all(processes.map((process) => statIfSame(ctx.exec, process))),
    (alive) => alive.every((stat) => stat === undefined),
    exitWait,
  );
}

/** The last lines of the restarted process's own log, when its output goes to a file. */
async function whatItLogged(exec: Executor, path: string): Promise<string> {
  if (path === '/dev/null') return 'its output goes to /dev/null, as before it was killed';
  return `${path} ends: ${await logTail({ exec }, path)}`;
}

async function waitUntilReady(ctx: FaultContext, p: Params, pid: number, logPath: string): Promise<void> {
  const deadline = Date.now() + p.ready.timeout;
  const assertAlive = async () => {
    const stat = await readStat(ctx.exec, pid);
    if (stat === undefined || stat.state === 'Z') {
      throw new Error(
        `restarted process ${pid} on ${ctx.target.name} exited; ${await whatItLogged(ctx.exec, logPath)}`,
      );
    }
  };
  for (;;) {
    await assertAlive();
    if (p.ready.tcpPort === undefined || (await ctx.exec.tcpReachable('127.0.0.1', p.ready.tcpPort, 1000)))
      break;
    if (Date.now() > deadline) {
      throw new Error(
        `restarted process ${pid} on ${ctx.target.name} does not accept connections on port ${p.ready.tcpPort}`,
      );
    }
    ctx.heartbeat();
    await ctx.sleep(200);
  }
  // The port may answer for another process; one that fails to start (bind error) is gone after the settle time.
  await ctx.sleep(p.ready.settle);
  await assertAlive();
}

/** Kills processes; rollback starts them again with the command line recorded before the kill. */
export const processKill: FaultKind<Params, Saved> = {
  kind: 'process-kill',
  description:
    'Kills processes (SIGKILL by default); rollback restarts each with its recorded command line and waits until it is up.',
  targetKinds: ['local', 'ssh'],
  params,

  describe: (p, target) => ({
    inject: `kill ${describeSelector(p)} on ${target.name} (SIG${p.signal})`,
    rollback: `restart ${describeSelector(p)} on ${target.name}${p.ready.tcpPort ? ` and wait for port ${p.ready.tcpPort}` : ''}`,
  }),

  async prepare(ctx, p) {
    const found = await selectProcesses(ctx.exec, p, ctx.protectedPids);
    const processes: SavedProcess[] = [];
    for (const { pid, startTime } of found) {
      const command = await readCommand(ctx.exec, pid);
      if (command === undefined) continue; // exited while we looked: nothing to kill, nothing to restart
      const restart = {
        ...command,
        argv: p.restart.argv ?? command.argv,
        cwd: p.restart.cwd ?? command.cwd,
      };
      // What the rollback will send must pass the executor's boundary now, before anything is killed: found
      // only at rollback, it would be retried forever while the process stays dead.
      const unsendable = ctx.exec.unsendableArgument([
        ...restart.argv,
        restart.cwd,
        restart.stdout,
        restart.stderr,
      ]);
      if (unsendable !== undefined) {
        throw new FaultUserError(
          `pid ${pid} on ${ctx.target.name} was started with ${JSON.stringify(unsendable)}, which gameday ` +
            `cannot send to ${ctx.exec.host} to restart it; give restart.argv (and restart.cwd) in the plan`,
        );
      }
      processes.push({ pid, startTime, ...restart });
    }
    return { processes };
  },

  async inject(ctx, p, saved) {
    for (const process of saved.processes) {
      if (await statIfSame(ctx.exec, process)) await signal(ctx.exec, process.pid, p.signal);
    }
    await waitUntilGone(ctx, saved.processes);
  },

  async verify(ctx, p, saved) {
    const alive = (await Promise.all(saved.processes.map((process) => statIfSame(ctx.exec, process)))).filter(
      (stat) => stat !== undefined,
    );
    const running = await findProcesses(ctx.exec, p, ctx.protectedPids);
    const detail =
      alive.length > 0
        ? `still running: pid ${alive.map((stat) => stat.pid).join(', ')}`
        : running.length > 0
          ? `running again: pid ${running.map((stat) => stat.pid).join(', ')}`
          : `killed: pid ${saved.processes.map((process) => process.pid).join(', ')}`;
    return { active: alive.length === 0 && running.length === 0, detail };
  },

  async rollback(ctx, p, saved) {
    const running = await findProcesses(ctx.exec, p, ctx.protectedPids);
    const logOf = (process: SavedProcess | undefined) => process?.stderr ?? '/dev/null';
    if (running.length > 0) {
      // Already back (a supervisor, or an earlier attempt of this rollback): only wait for readiness.
      for (const stat of running) await waitUntilReady(ctx, p, stat.pid, logOf(saved.processes[0]));
      return;
    }
    for (const process of saved.processes) {
      const pid = await ctx.exec.startDetached(process.argv, {
        cwd: process.cwd,
        logPath: process.stdout,
        errorLogPath: process.stderr,
        // With the start, not after it: a worker lost in between would leave the killed pid there, and the
        // retry would start a second copy (seen in the soak).
        ...(p.pidfile !== undefined ? { pidfile: p.pidfile } : {}),
      });
      await waitUntilReady(ctx, p, pid, logOf(process));
    }
  },

  // Restarting needs the checks above (is it already back? is it ready?), which a host cannot make alone: a
  // killed process stays down until a worker rolls back (or its own supervisor restarts it).
  hostRevert: () => [],
};
