import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { temporal as proto } from '@temporalio/proto';
import { exitCodes } from '../client/exitCodes';
import { projectRoot } from '../client/paths';
import { attemptsNote, stepAttempts, withAttemptNotes } from '../client/retries';
import type { GameDayReport } from '../workflows/definitions';
import { runCli, type CliResult } from './support/cli';
import { pausePlan } from './support/plans';
import { processState, startTestService, type TestService } from './support/services';
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

const recorded = (name: string) =>
  proto.api.history.v1.History.decode(
    readFileSync(join(projectRoot, 'test', 'histories', 'v3', `${name}.pb`)),
  ).events ?? [];

describe('steps that ran more than once, read from recorded histories', () => {
  it('a rollback retried until it was fixed: both rounds, the failure before the last attempt, the worker', () => {
    const steps = stepAttempts(recorded('rollback-stuck-then-fixed'));
    assert.deepEqual(
      steps.map((s) => [s.activityType, s.attempts, s.closed, s.workerLost, s.worker]),
      [
        ['rollbackFault', 6, true, false, '11661@vm'],
        ['rollbackFault', 2, true, false, '11661@vm'],
      ],
    );
    const [bounded, unbounded] = steps.map(attemptsNote);
    assert.match(
      bounded ?? '',
      /^step restart pidfile \S+ on local and wait for port \d+ ran 6 times: attempt 5 ended by failure: restart pidfile .* exited; its log says: .*, attempt 6 on worker 11661@vm failed \(not retried further\): .* \(how attempts 1–4 ended is not in the history: Temporal keeps the last failure\)$/,
    );
    assert.match(
      unbounded ?? '',
      /ran 2 times: attempt 1 ended by failure: .*, attempt 2 on worker 11661@vm finished$/,
    );
  });

  it('a run that passed without retries: none, and its timeline is left as it was', () => {
    assert.deepEqual(stepAttempts(recorded('passed')), []);
    for (const name of ['aborted-by-user', 'during-deviated', 'guardrail-breach', 'inject-failed']) {
      assert.deepEqual(stepAttempts(recorded(name)), [], name);
    }
  });

  it('notes are merged at their time, in the phase of the entry before them', () => {
    const timeline = [
      { at: '2026-12-02T10:00:00.000Z', phase: 'inject', message: 'injected' },
      { at: '2026-12-02T10:00:01.000Z', phase: 'observe', message: 'window opens' },
      { at: '2026-12-02T10:00:09.000Z', phase: 'rollback', message: 'rolling back' },
    ] as const;
    const report = { timeline: [...timeline] } as unknown as GameDayReport;
    const merged = withAttemptNotes(report, [
      {
        step: 'observe 1 check(s)',
        activityType: 'observe',
        attempts: 2,
        earlierEnded: 'heartbeat timeout (its worker was lost)',
        workerLost: true,
        worker: '77@box',
        latest: 'finished',
        closed: true,
        at: '2026-12-02T10:00:05.000Z',
      },
    ]);
    assert.deepEqual(
      merged.timeline.map((e) => [e.phase, e.message]),
      [
        ['inject', 'injected'],
        ['observe', 'window opens'],
        [
          'observe',
          'step observe 1 check(s) ran 2 times: attempt 1 ended by heartbeat timeout (its worker was lost), attempt 2 on worker 77@box finished',
        ],
        ['rollback', 'rolling back'],
      ],
    );
    assert.equal(report.timeline.length, 3, 'the report itself is not changed');
  });
});

// What the workflow cannot see and every view of its report must say: a step that ran twice because its worker
// was SIGKILLed (read from the history), and a failing check's whole output (bounded) in the JSON report.
describe('the report says what the history knows: lost workers, whole check output', () => {
  let temporal: TestTemporal;
  let service: TestService;
  const workers: WorkerProcess[] = [];

  const gameday = (taskQueue: string, ...args: string[]): Promise<CliResult> =>
    runCli(['--address', temporal.server.address, '--task-queue', taskQueue, ...args]);
  const jsonReport = async (taskQueue: string, workflowId: string): Promise<GameDayReport> => {
    const result = await gameday(taskQueue, 'report', workflowId, '--format', 'json');
    assert.equal(result.stderr, '', 'nothing left out');
    return JSON.parse(result.stdout) as GameDayReport;
  };
  const attemptNotes = (report: GameDayReport) =>
    report.timeline.filter((entry) =>
      /^step .* (ran \d+ times|is on attempt|its only attempt)/.test(entry.message),
    );

  before(async () => {
    temporal = await startTestTemporal();
    service = await startTestService();
  });
  after(async () => {
    for (const worker of workers) await worker.kill('SIGKILL');
    await service?.stop();
    await temporal?.stop();
  });

  it('a worker SIGKILLed during the window: the timeline says the observation ran twice, and why', async () => {
    const taskQueue = uniqueTaskQueue('attempts-crash');
    const first = await spawnWorkerProcess(temporal, taskQueue);
    workers.push(first);
    const handle = await startPlan(
      temporal,
      pausePlan(service, { observation: { window: '8s', sampleInterval: '500ms' } }),
      taskQueue,
    );
    await waitForPhase(handle, 'observe');
    await sleep(500);
    const killedAt = Date.now();
    await first.kill('SIGKILL');
    await sleep(1000);
    const second = await spawnWorkerProcess(temporal, taskQueue);
    workers.push(second);
    // While it runs, status reads the pending attempt (the history records it only when it closes).
    const running = await waitFor(
      'status naming the second attempt',
      async () => {
        const status = await gameday(taskQueue, 'status', handle.workflowId);
        return (
          /step observe .* is on attempt 2: attempt 1 ended by heartbeat timeout \(its worker was lost\), attempt 2 on worker (\d+)@\S+ is running/.exec(
            status.stdout,
          ) ?? undefined
        );
      },
      15_000,
    );
    assert.equal(running[1], String(second.child.pid), 'on the new worker');
    const finished = await handle.result();
    assert.equal(finished.outcome, 'passed', finished.reason);
    assert.equal(attemptNotes(finished).length, 0, "the workflow's own report is unchanged");

    const report = await jsonReport(taskQueue, handle.workflowId);
    const observe = report.timeline.find((entry) => entry.message.startsWith('step observe '));
    assert.ok(observe, `a note for the observation: ${JSON.stringify(attemptNotes(report))}`);
    assert.match(
      observe.message,
      new RegExp(
        '^step observe 1 check\\(s\\) and 0 guardrail\\(s\\) every 500ms ran 2 times: attempt 1 ended by ' +
          `heartbeat timeout \\(its worker was lost\\), attempt 2 on worker ${second.child.pid}@\\S+ finished$`,
      ),
    );
    assert.equal(observe.phase, 'observe');
    // At the right time: when the second attempt started, after the kill and before the window's end.
    assert.ok(Date.parse(observe.at) > killedAt, `${observe.at} is after the kill`);
    const windowEnd = report.timeline.find((entry) => entry.phase === 'rollback');
    assert.ok(windowEnd && Date.parse(observe.at) <= Date.parse(windowEnd.at), 'and before the rollback');
    const position = report.timeline.indexOf(observe);
    assert.ok(
      report.timeline.every((entry, i) => (i < position ? entry.at <= observe.at : entry.at >= observe.at)),
      'merged in time order',
    );
    assert.equal(report.timeline.length, finished.timeline.length + attemptNotes(report).length);

    // The same words in the Markdown report and in status.
    const markdown = await gameday(taskQueue, 'report', handle.workflowId);
    assert.equal(markdown.code, exitCodes.passed, markdown.stderr);
    assert.ok(markdown.stdout.includes(`[observe] ${observe.message}`), markdown.stdout);
    const status = await gameday(taskQueue, 'status', handle.workflowId);
    assert.equal(status.code, exitCodes.passed, status.stderr);
    assert.ok(status.stdout.includes(observe.message), status.stdout);
    assert.notEqual(processState(service.currentPid()), 'T');
  });

  it('a run without retries gets no such note', async () => {
    const taskQueue = uniqueTaskQueue('attempts-none');
    workers.push(await spawnWorkerProcess(temporal, taskQueue));
    const handle = await startPlan(temporal, pausePlan(service), taskQueue);
    assert.equal((await handle.result()).outcome, 'passed');
    const report = await jsonReport(taskQueue, handle.workflowId);
    assert.deepEqual(attemptNotes(report), []);
    assert.doesNotMatch(JSON.stringify(report.timeline), /attempt|worker was lost/);
  });

  it("a failing command check's whole output (its last 4 KB) is in the JSON report, its last lines in the text", async () => {
    const taskQueue = uniqueTaskQueue('attempts-output');
    workers.push(await spawnWorkerProcess(temporal, taskQueue));
    const script = join(temporal.dir, 'etcdctl-like.sh');
    writeFileSync(
      script,
      [
        'echo "warning 0: the first warning of many"',
        'i=1; while [ $i -le 150 ]; do echo "warning $i: --endpoints is deprecated, use --cluster"; i=$((i+1)); done',
        'echo "Error: context deadline exceeded (no leader)" >&2',
        'exit 1',
      ].join('\n'),
    );
    const planFile = join(temporal.dir, 'output.yaml');
    writeFileSync(
      planFile,
      stringify(
        pausePlan(service, {
          checks: [{ name: 'etcd-writes', when: ['before'], command: { argv: ['sh', script] } }],
        }),
      ),
    );
    const run = await gameday(taskQueue, 'run', planFile, '--json');
    assert.equal(run.code, exitCodes['not-started'], run.stderr);
    const { workflowId } = JSON.parse(run.stdout) as GameDayReport;
    const report = await jsonReport(taskQueue, workflowId);
    const result = report.checks.preflight.find((check) => check.name === 'etcd-writes');
    assert.ok(result, 'the preflight result');
    assert.equal(result.holds, false);
    const output = result.output ?? '';
    assert.ok(output.endsWith('Error: context deadline exceeded (no leader)'), output.slice(-200));
    assert.ok(Buffer.byteLength(output) <= 4096 && Buffer.byteLength(output) > 3800, `${output.length}`);
    assert.match(output, /^…\nwarning \d+: --endpoints is deprecated/);
    assert.ok(!output.includes('warning 0:'));
    const markdown = await gameday(taskQueue, 'report', workflowId);
    assert.match(
      markdown.stdout,
      /\| etcd-writes \| \*\*deviated\*\* \| pass \| exited 1, expected 0: ….*no leader\) \|/,
    );
    assert.ok(!markdown.stdout.includes('warning 100:'), 'the text view keeps the excerpt');
  });
});
