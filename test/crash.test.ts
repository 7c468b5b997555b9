import assert from 'node:assert/strict';
import type { Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  healthy,
  killPlan,
  occupyPort,
  releasePort,
  pausePlan,
  processState,
  sleep,
  spawnWorkerProcess,
  startPlan,
  startTestService,
  startTestTemporal,
  uniqueTaskQueue,
  waitFor,
  waitForPhase,
  type TestTemporal,
  type WorkerProcess,
} from './support/harness';

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
