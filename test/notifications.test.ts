import assert from 'node:assert/strict';
import type { Server as NetServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../worker/ports';
import { killPlan, pausePlan } from './support/plans';
import { occupyPort, releasePort, startTestService, type TestService } from './support/services';
import {
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  waitForPhase,
  type InProcessWorker,
  type TestTemporal,
} from './support/temporal';
import { waitFor } from './support/wait';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from './support/webhookReceiver';

// Webhook notifications from a real worker to a webhook receiver served by the test on loopback (an HTTP
// server that records what it is sent, as Slack's incoming webhooks would take it).
describe('webhook notifications (real dev server, a webhook receiver in the test)', () => {
  let temporal: TestTemporal;
  let worker: InProcessWorker;
  let receiver: WebhookReceiver;
  let service: TestService;
  let received: ReceivedWebhook[] = [];
  // A Slack-style URL carries its secret in the path; the token is a second secret. Neither may reach history.
  const secretPath = '/services/T0GAMEDAY/B0TEST/s3cr3tPathPart';
  const token = 'tok-9f8e7d6c5b4a';

  before(async () => {
    receiver = await startWebhookReceiver();
    received = receiver.received;
    process.env.GD_TEST_WEBHOOK_URL = `${receiver.origin}${secretPath}`;
    process.env.GD_TEST_WEBHOOK_TOKEN = token;
    const closed = await freePort(); // nothing listens here
    temporal = await startTestTemporal();
    worker = await startInProcessWorker(temporal, undefined, {
      notifications: {
        webhooks: {
          oncall: { urlEnv: 'GD_TEST_WEBHOOK_URL', bearerTokenEnv: 'GD_TEST_WEBHOOK_TOKEN' },
          unreachable: { url: `http://127.0.0.1:${closed}/hook`, timeout: 2000 },
          'stuck-only': { urlEnv: 'GD_TEST_WEBHOOK_URL', on: ['rollback-stuck'] },
        },
      },
    });
    service = await startTestService();
  });
  after(async () => {
    await service?.stop();
    await worker?.stop();
    await temporal?.stop();
    receiver?.close();
  });

  /** The demo plan whose preflight cannot hold: it names a port nothing listens on → not-started. */
  const notStartedPlan = async (notify: string[]) =>
    pausePlan(service, {
      notify,
      checks: [
        { name: 'healthy', when: ['before'], http: { url: `http://127.0.0.1:${await freePort()}/health` } },
      ],
    });

  it('a game day that does not pass is sent to its webhooks (Slack text + summary); one that fails to send is a note', async () => {
    received.length = 0;
    const handle = await startPlan(
      temporal,
      await notStartedPlan(['oncall', 'unreachable']),
      worker.taskQueue,
    );
    const report = await handle.result();
    assert.equal(report.outcome, 'not-started', 'a notification never changes the outcome');
    assert.equal(received.length, 1, JSON.stringify(received));
    const [message] = received;
    assert.equal(message?.path, secretPath);
    assert.equal(message?.headers.authorization, `Bearer ${token}`);
    assert.match(message?.body.text ?? '', /^gameday: game day test-pause \(owner tests\) not-started: /);
    assert.equal(message?.body.gameday.event, 'not-passed');
    assert.equal(message?.body.gameday.outcome, 'not-started');
    assert.equal(message?.body.gameday.tag, report.tag);
    const notes = report.timeline.map((entry) => entry.message);
    assert.ok(notes.includes('notified oncall: not-passed'), notes.join('\n'));
    assert.ok(
      notes.includes('notification not sent: unreachable: could not connect (ECONNREFUSED)'),
      notes.join('\n'),
    );
    const history = JSON.stringify((await handle.fetchHistory()).events);
    assert.equal(history.includes('s3cr3tPathPart'), false, 'the webhook URL is not in history');
    assert.equal(history.includes(token), false, 'the token is not in history');
  });

  it('a webhook that answers an error is noted with its status only, never its body', async () => {
    received.length = 0;
    receiver.answer = 500;
    try {
      const handle = await startPlan(temporal, await notStartedPlan(['oncall']), worker.taskQueue);
      const report = await handle.result();
      assert.equal(report.outcome, 'not-started');
      assert.equal(received.length, 2, 'tried twice');
      const notes = report.timeline.map((entry) => entry.message);
      assert.ok(notes.includes('notification not sent: oncall: HTTP 500'), notes.join('\n'));
      assert.equal(JSON.stringify((await handle.fetchHistory()).events).includes('xoxb-secret'), false);
    } finally {
      receiver.answer = 200;
    }
  });

  it('a game day that passes sends nothing; a webhook the worker lacks is refused at resolve', async () => {
    received.length = 0;
    const passed = await (
      await startPlan(temporal, pausePlan(service, { notify: ['oncall'] }), worker.taskQueue)
    ).result();
    assert.equal(passed.outcome, 'passed', passed.reason);
    assert.equal(received.length, 0);

    const refused = await (
      await startPlan(temporal, pausePlan(service, { notify: ['pager'] }), worker.taskQueue)
    ).result();
    assert.equal(refused.faults.length, 0, 'nothing was injected');
    assert.match(
      refused.reason ?? '',
      /notify names webhook "pager", which this worker does not have \(it has: oncall, unreachable, stuck-only\)/,
    );
  });

  it('a rollback that gets stuck is sent at once, while gameday keeps retrying it', async () => {
    received.length = 0;
    const killed = await startTestService();
    let squatter: NetServer | undefined;
    try {
      const handle = await startPlan(
        temporal,
        { ...killPlan(killed, '1s', '3s'), notify: ['stuck-only'] },
        worker.taskQueue,
      );
      await waitForPhase(handle, 'observe');
      squatter = await occupyPort(killed.port);
      await waitForPhase(handle, 'rollback-stuck', 60_000);
      const message = await waitFor(
        'the rollback-stuck notification',
        () => Promise.resolve(received[0]),
        30_000,
      );
      assert.equal(message.body.gameday.event, 'rollback-stuck');
      assert.match(message.body.text, /rollback stuck for kill on local: gameday keeps retrying/);
      await releasePort(squatter);
      squatter = undefined;
      const report = await handle.result();
      assert.equal(report.outcome, 'passed');
      assert.equal(received.length, 1, 'stuck-only is not told about the end');
    } finally {
      squatter?.close();
      await killed.stop();
    }
  });
});
