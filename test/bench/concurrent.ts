// `npm run bench -- --only concurrent`: issue 14's "100 concurrent game days on one worker". Game days started
// at once on one worker process (`gameday worker`, default options), each pausing its own process (a `sleep`,
// SIGSTOP/SIGCONT through its pidfile: no two faults on one pid) with before/after checks on one shared demo
// service. Every one must pass and leave its process running. Measured: workflow-task and activity
// schedule-to-start from the histories, the worker's peak RSS and CPU, the dev server's CPU, the total wall.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { temporal as proto } from '@temporalio/proto';
import { fastDispatchFlags } from '../../client/devServer';
import { findTemporalCli } from '../../client/temporalCli';
import { freePort } from '../../worker/ports';
import { devServerSearchAttributeFlags } from '../../worker/searchAttributes';
import type { GameDayReport } from '../../workflows/definitions';
import type { gameDay } from '../../workflows/gameDay';
import { gameDayPlan } from '../support/plans';
import { processState, startTestService } from '../support/services';
import { spawnWorkerProcess, startPlan, type TestTemporal, uniqueTaskQueue } from '../support/temporal';
import { sleep } from '../support/wait';
import { busiestBetween, scrapeServer } from './serverMetrics';
import { percentile } from './stats';

type HistoryEvent = proto.api.history.v1.IHistoryEvent;

const gameDays = Number(process.env.BENCH_CONCURRENT ?? 100);
const window = process.env.BENCH_CONCURRENT_WINDOW ?? '5s';
/** With a `during` check each game day also holds an observe activity for its window (a slot each). */
const withDuringCheck = process.env.BENCH_CONCURRENT_DURING === '1';
const giveUpMs = Number(process.env.BENCH_CONCURRENT_TIMEOUT_MS ?? 240_000);

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;

const spread = (values: readonly number[]) => ({
  count: values.length,
  p50: round(percentile(values, 50)),
  p99: round(percentile(values, 99)),
  max: round(Math.max(...values)),
});

const epochMs = (event: HistoryEvent | undefined): number => {
  const time = event?.eventTime;
  if (!time) return NaN;
  return Number(time.seconds) * 1000 + (time.nanos ?? 0) / 1e6;
};

const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds a process has used (utime + stime), from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat; after the command name, the 12th and 13th.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]);
}

/** The first process whose command line (argv) and parent pid satisfy `matches`. */
function processWhere(matches: (args: string[], ppid: number) => boolean): number | undefined {
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (matches(args, ppid)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** The value after `flag` in a command line. */
const flagValue = (args: readonly string[], flag: string) => {
  const at = args.indexOf(flag);
  return at === -1 ? undefined : args[at + 1];
};

/** The dev server's process: the `temporal server start-dev` listening on the address's port. */
const devServerPid = (address: string) =>
  processWhere(
    (args) => args.includes('start-dev') && flagValue(args, '--port') === address.split(':').at(-1),
  );

/** The worker's spawn helper (activities/executors/spawnHelper.ts): its child running spawnHelperMain.js. */
const spawnHelperPid = (workerPid: number) =>
  processWhere((args, ppid) => ppid === workerPid && args.some((arg) => arg.endsWith('spawnHelperMain.js')));

/** The `--metrics-port` the dev server was started with. */
const metricsPortOf = (pid: number) => {
  const port = flagValue(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'), '--metrics-port');
  return port === undefined ? undefined : Number(port);
};

interface Sleeper {
  readonly pid: number;
  readonly pidfile: string;
}

/** A process per game day to pause: detached `sleep`s, a pidfile each. */
function startSleepers(dir: string, count: number): Sleeper[] {
  return Array.from({ length: count }, (_, i) => {
    const child = spawn('sleep', ['1800'], { detached: true, stdio: 'ignore' });
    child.unref();
    const pidfile = join(dir, `sleeper-${i}.pid`);
    writeFileSync(pidfile, `${child.pid}\n`);
    return { pid: child.pid as number, pidfile };
  });
}

function stopSleepers(sleepers: readonly Sleeper[]): void {
  for (const { pid } of sleepers) {
    for (const signal of ['SIGCONT', 'SIGKILL'] as const) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  }
}

/** Schedule-to-start of every workflow task and activity in one history, in ms. */
function scheduleToStart(events: readonly HistoryEvent[]) {
  const at = new Map(events.map((e) => [Number(e.eventId), e]));
  const workflowTasks: number[] = [];
  const activities: { type: string; ms: number }[] = [];
  for (const event of events) {
    const wft = event.workflowTaskStartedEventAttributes;
    if (wft) workflowTasks.push(epochMs(event) - epochMs(at.get(Number(wft.scheduledEventId))));
    const activity = event.activityTaskStartedEventAttributes;
    if (activity) {
      const scheduled = at.get(Number(activity.scheduledEventId));
      activities.push({
        type: scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? '?',
        ms: epochMs(event) - epochMs(scheduled),
      });
    }
  }
  return { workflowTasks, activities };
}

/** When each activity of a history ran (started → closed), and whether it was the lease keeper. */
function activityIntervals(events: readonly HistoryEvent[]): { from: number; to: number; keeper: boolean }[] {
  const at = new Map(events.map((e) => [Number(e.eventId), e]));
  const startedAt = new Map<number, number>();
  const intervals: { from: number; to: number; keeper: boolean }[] = [];
  for (const event of events) {
    const started = event.activityTaskStartedEventAttributes;
    if (started) startedAt.set(Number(started.scheduledEventId), epochMs(event));
    const closed =
      event.activityTaskCompletedEventAttributes ??
      event.activityTaskCanceledEventAttributes ??
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes;
    const from = startedAt.get(Number(closed?.scheduledEventId));
    if (closed && from !== undefined) {
      const type = at.get(Number(closed.scheduledEventId))?.activityTaskScheduledEventAttributes?.activityType
        ?.name;
      intervals.push({ from, to: epochMs(event), keeper: type === 'keepLeases' });
    }
  }
  return intervals;
}

/** When each workflow task ran on the worker (started → completed, failed or timed out). */
function workflowTaskIntervals(events: readonly HistoryEvent[]): { from: number; to: number }[] {
  const at = new Map(events.map((e) => [Number(e.eventId), e]));
  return events.flatMap((event) => {
    const closed =
      event.workflowTaskCompletedEventAttributes ??
      event.workflowTaskFailedEventAttributes ??
      event.workflowTaskTimedOutEventAttributes;
    const started = at.get(Number(closed?.startedEventId));
    return closed && started ? [{ from: epochMs(started), to: epochMs(event) }] : [];
  });
}

/** The most intervals open at one instant. */
function peakOverlap(intervals: readonly { from: number; to: number }[]): number {
  const edges = intervals.flatMap(({ from, to }) => [
    { at: from, step: 1 },
    { at: to, step: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let open = 0;
  let peak = 0;
  for (const { step } of edges) peak = Math.max(peak, (open += step));
  return peak;
}

/** Where one game day's time went: workflow tasks and activities waiting and running, its window timer. */
function timeSpent(events: readonly HistoryEvent[]): Record<string, number> {
  const at = new Map(events.map((e) => [Number(e.eventId), e]));
  const spent = {
    total: 0,
    workflowTaskQueued: 0,
    workflowTaskRunning: 0,
    activityQueued: 0,
    activityRunning: 0,
    timers: 0,
  };
  const since = (event: HistoryEvent, earlier: unknown) => epochMs(event) - epochMs(at.get(Number(earlier)));
  const isLeaseKeeper = (scheduledId: unknown) =>
    at.get(Number(scheduledId))?.activityTaskScheduledEventAttributes?.activityType?.name === 'keepLeases';
  const started = new Map<number, HistoryEvent>();
  for (const event of events) {
    const wftStarted = event.workflowTaskStartedEventAttributes;
    if (wftStarted) spent.workflowTaskQueued += since(event, wftStarted.scheduledEventId);
    const wftCompleted = event.workflowTaskCompletedEventAttributes;
    if (wftCompleted) spent.workflowTaskRunning += since(event, wftCompleted.startedEventId);
    const activityStarted = event.activityTaskStartedEventAttributes;
    if (activityStarted && !isLeaseKeeper(activityStarted.scheduledEventId)) {
      spent.activityQueued += since(event, activityStarted.scheduledEventId);
      started.set(Number(activityStarted.scheduledEventId), event);
    }
    const activityCompleted = event.activityTaskCompletedEventAttributes;
    const startedEvent = started.get(Number(activityCompleted?.scheduledEventId));
    if (startedEvent) spent.activityRunning += epochMs(event) - epochMs(startedEvent);
    const fired = event.timerFiredEventAttributes;
    if (fired) spent.timers += since(event, fired.startedEventId);
  }
  spent.total =
    epochMs(events.find((e) => e.workflowExecutionCompletedEventAttributes)) -
    epochMs(events.find((e) => e.workflowExecutionStartedEventAttributes));
  return spent;
}

function concurrentPlan(serviceUrl: string, pidfile: string) {
  return gameDayPlan({
    metadata: { name: 'bench-concurrent', owner: 'bench' },
    checks: [
      { name: 'shared-service-healthy', when: ['before', 'after'], http: { url: serviceUrl, timeout: '5s' } },
      ...(withDuringCheck
        ? [{ name: 'still-healthy', when: ['during'], http: { url: serviceUrl, timeout: '5s' } }]
        : []),
    ],
    faults: [{ name: 'pause', kind: 'process-pause', target: 'here', params: { pidfile } }],
    observation: { window, sampleInterval: '1s' },
    recovery: { within: '60s', interval: '500ms' },
  });
}

/** The phase each unfinished game day is in, counted (when they did not all finish in time). */
async function phasesOf(handles: readonly WorkflowHandle<typeof gameDay>[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const handle of handles) {
    const description = await handle.describe();
    const phase =
      description.status.name === 'RUNNING'
        ? String(description.searchAttributes.GameDayPhase?.[0] ?? 'unknown')
        : description.status.name;
    counts[phase] = (counts[phase] ?? 0) + 1;
  }
  return counts;
}

/** The concurrent game days on one worker, against this dev server. */
async function measure(temporal: TestTemporal): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'gameday-bench-concurrent-'));
  const service = await startTestService();
  const sleepers = startSleepers(dir, gameDays);
  const taskQueue = uniqueTaskQueue('bench-concurrent');
  const worker = await spawnWorkerProcess(temporal, taskQueue);
  const workerPid = worker.child.pid as number;
  const serverPid = devServerPid(temporal.server.address);
  const url = `http://127.0.0.1:${service.port}/health`;
  const loadBefore = load();
  let peakRssKb = statusKb(workerPid, 'VmRSS');
  const poll = setInterval(() => {
    try {
      peakRssKb = Math.max(peakRssKb, statusKb(workerPid, 'VmRSS'));
    } catch {
      // the worker exited: reported below
    }
  }, 100);
  try {
    // Warm-up: the worker's first game day loads the workflow bundle; not part of the figures.
    console.error(`[bench] concurrent: warm-up game day (load ${loadBefore})`);
    const warmHandle = await startPlan(temporal, concurrentPlan(url, sleepers[0]?.pidfile ?? ''), taskQueue);
    const warmId = warmHandle.workflowId;
    const warm = await warmHandle.result();
    if (warm.outcome !== 'passed')
      throw new Error(`warm-up game day ended ${warm.outcome}: ${warm.reason ?? ''}`);
    const rssBeforeMb = statusKb(workerPid, 'VmRSS') / 1024;
    console.error(`[bench] concurrent: ${gameDays} game days at once on one worker (load ${load()})`);
    const workerCpuBefore = cpuSeconds(workerPid);
    // Started by the warm-up's first local command; its spawns are the worker's work done elsewhere.
    const helperPid = spawnHelperPid(workerPid);
    const helperCpuBefore = helperPid === undefined ? NaN : cpuSeconds(helperPid);
    const serverCpuBefore = serverPid === undefined ? NaN : cpuSeconds(serverPid);
    const metricsPort = serverPid === undefined ? undefined : metricsPortOf(serverPid);
    const serverTimesBefore = metricsPort === undefined ? undefined : await scrapeServer(metricsPort);
    const started = performance.now();
    const starts = await Promise.allSettled(
      sleepers.map((sleeper) => startPlan(temporal, concurrentPlan(url, sleeper.pidfile), taskQueue)),
    );
    const startedAllMs = performance.now() - started;
    const startErrors = starts.flatMap((start) =>
      start.status === 'rejected'
        ? [start.reason instanceof Error ? start.reason.message : String(start.reason)]
        : [],
    );
    const known = starts.flatMap((start) => (start.status === 'fulfilled' ? [start.value] : []));
    const finished = await Promise.race([
      Promise.all(known.map((handle) => handle.result())).then(async (reports) => {
        // A start the client gave up on (deadline exceeded) may have been carried out all the same: every game
        // day on the queue counts, the warm-up's aside.
        const ids = new Set([warmId, ...known.map((handle) => handle.workflowId)]);
        const extra: WorkflowHandle<typeof gameDay>[] = [];
        for await (const execution of temporal.client.workflow.list({
          query: `TaskQueue = '${taskQueue}'`,
        })) {
          if (!ids.has(execution.workflowId))
            extra.push(temporal.client.workflow.getHandle(execution.workflowId));
        }
        return {
          handles: [...known, ...extra],
          reports: [...reports, ...(await Promise.all(extra.map((h) => h.result())))],
        };
      }),
      sleep(giveUpMs).then(() => undefined),
    ]);
    const wallMs = performance.now() - started;
    const workerCpu = cpuSeconds(workerPid) - workerCpuBefore;
    const helperCpu = helperPid === undefined ? NaN : cpuSeconds(helperPid) - helperCpuBefore;
    const serverCpu = serverPid === undefined ? NaN : cpuSeconds(serverPid) - serverCpuBefore;
    const serverTimes =
      metricsPort === undefined || serverTimesBefore === undefined
        ? []
        : busiestBetween(serverTimesBefore, await scrapeServer(metricsPort));
    const loadAfter = load();
    if (finished === undefined) {
      const phases = await phasesOf(known);
      await Promise.all(known.map((handle) => handle.terminate('bench gave up').catch(() => undefined)));
      throw new Error(
        `${gameDays} concurrent game days had not finished after ${giveUpMs / 1000} s: ${JSON.stringify(phases)}`,
      );
    }
    const { handles, reports } = finished;
    const notPassed = reports.filter((report: GameDayReport) => report.outcome !== 'passed');
    if (notPassed.length > 0) {
      throw new Error(
        `${notPassed.length} of ${reports.length} did not pass: ${notPassed.map((r) => `${r.outcome}: ${r.reason ?? ''}`).join('; ')}`,
      );
    }
    const stillPaused = sleepers.filter((sleeper) => processState(sleeper.pid) !== 'S');
    if (stillPaused.length > 0) throw new Error(`${stillPaused.length} paused processes were not resumed`);

    const workflowTasks: number[] = [];
    const activities: { type: string; ms: number }[] = [];
    const gameDayMs: number[] = [];
    const spentPerGameDay: Record<string, number>[] = [];
    const intervals: { from: number; to: number; keeper: boolean }[] = [];
    const workflowTaskRuns: { from: number; to: number }[] = [];
    let events = 0;
    for (const handle of handles) {
      const history = (await handle.fetchHistory()).events ?? [];
      events += history.length;
      const measured = scheduleToStart(history);
      workflowTasks.push(...measured.workflowTasks);
      activities.push(...measured.activities);
      const opened = epochMs(history.find((e) => e.workflowExecutionStartedEventAttributes));
      const closed = epochMs(history.find((e) => e.workflowExecutionCompletedEventAttributes));
      gameDayMs.push(closed - opened);
      spentPerGameDay.push(timeSpent(history));
      intervals.push(...activityIntervals(history));
      workflowTaskRuns.push(...workflowTaskIntervals(history));
    }
    const spentMedianMs = Object.fromEntries(
      Object.keys(spentPerGameDay[0] ?? {}).map((key) => [
        key,
        round(
          percentile(
            spentPerGameDay.map((spent) => spent[key] ?? NaN),
            50,
          ),
        ),
      ]),
    );
    const byType: Record<string, { count: number; p99: number; max: number }> = {};
    for (const type of [...new Set(activities.map((a) => a.type))].sort()) {
      const { count, p99, max } = spread(activities.filter((a) => a.type === type).map((a) => a.ms));
      byType[type] = { count, p99, max };
    }
    return {
      gameDays,
      plan:
        `one process-pause each (its own sleep process), before/after http checks on one shared demo service` +
        `${withDuringCheck ? ', a during check' : ''}, ${window} window; one \`gameday worker\` process (SDK defaults)`,
      started: handles.length,
      startsFailed: startErrors.length,
      ...(startErrors.length > 0 ? { startError: startErrors[0] } : {}),
      // Every started game day passed (checked above); all of them only if every start went through.
      allPassed: handles.length === gameDays,
      wallMs: round(wallMs),
      startAllMs: round(startedAllMs),
      gameDayMs: spread(gameDayMs),
      // Per game day (median over them): summed waits and runs; activities without the lease keeper.
      timeSpentPerGameDayMs: spentMedianMs,
      workflowTaskScheduleToStartMs: spread(workflowTasks),
      activityScheduleToStartMs: { ...spread(activities.map((a) => a.ms)), byType },
      // Against the worker's activity slots (maxConcurrentActivityTaskExecutions, SDK default 100): each game
      // day's lease keeper holds one from its inject to its rollback.
      peakActivitiesRunning: {
        all: peakOverlap(intervals),
        leaseKeepers: peakOverlap(intervals.filter((i) => i.keeper)),
      },
      // Against maxConcurrentWorkflowTaskExecutions (SDK default 40).
      peakWorkflowTasksRunning: peakOverlap(workflowTaskRuns),
      historyEventsPerGameDay: round(events / gameDays),
      worker: {
        rssBeforeMb: round(rssBeforeMb, 1),
        peakRssMb: round(peakRssKb / 1024, 1),
        vmHwmMb: round(statusKb(workerPid, 'VmHWM') / 1024, 1),
        cpuSeconds: round(workerCpu, 2),
        cpuPercentOfOneCore: round((100 * workerCpu) / (wallMs / 1000)),
      },
      spawnHelper: {
        cpuSeconds: round(helperCpu, 2),
        cpuPercentOfOneCore: round((100 * helperCpu) / (wallMs / 1000)),
        vmHwmMb: helperPid === undefined ? NaN : round(statusKb(helperPid, 'VmHWM') / 1024, 1),
      },
      devServer: {
        cpuSeconds: round(serverCpu, 2),
        cpuPercentOfOneCore: round((100 * serverCpu) / (wallMs / 1000)),
        // Its own histograms: API calls (service_latency), store calls (persistence_latency) and its internal
        // task queues (task_latency_queue: how long a task waited to be processed), busiest first.
        busiestOperations: serverTimes,
      },
      loadAverage: `${loadBefore} → ${loadAfter}`,
      goal: 'all pass; workflow-task and activity schedule-to-start p99 ≤ 1 s',
    };
  } finally {
    clearInterval(poll);
    await worker.kill('SIGTERM');
    stopSleepers(sleepers);
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The same dev server with its history in memory (no --db-filename, so no SQLite file to sync on every write):
 * what the worker does when the server's persistence is out of the way.
 */
async function startInMemoryDevServer(): Promise<TestTemporal> {
  const cli = await findTemporalCli((line) => console.error(`[bench] ${line}`));
  if (cli === undefined) throw new Error('no temporal CLI for the in-memory dev server');
  const port = await freePort();
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port)];
  args.push('--http-port', String(await freePort()), '--metrics-port', String(await freePort()));
  args.push('--log-level', 'error', '--headless', ...devServerSearchAttributeFlags(), ...fastDispatchFlags);
  const child = spawn(cli, args, { stdio: 'ignore' });
  const address = `127.0.0.1:${port}`;
  const stopServer = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  let connection: Connection | undefined;
  for (const deadline = Date.now() + 60_000; connection === undefined;) {
    try {
      const candidate = await Connection.connect({ address, connectTimeout: 1000 });
      await candidate.workflowService.getSystemInfo({});
      connection = candidate;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stopServer();
        throw new Error(`the in-memory dev server did not serve: ${String(error)}`);
      }
      await sleep(200);
    }
  }
  const opened = connection;
  return {
    server: { address, namespace: 'default', stop: stopServer },
    client: new Client({ connection: opened, namespace: 'default' }),
    connection: opened,
    dir: tmpdir(),
    stop: async () => {
      await opened.close();
      await stopServer();
    },
  };
}

export async function concurrentBench(temporal: TestTemporal): Promise<Record<string, unknown>> {
  console.error('[bench] concurrent game days: dev server with its SQLite file (as `gameday dev`)');
  const withFile = await measure(temporal);
  let inMemory: Record<string, unknown> | undefined;
  if (process.env.BENCH_CONCURRENT_IN_MEMORY !== '0') {
    console.error('[bench] concurrent game days: dev server in memory');
    const memory = await startInMemoryDevServer();
    try {
      inMemory = await measure(memory);
    } finally {
      await memory.stop();
    }
  }
  return {
    concurrentGameDays: {
      ...withFile,
      devServerStore: 'SQLite file (--db-filename), as gameday dev and the tests run it',
      ...(inMemory === undefined ? {} : { inMemoryDevServer: inMemory }),
    },
  };
}
