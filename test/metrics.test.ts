import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { freePort } from '../worker/ports';
import { loadWorkerConfig } from '../worker/config';
import { abortUpdate } from '../workflows/definitions';
import { killPlan, pausePlan } from './support/plans';
import { occupyPort, releasePort, startTestService } from './support/services';
import {
  spawnWorkerProcess,
  startPlan,
  startTestTemporal,
  type TestTemporal,
  uniqueTaskQueue,
  waitForPhase,
  type WorkerProcess,
} from './support/temporal';
import { waitFor } from './support/wait';
import {
  alertRulesFile,
  exportedNames,
  namesNotExported,
  parseSamples,
  sampleValue,
  type Sample,
} from './support/prometheusText';
import { startTestPrometheus, type TestPrometheus } from './support/prometheus';

async function scrape(url: string): Promise<{ text: string; samples: Sample[]; contentType: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200);
  const text = await response.text();
  return { text, samples: parseSamples(text), contentType: response.headers.get('content-type') ?? '' };
}

/** Scrapes until the sample has the expected value (sink calls and visibility updates land shortly after). */
async function waitForSample(
  url: string,
  name: string,
  labels: Record<string, string>,
  expected: (value: number | undefined) => boolean,
  what: string,
): Promise<number | undefined> {
  let last: number | undefined;
  try {
    return await waitFor(
      what,
      async () => {
        last = sampleValue((await scrape(url)).samples, name, labels);
        return expected(last) ? { value: last } : undefined;
      },
      60_000,
    ).then((found) => found.value);
  } catch (error) {
    throw new Error(`${(error as Error).message}: ${name}${JSON.stringify(labels)} is ${last}`);
  }
}

/** TCP ports a process listens on, from its socket inodes and /proc/net/tcp{,6} (the same network namespace). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1] as string);
    } catch {
      // the descriptor closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT, st 0A is LISTEN, inode is the 10th field.
      if (fields[3] === '0A' && inodes.has(fields[9] ?? '')) {
        ports.push(parseInt((fields[1] ?? '').split(':')[1] ?? '', 16));
      }
    }
  }
  return ports.sort((a, b) => a - b);
}

describe('worker metrics on /metrics (a real worker process and Temporal dev server)', () => {
  let temporal: TestTemporal;
  let worker: WorkerProcess;
  let taskQueue: string;
  let metricsPort: number;
  let url: string;
  let prometheus: TestPrometheus;

  /** Waits until Debian's Prometheus, scraping the worker every second, has `promql` return something. */
  const waitForPrometheus = (what: string, promql: string) =>
    waitFor(what, async () => (await prometheus.query(promql)).length > 0, 60_000);

  before(async () => {
    temporal = await startTestTemporal();
    taskQueue = uniqueTaskQueue('metrics');
    metricsPort = await freePort();
    url = `http://127.0.0.1:${metricsPort}/metrics`;
    // The shipped alert rules, evaluated every second on what the worker exports.
    prometheus = await startTestPrometheus({
      scrapeTargets: [`127.0.0.1:${metricsPort}`],
      jobName: 'gameday-worker',
      ruleFiles: [alertRulesFile],
    });
    const configFile = join(temporal.dir, 'worker.yaml');
    writeFileSync(
      configFile,
      stringify({
        metrics: { listen: `127.0.0.1:${metricsPort}` },
        // The same Prometheus answers the plans' prometheus checks.
        prometheus: { endpoints: { default: { url: prometheus.url } } },
      }),
    );
    worker = await spawnWorkerProcess(temporal, taskQueue, configFile);
  });
  after(async () => {
    await prometheus?.close();
    await worker?.kill('SIGTERM');
    await temporal?.stop();
  });

  it('serves Prometheus text with the SDK and Node metrics; nothing else is served', async () => {
    const { text, contentType } = await scrape(url);
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    const names = exportedNames(text);
    for (const name of [
      'gameday_game_days_total',
      'gameday_faults_active',
      'gameday_fault_inject_duration_seconds',
      'gameday_fault_rollback_duration_seconds',
      'gameday_rollback_attempts_total',
      'gameday_rollback_stuck',
      'gameday_rollback_stuck_entered_total',
      'gameday_check_results_total',
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      assert.ok(names.has(name), `exports ${name}`);
    }
    assert.ok(
      [...names].some((name) => name.startsWith('temporal_')),
      "the Temporal SDK's own metrics are appended",
    );
    assert.equal((await fetch(url.replace('/metrics', '/'))).status, 404);
    // The worker listens on the configured port, plus the SDK's exporter on a loopback port it reads from.
    const ports = listeningPorts(worker.child.pid as number);
    assert.ok(ports.includes(metricsPort), `listening on ${ports.join(', ')}`);
    assert.equal(ports.length, 2, `listening on ${ports.join(', ')}`);
  });

  it('a passed game day: the fault is active during the window, then counted, timed and rolled back', async () => {
    const service = await startTestService();
    try {
      const plan = pausePlan(service);
      // A Prometheus check without data, judged unknown: counted as such, not as held.
      (plan.checks as unknown[]).push({
        name: 'no-data',
        when: ['before'],
        prometheus: { query: 'gameday_test_not_exported', condition: '> 0', onEmpty: 'unknown' },
      });
      const handle = await startPlan(temporal, plan, taskQueue);
      await waitForPhase(handle, 'observe');
      const during = (await scrape(url)).samples;
      assert.equal(sampleValue(during, 'gameday_faults_active', { kind: 'process-pause' }), 1);
      assert.equal(
        sampleValue(during, 'gameday_fault_inject_duration_seconds_count', { kind: 'process-pause' }),
        1,
      );
      assert.equal(
        sampleValue(during, 'gameday_check_results_total', { check: 'healthy', result: 'held' }),
        1,
      );
      const report = await handle.result();
      assert.equal(report.outcome, 'passed', report.reason);
      await waitForSample(
        url,
        'gameday_game_days_total',
        { plan: 'test-pause', outcome: 'passed' },
        (value) => value === 1,
        'the passed game day is counted',
      );
      const done = (await scrape(url)).samples;
      assert.equal(sampleValue(done, 'gameday_faults_active', { kind: 'process-pause' }), 0);
      assert.equal(
        sampleValue(done, 'gameday_rollback_attempts_total', { kind: 'process-pause', result: 'success' }),
        1,
      );
      assert.equal(
        sampleValue(done, 'gameday_fault_rollback_duration_seconds_count', {
          kind: 'process-pause',
          result: 'success',
        }),
        1,
      );
      // before + after checks of `healthy`, every sample of `frozen` (held: the service is frozen on purpose).
      assert.equal(sampleValue(done, 'gameday_check_results_total', { check: 'healthy', result: 'held' }), 2);
      const frozen = report.checks.during[0]?.samples ?? 0;
      assert.ok(frozen >= 1);
      assert.equal(
        sampleValue(done, 'gameday_check_results_total', { check: 'frozen', result: 'held' }),
        frozen,
      );
      assert.equal(
        sampleValue(done, 'gameday_check_results_total', { check: 'no-data', result: 'unknown' }),
        1,
      );
      assert.equal(
        sampleValue(done, 'gameday_check_results_total', { check: 'no-data', result: 'held' }),
        undefined,
      );
      assert.equal(sampleValue(done, 'gameday_rollback_stuck'), 0);
      assert.equal(sampleValue(done, 'gameday_visibility_query_up'), 1);
    } finally {
      await service.stop();
    }
  });

  it('an aborted game day is counted as aborted under its plan', async () => {
    const service = await startTestService();
    try {
      const plan = pausePlan(service, {
        metadata: { name: 'test-abort', owner: 'tests' },
        observation: { window: '5m', sampleInterval: '500ms' },
      });
      const handle = await startPlan(temporal, plan, taskQueue);
      await waitForPhase(handle, 'observe');
      await handle.executeUpdate(abortUpdate, { args: [{ reason: 'metrics test', by: 'test' }] });
      assert.equal((await handle.result()).outcome, 'aborted');
      await waitForSample(
        url,
        'gameday_game_days_total',
        { plan: 'test-abort', outcome: 'aborted' },
        (value) => value === 1,
        'the aborted game day is counted',
      );
      const samples = (await scrape(url)).samples;
      assert.equal(
        sampleValue(samples, 'gameday_game_days_total', { plan: 'test-abort', outcome: 'passed' }),
        undefined,
      );
      assert.equal(sampleValue(samples, 'gameday_faults_active'), 0);
    } finally {
      await service.stop();
    }
  });

  it('a stuck rollback: failures counted, the stuck gauge is 1 until a person fixes the cause, then 0', async () => {
    const service = await startTestService();
    let squatter: Server | undefined;
    try {
      const handle = await startPlan(temporal, killPlan(service, '2s', '3s'), taskQueue);
      await waitForPhase(handle, 'observe');
      squatter = await occupyPort(service.port);
      await waitForPhase(handle, 'rollback-stuck', 60_000);
      await waitForSample(
        url,
        'gameday_rollback_stuck',
        {},
        (value) => value === 1,
        'the stuck gauge shows it',
      );
      await waitForPrometheus(
        'GameDayRollbackStuck pending in Prometheus',
        'ALERTS{alertname="GameDayRollbackStuck",alertstate="pending"}',
      );
      await waitForPrometheus(
        'GameDayRollbackFailuresRising firing for process-kill',
        'ALERTS{alertname="GameDayRollbackFailuresRising",alertstate="firing",kind="process-kill"}',
      );
      const stuck = (await scrape(url)).samples;
      assert.equal(sampleValue(stuck, 'gameday_rollback_stuck_entered_total', { plan: 'test-kill' }), 1);
      assert.equal(sampleValue(stuck, 'gameday_faults_active', { kind: 'process-kill' }), 1);
      // The first round of rollbacks has 6 attempts before the run is declared stuck.
      const failures = sampleValue(stuck, 'gameday_rollback_attempts_total', {
        kind: 'process-kill',
        result: 'failure',
      });
      assert.ok((failures ?? 0) >= 6, `failures: ${failures}`);
      await releasePort(squatter); // the person fixes it
      squatter = undefined;
      assert.equal((await handle.result()).outcome, 'passed');
      await waitForSample(
        url,
        'gameday_rollback_stuck',
        {},
        (value) => value === 0,
        'the stuck gauge clears',
      );
      await waitFor(
        'GameDayRollbackStuck resolved in Prometheus',
        async () => (await prometheus.query('ALERTS{alertname="GameDayRollbackStuck"}')).length === 0,
        60_000,
      );
      const fixed = (await scrape(url)).samples;
      assert.equal(sampleValue(fixed, 'gameday_faults_active', { kind: 'process-kill' }), 0);
      assert.equal(
        sampleValue(fixed, 'gameday_rollback_attempts_total', { kind: 'process-kill', result: 'success' }),
        1,
      );
      assert.equal(
        sampleValue(fixed, 'gameday_game_days_total', { plan: 'test-kill', outcome: 'passed' }),
        1,
      );
    } finally {
      squatter?.close();
      await service.stop();
    }
  });

  it('every metric the shipped dashboard and alerts use is one this worker exports (after the game days above)', async () => {
    assert.deepEqual(namesNotExported((await scrape(url)).text), []);
  });

  it("Debian's Prometheus scrapes the endpoint without errors, SDK metrics included", async () => {
    const response = await fetch(`${prometheus.url}/api/v1/targets`);
    const targets = (await response.json()) as {
      data: { activeTargets: { health: string; lastError: string; scrapeUrl: string }[] };
    };
    const target = targets.data.activeTargets.find((active) => active.scrapeUrl === url);
    assert.equal(target?.lastError, '');
    assert.equal(target?.health, 'up');
    await waitForPrometheus('game days counted in Prometheus', 'sum(gameday_game_days_total) == 3');
    await waitForPrometheus('SDK metrics in Prometheus', 'temporal_workflow_completed{task_queue!=""}');
    await waitForPrometheus('Node metrics in Prometheus', 'process_resident_memory_bytes > 0');
  });

  it('GAMEDAY_METRICS_LISTEN turns the endpoint on without a config file', async () => {
    const port = await freePort();
    process.env.GAMEDAY_METRICS_LISTEN = `127.0.0.1:${port}`;
    let other: WorkerProcess | undefined;
    try {
      other = await spawnWorkerProcess(temporal, uniqueTaskQueue('metrics-env'));
      const { text } = await scrape(`http://127.0.0.1:${port}/metrics`);
      assert.match(text, /^# TYPE gameday_game_days_total counter$/m);
    } finally {
      delete process.env.GAMEDAY_METRICS_LISTEN;
      await other?.kill('SIGTERM');
    }
  });

  it('a metrics.listen port that is taken stops the worker with a message naming the field', async () => {
    const taken = await occupyPort(await freePort());
    const { port } = taken.address() as { port: number };
    process.env.GAMEDAY_METRICS_LISTEN = `127.0.0.1:${port}`;
    try {
      await assert.rejects(
        spawnWorkerProcess(temporal, uniqueTaskQueue('metrics-taken')),
        new RegExp(
          `worker exited [1-9][\\s\\S]*metrics\\.listen 127\\.0\\.0\\.1:${port}: cannot listen \\(EADDRINUSE\\)`,
        ),
      );
    } finally {
      delete process.env.GAMEDAY_METRICS_LISTEN;
      await releasePort(taken);
    }
  });

  it('is off by default: a worker without metrics.listen listens on no port at all', async () => {
    assert.equal(process.env.GAMEDAY_METRICS_LISTEN, undefined);
    const plain = await spawnWorkerProcess(temporal, uniqueTaskQueue('metrics-off'));
    try {
      assert.deepEqual(listeningPorts(plain.child.pid as number), []);
    } finally {
      await plain.kill('SIGTERM');
    }
  });
});

describe('metrics.listen in the worker configuration', () => {
  it('accepts host:port and rejects anything else, naming the field', async () => {
    const ok = await loadWorkerConfig(undefined, { GAMEDAY_METRICS_LISTEN: '0.0.0.0:9464' });
    assert.equal(ok.metrics.listen, '0.0.0.0:9464');
    assert.equal((await loadWorkerConfig(undefined, {})).metrics.listen, undefined);
    await assert.rejects(
      loadWorkerConfig(undefined, { GAMEDAY_METRICS_LISTEN: '9464' }),
      /metrics\.listen: expected host:port/,
    );
    await assert.rejects(
      loadWorkerConfig(undefined, { GAMEDAY_METRICS_LISTEN: '127.0.0.1:70000' }),
      /metrics\.listen: port above 65535/,
    );
  });
});
