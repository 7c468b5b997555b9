import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { runChecked, type Executor } from '../activities/executors/executor';
import {
  runCommand,
  runInOrder,
  runStepsInOrder,
  type CommandStep,
  type HostCommand,
} from '../activities/executors/hostCommand';
import { LocalExecutor } from '../activities/executors/local';
import type { SshExecutor } from '../activities/executors/ssh';
import { TrustedScript } from '../activities/executors/shellQuote';
import { hostSteps } from '../activities/faultSteps';
import type { FaultKind } from '../activities/faults/contract';
import { networkBandwidth } from '../activities/faults/networkBandwidth';
import { networkPartition } from '../activities/faults/networkPartition';
import { rootQdisc } from '../activities/faults/trafficControl';
import { deadManSwitchFor } from '../workflows/definitions';
import { localFaultContext } from './support/faultContext';
import { sshExecutorFor, startTestHosts, type TestHost, type TestHosts } from './support/hosts';

/** The executor, counting what it sends: one run or script is one round trip to the host. */
function counted(exec: Executor): { exec: Executor; sent: () => number } {
  let sent = 0;
  const proxy = new Proxy(exec, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if ((name === 'run' || name === 'runScript') && typeof value === 'function') {
        return (...args: unknown[]) => {
          sent += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
  return { exec: proxy, sent: () => sent };
}

const echoStdin = new TrustedScript('echo-stdin', 'printf "%s:" "$1"; cat; echo "to stderr $2" >&2; exit 3');

const framingLookalike = new TrustedScript(
  'framing-lookalike',
  'printf "out err\\n\\n"; printf "\\n@gameday-x exit 0\\n\\n" >&2',
);

/** Commands whose answers differ in every field, some of them shaped like the framing. */
const commands: HostCommand[] = [
  { argv: ['printf', '%s/', 'two  spaces', 'x=$HOME', '', 'no newline at the end'] },
  { script: echoStdin, args: ['first', 'second'], input: `line 1\n'quoted' "and" $(not run)\n\nlast` },
  { argv: ['ls', '/no/such/path'] },
  { script: framingLookalike, args: [] },
  { argv: ['true'] },
];

function sharedCases(executor: () => Executor) {
  it('runs several commands in one round trip, each answered as if it had run alone', async () => {
    const { exec, sent } = counted(executor());
    const together = await runInOrder(
      exec,
      commands.map((command) => ({ command })),
    );
    assert.equal(sent(), 1);
    for (const [i, command] of commands.entries()) {
      assert.deepEqual(together[i], await runCommand(executor(), command), `command ${i + 1}`);
    }
    assert.equal(together[1]?.exitCode, 3);
    assert.equal(together[1]?.stdout, `first:line 1\n'quoted' "and" $(not run)\n\nlast`);
  });

  it('a failing gate stops the commands after it on the host', async () => {
    const marker = `/tmp/.hostcommand-test-${process.pid}`;
    rmSync(marker, { force: true });
    const results = await runInOrder(executor(), [
      { command: { argv: ['true'] }, gate: true },
      { command: { argv: ['false'] }, gate: true },
      { command: { argv: ['touch', marker] } },
    ]);
    assert.deepEqual(
      results.map((result) => result?.exitCode),
      [0, 1, undefined],
    );
    assert.equal(existsSync(marker), false, 'the command after the failed gate did not run');
  });

  it('an error names a long command in one short line (it goes into history)', async () => {
    const long = ['sh', '-c', 'exit 3', 'x', 'y'.repeat(50_000)];
    const error = await runChecked(executor(), long).catch((caught: Error) => caught);
    assert.ok(error instanceof Error);
    assert.match(error.message, /^sh -c exit 3 x y+… on \S+ exited 3/);
    assert.ok(error.message.length < 400, `${error.message.length} characters`);
  });

  it('judges the steps in order: the first failure is the one said, naming the host', async () => {
    const failing = (what: string): CommandStep<never> => ({
      command: { argv: ['false'] },
      judge: () => {
        throw new Error(`${what} failed`);
      },
    });
    const read: CommandStep<string> = { command: { argv: ['echo', 'read'] }, judge: (r) => r.stdout };
    await assert.rejects(
      runStepsInOrder(executor(), [failing('first'), failing('second')], read),
      /first failed/,
    );
    await assert.rejects(
      runStepsInOrder(executor(), [{ ...failing('gate'), gate: true }], read),
      /gate failed/,
    );
    assert.equal(await runStepsInOrder(executor(), [], read), 'read\n');
  });
}

describe('host commands sent together (real sh, local executor)', () => {
  const local = new LocalExecutor();
  sharedCases(() => local);
});

describe('host commands sent together over SSH (real sshd in network namespaces)', () => {
  let lab: TestHosts;
  let ssh: SshExecutor;
  let host: TestHost;
  before(async () => {
    lab = await startTestHosts(2);
    host = lab.hosts[0] as TestHost;
    ssh = sshExecutorFor(lab, host);
  });
  after(async () => {
    await ssh?.close();
    await lab?.stop();
  });

  sharedCases(() => ssh);

  it('tbf: armed, injected and read back in one round trip, rolled back and read in another', async () => {
    const kind = networkBandwidth as FaultKind<unknown, unknown>;
    const params = kind.params.parse({ interface: 'eth0', rate: '4mbit' });
    const { exec, sent } = counted(ssh);
    const ctx = localFaultContext('hcbw', {
      exec,
      target: { group: 'g', kind: 'ssh', name: host.name },
      fault: 'together',
      protectedPids: [],
    });
    const bound = hostSteps(kind, ctx, params);
    const sw = deadManSwitchFor('hcbw', 0, 60_000);
    const saved = await bound.prepare();
    const before = sent();
    const injected = await bound.injectAndVerify(saved, sw);
    assert.equal(sent() - before, 1, 'arm + inject + read: one round trip');
    assert.equal(injected.active, true, injected.detail);
    assert.match(injected.detail, /tbf 7a6d: rate 500000 B\/s/);
    const lease = await host.inside(['cat', `${sw.base}.lease`]);
    assert.equal(lease.code, 0, 'the switch was armed');
    const tc = rootQdisc((await host.inside(['tc', '-j', 'qdisc', 'show', 'dev', 'eth0'])).stdout);
    assert.equal(tc?.kind, 'tbf');
    const rolledBack = await bound.rollbackAndVerify(saved);
    assert.equal(sent() - before, 2, 'rollback + read: one more');
    assert.equal(rolledBack.active, false, rolledBack.detail);
    const again = await bound.rollbackAndVerify(saved); // a rollback of something gone succeeds
    assert.equal(again.active, false);
    await bound.disarm(sw);
    assert.equal((await host.inside(['test', '-e', `${sw.base}.lease`])).code, 1, 'disarmed');
  });

  it('partition: every chain in place after one round trip, gone after one more', async () => {
    const kind = networkPartition as FaultKind<unknown, unknown>;
    const params = kind.params.parse({
      peers: [(lab.hosts[1] as TestHost).address],
      ports: [{ port: 9092 }],
    });
    const { exec, sent } = counted(ssh);
    const ctx = localFaultContext('hcpart', {
      exec,
      target: { group: 'g', kind: 'ssh', name: host.name },
      fault: 'cut',
      protectedPids: [],
    });
    const bound = hostSteps(kind, ctx, params);
    const sw = deadManSwitchFor('hcpart', 0, 60_000);
    const saved = await bound.prepare();
    const before = sent();
    const injected = await bound.injectAndVerify(saved, sw);
    assert.equal(sent() - before, 1);
    assert.equal(injected.detail, 'INPUT: 2/2 rules, OUTPUT: 2/2 rules'); // management exempted first
    assert.match((await host.inside(['iptables', '-S'])).stdout, /-A INPUT .*-j GD-hcpart-\S+-I\n/);
    const rolledBack = await bound.rollbackAndVerify(saved);
    assert.equal(sent() - before, 2);
    assert.equal(rolledBack.active, false, rolledBack.detail);
    assert.doesNotMatch((await host.inside(['iptables', '-S'])).stdout, /GD-hcpart/);
    await bound.disarm(sw);
  });

  it('a sequence too long for one command line goes step by step: a partition of 64 peers × 16 ports', async () => {
    const kind = networkPartition as FaultKind<unknown, unknown>;
    const peers = Array.from({ length: 64 }, (_, i) => `10.250.${Math.floor(i / 200)}.${(i % 200) + 1}`);
    const ports = Array.from({ length: 16 }, (_, i) => ({ port: 10_000 + i }));
    const params = kind.params.parse({ peers, ports });
    const { exec, sent } = counted(ssh);
    const ctx = localFaultContext('hcbig', {
      exec,
      target: { group: 'g', kind: 'ssh', name: host.name },
      fault: 'wide',
      protectedPids: [],
    });
    const bound = hostSteps(kind, ctx, params);
    const sw = deadManSwitchFor('hcbig', 0, 60_000);
    const saved = await bound.prepare();
    const before = sent();
    const injected = await bound.injectAndVerify(saved, sw);
    assert.equal(sent() - before, 3, 'arm, inject and read one after another');
    assert.equal(injected.detail, 'INPUT: 1025/1025 rules, OUTPUT: 1025/1025 rules');
    assert.equal((await bound.rollbackAndVerify(saved)).active, false);
    await bound.disarm(sw);
  });

  it('a switch that cannot be armed stops the inject on the host: nothing is injected', async () => {
    const kind = networkPartition as FaultKind<unknown, unknown>;
    const params = kind.params.parse({ peers: [(lab.hosts[1] as TestHost).address] });
    const ctx = localFaultContext('hcarm', {
      exec: ssh,
      target: { group: 'g', kind: 'ssh', name: host.name },
      fault: 'unarmed',
      protectedPids: [],
    });
    const bound = hostSteps(kind, ctx, params);
    const saved = await bound.prepare();
    // A base in a directory that does not exist: the arm script cannot write its files.
    const sw = { ...deadManSwitchFor('hcarm', 0, 60_000), base: '/no/such/dir/.gameday-hcarm-deadman-0' };
    await assert.rejects(bound.injectAndVerify(saved, sw), /could not arm the dead-man switch .* on host-/);
    const rules = await host.inside(['iptables', '-S']);
    assert.doesNotMatch(rules.stdout, /GD-hcarm/, 'no chain installed');
    assert.equal((await bound.verify(saved)).active, false);
  });
});
