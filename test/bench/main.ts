// `npm run bench`: speed goals of the foundation, measured on real parts (dev server, worker processes,
// real paused processes). Not part of `npm test`. Prints a table and writes bench-results.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { processPause } from '../../activities/faults/processPause';
import { projectRoot } from '../../client/paths';
import { abortUpdate } from '../../workflows/definitions';
import { localFaultContext } from '../support/faultContext';
import { pausePlan } from '../support/plans';
import { processState, startTestService, type TestService } from '../support/services';
import {
  spawnWorkerProcess,
  startPlan,
  startTestTemporal,
  type TestTemporal,
  uniqueTaskQueue,
  waitForPhase,
  type WorkerProcess,
} from '../support/temporal';
import { sleep } from '../support/wait';
import { guardrailBench } from './guardrail';
import { concurrentBench } from './concurrent';
import { kubernetesBench } from './kubernetes';
import { phasesBench } from './phases';
import { sshBench } from './ssh';
import { percentile } from './stats';

const faultCount = 10;
const abortRuns = Number(process.env.BENCH_ABORT_RUNS ?? 30);
const killRuns = Number(process.env.BENCH_KILL_RUNS ?? 20);

function tenFaultPlan(services: readonly TestService[], window: string) {
  return pausePlan(services[0] as TestService, {
    metadata: { name: 'bench', owner: 'bench' },
    checks: [],
    faults: services.map((service, i) => ({
      name: `pause-${i}`,
      kind: 'process-pause',
      target: 'here',
      params: { pidfile: service.pidfile },
    })),
    observation: { window, sampleInterval: '1s' },
  });
}

const pausedCount = (services: readonly TestService[]) =>
  services.filter((service) => processState(service.currentPid()) === 'T').length;

/** Polls /proc every millisecond: "rolled back" means every process really runs again. */
async function untilAllResumed(services: readonly TestService[], timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (pausedCount(services) > 0) {
    if (Date.now() > deadline) throw new Error('faults were not rolled back');
    await sleep(2);
  }
  return performance.now();
}

async function abortLatency(temporal: TestTemporal, services: readonly TestService[]) {
  // The worker runs in its own process, as in production, so the measuring loop does not slow it down.
  const taskQueue = uniqueTaskQueue('bench-abort');
  const worker = await spawnWorkerProcess(temporal, taskQueue);
  const toResumed: number[] = [];
  const toResult: number[] = [];
  const load = loadavg()[0];
  try {
    for (let run = 0; run < abortRuns; run++) {
      const handle = await startPlan(temporal, tenFaultPlan(services, '10m'), taskQueue);
      await waitForPhase(handle, 'observe');
      if (pausedCount(services) !== faultCount) throw new Error('not every fault is active');
      const started = performance.now();
      await handle.executeUpdate(abortUpdate, { args: [{ reason: 'bench' }] });
      toResumed.push((await untilAllResumed(services)) - started);
      await handle.result();
      toResult.push(performance.now() - started);
    }
  } finally {
    await worker.kill('SIGTERM');
  }
  return { toResumed, toResult, load };
}

/** The same prepare/inject/verify/rollback/verify calls, made directly, without Temporal. */
async function directSteps(services: readonly TestService[]): Promise<number> {
  const ctx = localFaultContext('bench');
  const started = performance.now();
  const saved = [];
  for (const service of services) {
    const params = processPause.params.parse({ pidfile: service.pidfile });
    const state = await processPause.prepare(ctx, params);
    await processPause.inject(ctx, params, state);
    await processPause.verify(ctx, params, state);
    saved.push({ params, state });
  }
  for (const { params, state } of saved.reverse()) {
    await processPause.rollback(ctx, params, state);
    await processPause.verify(ctx, params, state);
  }
  return performance.now() - started;
}

async function stepOverhead(temporal: TestTemporal, services: readonly TestService[]) {
  const taskQueue = uniqueTaskQueue('bench-steps');
  const worker = await spawnWorkerProcess(temporal, taskQueue);
  const orchestrated: number[] = [];
  const direct: number[] = [];
  try {
    for (let run = 0; run < 5; run++) {
      const report = await (await startPlan(temporal, tenFaultPlan(services, '1s'), taskQueue)).result();
      const at = (phase: string) => Date.parse(report.timeline.find((e) => e.phase === phase)?.at ?? '');
      // Inject phase plus rollback phase, without the observation window between them.
      orchestrated.push(at('observe') - at('inject') + (at('recover') - at('rollback')));
      direct.push(await directSteps(services));
    }
  } finally {
    await worker.kill('SIGTERM');
  }
  const median = (values: number[]) => percentile(values, 50);
  return {
    orchestratedMs: median(orchestrated),
    directMs: median(direct),
    perStepOverheadMs: (median(orchestrated) - median(direct)) / faultCount,
  };
}

/**
 * Two worker processes. Right after the abort is accepted, the worker that completed the last workflow task
 * (with eager dispatch, the one running the rollbacks) is SIGKILLed; the standby must finish every rollback.
 */
async function killDuringRollback(temporal: TestTemporal, services: readonly TestService[]) {
  const results: number[] = [];
  for (let run = 0; run < killRuns; run++) {
    const taskQueue = uniqueTaskQueue('bench-kill');
    const workers: WorkerProcess[] = [
      await spawnWorkerProcess(temporal, taskQueue),
      await spawnWorkerProcess(temporal, taskQueue),
    ];
    try {
      const handle = await startPlan(temporal, tenFaultPlan(services, '10m'), taskQueue);
      await waitForPhase(handle, 'observe');
      await handle.executeUpdate(abortUpdate, { args: [{ reason: 'bench kill' }] });
      const events = (await handle.fetchHistory()).events ?? [];
      const identity = events.findLast((e) => e.workflowTaskCompletedEventAttributes)
        ?.workflowTaskCompletedEventAttributes?.identity;
      const victim = workers.find((worker) => identity?.startsWith(`${worker.child.pid}@`));
      if (victim === undefined) throw new Error(`no worker has identity ${identity}`);
      const killed = performance.now();
      await victim.kill('SIGKILL');
      const stillPaused = pausedCount(services);
      results.push((await untilAllResumed(services)) - killed);
      console.error(`[bench]   killed with ${stillPaused} of ${faultCount} faults still active`);
      await handle.result();
    } finally {
      for (const worker of workers) await worker.kill('SIGKILL');
    }
  }
  return results;
}

/** SIGKILL during rollback, as its bench-results.json entry. */
async function sigkillResult(temporal: TestTemporal, services: readonly TestService[]) {
  console.error(`[bench] worker SIGKILL during rollback → rolled back by a standby: ${killRuns} runs`);
  const load = loadavg()[0];
  const kill = await killDuringRollback(temporal, services);
  return {
    sigkillToRolledBackMs: {
      runs: kill.length,
      p50: Math.round(percentile(kill, 50)),
      max: Math.round(Math.max(...kill)),
      loadAverage1m: load,
      goal: `max ≤ 3 s over 20 runs, with a standby worker`,
    },
  };
}

/** Only the SIGKILL bench, on its own services: for measuring one lever at a time. */
async function sigkillBench(temporal: TestTemporal): Promise<Record<string, unknown>> {
  const services: TestService[] = [];
  try {
    for (let i = 0; i < faultCount; i++) services.push(await startTestService());
    return await sigkillResult(temporal, services);
  } finally {
    for (const service of services) await service.stop();
  }
}

/** The benches on local processes: abort latency, step overhead, SIGKILL during rollback, guardrails. */
async function localBench(temporal: TestTemporal): Promise<Record<string, unknown>> {
  const services: TestService[] = [];
  try {
    for (let i = 0; i < faultCount; i++) services.push(await startTestService());
    console.error(`[bench] abort → rolled back: ${abortRuns} runs × ${faultCount} faults`);
    const abort = await abortLatency(temporal, services);
    console.error('[bench] per-step orchestration overhead');
    const overhead = await stepOverhead(temporal, services);
    const kill = await sigkillResult(temporal, services);
    const guardrails = await guardrailBench(temporal);
    return {
      abortToRolledBackMs: {
        runs: abort.toResumed.length,
        faults: faultCount,
        p50: Math.round(percentile(abort.toResumed, 50)),
        p99: Math.round(percentile(abort.toResumed, 99)),
        max: Math.round(Math.max(...abort.toResumed)),
        loadAverage1m: abort.load,
        goal: 'p50 ≤ 150 ms, p99 ≤ 400 ms',
      },
      abortToWorkflowResultMs: {
        p50: Math.round(percentile(abort.toResult, 50)),
        p99: Math.round(percentile(abort.toResult, 99)),
      },
      stepOverhead: {
        steps: faultCount,
        orchestratedMs: Math.round(overhead.orchestratedMs),
        directMs: Math.round(overhead.directMs),
        perStepOverheadMs: Math.round(overhead.perStepOverheadMs * 10) / 10,
      },
      ...kill,
      guardrails,
    };
  } finally {
    for (const service of services) await service.stop();
  }
}

const benches = {
  local: localBench,
  sigkill: sigkillBench,
  ssh: sshBench,
  kubernetes: kubernetesBench,
  phases: phasesBench,
  concurrent: concurrentBench,
} as const;
type BenchName = keyof typeof benches;

/** `--only local|sigkill|ssh|kubernetes|phases|concurrent` runs one bench; without it, all of them. */
function chosenBenches(argv: readonly string[]): BenchName[] {
  const at = argv.indexOf('--only');
  // `sigkill` is part of `local`: alone, it measures one lever at a time.
  if (at === -1) return (Object.keys(benches) as BenchName[]).filter((name) => name !== 'sigkill');
  const name = argv[at + 1];
  if (name === undefined || !(name in benches)) {
    throw new Error(`--only takes one of: ${Object.keys(benches).join(', ')} (got ${name ?? 'nothing'})`);
  }
  return [name as BenchName];
}

/** Results of benches not run this time stay in bench-results.json; the ones run replace theirs. */
function earlierResults(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

async function main(): Promise<void> {
  const chosen = chosenBenches(process.argv.slice(2));
  const temporal = await startTestTemporal();
  try {
    const results: Record<string, unknown> = {
      machine: { cores: (await import('node:os')).cpus().length, node: process.version },
    };
    const file = join(projectRoot, 'bench-results.json');
    for (const name of chosen) {
      Object.assign(results, await benches[name](temporal));
      // After each bench, so a later one failing loses nothing measured.
      writeFileSync(file, `${JSON.stringify({ ...earlierResults(file), ...results }, null, 2)}\n`);
    }
    console.log(JSON.stringify(results, null, 2));
  } finally {
    await temporal.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
