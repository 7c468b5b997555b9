import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gameDayPlan } from './support/plans';
import {
  type InProcessWorker,
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  type TestTemporal,
  waitForPhase,
} from './support/temporal';
import { waitFor } from './support/wait';
import { sshOnlyWorkerConfig, startTestHosts, type TestHost, type TestHosts } from './support/hosts';
import { demoServiceScript } from '../client/demoService';

/** The state letter of a process on a test host, read inside its namespace (not over SSH). */
async function stateOn(host: TestHost, pid: number): Promise<string | undefined> {
  const { stdout, code } = await host.inside(['cat', `/proc/${pid}/stat`]);
  return code === 0 ? stdout.slice(stdout.lastIndexOf(')') + 2).split(' ')[0] : undefined;
}

describe('a game day on SSH hosts (real sshd in network namespaces, real dev server)', () => {
  let temporal: TestTemporal;
  let lab: TestHosts;
  let worker: InProcessWorker;

  before(async () => {
    temporal = await startTestTemporal();
    lab = await startTestHosts(2);
    worker = await startInProcessWorker(temporal, undefined, sshOnlyWorkerConfig(lab));
  });
  after(async () => {
    await worker?.stop();
    await lab?.stop();
    await temporal?.stop();
  });

  /** A long-running process on every host, with a pidfile at the same path (each host sees /tmp shared). */
  async function sleepers(): Promise<{ pids: number[]; pidfileFor: (i: number) => string }> {
    const pids: number[] = [];
    for (const [i, host] of lab.hosts.entries()) {
      const { stdout } = await host.inside(['sh', '-c', 'sleep 300 >/dev/null 2>&1 & echo $!']);
      const pid = Number.parseInt(stdout, 10);
      writeFileSync(join(lab.dir, `sleeper-${i}.pid`), `${pid}\n`);
      pids.push(pid);
    }
    return { pids, pidfileFor: (i) => join(lab.dir, `sleeper-${i}.pid`) };
  }

  it('pauses a process on each selected host over SSH and resumes it', async () => {
    const { pids, pidfileFor } = await sleepers();
    const hosts = lab.hosts as [TestHost, TestHost];
    const plan = gameDayPlan({
      metadata: { name: 'ssh-pause', owner: 'tests' },
      targets: { first: { ssh: { hosts: ['host-1'] } }, second: { ssh: { hosts: ['host-2'] } } },
      faults: [
        { name: 'pause-1', kind: 'process-pause', target: 'first', params: { pidfile: pidfileFor(0) } },
        { name: 'pause-2', kind: 'process-pause', target: 'second', params: { pidfile: pidfileFor(1) } },
      ],
      observation: { window: '2s', sampleInterval: '1s' },
    });
    const handle = await startPlan(temporal, plan, worker.taskQueue);
    const observing = await waitForPhase(handle, 'observe');
    assert.deepEqual(observing.targets, ['host-1', 'host-2']);
    assert.equal(await stateOn(hosts[0], pids[0] as number), 'T');
    assert.equal(await stateOn(hosts[1], pids[1] as number), 'T');
    const report = await handle.result();
    assert.equal(report.outcome, 'passed', report.reason);
    assert.deepEqual(
      report.faults.map((f) => [f.inject, f.status]),
      [
        [`pause pidfile ${pidfileFor(0)} on host-1 (SIGSTOP)`, 'rolled-back'],
        [`pause pidfile ${pidfileFor(1)} on host-2 (SIGSTOP)`, 'rolled-back'],
      ],
    );
    assert.notEqual(await stateOn(hosts[0], pids[0] as number), 'T');
    assert.notEqual(await stateOn(hosts[1], pids[1] as number), 'T');
    const history = JSON.stringify((await handle.fetchHistory()).events);
    assert.ok(
      !history.includes('PRIVATE KEY') && !history.includes(lab.privateKey.toString('base64').slice(0, 40)),
    );
    for (const [i, host] of hosts.entries()) await host.inside(['kill', String(pids[i])]);
  });

  it('network-delay on a kernel without netem: a clear, non-retried error, aborted, nothing left', async () => {
    const host = lab.hosts[0] as TestHost;
    const config = await host.inside(['zgrep', 'CONFIG_NET_SCH_NETEM', '/proc/config.gz']);
    const before = (await host.inside(['tc', '-j', 'qdisc', 'show', 'dev', 'eth0'])).stdout;
    const plan = gameDayPlan({
      metadata: { name: 'ssh-delay', owner: 'tests' },
      targets: { first: { ssh: { hosts: ['host-1'] } } },
      faults: [
        {
          name: 'delay',
          kind: 'network-delay',
          target: 'first',
          params: { interface: 'eth0', delay: '100ms' },
        },
      ],
    });
    const handle = await startPlan(temporal, plan, worker.taskQueue);
    const report = await handle.result();
    if (config.stdout.includes('is not set')) {
      assert.equal(report.outcome, 'aborted');
      assert.match(
        report.reason ?? '',
        /the kernel of host-1 has no netem qdisc \(# CONFIG_NET_SCH_NETEM is not set\): network-delay cannot run there/,
      );
      assert.equal(report.faults[0]?.status, 'inject-failed');
      const events = (await handle.fetchHistory()).events ?? [];
      const failed = events.filter((e) => e.activityTaskFailedEventAttributes);
      assert.equal(failed.length, 1, 'failed once, not retried');
      assert.equal(events.filter((e) => e.activityTaskStartedEventAttributes?.attempt === 2).length, 0);
    } else {
      assert.equal(report.outcome, 'passed', report.reason); // a kernel with netem: applied and removed
    }
    assert.equal(
      (await host.inside(['tc', '-j', 'qdisc', 'show', 'dev', 'eth0'])).stdout,
      before,
      'nothing left',
    );
  });

  it('checks run on hosts: host-2 loses host-1 during a partition and has it back after', async () => {
    const [first, second] = lab.hosts as [TestHost, TestHost];
    const reach = { tcp: { host: first.address, port: 22, timeout: '500ms' } };
    const plan = gameDayPlan({
      metadata: { name: 'ssh-checks', owner: 'tests' },
      targets: { first: { ssh: { hosts: [first.name] } } },
      checks: [
        { name: 'reaches-first', when: ['before', 'after'], on: second.name, ...reach },
        { name: 'cut-from-first', when: ['during'], expect: 'fail', on: second.name, ...reach },
        {
          name: 'load-ok',
          when: ['before', 'during', 'after'],
          on: second.name,
          command: { argv: ['cat', '/proc/loadavg'], value: { pattern: '^(\\d+\\.\\d+)', max: 1000 } },
        },
      ],
      faults: [
        {
          name: 'isolate',
          kind: 'network-partition',
          target: 'first',
          params: { peers: [second.address], action: 'reject' },
        },
      ],
      observation: { window: '2s', sampleInterval: '500ms' },
    });
    const handle = await startPlan(temporal, plan, worker.taskQueue);
    const report = await handle.result();
    assert.equal(report.outcome, 'passed', report.reason);
    const during = report.checks.during.find((summary) => summary.name === 'cut-from-first');
    assert.ok(during && during.samples >= 2 && during.held === during.samples, JSON.stringify(during));
    assert.equal(typeof report.lastChecks['load-ok']?.value, 'number');
    assert.match(JSON.stringify(report.timeline), /injected: cut host-1 off from/);
  });

  it('one fault on two hosts: their steps run together, and a failure on one still rolls back the other', async () => {
    const [first] = lab.hosts as [TestHost, TestHost];
    // Only host-1 has this interface: the fault's prepare fails on host-2.
    const added = await first.inside(['ip', 'link', 'add', 'gdx0', 'type', 'veth', 'peer', 'name', 'gdx1']);
    assert.equal(added.code, 0, 'a veth pair inside host-1');
    await first.inside(['ip', 'link', 'set', 'gdx1', 'up']);
    await first.inside(['ip', 'link', 'set', 'gdx0', 'up']); // an interface that is up has a root qdisc
    try {
      const plan = gameDayPlan({
        metadata: { name: 'ssh-two-targets', owner: 'tests' },
        targets: { both: { ssh: { hosts: ['host-2', 'host-1'] } } },
        faults: [
          {
            name: 'limit',
            kind: 'network-bandwidth',
            target: 'both',
            params: { interface: 'gdx0', rate: '1mbit' },
          },
        ],
      });
      const handle = await startPlan(temporal, plan, worker.taskQueue);
      const report = await handle.result();
      assert.equal(report.outcome, 'aborted');
      assert.match(report.reason ?? '', /interface gdx0 does not exist on host-2/);
      const byTarget = new Map(report.faults.map((fault) => [fault.target, fault]));
      assert.equal(byTarget.get('host-2')?.status, 'inject-failed');
      // Injected beside the failing target (its prepare had already been recorded), then rolled back.
      assert.equal(byTarget.get('host-1')?.status, 'rolled-back');
      assert.ok(byTarget.get('host-1')?.injectedAt);
      const qdisc = await first.inside(['tc', '-j', 'qdisc', 'show', 'dev', 'gdx0']);
      assert.doesNotMatch(qdisc.stdout, /tbf/, 'nothing left');
      const events = (await handle.fetchHistory()).events ?? [];
      const scheduledBy = (type: string) =>
        events
          .map((e) => e.activityTaskScheduledEventAttributes)
          .filter((a) => a?.activityType?.name === type)
          .map((a) => String(a?.workflowTaskCompletedEventId));
      // Both targets prepared by one activity; host-2's failure handed to its own retried prepare.
      assert.equal(scheduledBy('prepareFaultOnTargets').length, 1);
      assert.equal(scheduledBy('injectFaultOnTargets').length, 1, 'host-1 injected by one activity');
      assert.equal(scheduledBy('prepareFault').length, 1, "host-2's prepare retried on its own");
      assert.equal(
        scheduledBy('rollBackFaultsInOrder').length,
        1,
        'both targets rolled back by one activity',
      );
      assert.equal(scheduledBy('rollbackFault').length, 0);
    } finally {
      await first.inside(['ip', 'link', 'del', 'gdx0']);
    }
  });

  /** The demo service started inside a host's namespace, writing to a log of its own, as an operator would. */
  async function serviceOn(host: TestHost, name: string) {
    const pidfile = join(lab.dir, `${name}.pid`);
    const log = join(lab.dir, `${name}.log`);
    const command = `${process.execPath} ${demoServiceScript} --port 18181 --pidfile ${pidfile}`;
    await host.inside(['sh', '-c', `cd ${lab.dir} && ${command} >>${log} 2>&1 &`]);
    const pid = await waitFor(`${name} on ${host.name}`, () => {
      const text = existsSync(pidfile) ? readFileSync(pidfile, 'utf8') : '';
      return /^\d+\n$/.test(text) ? Number.parseInt(text, 10) : undefined;
    });
    return { pidfile, log, pid };
  }

  it('process-kill over SSH: killed, restarted from its recorded command line into its own log, nothing left', async () => {
    const host = lab.hosts[0] as TestHost;
    const service = await serviceOn(host, 'kill-service');
    const answers = { host: '127.0.0.1', port: 18181, timeout: '500ms' };
    const plan = gameDayPlan({
      metadata: { name: 'ssh-kill', owner: 'tests' },
      targets: { first: { ssh: { hosts: ['host-1'] } } },
      checks: [
        { name: 'up', when: ['before', 'after'], on: 'host-1', tcp: answers },
        { name: 'down', when: ['during'], expect: 'fail', on: 'host-1', tcp: answers },
      ],
      faults: [
        {
          name: 'kill',
          kind: 'process-kill',
          target: 'first',
          params: { pidfile: service.pidfile, ready: { tcpPort: 18181, timeout: '10s' } },
        },
      ],
      observation: { window: '2s', sampleInterval: '500ms' },
    });
    const handle = await startPlan(temporal, plan, worker.taskQueue);
    const { tag } = await waitForPhase(handle, 'observe');
    const report = await handle.result();
    assert.equal(report.outcome, 'passed', report.reason);
    const restarted = Number.parseInt(readFileSync(service.pidfile, 'utf8'), 10);
    assert.notEqual(restarted, service.pid, 'a new process');
    assert.equal(await stateOn(host, service.pid), undefined, 'the killed one is gone');
    const link = async (name: string) =>
      (await host.inside(['readlink', `/proc/${restarted}/${name}`])).stdout.trim();
    assert.equal(await link('cwd'), lab.dir, 'restarted in its recorded directory');
    assert.equal(await link('fd/1'), service.log, 'writing to the log it wrote to before');
    assert.equal(await link('fd/2'), service.log);
    const left = (await host.inside(['sh', '-c', `ls -d /tmp/.gameday-${tag}-* 2>/dev/null`])).stdout;
    assert.equal(left, '', 'no tagged file outlives the game day');
    await host.inside(['kill', String(restarted)]);
  });

  it('process-kill refuses, before it kills anything, a process whose command line cannot be sent back', async () => {
    const host = lab.hosts[0] as TestHost;
    const pidfile = join(lab.dir, 'odd.pid');
    const { stdout } = await host.inside([
      'sh',
      '-c',
      "sh -c 'sleep 300' 'odd{argument}' >/dev/null 2>&1 & echo $!",
    ]);
    const pid = Number.parseInt(stdout, 10);
    writeFileSync(pidfile, `${pid}\n`);
    const plan = gameDayPlan({
      metadata: { name: 'ssh-kill-odd', owner: 'tests' },
      targets: { first: { ssh: { hosts: ['host-1'] } } },
      faults: [{ name: 'kill', kind: 'process-kill', target: 'first', params: { pidfile } }],
    });
    const report = await (await startPlan(temporal, plan, worker.taskQueue)).result();
    assert.equal(report.outcome, 'aborted');
    assert.match(
      report.reason ?? '',
      /pid \d+ on host-1 was started with "odd\{argument\}", which gameday cannot send to host-1 to restart it; give restart\.argv/,
    );
    assert.equal(report.faults[0]?.status, 'inject-failed', 'refused at prepare: nothing to roll back');
    assert.notEqual(await stateOn(host, pid), undefined, 'nothing was killed');
    await host.inside(['kill', String(pid)]);
  });

  it('sshd, and the shell running the lookup, are never selected over SSH', async () => {
    // `gameday-processes` is on the command lines of the lookup's own `timeout` and shell.
    for (const pattern of ['sshd', 'gameday-processes']) {
      const plan = gameDayPlan({
        metadata: { name: 'ssh-pause-untouchable', owner: 'tests' },
        targets: { first: { ssh: { hosts: ['host-1'] } } },
        faults: [
          { name: 'pause', kind: 'process-pause', target: 'first', params: { pattern, maxMatches: 100 } },
        ],
      });
      const report = await (await startPlan(temporal, plan, worker.taskQueue)).result();
      assert.equal(report.outcome, 'aborted', pattern);
      assert.match(report.reason ?? '', /on host-1 names only pid [\d, …]+, which no fault may touch/);
    }
  });

  it('a check on a host outside the inventory is refused before anything runs', async () => {
    const plan = gameDayPlan({
      metadata: { name: 'ssh-check-refused', owner: 'tests' },
      targets: { first: { ssh: { hosts: ['host-1'] } } },
      checks: [{ name: 'rogue', when: ['before'], on: 'db-9', command: { argv: ['true'] } }],
      faults: [{ name: 'pause', kind: 'process-pause', target: 'first', params: { pidfile: '/tmp/x.pid' } }],
    });
    const report = await (await startPlan(temporal, plan, worker.taskQueue)).result();
    assert.equal(report.outcome, 'not-started');
    assert.match(report.reason ?? '', /check rogue runs on db-9, not in this worker's SSH inventory/);
  });

  it('a host outside the worker inventory is refused before anything runs: not-started, said once', async () => {
    const plan = gameDayPlan({
      metadata: { name: 'ssh-refused', owner: 'tests' },
      targets: { rogue: { ssh: { hosts: ['host-1', 'db-9'] } } },
      faults: [{ name: 'pause', kind: 'process-pause', target: 'rogue', params: { pidfile: '/tmp/x.pid' } }],
    });
    const report = await (await startPlan(temporal, plan, worker.taskQueue)).result();
    assert.equal(report.outcome, 'not-started');
    assert.match(
      report.reason ?? '',
      /names db-9, not in this worker's SSH inventory \(known: host-1, host-2\); add it to ssh\.hosts .*; nothing was injected$/,
    );
    assert.doesNotMatch(report.reason ?? '', /aborted/, 'nothing was injected, so nothing was aborted');
    assert.equal(report.faults.length, 0);
  });

  it('local targets are refused when the worker configuration disables them', async () => {
    const plan = gameDayPlan({
      faults: [{ name: 'pause', kind: 'process-pause', target: 'here', params: { pidfile: '/tmp/x.pid' } }],
    });
    const report = await (await startPlan(temporal, plan, worker.taskQueue)).result();
    assert.equal(report.outcome, 'not-started');
    assert.match(report.reason ?? '', /acts on the worker's own machine, which this worker does not allow/);
  });
});
