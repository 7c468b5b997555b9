// Guardrails: history size of a long observation window, and how fast a breach starts rollback.
// Part of `npm run bench` (test/bench/main.ts); alone: `node dist/test/bench/guardrail.js`.
import { createServer, type Server } from 'node:net';
import type { WorkflowHandle } from '@temporalio/client';
import { freePort } from '../../worker/ports';
import type { gameDay } from '../../workflows/gameDay';
import { pausePlan } from '../support/plans';
import { processState, startTestService, type TestService } from '../support/services';
import {
  spawnWorkerProcess,
  startPlan,
  startTestTemporal,
  type TestTemporal,
  uniqueTaskQueue,
  waitForPhase,
} from '../support/temporal';
import { sleep } from '../support/wait';
import { startTestPrometheus, TestExporter, waitForScrape } from '../support/prometheus';
import { percentile } from './stats';

const reactionRuns = Number(process.env.BENCH_GUARDRAIL_RUNS ?? 10);
const historyWindows = (process.env.BENCH_GUARDRAIL_WINDOWS ?? '10s,60s,5m').split(',');
const sampleInterval = '5s';
const reactionInterval = '1s';

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.end());
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A paused test service, a `during` check and guardrails on a port the bench controls and on Prometheus. */
function guardedPlan(
  service: TestService,
  window: string,
  interval: string,
  guardrails: readonly Record<string, unknown>[],
) {
  return pausePlan(service, {
    metadata: { name: 'bench-guardrail', owner: 'bench' },
    checks: [
      {
        name: 'frozen',
        when: ['during'],
        expect: 'fail',
        http: { url: `http://127.0.0.1:${service.port}/health`, timeout: '300ms' },
      },
    ],
    observation: { window, sampleInterval: interval, guardrails },
  });
}

async function untilResumed(service: TestService, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (processState(service.currentPid()) === 'T') {
    if (Date.now() > deadline) throw new Error('the pause was not rolled back');
    await sleep(2);
  }
  return Date.now();
}

/** Epoch ms at which the first rollback activity was scheduled, from the workflow's history. */
async function rollbackScheduledAt(handle: WorkflowHandle<typeof gameDay>): Promise<number> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.find((event) =>
    ['rollBackFaultsInOrder', 'rollbackFault'].includes(
      event.activityTaskScheduledEventAttributes?.activityType?.name ?? '',
    ),
  );
  const time = scheduled?.eventTime;
  if (!time) throw new Error('no rollback was scheduled');
  return Number(time.seconds) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
}

export interface GuardrailBenchResults {
  historyEvents: { sampleInterval: string; byWindow: Record<string, number>; goal: string };
  breachToRollback: Record<string, unknown>;
}

/** Runs every guardrail measurement against a running dev server; starts its own services and Prometheus. */
export async function guardrailBench(temporal: TestTemporal): Promise<GuardrailBenchResults> {
  const service = await startTestService();
  const exporter = await TestExporter.start();
  exporter.set('bench_error_ratio', 0);
  const prometheus = await startTestPrometheus({ exporter });
  const guardPort = await freePort();
  let guard = await listen(guardPort);
  const previousUrl = process.env.GAMEDAY_PROMETHEUS_URL;
  process.env.GAMEDAY_PROMETHEUS_URL = prometheus.url; // the worker process's "default" endpoint
  const taskQueue = uniqueTaskQueue('bench-guardrail');
  const worker = await spawnWorkerProcess(temporal, taskQueue);
  const tcpGuardrail = { name: 'port-open', tcp: { host: '127.0.0.1', port: guardPort, timeout: '500ms' } };
  const promGuardrail = {
    name: 'error-ratio',
    prometheus: { query: 'bench_error_ratio', condition: '< 0.05' },
  };
  try {
    await waitForScrape(prometheus, 'bench_error_ratio', (v) => v[0] === 0);

    // History size: events are per activity, not per sample, so the count does not grow with the window.
    const byWindow: Record<string, number> = {};
    for (const window of historyWindows) {
      console.error(`[bench] history of a ${window} window sampled every ${sampleInterval}`);
      const handle = await startPlan(
        temporal,
        guardedPlan(service, window, sampleInterval, [tcpGuardrail, promGuardrail]),
        taskQueue,
      );
      const report = await handle.result();
      if (report.outcome !== 'passed') throw new Error(`history run ${window}: ${report.reason}`);
      byWindow[window] = (await handle.fetchHistory()).events?.length ?? NaN;
    }

    const reaction = async (kind: 'tcp' | 'prometheus') => {
      const toScheduled: number[] = [];
      const toResumed: number[] = [];
      const toSampled: number[] = [];
      for (let run = 0; run < reactionRuns; run++) {
        const handle = await startPlan(
          temporal,
          guardedPlan(service, '10m', reactionInterval, [kind === 'tcp' ? tcpGuardrail : promGuardrail]),
          taskQueue,
        );
        await waitForPhase(handle, 'observe');
        // A breach at a random moment of the sampling interval.
        await sleep(1500 + Math.random() * 1000);
        const breached = Date.now();
        if (kind === 'tcp') await close(guard);
        else exporter.set('bench_error_ratio', 0.5);
        toResumed.push((await untilResumed(service)) - breached);
        const report = await handle.result();
        if (report.outcome !== 'aborted') throw new Error(`reaction run: ${report.outcome} ${report.reason}`);
        toScheduled.push((await rollbackScheduledAt(handle)) - breached);
        // When the breaching sample was taken: the rest is the activity's return and the workflow's reaction.
        toSampled.push(Date.parse(report.checks.breach?.at ?? '') - breached);
        if (kind === 'tcp') guard = await listen(guardPort);
        else {
          exporter.set('bench_error_ratio', 0);
          await waitForScrape(prometheus, 'bench_error_ratio', (v) => v[0] === 0);
        }
      }
      return {
        runs: toResumed.length,
        sampleInterval: reactionInterval,
        toBreachingSampleMs: {
          p50: Math.round(percentile(toSampled, 50)),
          max: Math.round(Math.max(...toSampled)),
        },
        toRollbackScheduledMs: {
          p50: Math.round(percentile(toScheduled, 50)),
          max: Math.round(Math.max(...toScheduled)),
        },
        toFaultGoneMs: {
          p50: Math.round(percentile(toResumed, 50)),
          max: Math.round(Math.max(...toResumed)),
        },
      };
    };
    console.error(`[bench] tcp guardrail breach → rollback: ${reactionRuns} runs`);
    const tcp = await reaction('tcp');
    console.error(`[bench] Prometheus guardrail breach → rollback: ${reactionRuns} runs`);
    const prom = await reaction('prometheus');
    return {
      historyEvents: {
        sampleInterval,
        byWindow,
        goal: '1 h at 5 s sampling < 2,000 events (constant: the same count as these windows)',
      },
      breachToRollback: {
        tcp,
        prometheus: { ...prom, note: 'includes Prometheus scraping the exporter every 1 s' },
        goal: `≤ sample interval + 1 s = ${reactionInterval} + 1 s`,
      },
    };
  } finally {
    await worker.kill('SIGTERM');
    if (previousUrl === undefined) delete process.env.GAMEDAY_PROMETHEUS_URL;
    else process.env.GAMEDAY_PROMETHEUS_URL = previousUrl;
    await close(guard).catch(() => undefined);
    await prometheus.close();
    await exporter.stop();
    await service.stop();
  }
}

if (require.main === module) {
  void (async () => {
    const temporal = await startTestTemporal();
    try {
      console.log(JSON.stringify(await guardrailBench(temporal), null, 2));
    } finally {
      await temporal.stop();
    }
  })().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
