// `npm run bench -- --only phases`: issue 14's "a whole game day costs no more than a script". The demo plan
// (examples/demo.yaml, pointed at a test service, with a 1 s and a 5 s window) run through the real CLI,
// `gameday run`, against the dev server and a worker process, as a user runs it. Wall time from the CLI's spawn
// to its exit, and where it goes, phase by phase, from the workflow history's event times.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { temporal as proto } from '@temporalio/proto';
import { projectRoot } from '../../client/paths';
import { startTestService, type TestService } from '../support/services';
import { cliPath, spawnWorkerProcess, type TestTemporal, uniqueTaskQueue } from '../support/temporal';

type HistoryEvent = proto.api.history.v1.IHistoryEvent;

const runsPerWindow = Number(process.env.BENCH_PHASES_RUNS ?? 5);
const windowsMs = [1000, 5000] as const;
/** The same experiment under Chaos Toolkit, wall time of `chaos run` (figures from issue 14). */
const chaosToolkitWallMs: Record<number, number> = { 1000: 1300, 5000: 5400 };

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
};

/** Consecutive spans, from the CLI's spawn to its exit: they add up to the wall time. */
const phaseNames = [
  'cliToWorkflowStarted',
  'resolve',
  'preflight',
  'prepareRecordInjectVerify',
  'window',
  'rollback',
  'recovery',
  'reportAndFinish',
  'workflowCompletedToCliExit',
] as const;
type PhaseName = (typeof phaseNames)[number];
type Breakdown = Record<PhaseName, number>;

/** The demo plan as shipped, pointed at the test service (its port and pidfile) and given the window. */
function demoPlanCopy(service: TestService, windowMs: number, dir: string): string {
  const original = readFileSync(join(projectRoot, 'examples', 'demo.yaml'), 'utf8');
  const replacements: [string, string][] = [
    ['127.0.0.1:18181', `127.0.0.1:${service.port}`],
    ['/tmp/gameday-demo/demo-service.pid', service.pidfile],
    ['window: 5s', `window: ${windowMs / 1000}s`],
  ];
  let text = original;
  for (const [from, to] of replacements) {
    if (!text.includes(from)) throw new Error(`examples/demo.yaml no longer has ${from}`);
    text = text.replaceAll(from, to);
  }
  const file = join(dir, `demo-${windowMs}ms.yaml`);
  writeFileSync(file, text);
  return file;
}

interface CliRun {
  readonly spawnedAt: number;
  readonly exitedAt: number;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node dist/client/main.js <args>` as a user starts it; epoch times of its spawn and its exit. */
function runCli(args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const spawnedAt = Date.now();
    const child = spawn(process.execPath, [cliPath, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ spawnedAt, exitedAt: Date.now(), code, stdout, stderr }));
  });
}

const epochMs = (event: HistoryEvent | undefined): number => {
  const time = event?.eventTime;
  if (!time) return NaN;
  return Number(time.seconds) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
};

/** Epoch ms at which each activity of the type completed, in history order. */
function completions(events: readonly HistoryEvent[], activityType: string): number[] {
  const scheduled = new Set(
    events
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType)
      .map((e) => Number(e.eventId)),
  );
  return events
    .filter((e) => scheduled.has(Number(e.activityTaskCompletedEventAttributes?.scheduledEventId)))
    .map(epochMs);
}

/** The boundaries of each phase in one game day's history, turned into consecutive spans. */
function breakdownOf(events: readonly HistoryEvent[], cli: CliRun): Breakdown {
  const started = epochMs(events.find((e) => e.workflowExecutionStartedEventAttributes));
  const completed = epochMs(events.find((e) => e.workflowExecutionCompletedEventAttributes));
  const one = (type: string, which: 'first' | 'last' = 'last') => {
    const times = completions(events, type);
    const time = which === 'first' ? times[0] : times.at(-1);
    if (time === undefined) throw new Error(`the history has no completed ${type}`);
    return time;
  };
  const resolved = one('resolvePlan');
  // A host fault's targets are served by one activity each for prepare and for arm, inject and verify.
  const verified = Math.min(
    ...completions(events, 'verifyFault'),
    ...completions(events, 'injectFaultOnTargets'),
  );
  // Preflight checks: the runCheck activities completed before the first fault was prepared.
  const firstPrepare = Math.min(
    ...completions(events, 'prepareFault'),
    ...completions(events, 'prepareFaultOnTargets'),
  );
  const preflightDone = Math.max(...completions(events, 'runCheck').filter((t) => t <= firstPrepare));
  const observed = one('observe');
  // Host rollbacks run in one activity; any it hands back run as their own rollbackFault.
  const rolledBack = Math.max(
    ...completions(events, 'rollBackFaultsInOrder'),
    ...completions(events, 'rollbackFault'),
  );
  if (!Number.isFinite(rolledBack)) throw new Error('the history has no completed rollback');
  const recovered = one('awaitRecovery');
  const bounds = [
    cli.spawnedAt,
    started,
    resolved,
    preflightDone,
    verified,
    observed,
    rolledBack,
    recovered,
    completed,
    cli.exitedAt,
  ];
  if (bounds.some((t) => !Number.isFinite(t)))
    throw new Error(`a phase boundary is missing: ${bounds.join(', ')}`);
  return Object.fromEntries(
    phaseNames.map((name, i) => [name, (bounds[i + 1] ?? NaN) - (bounds[i] ?? NaN)]),
  ) as Breakdown;
}

interface Measured {
  readonly wallMs: number;
  readonly breakdown: Breakdown;
  readonly events: number;
}

async function oneRun(temporal: TestTemporal, plan: string, taskQueue: string): Promise<Measured> {
  const cli = await runCli([
    'run',
    plan,
    '--address',
    temporal.server.address,
    '--namespace',
    temporal.server.namespace,
    '--task-queue',
    taskQueue,
  ]);
  const workflowId = /game day (\S+)/.exec(cli.stdout)?.[1];
  if (cli.code !== 0 || workflowId === undefined) {
    throw new Error(`gameday run exited ${cli.code}:\n${cli.stdout}\n${cli.stderr}`);
  }
  // Exit 0 is the outcome passed; the outcome line says it too.
  if (!/^PASSED /m.test(cli.stdout)) {
    throw new Error(`the demo game day did not pass:\n${cli.stdout}`);
  }
  const events = (await temporal.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  return { wallMs: cli.exitedAt - cli.spawnedAt, breakdown: breakdownOf(events, cli), events: events.length };
}

const medianBreakdown = (runs: readonly Measured[]): Breakdown =>
  Object.fromEntries(
    phaseNames.map((name) => [name, median(runs.map((run) => run.breakdown[name]))]),
  ) as Breakdown;

export async function phasesBench(temporal: TestTemporal): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'gameday-bench-phases-'));
  const service = await startTestService();
  const taskQueue = uniqueTaskQueue('bench-phases');
  const worker = await spawnWorkerProcess(temporal, taskQueue);
  const loads: string[] = [load()];
  try {
    // What any CLI command costs before it does anything: node's start and the CLI's modules.
    const bare: number[] = [];
    for (let run = 0; run < 3; run++) {
      const cli = await runCli(['--version']);
      bare.push(cli.exitedAt - cli.spawnedAt);
    }
    const plans = new Map(windowsMs.map((ms) => [ms, demoPlanCopy(service, ms, dir)]));
    // The worker's first game day loads the workflow bundle into its V8 context; measured, not counted.
    console.error(`[bench] demo plan: first run on a fresh worker (load ${load()})`);
    const first = await oneRun(temporal, plans.get(1000) as string, taskQueue);
    const results: Record<string, { runs: Measured[]; load: string }> = {};
    for (const windowMs of windowsMs) {
      console.error(`[bench] demo plan, ${windowMs / 1000} s window: ${runsPerWindow} runs (load ${load()})`);
      const runs: Measured[] = [];
      for (let run = 0; run < runsPerWindow; run++) {
        runs.push(await oneRun(temporal, plans.get(windowMs) as string, taskQueue));
      }
      loads.push(load());
      results[`window${windowMs / 1000}s`] = { runs, load: load() };
    }
    const byWindow = <T>(body: (runs: Measured[], windowMs: number) => T): Record<string, T> =>
      Object.fromEntries(
        windowsMs.map((ms) => [`window${ms / 1000}s`, body(results[`window${ms / 1000}s`]?.runs ?? [], ms)]),
      );
    return {
      demoPlanWallMs: {
        plan: 'examples/demo.yaml with the window set, via `node dist/client/main.js run` (spawn → exit)',
        runs: runsPerWindow,
        ...byWindow((runs, ms) => ({
          p50: median(runs.map((r) => r.wallMs)),
          min: Math.min(...runs.map((r) => r.wallMs)),
          max: Math.max(...runs.map((r) => r.wallMs)),
          chaosToolkitMs: chaosToolkitWallMs[ms],
        })),
        firstRunOnFreshWorkerMs: first.wallMs,
        cliVersionOnlyMs: median(bare),
        goal: 'a whole game day costs no more than a script: Chaos Toolkit takes 1.3 s (1 s window), 5.4 s (5 s)',
      },
      demoPlanOrchestrationMs: {
        definition: 'wall time − the configured observation window',
        ...byWindow((runs, ms) => ({
          p50: median(runs.map((r) => r.wallMs - ms)),
          max: Math.max(...runs.map((r) => r.wallMs - ms)),
          chaosToolkitMs: (chaosToolkitWallMs[ms] ?? NaN) - ms,
        })),
        goal: 'orchestration ≤ 0.5 s',
      },
      demoPlanPhaseBreakdownMs: {
        definition:
          'median of consecutive spans from history event times: spawn → WorkflowExecutionStarted → resolvePlan ' +
          'done → last preflight runCheck done → verifyFault done → observe done (the window) → last rollback ' +
          'done → awaitRecovery done → WorkflowExecutionCompleted → CLI exit',
        ...byWindow((runs) => ({
          ...medianBreakdown(runs),
          historyEvents: median(runs.map((r) => r.events)),
        })),
        goal: 'orchestration ≤ 0.5 s',
      },
      demoPlanLoadAverage: loads.join(' → '),
    };
  } finally {
    await worker.kill('SIGTERM');
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
