import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { armDeadMan } from '../activities/deadMan';
import { LocalExecutor } from '../activities/executors/local';
import { faultHash } from '../activities/faults/context';
import { fireAndRemoveDeadMan } from '../activities/janitor/hostFiles';
import { gameDayStartOptions } from '../client/gameDays';
import {
  abortUpdate,
  deadManSwitchFor,
  gameDayWorkflowType,
  type GameDayInput,
  type GameDayReport,
} from '../workflows/definitions';
import type { gameDay } from '../workflows/gameDay';
import type { janitor as janitorWorkflow } from '../workflows/janitor';
import type { JanitorReport } from '../workflows/janitorDefinitions';
import { sshOnlyWorkerConfig, startTestHosts, type TestHost, type TestHosts } from './support/hosts';
import { gameDayPlan, pausePlan, planFrom } from './support/plans';
import { healthy, processState, startTestService, type TestService } from './support/services';
import {
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  tagOf,
  waitForPhase,
  type InProcessWorker,
  type TestTemporal,
} from './support/temporal';
import { runCli, type CliResult } from './support/cli';
import { waitFor } from './support/wait';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhookReceiver';

/** A pause that stays in place for minutes, its dead-man switch too: only a rollback (or the janitor) ends it. */
const longPause = (service: TestService, name = 'test-janitor') =>
  pausePlan(service, {
    metadata: { name, owner: 'tests' },
    observation: { window: '10m', sampleInterval: '500ms' },
    deadManSwitch: { lease: '10m' },
  });

const filesOf = (tag: string): string[] =>
  readdirSync('/tmp').filter((file) => file.startsWith(`.gameday-${tag}-`));

describe('janitor against a real dev server and real local faults', () => {
  let temporal: TestTemporal;
  let worker: InProcessWorker;
  let receiver: WebhookReceiver;
  const services: TestService[] = [];
  /** Dead-man switches of runs this suite terminated or left running, removed at the end whatever failed. */
  const switchesLeft: string[] = [];

  const gameday = (...args: string[]): Promise<CliResult> =>
    runCli(['--address', temporal.server.address, '--task-queue', worker.taskQueue, ...args], {
      timeoutMs: 180_000,
    });

  const janitor = async (...args: string[]): Promise<{ code: number; report: JanitorReport }> => {
    const result = await gameday('janitor', '--json', ...args);
    assert.ok(result.code === 0 || result.code === 1, `janitor exited ${result.code}: ${result.stderr}`);
    return { code: result.code, report: JSON.parse(result.stdout) as JanitorReport };
  };

  const localGauge = async (): Promise<number> => {
    const text = await worker.deps.metrics.registry.getSingleMetricAsString('gameday_janitor_findings');
    return Number(/gameday_janitor_findings\{host="local"\} (\d+)/.exec(text)?.[1]);
  };

  const newService = async () => {
    const service = await startTestService();
    services.push(service);
    return service;
  };

  /** A game day of the pause, terminated while the fault is in place: no rollback runs. */
  const terminatedMidFault = async (service: TestService, name?: string) => {
    const handle = await startPlan(temporal, longPause(service, name), worker.taskQueue);
    await waitForPhase(handle, 'observe');
    const tag = await tagOf(handle);
    switchesLeft.push(deadManSwitchFor(tag, 0, 0).base);
    await handle.terminate('test: the orchestrator is gone, nothing rolls back');
    assert.equal((await handle.describe()).status.name, 'TERMINATED');
    await waitFor('visibility shows it terminated', async () => {
      const { count } = await temporal.client.workflow.count(
        `WorkflowId = '${handle.workflowId}' AND ExecutionStatus = 'Terminated'`,
      );
      return count === 1 || undefined;
    });
    return { handle, tag };
  };

  before(async () => {
    receiver = await startWebhookReceiver();
    process.env.GD_TEST_JANITOR_WEBHOOK = `${receiver.origin}/hooks/janitor`;
    temporal = await startTestTemporal();
    worker = await startInProcessWorker(temporal, undefined, {
      notifications: {
        webhooks: {
          oncall: { urlEnv: 'GD_TEST_JANITOR_WEBHOOK' },
          'game-days-only': { urlEnv: 'GD_TEST_JANITOR_WEBHOOK', on: ['not-passed'] },
        },
      },
    });
  });
  after(async () => {
    receiver?.close();
    for (const service of services) {
      const pid = service.currentPid();
      if (pid !== undefined && processState(pid) === 'T') process.kill(pid, 'SIGCONT');
      await service.stop();
    }
    await worker?.stop();
    await temporal?.stop();
    // A failed test leaves its switches armed: this machine's /tmp is shared, so they go (no-ops when gone).
    const exec = new LocalExecutor();
    for (const base of switchesLeft) await fireAndRemoveDeadMan(exec, base).catch(() => undefined);
  });

  it('a game day terminated mid-fault: listed with its run, removed by its rollback, the host as it was', async () => {
    const service = await newService();
    const pid = service.currentPid();
    const { handle, tag } = await terminatedMidFault(service);
    assert.equal(processState(pid), 'T', 'terminate skipped the rollback: the service is still paused');
    assert.ok(filesOf(tag).length > 0, 'its dead-man switch is still on the host');

    const dry = await janitor();
    assert.equal(dry.code, 1, 'leftovers found');
    const mine = dry.report.findings.filter((finding) => finding.tag === tag);
    assert.equal(mine.length, 1, JSON.stringify(dry.report.findings));
    const [finding] = mine;
    assert.equal(finding?.host, 'local');
    assert.equal(finding?.run?.workflowId, handle.workflowId);
    assert.equal(finding?.run?.status, 'terminated');
    assert.equal(finding?.removal.kind, 'rollback');
    assert.match(finding?.what ?? '', /^pause pidfile .* \(SIGSTOP\): still in place \(pid \d+: T\)/);
    assert.ok(finding?.since && Date.parse(finding.since) <= Date.now());
    assert.equal(processState(pid), 'T', 'a dry run changes nothing');
    assert.ok(filesOf(tag).length > 0, 'a dry run changes nothing');
    const localBefore = dry.report.findings.filter((f) => f.host === 'local').length;
    assert.equal(await localGauge(), localBefore, 'the gauge counts what the sweep found on the host');

    const text = await gameday('janitor', '--tag', tag);
    assert.equal(text.code, 1);
    assert.match(text.stdout, new RegExp(`local  tag ${tag} .* run ${handle.workflowId} \\(terminated\\)`));
    assert.match(text.stdout, /removed by its fault kind's rollback/);

    // Scoped to this run's tag: whatever else this machine's /tmp holds is not this test's to remove.
    const applied = await janitor('--apply', '--tag', tag);
    assert.equal(applied.code, 0, JSON.stringify(applied.report));
    assert.deepEqual(
      applied.report.removed.map((removal) => removal.tag),
      [tag],
    );
    assert.deepEqual(applied.report.failed, []);
    assert.deepEqual(applied.report.remaining, []);
    assert.equal(service.currentPid(), pid, 'the same process, resumed');
    assert.notEqual(processState(pid), 'T');
    assert.ok(await healthy(service.port), 'the service answers again');
    await waitFor('the watcher exits and no file of the run is left', () =>
      filesOf(tag).length === 0 ? true : undefined,
    );
    await waitFor('each sweep ran as a workflow', async () => {
      const { count } = await temporal.client.workflow.count(`WorkflowType = 'janitor'`);
      return count >= 3 || undefined;
    });

    const again = await janitor();
    assert.deepEqual(
      again.report.findings.filter((f) => f.tag === tag),
      [],
      'a second janitor finds nothing of the run',
    );
    const localAfter = again.report.findings.filter((f) => f.host === 'local').length;
    assert.equal(localAfter, localBefore - 1);
    assert.equal(await localGauge(), localAfter, 'the gauge follows');
  });

  it('never touches the faults of a game day that is still running', async () => {
    const service = await newService();
    const handle = await startPlan(temporal, longPause(service), worker.taskQueue);
    await waitForPhase(handle, 'observe');
    const tag = await tagOf(handle);
    // Asked by name to remove it, the janitor still leaves a running game day's faults alone.
    const applied = await janitor('--apply', '--tag', tag);
    assert.deepEqual(
      applied.report.findings.filter((finding) => finding.tag === tag),
      [],
      'an open run is not a leftover',
    );
    assert.equal(processState(service.currentPid()), 'T', 'its fault is still in place');
    assert.ok(filesOf(tag).length > 0, 'its dead-man switch is still armed');
    switchesLeft.push(deadManSwitchFor(tag, 0, 0).base);
    await handle.executeUpdate(abortUpdate, { args: [{ reason: 'test over', by: 'tests' }] });
    const report: GameDayReport = await handle.result();
    assert.equal(report.outcome, 'aborted');
    assert.notEqual(processState(service.currentPid()), 'T');
  });

  it('a dead-man switch no run explains is fired as its watcher would, then removed', async () => {
    const exec = new LocalExecutor();
    const tag = randomBytes(4).toString('hex');
    const marker = `/tmp/.janitor-test-${process.pid}-reverted`;
    const sw = deadManSwitchFor(tag, 0, 3_600_000);
    switchesLeft.push(sw.base);
    await armDeadMan(exec, sw, [['touch', marker]]);
    // Its lease was last renewed 10 minutes ago: no run renews it any more (the watcher waits an hour).
    const old = new Date(Date.now() - 600_000);
    utimesSync(`${sw.base}.lease`, old, old);
    // Its watcher is gone too (a reboot, an OOM kill): nothing would ever fire it.
    const watcher = Number(readFileSync(`${sw.base}.pid`, 'utf8'));
    process.kill(watcher, 'SIGKILL');
    await waitFor('the watcher is gone', () =>
      ['Z', undefined].includes(processState(watcher)) ? true : undefined,
    );
    try {
      const dry = await janitor('--targets', 'local', '--tag', tag);
      const [finding] = dry.report.findings.filter((f) => f.tag === tag);
      assert.equal(finding?.removal.kind, 'host-revert', JSON.stringify(dry.report));
      assert.equal(finding?.run, undefined, 'no run known');
      assert.equal(existsSync(marker), false);

      const applied = await janitor('--apply', '--targets', 'local', '--tag', tag);
      assert.equal(applied.code, 0, JSON.stringify(applied.report));
      assert.match(
        applied.report.removed.find((r) => r.tag === tag)?.detail ?? '',
        /reverted by the janitor/,
      );
      assert.equal(existsSync(marker), true, "the switch's recorded revert ran");
      assert.deepEqual(filesOf(tag), []);
    } finally {
      exec.run(['rm', '-f', marker]).catch(() => undefined);
    }
  });

  it('a nightly janitor schedule: apply creates it, trigger sweeps and tells the webhook, describe shows what it found', async () => {
    const service = await newService();
    const { tag } = await terminatedMidFault(service, 'test-janitor-schedule');
    const dir = mkdtempSync(join(temporal.dir, 'janitor-schedule-'));
    writeFileSync(
      join(dir, 'nightly-janitor.yaml'),
      stringify({
        apiVersion: 'gameday.dev/v1alpha1',
        kind: 'Schedule',
        metadata: { name: 'test-nightly-janitor', owner: 'tests' },
        janitor: { notify: ['oncall', 'game-days-only'] },
        cron: ['30 2 * * *'],
      }),
    );
    const created = await gameday('schedule', 'apply', dir);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^\+ schedule test-nightly-janitor created$/m);
    assert.match(
      created.stdout,
      /runs: janitor sweep \(dry run\) of every host of the worker, notify oncall/,
    );
    const again = await gameday('schedule', 'apply', dir);
    assert.match(again.stdout, /^= schedule test-nightly-janitor unchanged$/m, again.stdout);

    receiver.received.length = 0;
    const triggered = await gameday('schedule', 'trigger', 'test-nightly-janitor', '--json');
    const { workflowId } = JSON.parse(triggered.stdout) as { workflowId: string | null };
    assert.match(workflowId ?? '', /^gameday-janitor-test-nightly-janitor-/);
    const report = await temporal.client.workflow
      .getHandle<typeof janitorWorkflow>(workflowId ?? '')
      .result();
    assert.equal(report.apply, false);
    assert.ok(report.findings.some((finding) => finding.tag === tag));
    assert.deepEqual(
      report.notes,
      ['notified oncall: janitor-findings'],
      'game-days-only takes no janitor event',
    );

    assert.equal(receiver.received.length, 1, JSON.stringify(receiver.received));
    const [message] = receiver.received;
    assert.equal(message?.path, '/hooks/janitor');
    assert.match(
      message?.body.text ?? '',
      new RegExp(
        `^gameday janitor: ${report.findings.length} leftover\\(s\\) of finished game days on .*local.*dry run: remove them with gameday janitor --apply — workflow ${workflowId}$`,
      ),
    );
    assert.equal(message?.body.gameday.event, 'janitor-findings');
    assert.equal(message?.body.gameday.found, report.findings.length);
    const items = message?.body.gameday.items as { tag: string; host: string }[];
    assert.ok(items.some((item) => item.tag === tag && item.host === 'local'));
    assert.equal(processState(service.currentPid()), 'T', 'a scheduled dry run changes nothing');

    const described = await waitFor('describe shows the sweep and what it found', async () => {
      const result = await gameday('schedule', 'describe', 'test-nightly-janitor');
      return result.stdout.includes(workflowId ?? '') && /\d+ leftover\(s\)/.test(result.stdout)
        ? result
        : undefined;
    });
    assert.match(
      described.stdout,
      /^schedule test-nightly-janitor: janitor sweep \(dry run\) of every host/m,
    );
    assert.match(described.stdout, new RegExp(`${report.findings.length} leftover\\(s\\)\\s+${workflowId}`));

    // Cleaned by name, a sweep told to notify finds nothing and tells nobody.
    assert.equal((await janitor('--apply', '--tag', tag)).code, 0);
    receiver.received.length = 0;
    const clean = await janitor('--tag', tag, '--notify', 'oncall');
    assert.equal(clean.code, 0);
    assert.equal(clean.report.notes, undefined);
    assert.equal(receiver.received.length, 0, 'nothing found, nothing sent');
    assert.equal((await gameday('schedule', 'delete', 'test-nightly-janitor')).code, 0);
  });

  it('a scheduled game day refuses to start while leftovers are on its targets', async () => {
    const service = await newService();
    const { tag } = await terminatedMidFault(service, 'test-janitor-gate');
    const { plan, digest } = planFrom({
      ...longPause(service, 'test-janitor-gate'),
      observation: { window: '1s', sampleInterval: '250ms' },
    });
    const scheduled = async (): Promise<GameDayReport> => {
      const input: GameDayInput = { plan, planDigest: digest, schedule: { id: 'nightly-janitor-test' } };
      return temporal.client.workflow.execute<typeof gameDay>(gameDayWorkflowType, {
        taskQueue: worker.taskQueue,
        workflowId: `gameday-test-janitor-gate-${Date.now()}`,
        args: [input],
        ...gameDayStartOptions(plan, digest, { by: 'schedule' }),
      });
    };
    const refused = await scheduled();
    assert.equal(refused.outcome, 'not-started');
    assert.match(refused.reason ?? '', new RegExp(`leftover on local of run tag ${tag} .*terminated`));
    assert.match(refused.reason ?? '', /gameday janitor --apply/);
    assert.deepEqual(refused.faults, [], 'nothing was injected');

    assert.equal((await janitor('--apply', '--tag', tag)).code, 0);
    assert.notEqual(processState(service.currentPid()), 'T');
    const next = await scheduled();
    assert.equal(next.outcome, 'passed', `once clean, a scheduled run starts: ${next.reason ?? ''}`);
  });
});

describe('janitor on an SSH host (real sshd in a network namespace, real tc)', () => {
  let temporal: TestTemporal;
  let lab: TestHosts;
  let worker: InProcessWorker;
  const switchesLeft: string[] = [];

  const sshOnly = () => sshOnlyWorkerConfig(lab);

  const janitorCli = (...args: string[]): Promise<CliResult> =>
    runCli(
      ['--address', temporal.server.address, '--task-queue', worker.taskQueue, 'janitor', '--json', ...args],
      {
        timeoutMs: 180_000,
      },
    );

  before(async () => {
    temporal = await startTestTemporal();
    lab = await startTestHosts(1);
    worker = await startInProcessWorker(temporal, undefined, sshOnly());
  });
  after(async () => {
    await worker?.stop();
    await lab?.stop();
    await temporal?.stop();
    const exec = new LocalExecutor(); // the namespace hosts share this machine's /tmp
    for (const base of switchesLeft) await fireAndRemoveDeadMan(exec, base).catch(() => undefined);
  });

  it('faults only their names explain (their Temporal gone, watchers lost): chains, the tc root and stress-ng are removed by their kinds', async () => {
    const host = lab.hosts[0] as TestHost;
    const inside = async (argv: string[]) => (await host.inside(argv)).stdout;
    const rules = () => inside(['iptables', '-S']);
    const qdisc = () => inside(['tc', '-j', 'qdisc', 'show', 'dev', 'eth0']);
    const stressOf = async (tag: string) =>
      (await inside(['pgrep', '-a', '-f', '^stress-ng --temp-path ']))
        .split('\n')
        .filter((line) => line.includes(`/.gameday-${tag}-stress-`));
    const [rulesBefore, qdiscBefore] = [await rules(), await qdisc()];
    const plan = gameDayPlan({
      metadata: { name: 'ssh-janitor-names', owner: 'tests' },
      targets: { one: { ssh: { hosts: [host.name] } } },
      faults: [
        { name: 'cut', kind: 'network-partition', target: 'one', params: { ports: [{ port: 9 }] } },
        {
          name: 'slow',
          kind: 'network-bandwidth',
          target: 'one',
          params: { interface: 'eth0', rate: '1mbit' },
        },
        {
          name: 'load',
          kind: 'stress',
          target: 'one',
          params: { cpu: { workers: 1, load: 5 }, duration: '15m' },
        },
      ],
      observation: { window: '10m', sampleInterval: '1s' },
      deadManSwitch: { lease: '10m' },
    });
    // The game day runs on another Temporal, which is then gone with its histories (a rebuilt cluster, or
    // another namespace sharing the hosts): nothing the janitor's Temporal knows explains what it left.
    const elsewhere = await startTestTemporal();
    const elsewhereWorker = await startInProcessWorker(elsewhere, undefined, sshOnly());
    let tag: string;
    try {
      const handle = await startPlan(elsewhere, plan, elsewhereWorker.taskQueue);
      await waitForPhase(handle, 'observe');
      tag = await tagOf(handle);
      for (const step of [0, 1, 2]) switchesLeft.push(deadManSwitchFor(tag, step, 0).base);
      await handle.terminate('test: no rollback');
    } finally {
      await elsewhereWorker.stop();
      await elsewhere.stop();
    }
    // Its watchers are gone too (killed, their files cleaned): only the faults' names on the host are left.
    const exec = new LocalExecutor();
    for (const file of filesOf(tag).filter((name) => name.endsWith('.pid') && name.includes('-deadman-'))) {
      const pid = Number.parseInt(readFileSync(join('/tmp', file), 'utf8'), 10);
      if (Number.isInteger(pid)) await exec.signal(pid, 'KILL');
    }
    await exec.run(['rm', '-f', '--', ...filesOf(tag).map((file) => join('/tmp', file))]);
    assert.match(await rules(), new RegExp(`-N GD-${tag}-`), 'the partition is still in place');
    assert.match(await qdisc(), /"handle":"7a6d:"/, 'the limit is still in place');
    assert.equal((await stressOf(tag)).length, 1, 'the stress is still running');

    const dry = await janitorCli('--targets', host.name);
    assert.equal(dry.code, 1, dry.stderr);
    const found = (JSON.parse(dry.stdout) as JanitorReport).findings.filter(
      (finding) => finding.host === host.name && finding.removal.kind === 'fault-revert',
    );
    const whats = found.map((finding) => `${finding.tag} ${finding.what}`).sort();
    assert.equal(found.length, 4, JSON.stringify(whats));
    assert.ok(
      found.every((finding) => finding.run === undefined),
      'no run known: its history is gone',
    );
    assert.match(whats.join('\n'), new RegExp(`^- root qdisc tbf 7a6d: on eth0: in place`, 'm'));
    assert.match(
      whats.join('\n'),
      new RegExp(`^${tag} iptables chain GD-${tag}-\\w+-I \\(fault cut, INPUT\\)`, 'm'),
    );
    assert.match(
      whats.join('\n'),
      new RegExp(`^${tag} iptables chain GD-${tag}-\\w+-O \\(fault cut, OUTPUT\\)`, 'm'),
    );
    assert.match(
      whats.join('\n'),
      new RegExp(`^${tag} stress-ng pid \\d+ \\(--timeout \\d+s --cpu 1 --cpu-load 5\\)`, 'm'),
    );

    const applied = await janitorCli('--apply', '--targets', host.name);
    const report = JSON.parse(applied.stdout) as JanitorReport;
    assert.equal(
      applied.code,
      0,
      JSON.stringify({ removed: report.removed, failed: report.failed, remaining: report.remaining }),
    );
    // The four found above, removed by their kinds; anything else on the shared /tmp (a switch a killed test
    // run left, which the janitor rightly fires and removes too) is not this test's.
    const planted = (removal: { tag: string; what: string }) =>
      found.some((finding) => finding.tag === removal.tag && finding.what === removal.what);
    assert.deepEqual(
      report.removed
        .filter((removal) => removal.host === host.name && planted(removal))
        .map((removal) => removal.detail)
        .sort(),
      [
        'deleted the root qdisc 7a6d: on eth0; now noqueue 0:',
        'removed the iptables chain of fault cut (INPUT) and its jump',
        'removed the iptables chain of fault cut (OUTPUT) and its jump',
        `stopped stress-ng in /tmp/.gameday-${tag}-stress-${faultHash('load')} and its workers`,
      ].sort(),
    );
    assert.equal(await rules(), rulesBefore, 'iptables as it was before the game day');
    assert.equal(await qdisc(), qdiscBefore, 'the root qdisc as it was before the game day');
    assert.deepEqual(await stressOf(tag), []);
  });

  it('a bandwidth limit terminated mid-fault is removed by its rollback over SSH: the qdisc as it was', async () => {
    const host = lab.hosts[0] as TestHost;
    const qdisc = async () => (await host.inside(['tc', '-j', 'qdisc', 'show', 'dev', 'eth0'])).stdout;
    const before = await qdisc();
    const plan = gameDayPlan({
      metadata: { name: 'ssh-janitor', owner: 'tests' },
      targets: { one: { ssh: { hosts: [host.name] } } },
      faults: [
        {
          name: 'slow',
          kind: 'network-bandwidth',
          target: 'one',
          params: { interface: 'eth0', rate: '1mbit' },
        },
      ],
      observation: { window: '10m', sampleInterval: '1s' },
      deadManSwitch: { lease: '10m' },
    });
    const handle = await startPlan(temporal, plan, worker.taskQueue);
    await waitForPhase(handle, 'observe');
    const tag = await tagOf(handle);
    switchesLeft.push(deadManSwitchFor(tag, 0, 0).base);
    await handle.terminate('test: no rollback');
    await waitFor('visibility shows it terminated', async () => {
      const { count } = await temporal.client.workflow.count(
        `WorkflowId = '${handle.workflowId}' AND ExecutionStatus = 'Terminated'`,
      );
      return count === 1 || undefined;
    });
    assert.match(await qdisc(), /"kind":"tbf"/, 'the limit is still in place');

    const dry = await janitorCli('--targets', host.name, '--tag', tag);
    assert.equal(dry.code, 1, dry.stderr);
    const [finding] = (JSON.parse(dry.stdout) as JanitorReport).findings;
    assert.equal(finding?.host, host.name);
    assert.equal(finding?.run?.status, 'terminated');
    assert.equal(finding?.removal.kind, 'rollback');

    const applied = await janitorCli('--apply', '--targets', host.name, '--tag', tag);
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    assert.equal(await qdisc(), before, 'the root qdisc is what it was before the game day');
    assert.deepEqual(filesOf(tag), []);
  });
});
