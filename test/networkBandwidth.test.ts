import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SshExecutor } from '../activities/executors/ssh';
import type { FaultContext } from '../activities/faults/contract';
import { networkBandwidth } from '../activities/faults/networkBandwidth';
import { rootQdisc } from '../activities/faults/trafficControl';
import { localFaultContext } from './support/faultContext';
import {
  measureBetween,
  sshExecutorFor,
  startTestHosts,
  type TestHost,
  type TestHosts,
} from './support/hosts';

// Counts bytes from the first to the last byte of one connection and prints bytes/second.
const receiver = `
const server = require('net').createServer((socket) => {
  let bytes = 0, first = 0, last = 0;
  socket.on('data', (chunk) => { const now = Date.now(); if (!first) first = now; last = now; bytes += chunk.length; });
  socket.on('end', () => { console.log(Math.round(bytes / Math.max(0.001, (last - first) / 1000))); server.close(); });
});
server.listen(5201, process.argv[1], () => console.log('ready'));`;

// Writes as fast as the network takes it, for 2 seconds.
const sender = `
const socket = require('net').connect(5201, process.argv[1], () => {
  const chunk = Buffer.alloc(64 * 1024);
  const stopAt = Date.now() + 2000;
  const pump = () => { while (Date.now() < stopAt) { if (!socket.write(chunk)) return socket.once('drain', pump); } socket.end(); };
  pump();
});`;

/** Measured throughput (bytes/s) of one TCP stream from one namespace host to another. */
async function throughput(from: TestHost, to: TestHost): Promise<number> {
  return Number(await measureBetween(from, to, receiver, sender));
}

describe('network-bandwidth with tc tbf on real hosts (network namespaces, over SSH)', () => {
  let lab: TestHosts;
  let ssh: SshExecutor;
  let a: TestHost;
  let b: TestHost;
  const ctx = (): FaultContext =>
    localFaultContext('tbftest', {
      exec: ssh,
      target: { group: 'brokers', kind: 'ssh', name: a.name },
      fault: 'slow-link',
      protectedPids: [],
    });

  before(async () => {
    lab = await startTestHosts(2);
    [a, b] = lab.hosts as [TestHost, TestHost];
    ssh = sshExecutorFor(lab, a);
  });
  after(async () => {
    await ssh?.close();
    await lab?.stop();
  });

  it('measured throughput drops to the set rate and comes back after rollback', async (t) => {
    const unshaped = await throughput(a, b);
    const p = networkBandwidth.params.parse({ interface: 'eth0', rate: '4mbit', burst: '64kbit' });
    const saved = await networkBandwidth.prepare(ctx(), p);
    assert.equal(saved.previous.kind, 'noqueue');
    await networkBandwidth.inject(ctx(), p, saved);
    await networkBandwidth.inject(ctx(), p, saved); // idempotent (tc replace)
    assert.equal((await networkBandwidth.verify(ctx(), p, saved)).active, true);
    const shaped = await throughput(a, b);
    const rate = 4_000_000 / 8;
    assert.ok(shaped > rate * 0.6 && shaped < rate * 1.4, `shaped ${shaped} B/s, expected about ${rate}`);
    await networkBandwidth.rollback(ctx(), p, saved);
    await networkBandwidth.rollback(ctx(), p, saved);
    assert.equal((await networkBandwidth.verify(ctx(), p, saved)).active, false);
    assert.equal(
      rootQdisc((await a.inside(['tc', '-j', 'qdisc', 'show', 'dev', 'eth0'])).stdout)?.kind,
      'noqueue',
    );
    const restored = await throughput(a, b);
    t.diagnostic(
      `unshaped ${unshaped} B/s, tbf 4mbit ${shaped} B/s (set ${rate}), after rollback ${restored} B/s`,
    );
    assert.ok(restored > rate * 10, `restored ${restored} B/s (unshaped was ${unshaped})`);
  });

  it('refuses to replace a custom root qdisc it could not restore exactly', async () => {
    await a.inside(['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'handle', '1:', 'htb']);
    try {
      const p = networkBandwidth.params.parse({ interface: 'eth0', rate: '1mbit' });
      await assert.rejects(networkBandwidth.prepare(ctx(), p), /already has a custom root qdisc \(htb 1:\)/);
      await networkBandwidth.rollback(ctx(), p, { previous: { kind: 'htb', handle: '1:' } });
      assert.equal(
        rootQdisc((await a.inside(['tc', '-j', 'qdisc', 'show', 'dev', 'eth0'])).stdout)?.kind,
        'htb',
        'untouched',
      );
    } finally {
      await a.inside(['tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);
    }
  });

  it('a missing interface is a clear error naming it and the host', async () => {
    const p = networkBandwidth.params.parse({ interface: 'eth9', rate: '1mbit' });
    await assert.rejects(networkBandwidth.prepare(ctx(), p), /interface eth9 does not exist on host-1/);
  });

  it('parses tc -j output captured from a real veth (noqueue, and gameday tbf)', () => {
    assert.deepEqual(rootQdisc('[{"kind":"noqueue","handle":"0:","root":true,"refcnt":2,"options":{}}]'), {
      kind: 'noqueue',
      handle: '0:',
      root: true,
      refcnt: 2,
      options: {},
    });
    const tbf = rootQdisc(
      '[{"kind":"tbf","handle":"7a6d:","root":true,"refcnt":3,"options":{"rate":125000,"burst":4096,"lat":50000}}]',
    );
    assert.equal(tbf?.handle, '7a6d:');
    assert.equal(tbf?.options?.rate, 125000);
  });
});
