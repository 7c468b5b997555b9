import assert from 'node:assert/strict';
import type { Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { searchAttributes, abortUpdate, stateQuery } from '../workflows/definitions';
import { killPlan, pausePlan } from './support/plans';
import { healthy, occupyPort, processState, releasePort, startTestService } from './support/services';
import {
  type InProcessWorker,
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  summaryOf,
  type TestTemporal,
  waitForPhase,
} from './support/temporal';
import { sleep, waitFor } from './support/wait';

describe('game day against a real Temporal dev server', () => {
  let temporal: TestTemporal;
  let worker: InProcessWorker;

  before(async () => {
    temporal = await startTestTemporal();
    worker = await startInProcessWorker(temporal);
  });
  after(async () => {
    await worker?.stop();
    await temporal?.stop();
  });

  it('happy path: preflight holds, the pause is seen, rollback resumes the service, it recovers → passed', async () => {
    const service = await startTestService();
    try {
      const handle = await startPlan(temporal, pausePlan(service), worker.taskQueue);
      const observing = await waitForPhase(handle, 'observe');
      assert.equal(
        processState(service.currentPid()),
        'T',
        'the service is really stopped during the window',
      );
      assert.equal(observing.faults[0]?.status, 'active');
      const report = await handle.result();
      assert.equal(report.outcome, 'passed', report.reason);
      assert.equal(report.seed, 42);
      assert.match(handle.workflowId, /^gameday-test-pause-\d{8}T\d{6}Z/);
      assert.deepEqual(report.targets, ['local']);
      assert.equal(report.faults[0]?.status, 'rolled-back');
      assert.equal(report.faults[0]?.rollbackAttempts, 1);
      assert.ok(report.checks.during[0] && report.checks.during[0].samples >= 3, 'the window was sampled');
      assert.equal(report.checks.during[0]?.held, report.checks.during[0]?.samples);
      assert.equal(report.checks.recovery?.recovered, true);
      assert.notEqual(processState(service.currentPid()), 'T');
      assert.ok(await healthy(service.port));
      const description = await handle.describe();
      assert.deepEqual(
        description.raw.pendingActivities ?? [],
        [],
        'a completed game day has nothing pending',
      );
      assert.equal(description.typedSearchAttributes.get(searchAttributes.outcome), 'passed');
      assert.equal(description.typedSearchAttributes.get(searchAttributes.plan), 'test-pause');
      assert.equal(description.typedSearchAttributes.get(searchAttributes.phase), 'done');
      assert.deepEqual(description.typedSearchAttributes.get(searchAttributes.targets), ['local']);
      assert.equal((description.memo as Record<string, unknown>).owner, 'tests');
      assert.match((await description.staticSummary()) ?? '', /test-pause: pause/);
      const history = await handle.fetchHistory();
      const summaries = JSON.stringify(history.events?.map((e) => e.userMetadata?.summary?.data) ?? []);
      assert.ok(
        history.events?.some((e) => e.userMetadata?.summary),
        'activities carry plain-word summaries',
      );
      assert.ok(summaries.length > 0);
    } finally {
      await service.stop();
    }
  });

  it('a steady state that does not hold ends not-started, with nothing injected', async () => {
    const service = await startTestService();
    try {
      const plan = pausePlan(service);
      (plan.checks as { http: { url: string } }[])[0]!.http.url = `http://127.0.0.1:${service.port}/missing`;
      const report = await (await startPlan(temporal, plan, worker.taskQueue)).result();
      assert.equal(report.outcome, 'not-started');
      assert.match(report.reason ?? '', /healthy \(status 404, expected 200\)/);
      assert.equal(report.faults.length, 0);
      assert.notEqual(processState(service.currentPid()), 'T');
    } finally {
      await service.stop();
    }
  });

  it('abort mid-window rolls back at once and ends aborted with nothing pending; a second abort is refused', async () => {
    const service = await startTestService();
    try {
      const handle = await startPlan(
        temporal,
        pausePlan(service, { observation: { window: '60s', sampleInterval: '1s' } }),
        worker.taskQueue,
      );
      await waitForPhase(handle, 'observe');
      const started = Date.now();
      const { phase } = await handle.executeUpdate(abortUpdate, {
        args: [{ reason: 'pager went off', by: 'test' }],
      });
      assert.equal(phase, 'observe');
      const report = await handle.result();
      assert.ok(Date.now() - started < 10_000, 'did not wait for the 60 s window');
      assert.equal(report.outcome, 'aborted');
      assert.match(report.reason ?? '', /pager went off/);
      assert.equal(report.faults[0]?.status, 'rolled-back');
      assert.notEqual(processState(service.currentPid()), 'T');
      // The window's observation and the lease keeper were cancelled, and had stopped before it completed.
      assert.deepEqual((await handle.describe()).raw.pendingActivities ?? [], [], 'nothing pending');
      const events = (await handle.fetchHistory()).events ?? [];
      const typeOf = (scheduledEventId: unknown) =>
        events.find((event) => Number(event.eventId) === Number(scheduledEventId))
          ?.activityTaskScheduledEventAttributes?.activityType?.name;
      const cancelled = events.flatMap((event) => {
        const id = event.activityTaskCanceledEventAttributes?.scheduledEventId;
        return id === undefined || id === null ? [] : [typeOf(id)];
      });
      assert.deepEqual(cancelled, ['observe'], 'the observation confirmed its cancellation');
      const completed = events.map((event) =>
        typeOf(event.activityTaskCompletedEventAttributes?.scheduledEventId),
      );
      assert.ok(
        completed.includes('keepLeases'),
        'the lease keeper stopped by itself at the last disarm, before its cancel could reach it',
      );
      await assert.rejects(
        handle.executeUpdate(abortUpdate, { args: [{ reason: 'again' }] }),
        (error: unknown) =>
          error instanceof WorkflowUpdateFailedError || /past injection|completed/i.test(String(error)),
      );
    } finally {
      await service.stop();
    }
  });

  it('an abort without a reason is rejected by the validator and changes nothing', async () => {
    const service = await startTestService();
    try {
      const handle = await startPlan(
        temporal,
        pausePlan(service, { observation: { window: '3s', sampleInterval: '1s' } }),
        worker.taskQueue,
      );
      await waitForPhase(handle, 'observe');
      await assert.rejects(
        handle.executeUpdate(abortUpdate, { args: [{ reason: '  ' }] }),
        (error: unknown) => {
          assert.ok(error instanceof WorkflowUpdateFailedError);
          assert.match(String((error.cause as Error).message), /needs a reason/);
          return true;
        },
      );
      const report = await handle.result();
      assert.equal(report.outcome, 'passed');
    } finally {
      await service.stop();
    }
  });

  it('a guardrail breach stops the window early and rolls back', async () => {
    const service = await startTestService();
    try {
      const plan = pausePlan(service, {
        observation: {
          window: '60s',
          sampleInterval: '500ms',
          guardrails: [
            {
              name: 'must-answer',
              breachAfter: 2,
              http: { url: `http://127.0.0.1:${service.port}/health`, timeout: '300ms' },
            },
          ],
        },
      });
      const started = Date.now();
      const report = await (await startPlan(temporal, plan, worker.taskQueue)).result();
      if (process.env.GAMEDAY_TEST_DEBUG) console.log(report.timeline);
      assert.ok(Date.now() - started < 15_000, 'stopped long before the 60 s window');
      assert.equal(report.outcome, 'aborted');
      assert.match(report.reason ?? '', /guardrail must-answer breached/);
      assert.equal(report.checks.guardrails[0]?.samples, 2);
      assert.equal(report.faults[0]?.status, 'rolled-back');
      assert.ok(await healthy(service.port));
    } finally {
      await service.stop();
    }
  });

  it('an inject that fails halfway compensates what was applied and nothing that was not', async () => {
    const first = await startTestService();
    const third = await startTestService();
    try {
      const plan = pausePlan(first, {
        checks: [],
        faults: [
          { name: 'pause-first', kind: 'process-pause', target: 'here', params: { pidfile: first.pidfile } },
          {
            name: 'pause-missing',
            kind: 'process-pause',
            target: 'here',
            params: { pidfile: `${first.dir}/nothing.pid` },
          },
          { name: 'pause-third', kind: 'process-pause', target: 'here', params: { pidfile: third.pidfile } },
        ],
      });
      const handle = await startPlan(temporal, plan, worker.taskQueue);
      const report = await handle.result();
      assert.equal(report.outcome, 'aborted');
      assert.match(report.reason ?? '', /no running process for pidfile .*nothing\.pid on local/);
      assert.doesNotMatch(
        report.reason ?? '',
        /^aborted/,
        'the outcome says aborted; the reason says why, once',
      );
      assert.deepEqual(
        report.faults.map((f) => [f.fault, f.status]),
        [
          ['pause-first', 'rolled-back'],
          ['pause-missing', 'inject-failed'],
        ],
      );
      assert.notEqual(processState(first.currentPid()), 'T');
      const history = await handle.fetchHistory();
      const scheduled = history.events?.filter((e) => e.activityTaskScheduledEventAttributes) ?? [];
      const rollbacks = scheduled.filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'rollBackFaultsInOrder',
      );
      assert.equal(rollbacks.length, 1, 'one compensation, for the one fault applied');
      const summary = summaryOf(rollbacks[0] ?? {});
      assert.match(summary, /^roll back, last in first out: resume /, 'its summary names what it rolls back');
      assert.ok(summary.includes(first.pidfile) && !summary.includes('nothing.pid'), summary);
      const touchedThird = scheduled.some((e) => summaryOf(e).includes(third.pidfile));
      assert.equal(touchedThird, false, 'the fault after the failure was never started');
    } finally {
      await first.stop();
      await third.stop();
    }
  });

  it('a rollback that fails its first attempts is retried until it succeeds', async () => {
    const service = await startTestService();
    let squatter: Server | undefined;
    try {
      const handle = await startPlan(temporal, killPlan(service), worker.taskQueue);
      await waitForPhase(handle, 'observe');
      // The killed service's port is taken, so its restart fails (EADDRINUSE) until we let go.
      squatter = await occupyPort(service.port);
      await waitForPhase(handle, 'rollback');
      await sleep(1500);
      await releasePort(squatter);
      squatter = undefined;
      const report = await handle.result();
      assert.equal(report.outcome, 'passed', report.reason);
      assert.ok(
        (report.faults[0]?.rollbackAttempts ?? 0) >= 2,
        `attempts: ${report.faults[0]?.rollbackAttempts}`,
      );
      assert.ok(await healthy(service.port), 'the restarted service answers');
    } finally {
      squatter?.close();
      await service.stop();
    }
  });

  it('a rollback that cannot succeed shows rollback-stuck until a person fixes the cause', async () => {
    const service = await startTestService();
    let squatter: Server | undefined;
    try {
      const handle = await startPlan(temporal, killPlan(service, '1s', '3s'), worker.taskQueue);
      await waitForPhase(handle, 'observe');
      squatter = await occupyPort(service.port);
      const stuck = await waitForPhase(handle, 'rollback-stuck', 60_000);
      assert.equal(stuck.faults[0]?.status, 'rollback-stuck');
      assert.match(stuck.faults[0]?.error ?? '', /EADDRINUSE|exited/);
      const description = await handle.describe();
      assert.equal(description.typedSearchAttributes.get(searchAttributes.phase), 'rollback-stuck');
      assert.equal(description.typedSearchAttributes.get(searchAttributes.outcome), 'rollback-stuck');
      await releasePort(squatter); // the person fixes it
      squatter = undefined;
      const report = await handle.result();
      assert.equal(report.faults[0]?.status, 'rolled-back');
      assert.equal(report.outcome, 'passed');
      assert.ok(await healthy(service.port));
    } finally {
      squatter?.close();
      await service.stop();
    }
  });

  it('the state query shows phase, active faults and last check values while running', async () => {
    const service = await startTestService();
    try {
      const handle = await startPlan(
        temporal,
        pausePlan(service, { observation: { window: '2s', sampleInterval: '500ms' } }),
        worker.taskQueue,
      );
      const state = await waitFor('an active fault', async () => {
        const s = await handle.query(stateQuery).catch(() => undefined);
        return s?.faults.some((f) => f.status === 'active') ? s : undefined;
      });
      assert.equal(state.lastChecks.healthy?.holds, true);
      assert.equal((await handle.result()).outcome, 'passed');
    } finally {
      await service.stop();
    }
  });
});
