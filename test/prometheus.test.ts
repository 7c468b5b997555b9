import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { evaluate, probeEnvironment } from '../activities/checks/probe';
import { LocalExecutor } from '../activities/executors/local';
import { resolvePlan } from '../activities/resolve';
import { projectRoot } from '../client/paths';
import { renderReport } from '../client/render';
import { parsePlan } from '../plan/load';
import type { ProbeSpec } from '../plan/schema';
import { parsedCheck } from './support/checks';
import { loadWorkerConfig, workerConfigSchema } from '../worker/config';
import { prometheusEndpoints } from '../worker/prometheusEndpoints';
import { gameDayPlan } from './support/plans';
import { healthy, processState, startTestService, type TestService } from './support/services';
import {
  type InProcessWorker,
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  type TestTemporal,
  waitForPhase,
} from './support/temporal';
import { sleep } from './support/wait';
import {
  day,
  startTestPrometheus,
  TestExporter,
  waitForScrape,
  week,
  type TestPrometheus,
} from './support/prometheus';

// Prometheus runs with basic auth (its own --web.config.file): the password reaches it only from the
// worker's environment. The hash is bcrypt (cost 4) of this test-only password.
const username = 'gameday';
const password = 'gd-test-Pr0m-s3cret';
const bcryptHash = '$2b$04$FJVGJJuuMmGU8O0yeW0qDeg7V2pwhvZAE.k1IfGlkk4hr0SQEdErO';
const passwordEnv = 'GAMEDAY_TEST_PROMETHEUS_PASSWORD';
const authHeader = { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };

/** A check through the plan parser, so defaults are as in a real plan. */
function check(prometheus: Record<string, unknown>, extra: Record<string, unknown> = {}): ProbeSpec {
  return parsedCheck({ when: ['during'], prometheus, ...extra });
}

describe('prometheus checks against a real Prometheus', () => {
  let exporter: TestExporter;
  let prometheus: TestPrometheus;
  let workerConfig: Record<string, unknown>;
  const local = new LocalExecutor();
  const env = (config: Record<string, unknown>, window?: { startMs: number }) =>
    probeEnvironment(
      {
        checkExecutor: local,
        executorFor: () => local,
        prometheus: prometheusEndpoints(workerConfigSchema.parse(config).prometheus),
      },
      { ...(window ? { window } : {}) },
    );
  const probe = (spec: ProbeSpec, window?: { startMs: number }) => evaluate(env(workerConfig, window), spec);

  before(async () => {
    exporter = await TestExporter.start();
    const scraped = { job: 'exporter', instance: `127.0.0.1:${exporter.port}` };
    exporter.set('gd_queue_depth', 10, { queue: 'a' });
    exporter.set('gd_queue_depth', 50, { queue: 'b' });
    exporter.set('gd_cache_hit_ratio', 0.85);
    exporter.set('gd_nan', Number.NaN);
    exporter.set('gd_zero', 0);
    exporter.set('gd_error_ratio', 0.01);
    exporter.rate('gd_requests_total', 100, { worker: 'w1' });
    exporter.rate('gd_requests_total', 100, { worker: 'w2' });
    prometheus = await startTestPrometheus({
      exporter,
      basicAuth: { username, bcryptHash },
      backfill: [
        { name: 'gd_cache_hit_ratio', labels: scraped, value: 0.8, ago: [day, week] },
        { name: 'gd_requests_total', labels: { ...scraped, worker: 'w1' }, perSecond: 100, ago: [week] },
        { name: 'gd_requests_total', labels: { ...scraped, worker: 'w2' }, perSecond: 100, ago: [week] },
      ],
    });
    process.env[passwordEnv] = password;
    workerConfig = {
      prometheus: {
        endpoints: { default: { url: prometheus.url, basicAuth: { username, passwordEnv } } },
      },
    };
    // Two scrapes at least, so that rates have data.
    await waitForScrape(prometheus, 'count(irate(gd_requests_total[30s]))', (v) => v[0] === 2, authHeader);
  });

  after(async () => {
    await prometheus?.close();
    await exporter?.stop();
  });

  it('plans with a bad prometheus check are refused with the field and what to write', () => {
    const refused = (prometheus: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      assert.throws(() => check(prometheus, extra));
    assert.throws(() => check({ query: 'up', condition: 'more than 5' }), /must be a comparison such as/);
    assert.throws(() => check({ query: 'up', condition: 'between 5 and 1' }), /min ≤ max/);
    assert.throws(() => check({ query: 'up' }), /give either condition \(instant or range\) or baseline/);
    assert.throws(
      () => check({ query: 'up', condition: '> 1', baseline: { offset: '1w', tolerance: '10%' } }),
      /give either condition/,
    );
    assert.throws(
      () => check({ query: 'up', baseline: { offset: '1w', tolerance: '10 percent' } }),
      /must be a percentage such as .*10%.* \(of the baseline\) or a number/,
    );
    assert.throws(() => check({ query: 'up', baseline: { offset: '1y', tolerance: 1 } }), /1d.* or .*1w/);
    assert.throws(
      () => check({ query: 'up', condition: '> 0' }, { on: 'kafka-1' }),
      /http, prometheus and kubernetes probes run from the worker/,
    );
    refused({ query: 'up', condition: '> 0', onEmpty: 'ignore' });
    const ok = check({ query: 'up', baseline: { offset: '1w', tolerance: '10%' } });
    assert.deepEqual(ok.prometheus?.baseline?.tolerance, { ratio: 0.1 });
  });

  it('instant queries: each comparison, naming the series that fail', async () => {
    const depth = (condition: string) => probe(check({ query: 'gd_queue_depth', condition }));
    const below = await depth('< 100');
    assert.equal(below.holds, true, below.detail);
    assert.equal(below.value, 50, 'the value is the series closest to its bound');
    assert.match(below.detail, /2 series, worst \{.*queue="b".*\} = 50; expected < 100/);

    const above = await depth('> 20');
    assert.equal(above.holds, false);
    assert.match(above.detail, /queue="a"\} = 10; expected > 20 \(1 of 2 series\)/);
    assert.doesNotMatch(above.detail, /queue="b"/);
    assert.equal(above.value, 10);

    assert.equal((await depth('between 5 and 60')).holds, true);
    const outside = await depth('between 20 and 60');
    assert.equal(outside.holds, false);
    assert.match(outside.detail, /queue="a"\} = 10; expected between 20 and 60/);
    assert.equal((await depth('>= 10')).holds, true);
    assert.equal((await depth('> 10')).holds, false, 'a value on a strict bound fails');
    assert.equal((await depth('<= 50')).holds, true);
    assert.equal((await depth('< 50')).holds, false);

    const exact = (condition: string) => probe(check({ query: 'gd_queue_depth{queue="a"}', condition }));
    assert.equal((await exact('== 10')).holds, true);
    assert.equal((await exact('!= 10')).holds, false);
    // Aggregations and scalars work the same way.
    const rps = await probe(check({ query: 'sum(irate(gd_requests_total[10s]))', condition: '> 150' }));
    assert.equal(rps.holds, true, rps.detail);
    assert.equal((await probe(check({ query: 'scalar(gd_zero) + 1', condition: '== 1' }))).holds, true);
  });

  it('range summaries over query_range: max, min, avg, a percentile, and the observation window', async () => {
    exporter.set('gd_queue_depth', 80, { queue: 'b' });
    await waitForScrape(prometheus, 'gd_queue_depth{queue="b"}', (v) => v[0] === 80, authHeader);
    await sleep(1500);
    exporter.set('gd_queue_depth', 50, { queue: 'b' });
    await waitForScrape(prometheus, 'gd_queue_depth{queue="b"}', (v) => v[0] === 50, authHeader);
    await sleep(2500); // so that the last seconds hold 50 only
    const query = 'gd_queue_depth{queue="b"}';
    const now = await probe(check({ query, condition: '< 60' }));
    assert.equal(now.holds, true, 'the instant value is back to 50');
    const max = await probe(check({ query, condition: '< 60', range: { over: '1m', step: '1s' } }));
    assert.equal(max.holds, false);
    assert.match(max.detail, /max over 1m of \{.*queue="b".*\} = 80 \(\d+ samples\); expected max < 60/);
    const min = await probe(
      check({ query, condition: '>= 50', range: { over: '1m', step: '1s', summary: 'min' } }),
    );
    assert.equal(min.holds, true, min.detail);
    const avg = await probe(
      check({ query, condition: 'between 50.1 and 79.9', range: { over: '1m', step: '1s', summary: 'avg' } }),
    );
    assert.equal(avg.holds, true, avg.detail);
    const p99 = await probe(
      check({ query, condition: '< 80', range: { over: '1m', step: '1s', summary: 'p99' } }),
    );
    assert.equal(p99.holds, false, p99.detail);
    assert.equal(p99.value, 80);

    // "window": from the start of the observation window, which the observe activity passes in.
    const windowed = check({ query, condition: '< 60', range: { over: 'window', step: '1s' } });
    const sinceLongAgo = await probe(windowed, { startMs: Date.now() - 60_000 });
    assert.equal(sinceLongAgo.holds, false);
    assert.match(sinceLongAgo.detail, /max over the window \(1m\)/);
    const sinceJustNow = await probe(windowed, { startMs: Date.now() - 1000 });
    assert.equal(sinceJustNow.holds, true, sinceJustNow.detail);
    const outside = await probe(windowed);
    assert.equal(outside.holds, false);
    assert.match(outside.detail, /only known while the observation window runs/);
    assert.throws(
      () => check({ query, condition: '< 60', range: { over: 'window' } }, { when: ['before', 'during'] }),
      /is only known during the window/,
    );
  });

  it('baselines: the same query now and a day or a week ago, within a ratio or an absolute tolerance', async () => {
    const ratio = (offset: string, extra: Record<string, unknown> = {}) =>
      probe(check({ query: 'gd_cache_hit_ratio', baseline: { offset, tolerance: '10%', ...extra } }));
    exporter.set('gd_cache_hit_ratio', 0.85);
    await waitForScrape(prometheus, 'gd_cache_hit_ratio', (v) => v[0] === 0.85, authHeader);
    const lastWeek = await ratio('1w');
    assert.equal(lastWeek.holds, true, lastWeek.detail);
    assert.match(lastWeek.detail, /= 0\.85 vs 0\.8 1w ago \(\+6\.25 %\); expected ±10 % of 1w ago/);
    assert.equal((await ratio('1d')).holds, true);

    exporter.set('gd_cache_hit_ratio', 0.6);
    await waitForScrape(prometheus, 'gd_cache_hit_ratio', (v) => v[0] === 0.6, authHeader);
    const dropped = await ratio('1w');
    assert.equal(dropped.holds, false);
    assert.match(dropped.detail, /= 0\.6 vs 0\.8 1w ago \(-25 %\); expected ±10 % of 1w ago/);
    assert.equal((await ratio('1d', { deviation: 'above' })).holds, true, 'only a rise fails');
    assert.equal((await ratio('1d', { deviation: 'below' })).holds, false);

    const noHistory = await ratio('2d');
    assert.equal(noHistory.holds, false);
    assert.match(noHistory.detail, /no series 2d ago \(no baseline\) \(onEmpty: fail\)/);

    // Worker request rate, per worker, against last week's with an absolute tolerance.
    const rps = (tolerance: number) =>
      probe(
        check({
          query: 'sum by (worker) (irate(gd_requests_total[1m]))',
          baseline: { offset: '1w', tolerance },
        }),
      );
    // irate over two scrapes: generous enough for scrape jitter on a loaded machine, far below a tripling.
    const stable = await rps(50);
    assert.equal(stable.holds, true, stable.detail);
    assert.match(stable.detail, /2 series/);
    exporter.rate('gd_requests_total', 300, { worker: 'w2' });
    await waitForScrape(
      prometheus,
      'irate(gd_requests_total{worker="w2"}[1m])',
      (v) => (v[0] ?? 0) > 250,
      authHeader,
    );
    const surged = await rps(50);
    assert.equal(surged.holds, false, surged.detail);
    assert.match(surged.detail, /worker="w2"\} = \d+(\.\d+)? vs 100 1w ago \(\+\d+/);
    assert.doesNotMatch(surged.detail, /worker="w1"/);
    exporter.rate('gd_requests_total', 100, { worker: 'w2' });
  });

  it('empty results and NaN: fail, pass or unknown as the plan says', async () => {
    const missing = (onEmpty: string, extra: Record<string, unknown> = {}) =>
      probe(check({ query: 'gd_no_such_metric', condition: '> 0', onEmpty }, extra));
    const emptyFails = await missing('fail');
    assert.equal(emptyFails.holds, false);
    assert.match(emptyFails.detail, /the query returned no series \(onEmpty: fail\)/);
    assert.equal((await missing('pass')).holds, true);
    const unknown = await missing('unknown');
    assert.equal(unknown.holds, true);
    assert.equal(unknown.unknown, true);
    assert.match(unknown.detail, /^unknown: /);
    const unknownExpectedToFail = await missing('unknown', { expect: 'fail' });
    assert.equal(unknownExpectedToFail.holds, true, 'unknown is not evidence either way');
    assert.equal(unknownExpectedToFail.unknown, true);

    for (const query of ['gd_nan', 'gd_zero / gd_zero']) {
      const nan = (onNaN: string) => probe(check({ query, condition: '< 1', onNaN }));
      const nanFails = await nan('fail');
      assert.equal(nanFails.holds, false, query);
      assert.match(nanFails.detail, /= NaN; expected < 1/);
      assert.equal((await nan('pass')).holds, true);
      const nanUnknown = await nan('unknown');
      assert.equal(nanUnknown.holds, true);
      assert.equal(nanUnknown.unknown, true);
    }
  });

  it('a bad query, wrong credentials or a missing secret fail with the endpoint and the reason', async () => {
    const bad = await probe(check({ query: 'sum(', condition: '> 0' }));
    assert.equal(bad.holds, false);
    assert.match(
      bad.detail,
      /^could not ask: Prometheus endpoint "default" \(http:\/\/127\.0\.0\.1:\d+\): bad_data: /,
    );
    assert.doesNotMatch(bad.detail, /attempts/, 'a query Prometheus rejects is not retried');

    const expectFail = await probe(check({ query: 'sum(', condition: '> 0' }, { expect: 'fail' }));
    assert.equal(expectFail.holds, false, 'a probe that cannot ask never matches expect: fail');

    const wrong = 'GAMEDAY_TEST_PROMETHEUS_WRONG';
    process.env[wrong] = 'not-the-password';
    const withWrong = await evaluate(
      env({
        prometheus: {
          endpoints: { default: { url: prometheus.url, basicAuth: { username, passwordEnv: wrong } } },
        },
      }),
      check({ query: 'gd_zero', condition: '== 0' }),
    );
    assert.equal(withWrong.holds, false);
    assert.match(withWrong.detail, /HTTP 401 \(check the endpoint's credentials/);
    const unset = await evaluate(
      env({
        prometheus: {
          endpoints: {
            default: { url: prometheus.url, basicAuth: { username, passwordEnv: 'GAMEDAY_UNSET_X' } },
          },
        },
      }),
      check({ query: 'gd_zero', condition: '== 0' }),
    );
    assert.match(unset.detail, /environment variable GAMEDAY_UNSET_X is not set on this worker/);
    const unknownName = await probe(check({ endpoint: 'eu-west', query: 'gd_zero', condition: '== 0' }));
    assert.match(unknownName.detail, /no Prometheus endpoint "eu-west" .*\(known: default\)/);
  });

  it('an unknown endpoint is refused at resolve, naming the check and the known endpoints', () => {
    const parsed = parsePlan(
      stringify(
        gameDayPlan({
          checks: [
            {
              name: 'hit-ratio',
              when: ['before'],
              prometheus: { endpoint: 'eu-west', query: 'x', condition: '> 0' },
            },
          ],
          faults: [{ name: 'f', kind: 'process-pause', target: 'here', params: { pidfile: '/tmp/x.pid' } }],
        }),
      ),
      'plan.yaml',
    );
    assert.ok(parsed.ok);
    const deps = {
      allowLocalTargets: true,
      prometheus: prometheusEndpoints(workerConfigSchema.parse(workerConfig).prometheus),
    };
    assert.throws(
      () => resolvePlan(deps, { plan: parsed.plan, seed: 1, tag: 't' }),
      /check hit-ratio queries Prometheus endpoint "eu-west", which this worker does not know \(known: default\)/,
    );
    // A dry run (no worker configuration) does not know the endpoints and does not refuse.
    assert.doesNotThrow(() =>
      resolvePlan({ allowLocalTargets: true }, { plan: parsed.plan, seed: 1, tag: 't' }),
    );
  });

  it('worker configuration: endpoints by name, GAMEDAY_PROMETHEUS_URL, secrets read at each request', async () => {
    const example = await loadWorkerConfig(join(projectRoot, 'examples', 'worker.yaml'), {});
    assert.equal(example.prometheus.endpoints.metrics?.basicAuth?.passwordEnv, 'GAMEDAY_PROMETHEUS_PASSWORD');
    const fromEnv = await loadWorkerConfig(join(projectRoot, 'examples', 'worker.yaml'), {
      GAMEDAY_PROMETHEUS_URL: prometheus.url,
    });
    assert.deepEqual(Object.keys(fromEnv.prometheus.endpoints).sort(), ['default', 'metrics']);
    assert.equal(fromEnv.prometheus.endpoints.default?.url, prometheus.url);

    const dir = mkdtempSync(join(tmpdir(), 'gameday-prom-token-'));
    try {
      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, 'first-token\n');
      const endpoints = prometheusEndpoints(
        workerConfigSchema.parse({
          prometheus: { endpoints: { thanos: { url: 'http://127.0.0.1:1', bearerTokenFile: tokenFile } } },
        }).prometheus,
      );
      const thanos = endpoints.endpoint('thanos');
      assert.deepEqual(await thanos?.headers(), { authorization: 'Bearer first-token' });
      writeFileSync(tokenFile, 'rotated-token\n');
      assert.deepEqual(await thanos?.headers(), { authorization: 'Bearer rotated-token' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(
      () =>
        workerConfigSchema.parse({
          prometheus: { endpoints: { x: { url: 'http://a', basicAuth: { username: 'u' } } } },
        }),
      /give passwordEnv or passwordFile/,
    );
  });

  describe('in real game days', () => {
    let temporal: TestTemporal;
    let worker: InProcessWorker;
    let service: TestService;

    before(async () => {
      temporal = await startTestTemporal();
      worker = await startInProcessWorker(temporal, undefined, workerConfig);
      service = await startTestService();
    });

    after(async () => {
      await worker?.stop();
      await service?.stop();
      await temporal?.stop();
    });

    const pauseWith = (overrides: Record<string, unknown>) =>
      gameDayPlan({
        checks: [
          {
            name: 'healthy',
            when: ['before', 'after'],
            http: { url: `http://127.0.0.1:${service.port}/health`, timeout: '1s' },
          },
        ],
        faults: [
          { name: 'pause', kind: 'process-pause', target: 'here', params: { pidfile: service.pidfile } },
        ],
        ...overrides,
      });

    it('a Prometheus guardrail breach aborts the game day and rolls back; secrets stay out of history', async () => {
      exporter.set('gd_error_ratio', 0.01);
      await waitForScrape(prometheus, 'gd_error_ratio', (v) => v[0] === 0.01, authHeader);
      const handle = await startPlan(
        temporal,
        pauseWith({
          metadata: { name: 'prom-guardrail', owner: 'tests' },
          checks: [
            {
              name: 'healthy',
              when: ['before', 'after'],
              http: { url: `http://127.0.0.1:${service.port}/health`, timeout: '1s' },
            },
            {
              name: 'no-data-yet',
              when: ['during'],
              prometheus: { query: 'gd_not_exported', condition: '> 0', onEmpty: 'unknown' },
            },
          ],
          observation: {
            window: '2m',
            sampleInterval: '500ms',
            guardrails: [
              {
                name: 'error-ratio',
                breachAfter: 2,
                prometheus: { query: 'gd_error_ratio', condition: '< 0.05' },
              },
            ],
          },
        }),
        worker.taskQueue,
      );
      await waitForPhase(handle, 'observe');
      assert.equal(processState(service.currentPid()), 'T', 'the service is paused');
      await sleep(1500); // a few samples that hold
      exporter.set('gd_error_ratio', 0.3);
      const report = await handle.result();

      assert.equal(report.outcome, 'aborted', report.reason);
      assert.match(report.reason ?? '', /guardrail error-ratio breached: .*= 0\.3; expected < 0\.05/);
      assert.equal(report.checks.breach?.name, 'error-ratio');
      assert.equal(report.checks.breach?.value, 0.3);
      const summary = report.checks.guardrails.find((g) => g.name === 'error-ratio');
      assert.ok(summary && summary.samples >= 3, JSON.stringify(summary));
      assert.equal(summary.held, summary.samples - 2, 'breached after two failing samples');
      assert.equal(summary.min, 0.01);
      assert.equal(summary.max, 0.3);
      assert.equal(summary.last?.value, 0.3);
      assert.notEqual(processState(service.currentPid()), 'T', 'the pause was rolled back');
      assert.equal(await healthy(service.port), true);
      assert.equal(report.faults[0]?.status, 'rolled-back');
      assert.equal(report.checks.recovery?.recovered, true);

      const noData = report.checks.during.find((d) => d.name === 'no-data-yet');
      assert.ok(noData && noData.samples >= 1, JSON.stringify(noData));
      assert.equal(noData.unknown, noData.samples, 'every sample unknown');
      assert.equal(noData.held, noData.samples, 'unknown is not held against the steady state');
      const markdown = renderReport(report);
      if (process.env.GAMEDAY_TEST_DEBUG) console.log(markdown);
      assert.match(
        markdown,
        /\| no-data-yet \| (\d+)\/\1, \1 unknown \| last: unknown: the query returned no series/,
      );
      assert.match(markdown, /## Guardrails/);
      assert.match(markdown, /\| error-ratio \| \d+ of \d+ \| 0\.01 \| 0\.3 \| 0\.3 \|/);
      assert.match(markdown, /stopped the run: error-ratio at .*= 0\.3/);

      // Payload bytes come out of the history as base64 strings: decoded, so that a secret in any would show.
      const decoded = (key: string, value: unknown): unknown =>
        key === 'data' && typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : value;
      const history = JSON.stringify((await handle.fetchHistory()).events, decoded);
      assert.ok(!history.includes(password), 'the password is not in history');
      assert.ok(!history.includes(authHeader.authorization.slice(6)), 'nor its base64 form');
      assert.ok(history.includes('gd_error_ratio'), 'the query itself is (payloads were decoded)');
      exporter.set('gd_error_ratio', 0.01);
    });

    it('an unknown endpoint is refused before anything is injected', async () => {
      const report = await (
        await startPlan(
          temporal,
          pauseWith({
            metadata: { name: 'prom-unknown', owner: 'tests' },
            observation: {
              window: '2s',
              guardrails: [
                { name: 'eu-errors', prometheus: { endpoint: 'eu-west', query: 'x', condition: '< 1' } },
              ],
            },
          }),
          worker.taskQueue,
        )
      ).result();
      assert.equal(report.outcome, 'not-started');
      assert.match(
        report.reason ?? '',
        /check eu-errors queries Prometheus endpoint "eu-west".*\(known: default\)/,
      );
      assert.equal(report.faults.length, 0);
    });

    it('Prometheus stopped mid-game-day: the check fails with the endpoint and the error', async () => {
      const handle = await startPlan(
        temporal,
        pauseWith({
          metadata: { name: 'prom-down', owner: 'tests' },
          checks: [
            {
              name: 'queue-ok',
              when: ['during'],
              prometheus: { query: 'gd_queue_depth{queue="a"}', condition: '< 100', attempts: 2 },
            },
          ],
          observation: { window: '6s', sampleInterval: '500ms' },
        }),
        worker.taskQueue,
      );
      await waitForPhase(handle, 'observe');
      await sleep(1000);
      await prometheus.stop();
      let report;
      try {
        report = await handle.result();
      } finally {
        await prometheus.start();
      }
      assert.equal(report.outcome, 'failed', report.reason);
      const during = report.checks.during.find((s) => s.name === 'queue-ok');
      assert.ok(during && during.held >= 1 && during.held < during.samples, JSON.stringify(during));
      assert.match(
        during.firstDeviation?.detail ?? '',
        /^could not ask: Prometheus endpoint "default" \(http:\/\/127\.0\.0\.1:\d+\): .+ \(after 2 attempts\)$/,
      );
      assert.match(report.reason ?? '', /queue-ok held \d+\/\d+ samples/);
      assert.notEqual(processState(service.currentPid()), 'T');
    });
  });
});
