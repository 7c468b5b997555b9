import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  healthy,
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
      const plan = pausePlan(service, {
        checks: [
          {
            name: 'healthy',
            when: ['before', 'after'],
            http: { url: `http://127.0.0.1:${service.port}/health` },
          },
        ],
        faults: [
          {
            name: 'kill',
            kind: 'process-kill',
            target: 'here',
            params: {
              pidfile: service.pidfile,
              ready: { tcpPort: service.port, timeout: '5s', settle: '300ms' },
            },
          },
        ],
        observation: { window: '1s', sampleInterval: '500ms' },
      });
      const handle = await startPlan(temporal, plan, taskQueue);
      await waitForPhase(handle, 'observe');
      squatter = await new Promise<Server>((resolve) => {
        const server = createServer();
        server.listen(service.port, '127.0.0.1', () => resolve(server));
      });
      // The rollback is running (and failing: the port is taken) when the worker dies.
      await waitForPhase(handle, 'rollback');
      await sleep(700);
      await first.kill('SIGKILL');
      await new Promise((resolve) => squatter?.close(resolve));
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
