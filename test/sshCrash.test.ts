import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { gameDayPlan } from './support/plans';
import {
  spawnWorkerProcess,
  startPlan,
  startTestTemporal,
  type TestTemporal,
  uniqueTaskQueue,
  waitForPhase,
  type WorkerProcess,
} from './support/temporal';
import { sleep } from './support/wait';
import { sshOnlyWorkerConfig, startTestHosts, type TestHost, type TestHosts } from './support/hosts';

// Connects once and prints "open" or the error code.
const probe = `
const socket = require('net').connect({ host: process.argv[1], port: 22, timeout: 1000 }, () => {
  console.log('open'); socket.destroy();
});
socket.on('timeout', () => { console.log('timeout'); socket.destroy(); });
socket.on('error', (e) => console.log(e.code));`;

/** What a TCP connect from one host to another's sshd sees: "open", "ECONNREFUSED", "timeout"… */
async function connectFrom(from: TestHost, to: TestHost): Promise<string> {
  const { stdout } = await from.inside([process.execPath, '-e', probe, to.address]);
  return stdout.trim();
}

// The orchestrator dies (SIGKILL) while an iptables partition and a tbf limit are in place on real hosts over
// SSH; a new worker process, started from the same configuration, removes both.
describe('SIGKILL of the worker mid-fault on SSH hosts (real sshd in namespaces, worker processes)', () => {
  let temporal: TestTemporal;
  let lab: TestHosts;
  let configFile: string;
  const workers: WorkerProcess[] = [];

  before(async () => {
    temporal = await startTestTemporal();
    lab = await startTestHosts(2);
    configFile = join(lab.dir, 'worker.yaml');
    writeFileSync(configFile, stringify(sshOnlyWorkerConfig(lab)));
  });
  after(async () => {
    for (const worker of workers) await worker.kill('SIGKILL');
    await lab?.stop();
    await temporal?.stop();
  });

  it('a new worker rolls back the partition and the bandwidth limit the dead one left', async () => {
    const [first, second] = lab.hosts as [TestHost, TestHost];
    const taskQueue = uniqueTaskQueue('ssh-crash');
    workers.push(await spawnWorkerProcess(temporal, taskQueue, configFile));
    const plan = gameDayPlan({
      metadata: { name: 'ssh-crash', owner: 'tests' },
      targets: { first: { ssh: { hosts: [first.name] } }, second: { ssh: { hosts: [second.name] } } },
      faults: [
        {
          name: 'isolate',
          kind: 'network-partition',
          target: 'first',
          params: { peers: [second.address], action: 'reject' },
        },
        {
          name: 'slow',
          kind: 'network-bandwidth',
          target: 'second',
          params: { interface: 'eth0', rate: '1mbit' },
        },
      ],
      observation: { window: '6s', sampleInterval: '1s' },
      deadManSwitch: { lease: '2m' }, // long: the new worker, not the hosts, must do the cleaning here
    });
    assert.equal(await connectFrom(second, first), 'open');
    const handle = await startPlan(temporal, plan, taskQueue);
    await waitForPhase(handle, 'observe');
    await workers[0]?.kill('SIGKILL');
    assert.notEqual(await connectFrom(second, first), 'open', 'the partition outlives the dead worker');
    assert.match((await second.inside(['tc', 'qdisc', 'show', 'dev', 'eth0'])).stdout, /qdisc tbf 7a6d:/);

    await sleep(1000);
    workers.push(await spawnWorkerProcess(temporal, taskQueue, configFile));
    const report = await handle.result();
    assert.equal(report.outcome, 'passed', report.reason);
    assert.deepEqual(
      report.faults.map((fault) => fault.status),
      ['rolled-back', 'rolled-back'],
    );
    assert.ok(!JSON.stringify(report.timeline).includes('dead-man switch'), 'rolled back by the worker');
    assert.equal(await connectFrom(second, first), 'open', 'reconnected');
    assert.doesNotMatch((await second.inside(['tc', 'qdisc', 'show', 'dev', 'eth0'])).stdout, /7a6d:/);
    assert.doesNotMatch((await first.inside(['iptables', '-S'])).stdout, /GD-/);
    const left = await first.inside(['sh', '-c', `ls /tmp/.gameday-${report.tag}-* 2>/dev/null | wc -l`]);
    assert.equal(left.stdout.trim(), '0', 'the dead-man switches were disarmed and removed');
  });
});
