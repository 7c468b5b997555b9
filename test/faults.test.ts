import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { processKill } from '../activities/faults/processKill';
import { processPause } from '../activities/faults/processPause';
import { localFaultContext } from './support/faultContext';
import { healthy, processState, startTestService } from './support/services';
import { waitFor } from './support/wait';

const ctx = localFaultContext();

function params<P>(schema: { parse(input: unknown): P }, input: unknown): P {
  return schema.parse(input);
}

describe('process-pause on real processes (local executor)', () => {
  it('inject twice, rollback twice: same end state; verify reads /proc', async () => {
    const service = await startTestService();
    try {
      const p = params(processPause.params, { pidfile: service.pidfile });
      const saved = await processPause.prepare(ctx, p);
      await processPause.inject(ctx, p, saved);
      await processPause.inject(ctx, p, saved);
      assert.equal(processState(service.currentPid()), 'T');
      assert.deepEqual((await processPause.verify(ctx, p, saved)).active, true);
      await processPause.rollback(ctx, p, saved);
      await processPause.rollback(ctx, p, saved);
      assert.notEqual(processState(service.currentPid()), 'T');
      assert.equal((await processPause.verify(ctx, p, saved)).active, false);
      assert.ok(await healthy(service.port));
    } finally {
      await service.stop();
    }
  });

  it('rollback of a fault never applied, and of a process that is gone, succeeds', async () => {
    const service = await startTestService();
    const p = params(processPause.params, { pidfile: service.pidfile });
    const saved = await processPause.prepare(ctx, p);
    await processPause.rollback(ctx, p, saved);
    assert.notEqual(processState(service.currentPid()), 'T');
    await service.stop();
    await processPause.rollback(ctx, p, saved);
    assert.equal((await processPause.verify(ctx, p, saved)).active, false);
  });

  it('finds processes by command-line pattern, and never the worker itself', async () => {
    const service = await startTestService();
    try {
      const p = params(processPause.params, { pattern: `--port ${service.port}` });
      const saved = await processPause.prepare(ctx, p);
      assert.deepEqual(
        saved.processes.map((x) => x.pid),
        [service.currentPid()],
      );
      await assert.rejects(
        processPause.prepare({ ...ctx, protectedPids: [service.currentPid() ?? 0] }, p),
        /processes matching "--port \d+" on local names only pid \d+, which no fault may touch/,
      );
    } finally {
      await service.stop();
    }
  });

  it('a missing pidfile is a clear error naming the pidfile and host', async () => {
    const p = params(processPause.params, { pidfile: '/tmp/gameday-no-such.pid' });
    await assert.rejects(
      processPause.prepare(ctx, p),
      /no running process for pidfile \/tmp\/gameday-no-such\.pid on local: is it started\?/,
    );
  });
});

describe('process-kill on real processes (local executor)', () => {
  it('kills, then restarts from the recorded command line and waits for the port; idempotent', async () => {
    const service = await startTestService();
    try {
      const p = params(processKill.params, {
        pidfile: service.pidfile,
        ready: { tcpPort: service.port, settle: '200ms' },
      });
      const originalPid = service.currentPid();
      const saved = await processKill.prepare(ctx, p);
      assert.equal(saved.processes[0]?.argv[0], process.execPath, 'argv[0] is the absolute executable');
      assert.ok(saved.processes[0]?.argv.includes(service.pidfile));
      await processKill.inject(ctx, p, saved);
      await processKill.inject(ctx, p, saved);
      // Gone, or a zombie until its parent (this test process) reaps it.
      assert.ok([undefined, 'Z'].includes(processState(originalPid)), 'killed');
      assert.equal((await processKill.verify(ctx, p, saved)).active, true);
      assert.equal(await healthy(service.port), false);
      await processKill.rollback(ctx, p, saved);
      const restartedPid = service.currentPid();
      assert.notEqual(restartedPid, originalPid);
      assert.ok(await healthy(service.port), 'restarted and answering');
      await processKill.rollback(ctx, p, saved);
      assert.equal(service.currentPid(), restartedPid, 'a second rollback starts nothing new');
      assert.equal((await processKill.verify(ctx, p, saved)).active, false);
    } finally {
      await service.stop();
    }
  });

  it('rollback of a kill never applied leaves the running process alone', async () => {
    const service = await startTestService();
    try {
      const p = params(processKill.params, { pidfile: service.pidfile });
      const saved = await processKill.prepare(ctx, p);
      const pid = service.currentPid();
      await processKill.rollback(ctx, p, saved);
      assert.equal(service.currentPid(), pid);
      await waitFor('healthy', async () => (await healthy(service.port)) || undefined, 5000);
    } finally {
      await service.stop();
    }
  });
});
