// The HTML report and the history, end to end: real game days on a real dev server, rendered by the real CLI,
// opened in a real headless Chromium (Debian's) with every network request recorded and refused.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { type BrowserContext, type Page } from 'playwright-core';
import { withPoint } from '../activities/observe';
import { guardrailMargin, type PlanHistory } from '../client/history';
import { escapeHtml, html } from '../client/html';
import { maxSamplePoints, type SamplePoint } from '../workflows/definitions';
import { valueBoundOf } from '../activities/checks/probe';
import { gameDayPlan, pausePlan, planFrom, type PlanOverrides } from './support/plans';
import { startTestService, type TestService } from './support/services';
import {
  type InProcessWorker,
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  type TestTemporal,
} from './support/temporal';
import { launchChromium, skipWithoutChromium, type TestBrowser } from './support/chromium';
import { runCli, type CliResult } from './support/cli';
import { waitFor } from './support/wait';

const skip = skipWithoutChromium;

/** Screenshots stay after the run, to be looked at. */
const artifacts = process.env.GAMEDAY_TEST_ARTIFACTS ?? join(tmpdir(), 'gameday-html-report');
const uiUrl = 'http://temporal-ui.invalid:8233';

interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

describe('HTML report and history in a real headless Chromium', { skip }, () => {
  let temporal: TestTemporal;
  let worker: InProcessWorker;
  let browser: BrowserContext;
  let chrome: TestBrowser | undefined;

  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    temporal = await startTestTemporal();
    worker = await startInProcessWorker(temporal);
    chrome = await launchChromium({ width: 1100, height: 900 });
    browser = chrome.context;
  });
  after(async () => {
    await chrome?.close();
    await worker?.stop();
    await temporal?.stop();
  });

  const gameday = (...args: string[]): Promise<CliResult> =>
    runCli(['--address', temporal.server.address, '--ui-url', uiUrl, ...args], { timeoutMs: 60_000 });

  const runGameDay = async (document: PlanOverrides) => {
    const handle = await startPlan(temporal, document, worker.taskQueue);
    return handle.result();
  };

  /** The page of an HTML file, with every request but the file itself recorded and refused. */
  const open = async (file: string): Promise<{ page: Page; requests: string[] }> => {
    const page = await browser.newPage();
    const url = pathToFileURL(file).href;
    const requests: string[] = [];
    page.on('request', (request) => {
      if (request.url() !== url) requests.push(request.url());
    });
    await page.route('**/*', (route) =>
      route.request().url() === url ? route.continue() : route.abort('blockedbyclient'),
    );
    await page.goto(url, { waitUntil: 'load' });
    return { page, requests };
  };

  const boxes = async (page: Page, selector: string): Promise<Box[]> => {
    const found: Box[] = [];
    for (const element of await page.locator(selector).all()) {
      const box = await element.boundingBox();
      if (box) found.push(box);
    }
    return found;
  };

  const renderHtml = async (workflowId: string, name: string, exitCode: number): Promise<string> => {
    const file = join(artifacts, `${name}.html`);
    const result = await gameday('report', workflowId, '--format', 'html', '--out', file);
    assert.equal(result.code, exitCode, result.stderr);
    assert.equal(result.stdout, '', 'with --out nothing goes to standard output');
    return file;
  };

  /** A guardrail whose value is a number the command reads: a constant here, well inside its bound. */
  const steadyGuardrail = {
    name: 'queue-depth',
    command: { argv: ['echo', 'depth 3'], value: { pattern: 'depth (\\d+)', max: 10 } },
  };

  /** A script in the suite's directory (plans allow only plain arguments, so shell code lives in a file). */
  const script = (name: string, body: string): string => {
    const file = join(temporal.dir, `${name}.sh`);
    writeFileSync(file, body);
    return file;
  };

  /** A guardrail whose value counts its own samples: it breaches on the 5th, past its bound of 4. */
  const countingGuardrail = (name: string) => {
    const counter = join(temporal.dir, `${name}.count`);
    const counting = script(
      name,
      `n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; echo "errors $n"\n`,
    );
    return {
      name: 'error-count',
      breachAfter: 1,
      command: { argv: ['sh', counting], value: { pattern: 'errors (\\d+)', max: 4 } },
    };
  };

  /** Two paused services: two faults, one bar each. A preflight check whose answer carries markup. */
  const twoPausesPlan = (name: string, first: TestService, second: TestService, guardrails: unknown[]) =>
    pausePlan(first, {
      metadata: { name, owner: 'tests' },
      checks: [
        {
          name: 'healthy',
          when: ['before', 'after'],
          http: { url: `http://127.0.0.1:${first.port}/health` },
        },
        {
          name: 'frozen',
          when: ['during'],
          expect: 'fail',
          http: { url: `http://127.0.0.1:${first.port}/health`, timeout: '300ms' },
        },
        {
          // Its output lands in the report: a browser given it raw would fetch the image.
          name: 'markup-in-output',
          when: ['before'],
          expect: 'fail',
          command: {
            argv: [
              'sh',
              script('markup', `echo '<img src="http://127.0.0.1:9/x.png"> & <b>bold</b>'; exit 1\n`),
            ],
          },
        },
      ],
      faults: [
        { name: 'pause-a', kind: 'process-pause', target: 'here', params: { pidfile: first.pidfile } },
        { name: 'pause-b', kind: 'process-pause', target: 'here', params: { pidfile: second.pidfile } },
      ],
      observation: { window: '3s', sampleInterval: '300ms', guardrails },
    });

  it('a passing game day: verdict, one bar per fault, sample marks, the guardrail against its bound, no request', async () => {
    const [first, second] = [await startTestService(), await startTestService()];
    try {
      const report = await runGameDay(twoPausesPlan('html-pass', first, second, [steadyGuardrail]));
      assert.equal(report.outcome, 'passed', report.reason);
      const file = await renderHtml(report.workflowId, 'passed', 0);
      const text = readFileSync(file, 'utf8');
      // The UI link is the only address in the markup (a command's output may mention others, as text).
      const addresses = [...text.matchAll(/\s(?:href|src|action|xlink:href|srcset)="([^"]*)"/g)].map(
        (m) => m[1],
      );
      assert.deepEqual(
        addresses,
        [report.workflowId, report.workflowId].map(
          () => `${uiUrl}/namespaces/default/workflows/${report.workflowId}`,
        ),
      );
      assert.doesNotMatch(text, /<script|<link|@import|url\(/i);

      const { page, requests } = await open(file);
      await page.screenshot({ path: join(artifacts, 'passed.png'), fullPage: true });
      await page.locator('svg.timeline').screenshot({ path: join(artifacts, 'passed-timeline.png') });
      assert.deepEqual(requests, [], 'the page made no request');

      assert.equal(await page.locator('.verdict .outcome').textContent(), 'PASSED');
      assert.match((await page.locator('.verdict').textContent()) ?? '', /html-pass/);
      assert.match((await page.locator('.verdict').textContent()) ?? '', new RegExp(report.tag));
      const link = page.locator(`.verdict a[href^="${uiUrl}"]`);
      assert.equal(await link.count(), 1, 'the UI link, as a plain link');

      const bars = await boxes(page, 'svg.timeline .fault-bar');
      assert.equal(bars.length, 2, 'one bar per fault');
      for (const bar of bars) assert.ok(bar.width > 20 && bar.height > 5, `bar ${JSON.stringify(bar)}`);

      const frozen = await boxes(page, 'svg.timeline [data-check="frozen"] .sample');
      assert.ok(frozen.length >= 5, `the window's samples of frozen are marked (${frozen.length})`);
      assert.ok(frozen.every((mark) => mark.width > 3));
      assert.ok((await page.locator('svg.timeline .sample-held').count()) >= frozen.length);

      const line = await boxes(page, 'svg.timeline [data-guardrail="queue-depth"] .guardrail-line');
      assert.equal(line.length, 1, 'the guardrail values are plotted');
      assert.ok((line[0]?.width ?? 0) > 100, 'across the window');
      const bound = await boxes(page, 'svg.timeline [data-guardrail="queue-depth"] .guardrail-bound');
      assert.equal(bound.length, 1, 'against its bound');
      assert.ok((bound[0]?.width ?? 0) > 500);
      // depth 3 under max 10: the line lies below the bound line on the screen.
      assert.ok((line[0]?.y ?? 0) > (bound[0]?.y ?? 0), 'the values are inside the bound');
      assert.equal(await page.locator('svg.timeline .breach-mark').count(), 0);

      // The command's output is shown as text, never parsed as markup.
      assert.equal(await page.locator('img').count(), 0);
      assert.equal(await page.locator('td b').count(), 0);
      assert.match(
        (await page.locator('body').textContent()) ?? '',
        /<img src="http:\/\/127\.0\.0\.1:9\/x\.png"> & <b>bold<\/b>/,
      );

      // The tables the Markdown report has.
      for (const heading of ['Faults', 'Preflight', 'During the window', 'Guardrails', 'Recovery', 'Notes']) {
        assert.equal(await page.locator('h2', { hasText: heading }).count(), 1, heading);
      }
      assert.equal(await page.locator('table.faults tbody tr').count(), 2);
      await page.close();
    } finally {
      await first.stop();
      await second.stop();
    }
  });

  it('a guardrail breach: the values cross the bound, the breach and the stop are marked', async () => {
    const [first, second] = [await startTestService(), await startTestService()];
    try {
      const plan = twoPausesPlan('html-breach', first, second, []);
      const unaskable = {
        name: 'unaskable',
        when: ['during'],
        command: { argv: ['gameday-test-no-such-command'] },
      };
      const report = await runGameDay({
        ...plan,
        checks: [...(plan.checks as unknown[]), unaskable],
        observation: { window: '60s', sampleInterval: '300ms', guardrails: [countingGuardrail('breach')] },
      });
      assert.equal(report.outcome, 'aborted', report.reason);
      assert.equal(report.checks.breach?.value, 5);
      const file = await renderHtml(report.workflowId, 'breach', 3);

      const { page, requests } = await open(file);
      await page.screenshot({ path: join(artifacts, 'breach.png'), fullPage: true });
      await page.locator('svg.timeline').screenshot({ path: join(artifacts, 'breach-timeline.png') });
      assert.deepEqual(requests, []);
      assert.equal(await page.locator('.verdict .outcome').textContent(), 'ABORTED');
      assert.match(
        (await page.locator('.verdict .reason').textContent()) ?? '',
        /guardrail error-count breached/,
      );

      const bars = await boxes(page, 'svg.timeline .fault-bar');
      assert.equal(bars.length, 2);
      assert.ok(bars.every((bar) => bar.width > 5));

      const guardrail = 'svg.timeline [data-guardrail="error-count"]';
      const samples = await boxes(page, `${guardrail} .sample`);
      assert.equal(samples.length, 5, 'four inside the bound, the fifth past it');
      assert.equal(await page.locator(`${guardrail} .sample-deviated`).count(), 1);
      const bound = (await boxes(page, `${guardrail} .guardrail-bound`))[0];
      assert.ok(bound && bound.width > 500);
      const breach = (await boxes(page, `${guardrail} .breach-mark path`))[0];
      assert.ok(breach && breach.width > 5 && breach.height > 5, 'the breach is marked');
      assert.ok(breach.y + breach.height / 2 < bound.y, 'the breach lies past (above) the max bound');
      const stop = await boxes(page, 'svg.timeline .stop-mark line');
      assert.equal(stop.length, 1, 'where the run was stopped');
      assert.match((await page.locator('p.breach').textContent()) ?? '', /error-count/);
      const unasked = await boxes(page, 'svg.timeline [data-check="unaskable"] .sample-could-not-ask');
      assert.ok(unasked.length >= 3 && unasked.every((mark) => mark.width > 3), 'could-not-ask marks');
      // A breach collects IO evidence alongside the rollback: its tables are on the page too.
      assert.ok(report.ioEvidence && report.ioEvidence.length > 0);
      assert.equal(await page.locator('section.io-evidence h2', { hasText: 'IO evidence' }).count(), 1);
      await page.close();
    } finally {
      await first.stop();
      await second.stop();
    }
  });

  it('history over several runs of a plan: outcome, time to recover, rollback time, margin, pass rate', async () => {
    const service = await startTestService();
    try {
      const name = 'html-history';
      const passing = pausePlan(service, {
        metadata: { name, owner: 'tests' },
        observation: { window: '1s', sampleInterval: '250ms', guardrails: [steadyGuardrail] },
      });
      const reports = [
        await runGameDay(passing),
        await runGameDay({
          ...passing,
          observation: { window: '60s', sampleInterval: '250ms', guardrails: [countingGuardrail('history')] },
        }),
        await runGameDay(passing),
      ];
      assert.deepEqual(
        reports.map((r) => r.outcome),
        ['passed', 'aborted', 'passed'],
      );
      // Another plan's run is not part of this history.
      await runGameDay(pausePlan(service, { metadata: { name: 'html-other', owner: 'tests' } }));

      // Visibility catches up with the last run within moments.
      const history = await waitFor('three runs in visibility', async () => {
        const json = await gameday('history', name, '--since', '1h', '--json');
        assert.equal(json.code, 0, json.stderr);
        const found = JSON.parse(json.stdout) as PlanHistory;
        return found.runs.length === 3 ? found : undefined;
      });
      assert.deepEqual(
        history.runs.map((run) => run.workflowId),
        reports.map((r) => r.workflowId),
        'its runs, oldest first',
      );
      assert.ok(Math.abs((history.passRate ?? 0) - 2 / 3) < 1e-9);
      for (const run of history.runs) {
        assert.ok((run.rollbackMs ?? -1) >= 0, 'rollback time of every run');
        assert.ok((run.recoverMs ?? -1) >= 0, 'every run recovered');
      }
      assert.deepEqual(history.runs[0]?.guardrailMargin, {
        guardrail: 'queue-depth',
        margin: 7,
        bound: 10,
        ratio: 0.7,
      });
      assert.deepEqual(history.runs[1]?.guardrailMargin, {
        guardrail: 'error-count',
        margin: -1,
        bound: 4,
        ratio: -0.25,
      });
      assert.equal(history.runs[1]?.outcome, 'aborted');

      const table = await gameday('history', name);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /3 run\(s\), 67 % passed \(2 of 3\)/);
      assert.match(table.stdout, /aborted .* error-count: -1 \(-25 % of 4\)/);
      assert.doesNotMatch(table.stdout, /html-other/);
      const none = await gameday('history', 'no-such-plan');
      assert.match(none.stdout, /0 run\(s\), no finished runs/);
      const refused = await gameday('history', "x' OR '1'='1");
      assert.equal(refused.code, 2, 'a name that is not a plan name never reaches the query');

      // The history as a page of its own.
      const historyFile = join(artifacts, 'history-only.html');
      const page1 = await gameday('history', name, '--format', 'html', '--out', historyFile);
      assert.equal(page1.code, 0, page1.stderr);
      const own = await open(historyFile);
      assert.deepEqual(own.requests, []);
      assert.equal(await own.page.locator('svg.history .run-bar').count(), 3);
      assert.equal(await own.page.locator('table.history-runs tbody tr').count(), 3);
      await own.page.close();

      // The report's page ends with the plan's history: one bar per run.
      const file = await renderHtml(reports[2]?.workflowId ?? '', 'history', 0);
      const { page, requests } = await open(file);
      await page.screenshot({ path: join(artifacts, 'history.png'), fullPage: true });
      assert.deepEqual(requests, []);
      const bars = await boxes(page, 'svg.history .run-bar');
      assert.equal(bars.length, 3);
      assert.ok(bars.every((bar) => bar.width > 10 && bar.height > 1));
      assert.equal(await page.locator('svg.history .run-pass').count(), 2);
      assert.match((await page.locator('.pass-rate').textContent()) ?? '', /67 % passed \(2 of 3\)/);
      await page.close();
    } finally {
      await service.stop();
    }
  });
});

describe('the HTML report pieces', () => {
  it('escapes every interpolated value, once, and lets only its own markup through', () => {
    const hostile = `<script>alert(1)</script> & "quotes" 'single' \u001b[2J`;
    const inner = html`<b>${hostile}</b>`;
    assert.equal(
      html`<p title="${hostile}">${inner}${[1, ' < 2', undefined, false]}</p>`.text,
      '<p title="&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; &#39;single&#39; \\x1b[2J">' +
        '<b>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; &#39;single&#39; \\x1b[2J</b>1 &lt; 2</p>',
    );
    assert.equal(
      escapeHtml(String(inner)),
      escapeHtml(inner.text),
      'a Markup turned into a string is text again',
    );
  });

  it('keeps at most maxSamplePoints samples of a long window, evenly spaced, the newest always', () => {
    let points: SamplePoint[] = [];
    for (let i = 0; i < 3600; i++) points = withPoint(points, { atMs: i * 1000, value: i, state: 'held' }, i);
    assert.ok(points.length <= maxSamplePoints && points.length > maxSamplePoints / 2, `${points.length}`);
    assert.equal(points[0]?.value, 0, 'the first sample stays');
    assert.equal(points.at(-1)?.value, 3599);
    const gaps = new Set(points.slice(1, -1).map((point, i) => point.atMs - (points[i]?.atMs ?? 0)));
    assert.equal(gaps.size, 1, `even spacing, got gaps ${[...gaps].join(', ')}`);
  });

  it('a guardrail margin is the distance left to the nearer bound, negative past it', () => {
    const summary = { name: 'ready', samples: 3, held: 3, bound: { min: 0.9, max: 1 }, min: 0.95, max: 1 };
    assert.deepEqual(guardrailMargin(summary), { guardrail: 'ready', margin: 0, bound: 1, ratio: 0 });
    assert.deepEqual(
      guardrailMargin({ ...summary, bound: { min: 0.9 }, min: 0.8 })?.ratio,
      (0.8 - 0.9) / 0.9,
    );
    assert.equal(guardrailMargin({ name: 'no-bound', samples: 1, held: 1, min: 1, max: 1 }), undefined);
  });
});

describe('the bound a check value is plotted against', () => {
  it('comes from each kind: command value, PromQL condition, HTTP maxLatency, Kubernetes ready/logs', () => {
    const { plan } = planFrom(
      gameDayPlan({
        checks: [
          {
            name: 'lag',
            when: ['during'],
            command: { argv: ['lag'], value: { pattern: 'lag (\\d+)', max: 50 } },
          },
          { name: 'errors', when: ['during'], prometheus: { query: 'up', condition: '< 0.05' } },
          { name: 'ratio', when: ['during'], prometheus: { query: 'up', condition: 'between 0.9 and 1' } },
          { name: 'equal', when: ['during'], prometheus: { query: 'up', condition: '== 1' } },
          { name: 'fast', when: ['during'], http: { url: 'http://127.0.0.1:1/', maxLatency: '250ms' } },
          { name: 'exit', when: ['during'], command: { argv: ['true'] } },
          {
            name: 'ready',
            when: ['during'],
            kubernetes: {
              context: 'lab',
              namespace: 'shop',
              selector: { labels: { app: 'web' } },
              ready: {},
            },
          },
          {
            name: 'warnings',
            when: ['during'],
            kubernetes: {
              context: 'lab',
              namespace: 'shop',
              selector: { labels: { app: 'web' } },
              logs: { pattern: 'WARN', maxMatches: 3 },
            },
          },
        ],
        faults: [{ name: 'pause', kind: 'process-pause', target: 'here', params: { pidfile: '/tmp/x.pid' } }],
      }),
    );
    assert.deepEqual(Object.fromEntries(plan.checks.map((check) => [check.name, valueBoundOf(check)])), {
      lag: { max: 50 },
      errors: { max: 0.05 },
      ratio: { min: 0.9, max: 1 },
      equal: undefined,
      fast: { max: 250 },
      exit: undefined,
      ready: { min: 100 },
      warnings: { max: 3 },
    });
  });
});
