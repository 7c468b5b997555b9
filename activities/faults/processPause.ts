import { z } from 'zod';
import type { FaultKind } from './contract';
import {
  describeSelector,
  selectProcesses,
  exactlyOneSelector,
  processSelectorFields,
  signal,
  statIfSame,
  type ProcessIdentity,
} from './processes';

const params = z.strictObject(processSelectorFields).refine(...exactlyOneSelector);
type Params = z.infer<typeof params>;

interface Saved {
  readonly processes: readonly ProcessIdentity[];
}

const stopWaitMs = 2000;

/** SIGSTOP freezes a process as a hung JVM or a stuck disk would; SIGCONT lets it go on where it stopped. */
export const processPause: FaultKind<Params, Saved> = {
  kind: 'process-pause',
  description:
    'Freezes processes with SIGSTOP (found by pidfile or command-line pattern); rollback sends SIGCONT.',
  targetKinds: ['local', 'ssh'],
  params,

  describe: (p, target) => ({
    inject: `pause ${describeSelector(p)} on ${target.name} (SIGSTOP)`,
    rollback: `resume ${describeSelector(p)} on ${target.name} (SIGCONT)`,
  }),

  async prepare(ctx, p) {
    const found = await selectProcesses(ctx.exec, p, ctx.protectedPids);
    return { processes: found.map(({ pid, startTime }) => ({ pid, startTime })) };
  },

  async inject(ctx, _p, saved) {
    for (const process of saved.processes) {
      if (await statIfSame(ctx.exec, process)) await signal(ctx.exec, process.pid, 'STOP');
    }
    // SIGSTOP takes effect asynchronously (a process on another CPU stops at its next return to user space):
    // wait for it, so that what verify and the checks see is the fault.
    await ctx.pollUntil(
      () => Promise.all(saved.processes.map((process) => statIfSame(ctx.exec, process))),
      (states) => states.every((stat) => stat === undefined || stat.state === 'T'),
      { timeoutMs: stopWaitMs, intervalMs: 20 },
    );
  },

  async verify(ctx, _p, saved) {
    const states = await Promise.all(saved.processes.map((process) => statIfSame(ctx.exec, process)));
    const stopped = states.filter((stat) => stat?.state === 'T').map((stat) => stat?.pid);
    const detail = saved.processes
      .map((process, i) => `pid ${process.pid}: ${states[i]?.state ?? 'gone'}`)
      .join(', ');
    return { active: stopped.length > 0, detail };
  },

  async rollback(ctx, _p, saved) {
    // A process that is gone needs no resuming; one that is running receives a harmless SIGCONT.
    for (const process of saved.processes) {
      if (await statIfSame(ctx.exec, process)) await signal(ctx.exec, process.pid, 'CONT');
    }
  },

  // The lease is minutes long, so the pid is still the paused process; a SIGCONT to anything else is a no-op.
  hostRevert: (_p, saved) => saved.processes.map(({ pid }) => ['kill', '-CONT', String(pid)]),
};
