import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { renderHtmlReport } from '../client/htmlReport';
import { renderReport } from '../client/render';
import type { gameDay } from '../workflows/gameDay';
import { sshOnlyWorkerConfig, startTestHosts, type TestHost, type TestHosts } from './support/hosts';
import { gameDayPlan, type PlanOverrides } from './support/plans';
import {
  type InProcessWorker,
  spawnWorkerProcess,
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  type TestTemporal,
  uniqueTaskQueue,
  waitForPhase,
} from './support/temporal';

/** One scheduled activity of a run: its type, the queue it was sent to, and the host its input names. */
interface Dispatched {
  readonly type: string;
  readonly queue: string;
  readonly host?: string;
  readonly completed: boolean;
  /** Whether Temporal was told to give up when no worker takes it (a schedule-to-start timeout). */
  readonly bounded: boolean;
}

/** Every activity the workflow scheduled, read from its history (the payloads are plain JSON). */
async function dispatched(handle: WorkflowHandle<typeof gameDay>): Promise<Dispatched[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const completed = new Set(
    events.flatMap((e) => {
      const id = e.activityTaskCompletedEventAttributes?.scheduledEventId;
      return id === undefined || id === null ? [] : [String(id)];
    }),
  );
  return events.flatMap((event) => {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (!scheduled) return [];
    type Step = { step?: { target?: { name?: string } } };
    type Input = Step & { on?: string; groups?: Step[][]; steps?: Step[] };
    const input = (scheduled.input?.payloads ?? []).map(
      (payload): Input => JSON.parse(Buffer.from(payload.data ?? new Uint8Array()).toString('utf8')) as Input,
    );
    // The rollbacks of one zone go in one activity, and so do the targets of one fault: here each has one host.
    const host =
      input[0]?.step?.target?.name ??
      input[0]?.on ??
      input[0]?.groups?.[0]?.[0]?.step?.target?.name ??
      input[0]?.steps?.[0]?.step?.target?.name;
    return [
      {
        type: scheduled.activityType?.name ?? '',
        queue: scheduled.taskQueue?.name ?? '',
        ...(host === undefined ? {} : { host }),
        completed: completed.has(String(event.eventId)),
        bounded: Number(scheduled.scheduleToStartTimeout?.seconds ?? 0) > 0,
      },
    ];
  });
}

const eventType = proto.api.enums.v1.EventType;

describe('workers per network zone (real dev server, two workers on two queues, sshd in namespaces)', () => {
  let temporal: TestTemporal;
  let lab: TestHosts;
  let main: InProcessWorker;
  let zone: InProcessWorker;
  let near: TestHost;
  let far: TestHost;

  /** A worker whose SSH inventory holds only `host`: it can reach nothing else. */
  const reachingOnly = (host: TestHost) => sshOnlyWorkerConfig(lab, [host]);

  before(async () => {
    temporal = await startTestTemporal();
    lab = await startTestHosts(2);
    [near, far] = lab.hosts as [TestHost, TestHost];
    main = await startInProcessWorker(temporal, uniqueTaskQueue('main'), reachingOnly(near));
    zone = await startInProcessWorker(temporal, uniqueTaskQueue('zone-b'), reachingOnly(far));
  });
  after(async () => {
    await zone?.stop();
    await main?.stop();
    await lab?.stop();
    await temporal?.stop();
  });

  const qdisc = async (host: TestHost) =>
    (await host.inside(['tc', '-j', 'qdisc', 'show', 'dev', 'eth0'])).stdout;

  /** A bandwidth limit on each host, the second group reached `via` the zone's queue (when given). */
  function twoZonePlan(name: string, via: string | undefined, extra: PlanOverrides = {}): PlanOverrides {
    const limit = (fault: string, target: string) => ({
      name: fault,
      kind: 'network-bandwidth',
      target,
      params: { interface: 'eth0', rate: '1mbit' },
    });
    return gameDayPlan({
      metadata: { name, owner: 'tests' },
      targets: {
        near: { ssh: { hosts: [near.name] } },
        far: { ssh: { hosts: [far.name] }, ...(via === undefined ? {} : { via }) },
      },
      checks: [
        {
          name: 'near-load',
          when: ['before', 'after'],
          on: near.name,
          command: { argv: ['cat', '/proc/loadavg'], value: { pattern: '^(\\d+\\.\\d+)', max: 1000 } },
        },
        {
          name: 'far-load',
          when: ['before', 'after'],
          on: far.name,
          command: { argv: ['cat', '/proc/loadavg'], value: { pattern: '^(\\d+\\.\\d+)', max: 1000 } },
        },
      ],
      faults: [limit('limit-near', 'near'), limit('limit-far', 'far')],
      observation: { window: '2s', sampleInterval: '500ms' },
      ...extra,
    });
  }

  it("each host gets its fault from its own zone's worker, both are rolled back there, the qdiscs as they were", async () => {
    const [nearBefore, farBefore] = [await qdisc(near), await qdisc(far)];
    const handle = await startPlan(temporal, twoZonePlan('zones-two', zone.taskQueue), main.taskQueue);
    await waitForPhase(handle, 'observe');
    assert.match(await qdisc(near), /"kind":"tbf"/, 'host-1 limited');
    assert.match(await qdisc(far), /"kind":"tbf"/, 'host-2 limited');
    const report = await handle.result();
    assert.equal(report.outcome, 'passed', report.reason);
    assert.deepEqual(
      report.faults.map((f) => [f.target, f.status, f.taskQueue]),
      [
        [near.name, 'rolled-back', undefined],
        [far.name, 'rolled-back', zone.taskQueue],
      ],
    );
    assert.equal(await qdisc(near), nearBefore, 'host-1 as it was');
    assert.equal(await qdisc(far), farBefore, 'host-2 as it was');
    assert.ok(
      report.timeline.some(
        (entry) =>
          entry.message.startsWith('rolled back:') &&
          entry.message.endsWith(`[task queue ${zone.taskQueue}]`),
      ),
      'the timeline says where the rollback ran',
    );
    assert.match(renderReport(report), new RegExp(`\\| ${far.name} \\(via ${zone.taskQueue}\\) \\|`));
    assert.match(renderHtmlReport(report), new RegExp(`<td>${far.name} \\(via ${zone.taskQueue}\\)</td>`));

    const activities = await dispatched(handle);
    const queueOf = (type: string, host?: string) =>
      activities.filter((a) => a.type === type && a.host === host).map((a) => a.queue);
    for (const type of ['prepareFaultOnTargets', 'injectFaultOnTargets', 'rollBackFaultsInOrder']) {
      assert.deepEqual(queueOf(type, near.name), [main.taskQueue], `${type} on host-1`);
      assert.deepEqual(queueOf(type, far.name), [zone.taskQueue], `${type} on host-2`);
    }
    assert.deepEqual(queueOf('resolveZoneGroups'), [zone.taskQueue]);
    assert.deepEqual(queueOf('resolvePlan'), [main.taskQueue]);
    // A lease keeper per zone, the checks on each host by its own zone's worker.
    assert.deepEqual(queueOf('keepLeases').sort(), [main.taskQueue, zone.taskQueue].sort());
    assert.deepEqual(
      activities.filter((a) => a.type === 'runCheck').map((a) => [a.host, a.queue]),
      [
        [near.name, main.taskQueue],
        [far.name, zone.taskQueue],
      ],
    );
    assert.deepEqual(queueOf('awaitRecovery').sort(), [main.taskQueue, zone.taskQueue].sort());
    const notKeepers = activities.filter((a) => a.type !== 'keepLeases'); // cancelled at the end
    assert.deepEqual(
      notKeepers.filter((a) => !a.completed).map((a) => a.type),
      [],
      'every other activity completed',
    );
    // Nothing else of the run left the main queue: the workflow's own tasks stay there.
    const events = (await handle.fetchHistory()).events ?? [];
    const workflowQueues = events
      .filter((e) => e.eventType === eventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED)
      .map((e) => e.workflowTaskScheduledEventAttributes?.taskQueue?.name);
    assert.ok(!workflowQueues.includes(zone.taskQueue), 'no workflow task on the zone queue');
  });

  it('the same plan without via: the main worker cannot reach host-2 and refuses it (the zone worker is needed)', async () => {
    const handle = await startPlan(temporal, twoZonePlan('zones-none', undefined), main.taskQueue);
    const report = await handle.result();
    assert.equal(report.outcome, 'not-started');
    assert.match(report.reason ?? '', /names host-2, not in this worker's SSH inventory \(known: host-1\)/);
    assert.deepEqual(report.faults, []);
  });

  it('a zone no worker polls: not-started within the bound, one line naming the queue, nothing injected', async () => {
    const [nearBefore, farBefore] = [await qdisc(near), await qdisc(far)];
    const nobody = uniqueTaskQueue('nobody-polls');
    const started = Date.now();
    const handle = await startPlan(
      temporal,
      twoZonePlan('zones-nobody', nobody, { zoneWorkers: { startWithin: '3s' } }),
      main.taskQueue,
    );
    const report = await handle.result();
    const took = Date.now() - started;
    assert.equal(report.outcome, 'not-started', report.reason);
    assert.equal(
      report.reason,
      `no worker of task queue ${nobody} took the resolve of target group(s) far within 3s: start one where ` +
        `those hosts can be reached (gameday worker --task-queue ${nobody}); nothing was injected`,
    );
    assert.ok(took >= 3000 && took < 20_000, `ended after the bound, not much later (${took} ms)`);
    assert.deepEqual(report.faults, []);
    assert.equal(await qdisc(near), nearBefore);
    assert.equal(await qdisc(far), farBefore);
    const activities = await dispatched(handle);
    assert.deepEqual(
      activities.map((a) => [a.type, a.queue]),
      [['resolveZoneGroups', nobody]],
      'only the zone resolve was tried',
    );
  });

  it("a zone whose worker is gone by the inject: that step fails cleanly naming the queue, the other host's fault rolled back", async () => {
    // A worker of its own for this zone, stopped while the preflight check on host-1 still runs.
    const leaving = await startInProcessWorker(temporal, uniqueTaskQueue('zone-c'), reachingOnly(far));
    const [nearBefore, farBefore] = [await qdisc(near), await qdisc(far)];
    const plan = twoZonePlan('zones-gone', leaving.taskQueue, {
      zoneWorkers: { startWithin: '3s' },
      checks: [
        { name: 'slow-preflight', when: ['before'], on: near.name, command: { argv: ['sleep', '3'] } },
      ],
    });
    const handle = await startPlan(temporal, plan, main.taskQueue);
    await waitForPhase(handle, 'preflight');
    await leaving.stop();
    const report = await handle.result();
    assert.equal(report.outcome, 'aborted', report.reason);
    assert.equal(
      report.reason,
      `no worker of task queue ${leaving.taskQueue} took the prepare of limit-far@${far.name} within 3s: ` +
        `start one where those hosts can be reached (gameday worker --task-queue ${leaving.taskQueue})`,
    );
    assert.deepEqual(
      report.faults.map((f) => [f.target, f.status]),
      [
        [near.name, 'rolled-back'],
        [far.name, 'inject-failed'],
      ],
    );
    assert.equal(await qdisc(near), nearBefore, 'host-1 rolled back');
    assert.equal(await qdisc(far), farBefore, 'nothing was injected on host-2');
    assert.ok(
      report.timeline.some((entry) =>
        entry.message.startsWith(
          `no worker of task queue ${leaving.taskQueue} took the dead-man lease keeper within 3s`,
        ),
      ),
      "the zone's lease keeper was not taken either, said in the timeline",
    );
    const activities = await dispatched(handle);
    assert.deepEqual(
      activities.filter((a) => a.host === far.name).map((a) => [a.type, a.completed]),
      [['prepareFaultOnTargets', false]],
      'host-2 only had its prepare scheduled, never taken',
    );
  });

  it('a zone worker killed mid-fault: its rollback waits without bound (rollback-stuck) and is done by the next worker there', async () => {
    const queue = uniqueTaskQueue('zone-d');
    const configFile = join(lab.dir, 'zone-d.json');
    writeFileSync(configFile, JSON.stringify({ ...reachingOnly(far), logLevel: 'warn' }));
    const crashing = await spawnWorkerProcess(temporal, queue, configFile);
    const farBefore = await qdisc(far);
    const plan = twoZonePlan('zones-stuck', queue, {
      zoneWorkers: { startWithin: '2s' },
      checks: [],
      observation: { window: '4s', sampleInterval: '1s' },
      deadManSwitch: { lease: '10m' }, // the host must not heal itself while the test waits
    });
    const handle = await startPlan(temporal, plan, main.taskQueue);
    let next: InProcessWorker | undefined;
    try {
      await waitForPhase(handle, 'observe');
      await crashing.kill('SIGKILL');
      const stuck = await waitForPhase(handle, 'rollback-stuck', 60_000);
      const farFault = stuck.faults.find((fault) => fault.target === far.name);
      assert.equal(farFault?.status, 'rollback-stuck');
      assert.equal(
        farFault?.error,
        `no worker of task queue ${queue} took the rollback of limit-far@${far.name} within 2s: start one ` +
          `where those hosts can be reached (gameday worker --task-queue ${queue})`,
      );
      assert.equal(stuck.faults.find((fault) => fault.target === near.name)?.status, 'rolled-back');
      assert.match(await qdisc(far), /"kind":"tbf"/, 'the limit on host-2 is still in place');
      await new Promise((resolve) => setTimeout(resolve, 3000)); // longer than the bound: still waiting
      assert.equal((await handle.describe()).status.name, 'RUNNING');
      next = await startInProcessWorker(temporal, queue, reachingOnly(far));
      const report = await handle.result();
      assert.equal(report.faults.find((fault) => fault.target === far.name)?.status, 'rolled-back');
      assert.equal(await qdisc(far), farBefore, 'host-2 as it was');
      const rollbacks = (await dispatched(handle)).filter(
        (a) => ['rollBackFaultsInOrder', 'rollbackFault'].includes(a.type) && a.host === far.name,
      );
      assert.deepEqual(
        rollbacks.map((a) => [a.type, a.queue, a.bounded, a.completed]),
        [
          ['rollBackFaultsInOrder', queue, true, false],
          ['rollbackFault', queue, false, true],
        ],
        'the first round bounded, the retry waiting for as long as it took',
      );
    } finally {
      await crashing.kill('SIGKILL');
      await next?.stop();
    }
  });
});
