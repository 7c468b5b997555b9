import assert from 'node:assert/strict';
import type { Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { killPlan, pausePlan } from './support/plans';
import { healthy, occupyPort, processState, releasePort, startTestService } from './support/services';
import {
  spawnWorkerProcess,
  startPlan,
  startTestTemporal,
  type TestTemporal,
  uniqueTaskQueue,
  waitForPhase,
  type WorkerProcess,
} from './support/temporal';
import { sleep, waitFor } from './support/wait';
import { freePort } from '../worker/ports';

// The orchestrator dies (SIGKILL: no cleanup code runs) and a new worker must finish every rollback.
describe('SIGKILL of the worker process', () => {
  let temporal: TestTemporal;
  const workers: WorkerProcess[] = [];

  before(async () => {
    temporal = await startTestTemporal();
  });
  after(async () => {
    for (const worker of workers) await worker.kill('SIGKILL');
    await temporal?.stop();
  });

  it('during observation: a new worker resumes the window and resumes the paused process', async () => {
    const service = await startTestService();
    const taskQueue = uniqueTaskQueue('crash-observe');
    try {
      const first = await spawnWorkerProcess(temporal, taskQueue);
      workers.push(first);
      const handle = await startPlan(
        temporal,
        pausePlan(service, { observation: { window: '4s', sampleInterval: '500ms' } }),
        taskQueue,
      );
      await waitForPhase(handle, 'observe');
      await sleep(500);
      await first.kill('SIGKILL');
      assert.equal(processState(service.currentPid()), 'T', 'the fault outlives the dead worker');
      await sleep(1000);
      workers.push(await spawnWorkerProcess(temporal, taskQueue));
      const report = await handle.result();
      assert.equal(report.outcome, 'passed', report.reason);
      assert.equal(report.faults[0]?.status, 'rolled-back');
      assert.notEqual(processState(service.currentPid()), 'T', 'the paused process runs again');
      assert.ok(await healthy(service.port));
    } finally {
      await service.stop();
    }
  });

  it('during observation: the samples the dead worker took, a deviation among them, stay in the verdict', async () => {
    const service = await startTestService();
    const taskQueue = uniqueTaskQueue('crash-samples');
    const port = await freePort();
    let listener: Server | undefined;
    try {
      const first = await spawnWorkerProcess(temporal, taskQueue);
      workers.push(first);
      // The guarded port is closed when the window opens (the check deviates), then opens (it holds).
      const plan = pausePlan(service, {
        checks: [{ name: 'answers', when: ['during'], tcp: { host: '127.0.0.1', port, timeout: '200ms' } }],
        observation: { window: '8s', sampleInterval: '250ms' },
      });
      const handle = await startPlan(temporal, plan, taskQueue);
      await waitForPhase(handle, 'observe');
      await sleep(1500);
      listener = await occupyPort(port);
      await sleep(1500);
      const killedAt = Date.now();
      await first.kill('SIGKILL');
      workers.push(await spawnWorkerProcess(temporal, taskQueue));
      const report = await handle.result();
      const answers = report.checks.during.find((summary) => summary.name === 'answers');
      assert.ok(answers, 'the during check has a summary');
      // The port was closed only in the first 1.5 s, long before the kill: a deviation in the verdict can only
      // come from the dead worker's samples (how many a loaded machine took varies: no count is asserted).
      assert.ok(
        answers.held < answers.samples,
        `the early deviation is kept: ${answers.held}/${answers.samples}`,
      );
      assert.ok(answers.firstDeviation, 'the first deviation is reported');
      assert.ok(Date.parse(answers.firstDeviation.at) < killedAt, 'and it was seen before the kill');
      assert.equal(report.outcome, 'failed', report.reason);
      assert.notEqual(processState(service.currentPid()), 'T', 'the paused process runs again');
    } finally {
      await releasePort(listener);
      await service.stop();
    }
  });

  it('during rollback: a new worker finishes the rollback it was retrying', async () => {
    const service = await startTestService();
    const taskQueue = uniqueTaskQueue('crash-rollback');
    let squatter: Server | undefined;
    try {
      const first = await spawnWorkerProcess(temporal, taskQueue);
      workers.push(first);
      const plan = killPlan(service, '1s');
      const handle = await startPlan(temporal, plan, taskQueue);
      await waitForPhase(handle, 'observe');
      squatter = await occupyPort(service.port);
      // The rollback is running (and failing: the port is taken) when the worker dies.
      await waitForPhase(handle, 'rollback');
      await sleep(700);
      await first.kill('SIGKILL');
      await releasePort(squatter);
      squatter = undefined;
      workers.push(await spawnWorkerProcess(temporal, taskQueue));
      const report = await handle.result();
      assert.equal(report.faults[0]?.status, 'rolled-back');
      assert.equal(report.outcome, 'passed', report.reason);
      await waitFor('the restarted service', async () => (await healthy(service.port)) || undefined, 10_000);
    } finally {
      squatter?.close();
      await service.stop();
    }
  });
});
