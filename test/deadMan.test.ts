import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { armDeadMan, disarmDeadMan, renewLeases, revertScript } from '../activities/deadMan';
import { LocalExecutor } from '../activities/executors/local';
import { UnsafeArgumentError } from '../activities/executors/shellQuote';
import { processPause } from '../activities/faults/processPause';
import { deadManSwitchFor, type DeadManSwitch } from '../workflows/definitions';
import { localFaultContext } from './support/faultContext';
import { gameDayPlan } from './support/plans';
import {
  type InProcessWorker,
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  type TestTemporal,
  waitForPhase,
} from './support/temporal';
import { sshOnlyWorkerConfig, startTestHosts, type TestHost, type TestHosts } from './support/hosts';

function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await ok())) {
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
  return Date.now() - started;
}

/** A paused `sleep` with its dead-man switch armed (lease 2 s), as injectFault arms it. */
async function pausedWithSwitch(tag: string): Promise<{ pid: number; sw: DeadManSwitch }> {
  const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  child.unref();
  const pid = child.pid as number;
  const ctx = localFaultContext(tag);
  const params = processPause.params.parse({ pidfile: '/tmp/unused.pid' });
  const saved = { processes: [{ pid, startTime: '0' }] };
  const sw = deadManSwitchFor(tag, 0, 2000);
  await armDeadMan(ctx.exec, sw, processPause.hostRevert(params, saved, ctx));
  process.kill(pid, 'SIGSTOP');
  await until('the process to stop', () => processState(pid) === 'T', 2000);
  return { pid, sw };
}

describe('the host-side dead-man switch (real processes, local executor)', () => {
  const exec = new LocalExecutor();
  const pids: number[] = [];
  after(() => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('reverts the fault by itself when its lease is not renewed', async () => {
    const { pid, sw } = await pausedWithSwitch('dmfire');
    pids.push(pid);
    assert.equal(processState(pid), 'T');
    const took = await until('the host to resume the process', () => processState(pid) !== 'T', 6000);
    assert.ok(took >= 1000, `fired after ${took} ms, not before the lease could expire`);
    assert.ok(existsSync(`${sw.base}.lease.fired`));
    const disarmed = await disarmDeadMan(exec, sw);
    assert.match(disarmed.firedLog ?? '', /lease not renewed for 2 s: reverting/);
    assert.equal(existsSync(`${sw.base}.log`) || existsSync(`${sw.base}.revert`), false, 'no file left');
  });

  it('holds while the lease is renewed, and a disarmed switch never fires', async () => {
    const { pid, sw } = await pausedWithSwitch('dmhold');
    pids.push(pid);
    for (let i = 0; i < 8; i++) {
      await renewLeases(exec, [sw], 1000);
      await sleep(500);
    }
    assert.equal(processState(pid), 'T', 'renewed for 4 s with a 2 s lease: still paused');
    const watcher = Number(readFileSync(`${sw.base}.pid`, 'utf8'));
    assert.deepEqual(await disarmDeadMan(exec, sw), {});
    await until('the watcher to exit', () => processState(watcher) === undefined, 3000);
    await sleep(2500);
    assert.equal(processState(pid), 'T', 'nothing reverted after disarming');
    await disarmDeadMan(exec, sw); // idempotent
  });

  it('arms once when the inject is retried', async () => {
    const sw = deadManSwitchFor('dmonce', 0, 60_000);
    await armDeadMan(exec, sw, [['true']]);
    const first = readFileSync(`${sw.base}.pid`, 'utf8');
    await armDeadMan(exec, sw, [['true']]);
    assert.equal(readFileSync(`${sw.base}.pid`, 'utf8'), first);
    await disarmDeadMan(exec, sw);
    await until('the watcher to exit', () => processState(Number(first)) === undefined, 3000);
  });

  it('writes revert commands only through the quoting boundary', () => {
    assert.equal(
      revertScript([['tc', 'qdisc', 'del', 'dev', 'eth0', 'root', 'handle', '7a6d:']]).split('\n')[2],
      `'tc' 'qdisc' 'del' 'dev' 'eth0' 'root' 'handle' '7a6d:' || echo "revert command 1 exited $?"`,
    );
    assert.throws(() => revertScript([['rm', '-f', "/tmp/x'; reboot; '"]]), UnsafeArgumentError);
  });
});

describe('a host cut off mid-fault reverts it by itself (real sshd in a namespace, real dev server)', () => {
  let temporal: TestTemporal;
  let lab: TestHosts;
  let worker: InProcessWorker;
  let host: TestHost;
  const rootQdisc = async () =>
    (
      JSON.parse((await host.inside(['tc', '-j', 'qdisc', 'show', 'dev', 'eth0'])).stdout) as {
        handle: string;
      }[]
    )[0]?.handle;

  before(async () => {
    temporal = await startTestTemporal();
    lab = await startTestHosts(1);
    host = lab.hosts[0] as TestHost;
    worker = await startInProcessWorker(temporal, undefined, sshOnlyWorkerConfig(lab, [host]));
  });
  after(async () => {
    await host?.inside(['iptables', '-D', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'DROP']);
    await worker?.stop();
    await lab?.stop();
    await temporal?.stop();
  });

  it('blocks gameday’s SSH to the host during observation: the tbf limit is gone within the lease', async () => {
    const plan = gameDayPlan({
      metadata: { name: 'cut-off', owner: 'tests' },
      targets: { broker: { ssh: { hosts: [host.name] } } },
      faults: [
        {
          name: 'slow',
          kind: 'network-bandwidth',
          target: 'broker',
          params: { interface: 'eth0', rate: '1mbit' },
        },
      ],
      observation: { window: '25s', sampleInterval: '1s' },
      deadManSwitch: { lease: '4s' },
    });
    const handle = await startPlan(temporal, plan, worker.taskQueue);
    await waitForPhase(handle, 'observe');
    assert.equal(await rootQdisc(), '7a6d:', 'the limit is in place');
    await sleep(5000);
    assert.equal(await rootQdisc(), '7a6d:', 'renewed leases keep it in place past one lease');

    // Cut the orchestrator off: every packet to the host's sshd is dropped.
    await host.inside(['iptables', '-I', 'INPUT', '1', '-p', 'tcp', '--dport', '22', '-j', 'DROP']);
    const took = await until(
      'the host to remove the limit',
      async () => (await rootQdisc()) !== '7a6d:',
      12_000,
    );
    assert.ok(took <= 4000 + 1000 + 1500, `reverted ${took} ms after the cut (lease 4 s)`);

    await host.inside(['iptables', '-D', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'DROP']);
    await handle.executeUpdate('abort', { args: [{ reason: 'test over' }] });
    const report = await handle.result();
    assert.equal(report.faults[0]?.status, 'rolled-back');
    assert.ok(
      report.timeline.some((e) => /had already reverted slow@host-1 by its dead-man switch/.test(e.message)),
      JSON.stringify(report.timeline.map((e) => e.message)),
    );
    const left = await host.inside(['sh', '-c', `ls /tmp/.gameday-${report.tag}-* 2>/dev/null | wc -l`]);
    assert.equal(left.stdout.trim(), '0', 'the switch left no file on the host');
  });
});
