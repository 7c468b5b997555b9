import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SshExecutor } from '../activities/executors/ssh';
import type { FaultContext } from '../activities/faults/contract';
import { networkPartition } from '../activities/faults/networkPartition';
import { sleep } from './support/harness';
import { startTestHosts, type TestHost, type TestHosts } from './support/hosts';

type Reach = 'connected' | 'timed out' | 'refused';

/** A real TCP connection from one namespace host to another's sshd (port 22). */
async function reach(from: TestHost, to: TestHost): Promise<Reach> {
  const { code } = await from.inside(['timeout', '1', 'bash', '-c', `</dev/tcp/${to.address}/22`]);
  return code === 0 ? 'connected' : code === 124 ? 'timed out' : 'refused';
}

describe('network-partition with iptables on real hosts (network namespaces, over SSH)', () => {
  let lab: TestHosts;
  let ssh: SshExecutor;
  let a: TestHost;
  let b: TestHost;
  let c: TestHost;
  const ctx = (fault: string): FaultContext => ({
    exec: ssh,
    target: { group: 'brokers', kind: 'ssh', name: a.name },
    fault,
    tag: 'parttest',
    protectedPids: [],
    heartbeat: () => undefined,
    sleep,
  });

  before(async () => {
    lab = await startTestHosts(3);
    [a, b, c] = lab.hosts as [TestHost, TestHost, TestHost];
    ssh = new SshExecutor(
      {
        name: a.name,
        address: a.address,
        port: 22,
        user: 'root',
        hostKey: { fingerprints: [a.fingerprint] },
        maxSessions: 10,
      },
      { privateKey: lab.privateKey },
    );
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

  it('rejects bad peers at validation', () => {
    for (const bad of ['10.0.0.256', '10.0.0.1/33', 'kafka-2', '10.0.0.1;reboot', '']) {
      assert.equal(networkPartition.params.safeParse({ peers: [bad] }).success, false, bad);
    }
    assert.equal(networkPartition.params.safeParse({}).success, false, 'needs peers or ports');
  });
});
