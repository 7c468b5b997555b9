import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { processKill } from '../activities/faults/processKill';
import { processPause } from '../activities/faults/processPause';
import { projectRoot } from '../client/paths';
import { freePort } from '../worker/ports';
import { localFaultContext } from './support/faultContext';
import { gameDayPlan, killPlan, pausePlan } from './support/plans';
import { processState, startTestService, type TestService } from './support/services';
import {
  type InProcessWorker,
  spawnWorkerProcess,
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  type TestTemporal,
  uniqueTaskQueue,
  waitForPhase,
  type WorkerProcess,
} from './support/temporal';
import { sleep } from './support/wait';

/** What a run left under /tmp by its tag (dead-man files, logs): nothing, once its faults are rolled back. */
const leftoversOf = (tag: string) =>
  readdirSync('/tmp').filter((name) => name.startsWith(`.gameday-${tag}-`));

const params = <T>(schema: z.ZodType<T>, value: unknown): T => schema.parse(value);

describe('safety: checks that cannot see, selectors that take too much (real processes, real dev server)', () => {
  let temporal: TestTemporal;
  let worker: InProcessWorker;
  let service: TestService;
  const workers: WorkerProcess[] = [];

  before(async () => {
    temporal = await startTestTemporal();
    worker = await startInProcessWorker(temporal);
    service = await startTestService();
  });
  after(async () => {
    for (const spawned of workers) await spawned.kill('SIGKILL');
    await service?.stop();
    await worker?.stop();
    await temporal?.stop();
  });

  it('an expect: fail check whose command does not exist never holds, and the game day fails', async () => {
    const plan = pausePlan(service, {
      checks: [
        {
          name: 'minority-cannot-write',
          when: ['during'],
          expect: 'fail',
          command: { argv: ['etcdctl-typo', 'put', 'k', 'v'] },
        },
      ],
    });
    const report = await (await startPlan(temporal, plan, worker.taskQueue)).result();
    const summary = report.checks.during[0];
    assert.equal(report.outcome, 'failed', report.reason);
    assert.ok(summary && summary.samples > 0, 'sampled');
    assert.equal(summary.held, 0, 'not one sample of a command that does not exist holds');
    assert.equal(summary.couldNotAsk, summary.samples);
    assert.match(
      summary.firstDeviation?.detail ?? '',
      /^could not ask: command "etcdctl-typo" is not installed/,
    );
    assert.notEqual(processState(service.currentPid()), 'T');
  });

  it('a guardrail that cannot ask counts towards its breach: blind chaos stops', async () => {
    const plan = pausePlan(service, {
      checks: [],
      observation: {
        window: '20s',
        sampleInterval: '300ms',
        guardrails: [
          {
            name: 'cluster-answers',
            breachAfter: 2,
            expect: 'fail',
            tcp: { host: 'no-such-host.invalid', port: 2379, timeout: '1s' },
          },
        ],
      },
    });
    const report = await (await startPlan(temporal, plan, worker.taskQueue)).result();
    assert.equal(report.outcome, 'aborted', report.reason);
    assert.match(
      report.reason ?? '',
      /guardrail cluster-answers breached: could not ask: .*does not resolve/,
    );
    assert.equal(report.checks.guardrails[0]?.held, 0);
  });

  it('a window that passed unobserved is no evidence: too few samples fail the game day', async () => {
    const taskQueue = uniqueTaskQueue('unobserved');
    const first = await spawnWorkerProcess(temporal, taskQueue);
    workers.push(first);
    const plan = pausePlan(service, {
      observation: { window: '3s', sampleInterval: '500ms', minSamples: 4 },
    });
    const handle = await startPlan(temporal, plan, taskQueue);
    await waitForPhase(handle, 'observe');
    // The worker dies at once, and none comes back until the window is over: the retried observation starts
    // after its deadline and takes no sample.
    await first.kill('SIGKILL');
    await sleep(4000);
    workers.push(await spawnWorkerProcess(temporal, taskQueue));
    const report = await handle.result();
    assert.equal(report.outcome, 'failed', report.reason);
    assert.match(
      report.reason ?? '',
      /^no evidence: sampled fewer than 4 time\(s\) in the window \(frozen \d\); a worker stalled or the window passed unobserved/,
    );
    assert.equal(report.faults[0]?.status, 'rolled-back');
    assert.notEqual(processState(service.currentPid()), 'T');
  });

  it('a pattern that takes more than maxMatches, or a quarter of the host, is refused before anything changes', async () => {
    const ctx = localFaultContext();
    await assert.rejects(
      processPause.prepare(ctx, params(processPause.params, { pattern: '...' })),
      /processes matching "\.\.\." matches \d+ processes on local \(pid [\d, …]+\), more than maxMatches 1: make the pattern narrower/,
    );
    await assert.rejects(
      processPause.prepare(ctx, params(processPause.params, { pattern: '...', maxMatches: 1000 })),
      /processes matching "\.\.\." matches \d+ of the \d+ processes on local: a selector that takes more than 25 % of a host is refused/,
    );
    // The service and nothing else is one match: allowed.
    const one = await processPause.prepare(
      ctx,
      params(processPause.params, { pattern: `--port ${service.port} --pidfile` }),
    );
    assert.deepEqual(
      one.processes.map((process) => process.pid),
      [service.currentPid()],
    );
  });

  it('never PID 1, nor the worker and what runs it, whatever the selector says', async () => {
    const ctx = localFaultContext();
    const pidfile = join(service.dir, 'init.pid');
    writeFileSync(pidfile, '1\n');
    await assert.rejects(
      processKill.prepare(ctx, params(processKill.params, { pidfile })),
      /pidfile .*init\.pid on local names only pid 1, which no fault may touch/,
    );
    // This file's path is on the command lines of this process (the worker) and of the test runner that
    // started it (an ancestor): both untouchable.
    const ownFile = join(projectRoot, 'dist', 'test', 'safety.test.js');
    await assert.rejects(
      processPause.prepare(ctx, params(processPause.params, { pattern: ownFile, maxMatches: 10 })),
      /names only pid [\d, ]+, which no fault may touch/,
    );
  });

  it('process-kill leaves no tagged file behind: the restarted process writes where it wrote before', async () => {
    const handle = await startPlan(temporal, killPlan(service), worker.taskQueue);
    const { tag } = await waitForPhase(handle, 'observe');
    const report = await handle.result();
    assert.equal(report.outcome, 'passed', report.reason);
    assert.deepEqual(leftoversOf(tag), [], 'no /tmp/.gameday-<tag>-* file outlives the game day');
  });

  it('a guarded port nobody opens is a deviation, not an error: could-not-ask is only for no answer', async () => {
    const port = await freePort();
    const plan = gameDayPlan({
      checks: [{ name: 'closed', when: ['during'], expect: 'fail', tcp: { host: '127.0.0.1', port } }],
      faults: [
        { name: 'pause', kind: 'process-pause', target: 'here', params: { pidfile: service.pidfile } },
      ],
    });
    const report = await (await startPlan(temporal, plan, worker.taskQueue)).result();
    assert.equal(report.outcome, 'passed', report.reason);
    assert.equal(report.checks.during[0]?.couldNotAsk, undefined);
  });
});
