// What a person sees of game days in the real Temporal UI (the one the dev server of our Temporal CLI serves),
// in a real headless Chromium (Debian's): every game day is a green "Completed" there, so its outcome must be
// visible elsewhere: the GameDayOutcome column and filter of the list, and the current details on its page.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrowserContext, type Frame, type Page } from 'playwright-core';
import type { WorkflowHandle } from '@temporalio/client';
import { describePlan, gameDayStartOptions } from '../client/gameDays';
import { projectRoot } from '../client/paths';
import { loadPlanFile } from '../plan/load';
import { abortUpdate, gameDayWorkflowType, type Outcome } from '../workflows/definitions';
import { launchChromium, skipWithoutChromium, type TestBrowser } from './support/chromium';
import { pausePlan, planFrom, type PlanOverrides } from './support/plans';
import { startTestService, type TestService } from './support/services';
import {
  type InProcessWorker,
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  type TestTemporal,
  waitForPhase,
} from './support/temporal';
import { waitFor } from './support/wait';

const skip = skipWithoutChromium;

/** Screenshots stay after the run, to be looked at. */
const artifacts = process.env.GAMEDAY_TEST_ARTIFACTS ?? join(tmpdir(), 'gameday-temporal-ui');

/** A game day the suite ran: its plan (to compare the details with), its ids, the outcome it must show. */
interface Ran {
  readonly outcome: Outcome;
  readonly document: PlanOverrides;
  readonly workflowId: string;
  readonly runId: string;
  /** A piece of its reason, shown under the outcome. */
  readonly reason: RegExp;
}

describe('game day outcomes in the real Temporal UI, in a real headless Chromium', { skip }, () => {
  let temporal: TestTemporal;
  let worker: InProcessWorker;
  let browser: BrowserContext;
  let chrome: TestBrowser | undefined;
  let uiUrl: string;
  const services: TestService[] = [];
  const ran = new Map<Outcome, Ran>();

  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    temporal = await startTestTemporal({ ui: true });
    assert.ok(temporal.server.uiUrl, 'the dev server serves its UI');
    uiUrl = temporal.server.uiUrl;
    // The current details of a finished workflow come from a query its worker answers: it stays up.
    worker = await startInProcessWorker(temporal);
    chrome = await launchChromium({ width: 1400, height: 1000 });
    browser = chrome.context;
    // Only the dev server's UI is reached; anything else the page asks for is refused.
    await browser.route('**/*', (route) =>
      route.request().url().startsWith(uiUrl) ? route.continue() : route.abort('blockedbyclient'),
    );
    await Promise.all([runPassed(), runFailed(), runNotStarted(), runAborted()]);
  });
  after(async () => {
    await chrome?.close();
    await worker?.stop();
    await temporal?.stop();
    await Promise.all(services.map((service) => service.stop()));
  });

  const service = async (): Promise<TestService> => {
    const started = await startTestService();
    services.push(started);
    return started;
  };

  /** A pause plan named for the suite; its description carries Markdown and markup, to be shown as text. */
  const plan = (name: string, target: TestService, overrides: PlanOverrides = {}): PlanOverrides =>
    pausePlan(target, {
      metadata: {
        name,
        owner: 'tests',
        description:
          'Pauses the *demo* service, <b>not</b> & [a link](http://127.0.0.1:9/x).\nSecond line_here.',
      },
      ...overrides,
    });

  const record = async (
    outcome: Outcome,
    document: PlanOverrides,
    run: (handle: Awaited<ReturnType<typeof startPlan>>) => Promise<void>,
    reason: RegExp,
  ) => {
    const handle = await startPlan(temporal, document, worker.taskQueue);
    await run(handle);
    const report = await handle.result();
    assert.equal(report.outcome, outcome, report.reason);
    const { runId } = await handle.describe();
    ran.set(outcome, { outcome, document, workflowId: handle.workflowId, runId, reason });
  };

  const runPassed = async () => {
    const target = await service();
    await record('passed', plan('ui-one', target), async () => {}, /the steady state held during chaos/);
  };

  /** A during check that expects the paused service to answer: it deviates, the game day fails. */
  const runFailed = async () => {
    const target = await service();
    const url = `http://127.0.0.1:${target.port}/health`;
    const document = plan('ui-two', target, {
      checks: [
        { name: 'healthy', when: ['before', 'after'], http: { url, timeout: '1s' } },
        { name: 'answers', when: ['during'], http: { url, timeout: '300ms' } },
      ],
    });
    await record('failed', document, async () => {}, /answers held 0\/\d+ samples/);
  };

  /** A steady state that does not hold: nothing is injected. */
  const runNotStarted = async () => {
    const target = await service();
    const document = plan('ui-three', target, {
      checks: [
        {
          name: 'healthy',
          when: ['before', 'after'],
          http: { url: `http://127.0.0.1:${target.port}/missing`, timeout: '1s' },
        },
      ],
    });
    await record('not-started', document, async () => {}, /healthy \(status 404, expected 200\)/);
  };

  const runAborted = async () => {
    const target = await service();
    const document = plan('ui-four', target, { observation: { window: '60s', sampleInterval: '1s' } });
    await record(
      'aborted',
      document,
      async (handle) => {
        await waitForPhase(handle, 'observe');
        await handle.executeUpdate(abortUpdate, { args: [{ reason: 'pager went off', by: 'ui-test' }] });
      },
      /aborted by ui-test: pager went off/,
    );
  };

  const ranOf = (outcome: Outcome): Ran => {
    const found = ran.get(outcome);
    assert.ok(found, `the ${outcome} game day ran`);
    return found;
  };

  const listUrl = (query?: string) =>
    `${uiUrl}/namespaces/default/workflows${query === undefined ? '' : `?query=${encodeURIComponent(query)}`}`;

  const shoot = async (page: Page, name: string): Promise<void> => {
    await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  };

  /** The rows of the workflow list once it shows `count` of them, by workflow id: the cells' texts. */
  const listed = async (page: Page, count: number): Promise<Map<string, Record<string, string>>> => {
    await waitFor(
      `${count} workflows listed`,
      async () => (await page.locator('tbody tr').count()) === count || undefined,
    );
    const headers = (await page.locator('thead th').allInnerTexts()).map((text) => text.trim());
    const rows = new Map<string, Record<string, string>>();
    for (const row of await page.locator('tbody tr').all()) {
      const cells = (await row.locator('td').allInnerTexts()).map((text) => text.trim());
      const byHeader = Object.fromEntries(headers.map((header, index) => [header, cells[index] ?? '']));
      rows.set(byHeader['Workflow ID'] ?? '', byHeader);
    }
    return rows;
  };

  it('the list: every game day "Completed", its outcome in the GameDayOutcome column added with the column picker', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(listUrl(), { waitUntil: 'load' });
      const before = await listed(page, ran.size);
      for (const { workflowId } of ran.values()) {
        assert.equal(before.get(workflowId)?.Status, 'Completed', `${workflowId} is listed as Completed`);
      }
      await shoot(page, 'list-as-temporal-shows-it');
      // The column picker ("Configure Workflows Table"): add the custom search attribute as a column.
      await page.getByTestId('workflows-summary-table-configuration-button').click();
      const add = page.getByRole('button', { name: 'Add GameDayOutcome column' });
      await add.waitFor();
      await shoot(page, 'list-column-picker');
      await add.click();
      // Its arrows move it next to Status, where it is seen without scrolling the table sideways.
      const up = page.getByRole('button', { name: 'Move GameDayOutcome column up' });
      for (let moves = 0; moves < 5; moves++) await up.click();
      await shoot(page, 'list-column-picker-outcome-added');
      // The browser keeps the columns chosen (local storage): the list shows them from now on.
      await page.goto(listUrl(), { waitUntil: 'load' });
      const rows = await listed(page, ran.size);
      for (const { workflowId, outcome } of ran.values()) {
        assert.equal(rows.get(workflowId)?.GameDayOutcome, outcome, `${workflowId} shows ${outcome}`);
      }
      const headers = (await page.locator('thead th').allInnerTexts()).map((text) => text.trim());
      assert.equal(headers.indexOf('GameDayOutcome'), headers.indexOf('Status') + 1, headers.join(', '));
      await shoot(page, 'list-with-outcome-column');
    } finally {
      await page.close();
    }
  });

  it('the list filtered by GameDayOutcome shows only the game days of that outcome', async () => {
    const page = await browser.newPage();
    try {
      for (const { outcome, workflowId } of ran.values()) {
        await page.goto(listUrl(`GameDayOutcome = "${outcome}"`), { waitUntil: 'load' });
        const rows = await listed(page, 1);
        assert.deepEqual([...rows.keys()], [workflowId], `only ${workflowId} is ${outcome}`);
        await shoot(page, `list-filter-${outcome}`);
      }
      await page.goto(listUrl('GameDayOutcome != "passed"'), { waitUntil: 'load' });
      const notPassed = await listed(page, ran.size - 1);
      assert.ok(!notPassed.has(ranOf('passed').workflowId));
      // Kept as a saved view (Custom Views), it is one click away from the unfiltered list.
      await page.getByRole('button', { name: 'Save as New' }).click();
      await page.getByTestId('save-view-modal-input').fill('Game days not passed');
      await page.getByRole('button', { name: 'Save', exact: true }).click();
      await page.goto(listUrl(), { waitUntil: 'load' });
      await listed(page, ran.size);
      await page.getByRole('button', { name: 'Game days not passed' }).click();
      const saved = await listed(page, ran.size - 1);
      assert.deepEqual(new Set(saved.keys()), new Set(notPassed.keys()));
      await shoot(page, 'list-saved-view-not-passed');
    } finally {
      await page.close();
    }
  });

  /** The rendered Markdown of one of the page's user-metadata frames, once it shows `text`. */
  const renderedFrame = (page: Page, text: string): Promise<Frame> =>
    waitFor(
      `a frame showing ${text}`,
      async () => {
        for (const frame of page.frames()) {
          if (!frame.url().includes('/render?')) continue;
          const body = await frame
            .locator('body')
            .innerText()
            .catch(() => '');
          if (body.includes(text)) return frame;
        }
        return undefined;
      },
      30_000,
    );

  /** The UI sizes each frame to its content: the last line with text must lie inside the frame, not be cut. */
  const assertWhollyShown = async (frame: Frame, what: string): Promise<void> => {
    const frameBox = await (await frame.frameElement()).boundingBox();
    const last = frame
      .locator('p, li')
      .filter({ hasText: /[^\s\u00a0]/ })
      .last();
    const lastBox = await last.boundingBox();
    assert.ok(frameBox && lastBox, `${what} is laid out`);
    assert.ok(
      lastBox.y + lastBox.height <= frameBox.y + frameBox.height,
      `${what}: its last line "${await last.innerText()}" ends at ${lastBox.y + lastBox.height}, ` +
        `below its frame (${frameBox.y + frameBox.height})`,
    );
  };

  /** The plan's details: every line of the dry run on a line of its own, its text shown as written. */
  const assertDetailsShow = async (page: Page, dryRun: string): Promise<void> => {
    const details = await renderedFrame(page, 'resolve targets: ');
    // The UI curls quotes (the run’s tag) whatever the Markdown says; the words are the same.
    const typography = (text: string) => text.replace(/[‘’]/g, "'").replace(/[“”]/g, '"');
    const shown = typography(await details.locator('body').innerText())
      .split('\n')
      .map((line) => line.trim());
    for (const line of dryRun.split('\n')) {
      // What the dry run quotes in backticks is code in the UI: the same text, without the backticks.
      const text = line
        .trim()
        .replace(/^(\d+\.|-) /, '')
        .replace(/`([^`]+)`/g, '$1');
      assert.ok(shown.includes(text), `the details show the line "${text}":\n${shown.join('\n')}`);
    }
    assert.equal(await details.locator('ol > li').count(), 7, 'the seven phases are a numbered list');
    assert.equal(await details.locator('b').count(), 0, "the description's markup is text");
    const quoted = [...dryRun.matchAll(/`([^`]+)`/g)].map((match) => match[1]);
    assert.deepEqual(await details.locator('code').allInnerTexts(), quoted, 'commands and queries are code');
    await assertWhollyShown(details, "the plan's details");
  };

  for (const outcome of ['passed', 'failed', 'not-started', 'aborted'] as const) {
    it(`the ${outcome} game day's page leads its current details with "outcome: ${outcome}", the plan's details keep their lines`, async () => {
      const { workflowId, runId, document, reason } = ranOf(outcome);
      const page = await browser.newPage();
      try {
        await page.goto(`${uiUrl}/namespaces/default/workflows/${workflowId}/${runId}/user-metadata`, {
          waitUntil: 'load',
        });
        // Current details: a Markdown heading with the outcome, then its reason.
        const current = await renderedFrame(page, `outcome: ${outcome}`);
        assert.equal(
          (await current.locator('h2').first().innerText()).trim(),
          `outcome: ${outcome}`,
          'the outcome is a heading',
        );
        assert.match(await current.locator('body').innerText(), reason);
        await assertWhollyShown(current, 'the current details');
        if (outcome === 'not-started') {
          assert.match(await current.locator('body').innerText(), /Nothing was injected/);
        } else {
          assert.match(await current.locator('body').innerText(), /pause@local: rolled-back/);
        }
        const { plan } = planFrom(document);
        await assertDetailsShow(page, describePlan(plan, 42));
        // A finished game day has nothing pending (the lease keeper and an aborted window have stopped).
        assert.match(await page.locator('body').innerText(), /Pending Activities\s*0\b/);
        await shoot(page, `page-${outcome}`);
        // The memo, kept by the server (no worker needed), has the outcome and its reason too.
        await page.goto(`${uiUrl}/namespaces/default/workflows/${workflowId}/${runId}/memo`, {
          waitUntil: 'load',
        });
        const memo = page.locator('body');
        await waitFor('the memo', async () => (await memo.innerText()).includes(`"outcome": "${outcome}"`));
        assert.match(await memo.innerText(), reason);
        await shoot(page, `page-${outcome}-memo`);
      } finally {
        await page.close();
      }
    });
  }

  it("every example plan's details keep each line of its dry run (a game day nobody runs: details need no worker)", async () => {
    const names = readdirSync(join(projectRoot, 'examples')).filter(
      (file) => file.endsWith('.yaml') && file !== 'worker.yaml',
    );
    assert.ok(names.length > 0);
    const page = await browser.newPage();
    const started: WorkflowHandle[] = [];
    try {
      for (const name of names) {
        const loaded = await loadPlanFile(join(projectRoot, 'examples', name));
        assert.ok(loaded.ok, name);
        const handle = await temporal.client.workflow.start(gameDayWorkflowType, {
          taskQueue: `nobody-${process.pid}`,
          workflowId: `ui-example-${name.replace(/\.yaml$/, '')}`,
          args: [{ plan: loaded.plan, planDigest: loaded.digest }],
          ...gameDayStartOptions(loaded.plan, loaded.digest, { by: 'tests' }),
        });
        started.push(handle);
        const { runId } = await handle.describe();
        await page.goto(`${uiUrl}/namespaces/default/workflows/${handle.workflowId}/${runId}/user-metadata`, {
          waitUntil: 'load',
        });
        await assertDetailsShow(page, describePlan(loaded.plan));
        await shoot(page, `example-${name.replace(/\.yaml$/, '')}`);
      }
    } finally {
      await page.close();
      await Promise.all(started.map((handle) => handle.terminate('UI test done').catch(() => undefined)));
    }
  });
});
