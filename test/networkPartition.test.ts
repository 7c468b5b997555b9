import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SshExecutor } from '../activities/executors/ssh';
import { FaultUserError, type FaultContext } from '../activities/faults/contract';
import { networkLossIptables } from '../activities/faults/networkLossIptables';
import { networkPartition } from '../activities/faults/networkPartition';
import { localFaultContext } from './support/faultContext';
import {
  measureBetween,
  sshExecutorFor,
  startTestHosts,
  type TestHost,
  type TestHosts,
} from './support/hosts';

type Reach = 'connected' | 'timed out' | 'refused';

/** A real TCP connection from one namespace host to another's sshd (port 22). */
async function reach(from: TestHost, to: TestHost): Promise<Reach> {
  const { code } = await from.inside(['timeout', '1', 'bash', '-c', `</dev/tcp/${to.address}/22`]);
  return code === 0 ? 'connected' : code === 124 ? 'timed out' : 'refused';
}

const udpReceiver = `
const socket = require('dgram').createSocket('udp4');
let received = 0;
socket.on('message', () => received++);
socket.bind(5301, process.argv[1], () => { console.log('ready'); setTimeout(() => { console.log(received); socket.close(); }, 3000); });`;

const udpSender = `
const socket = require('dgram').createSocket('udp4');
const payload = Buffer.alloc(64);
let sent = 0;
const tick = () => {
  for (let i = 0; i < 4 && sent < 2000; i++, sent++) socket.send(payload, 5301, process.argv[1]);
  if (sent < 2000) setTimeout(tick, 1); else setTimeout(() => socket.close(), 200);
};
tick();`;

/** How many of 2000 UDP datagrams from one namespace host reach the other. */
async function datagramsDelivered(from: TestHost, to: TestHost): Promise<number> {
  return Number(await measureBetween(from, to, udpReceiver, udpSender));
}

describe('iptables faults on real hosts (network namespaces, over SSH)', () => {
  let lab: TestHosts;
  let ssh: SshExecutor;
  let a: TestHost;
  let b: TestHost;
  let c: TestHost;
  const ctx = (fault: string): FaultContext =>
    localFaultContext('parttest', {
      exec: ssh,
      target: { group: 'brokers', kind: 'ssh', name: a.name },
      fault,
      protectedPids: [],
    });

  before(async () => {
    lab = await startTestHosts(3);
    [a, b, c] = lab.hosts as [TestHost, TestHost, TestHost];
    ssh = sshExecutorFor(lab, a);
  });
  after(async () => {
    await ssh?.close();
    await lab?.stop();
  });

  it('cuts a host off from one peer in both directions, and really heals', async () => {
    const p = networkPartition.params.parse({ peers: [b.address] });
    assert.equal(await reach(b, a), 'connected');
    assert.equal(await reach(a, b), 'connected');
    const saved = await networkPartition.prepare(ctx('cut-b'), p);
    await networkPartition.inject(ctx('cut-b'), p, saved);
    await networkPartition.inject(ctx('cut-b'), p, saved); // idempotent: same rules, one jump
    assert.equal(await reach(b, a), 'timed out', 'b → a dropped');
    assert.equal(await reach(a, b), 'timed out', 'a → b dropped');
    assert.equal(await reach(c, a), 'connected', 'other peers unaffected');
    const state = await networkPartition.verify(ctx('cut-b'), p, saved);
    assert.deepEqual(
      state,
      { active: true, detail: 'INPUT: 2/2 rules, OUTPUT: 2/2 rules' },
      'exemption + block',
    );
    const rules = (await a.inside(['iptables', '-S'])).stdout;
    assert.equal(rules.match(/-j GD-parttest-[0-9a-f]{6}-I/g)?.length, 1, 'one jump from INPUT');
    assert.match(rules, /--comment "gameday:parttest:cut-b"/);
    await networkPartition.rollback(ctx('cut-b'), p, saved);
    await networkPartition.rollback(ctx('cut-b'), p, saved);
    assert.equal((await networkPartition.verify(ctx('cut-b'), p, saved)).active, false);
    assert.equal(await reach(b, a), 'connected');
    assert.equal(await reach(a, b), 'connected');
    assert.doesNotMatch((await a.inside(['iptables', '-S'])).stdout, /GD-/, 'no chain left behind');
  });

  it('reject on a port refuses fast instead of timing out; inbound only', async () => {
    const p = networkPartition.params.parse({
      ports: [{ port: 22 }],
      direction: 'inbound',
      action: 'reject',
    });
    const saved = await networkPartition.prepare(ctx('reject-22'), p);
    await networkPartition.inject(ctx('reject-22'), p, saved);
    try {
      const started = Date.now();
      assert.equal(await reach(c, a), 'refused');
      assert.ok(Date.now() - started < 900, 'a reset, not a timeout');
      assert.equal(await reach(a, b), 'connected', 'outbound untouched');
      assert.equal((await ssh.run(['true'])).exitCode, 0, "gameday's own SSH connection still works");
    } finally {
      await networkPartition.rollback(ctx('reject-22'), p, saved);
    }
    assert.equal(await reach(c, a), 'connected');
  });

  it('rollback of a partition never applied succeeds and changes nothing', async () => {
    const p = networkPartition.params.parse({ peers: ['10.99.0.0/16'] });
    const saved = await networkPartition.prepare(ctx('never'), p);
    const before = (await a.inside(['iptables', '-S'])).stdout;
    await networkPartition.rollback(ctx('never'), p, saved);
    assert.equal((await a.inside(['iptables', '-S'])).stdout, before);
  });

  it('a host it cannot reach fails the prepare with that line (retried), never as "iptables is not usable"', async () => {
    const ghost = sshExecutorFor(lab, { ...a, name: 'ghost', address: lab.deadAddress });
    try {
      const cutOff = localFaultContext('parttest', {
        exec: ghost,
        target: { group: 'brokers', kind: 'ssh', name: 'ghost' },
        fault: 'cut-off',
        protectedPids: [],
      });
      const noAnswer = (error: Error) => {
        assert.ok(!(error instanceof FaultUserError), error.message);
        assert.match(error.message, /cannot reach host ghost/);
        return true;
      };
      const peers = [b.address];
      await assert.rejects(
        networkPartition.prepare(cutOff, networkPartition.params.parse({ peers })),
        noAnswer,
      );
      const loss = networkLossIptables.params.parse({ peers, percent: 10 });
      await assert.rejects(networkLossIptables.prepare(cutOff, loss), noAnswer);
    } finally {
      await ghost.close();
    }
  });

  it('network-loss-iptables: measured loss is within statistical bounds of the setting', async (t) => {
    const p = networkLossIptables.params.parse({ peers: [b.address], direction: 'inbound', percent: 30 });
    const baseline = await datagramsDelivered(b, a);
    const saved = await networkLossIptables.prepare(ctx('lossy'), p);
    await networkLossIptables.inject(ctx('lossy'), p, saved);
    await networkLossIptables.inject(ctx('lossy'), p, saved);
    let lossy: number;
    try {
      assert.equal((await networkLossIptables.verify(ctx('lossy'), p, saved)).active, true);
      lossy = await datagramsDelivered(b, a);
      assert.equal((await ssh.run(['true'])).exitCode, 0, 'management connection exempted');
    } finally {
      await networkLossIptables.rollback(ctx('lossy'), p, saved);
    }
    const healed = await datagramsDelivered(b, a);
    t.diagnostic(`delivered of 2000: before ${baseline}, at 30% loss ${lossy}, after ${healed}`);
    assert.ok(baseline >= 1990, `baseline ${baseline}`);
    // 2000 trials at p = 0.7: σ ≈ 20; six σ either side.
    assert.ok(lossy > 1280 && lossy < 1520, `delivered ${lossy} of 2000 at 30% loss`);
    assert.ok(healed >= 1990, `after rollback ${healed}`);
    assert.equal((await networkLossIptables.verify(ctx('lossy'), p, saved)).active, false);
  });

  it('rejects bad peers at validation', () => {
    for (const bad of ['10.0.0.256', '10.0.0.1/33', 'kafka-2', '10.0.0.1;reboot', '']) {
      assert.equal(networkPartition.params.safeParse({ peers: [bad] }).success, false, bad);
    }
    assert.equal(networkPartition.params.safeParse({}).success, false, 'needs peers or ports');
  });
});
