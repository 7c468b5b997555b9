import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { LocalExecutor } from '../activities/executors/local';
import type { CommandResult, RunOptions } from '../activities/executors/executor';
import type { SshExecutor } from '../activities/executors/ssh';
import { containerKill } from '../activities/faults/containerKill';
import { containerPause } from '../activities/faults/containerPause';
import { containerRestart } from '../activities/faults/containerRestart';
import { containerStop } from '../activities/faults/containerStop';
import { FaultUserError, type FaultContext, type FaultKind } from '../activities/faults/contract';
import { rolledBack } from '../activities/faultSteps';
import { hostKindFor } from '../activities/faults/inContainer';
import { resolvePlan } from '../activities/resolve';
import { planSchema } from '../plan/schema';
import { localFaultContext } from './support/faultContext';
import { processState } from './support/services';
import { startTestDocker, type TestDocker } from './support/docker';
import { sshExecutorFor, startTestHosts, type TestHosts } from './support/hosts';

const run = promisify(execFile);

/** Runs a host-side revert as the dead-man switch would: each command on its own, whatever the others do. */
async function runRevert(commands: readonly (readonly string[])[]): Promise<void> {
  for (const [file, ...args] of commands) await run(file as string, args).catch(() => undefined);
}

/** The local executor, but `docker` is not installed. */
class NoDockerExecutor extends LocalExecutor {
  override run(argv: readonly string[], options?: RunOptions): Promise<CommandResult> {
    return super.run(argv[0] === 'docker' ? ['/nonexistent/docker', ...argv.slice(1)] : argv, options);
  }
}

describe('container faults on a real dockerd', () => {
  let docker: TestDocker;
  const ctx = (overrides: Partial<FaultContext> = {}) => localFaultContext('ctrtest', overrides);

  before(async () => {
    docker = await startTestDocker();
  });
  after(async () => {
    await docker?.stop();
  });

  it('pause freezes the container (its process in the freezer) and rollback thaws it, each twice', async () => {
    const name = await docker.runContainer('pause');
    const p = containerPause.params.parse({ container: name });
    const saved = await containerPause.prepare(ctx(), p);
    assert.equal(saved.running, true);
    assert.equal(saved.paused, false);
    assert.equal(saved.id, (await docker.inspect(name)).Id);
    await containerPause.inject(ctx(), p, saved);
    await containerPause.inject(ctx(), p, saved);
    const paused = await docker.inspect(name);
    assert.equal(paused.State.Paused, true);
    assert.match(processState(paused.State.Pid) ?? 'gone', /^[TD]$/, 'frozen by the cgroup freezer');
    const state = await containerPause.verify(ctx(), p, saved);
    assert.equal(state.active, true, state.detail);
    assert.match(state.detail, /paused/);
    await containerPause.rollback(ctx(), p, saved);
    await containerPause.rollback(ctx(), p, saved);
    const thawed = await docker.inspect(name);
    assert.equal(thawed.State.Paused, false);
    assert.equal(thawed.State.Running, true);
    assert.equal(thawed.State.Pid, paused.State.Pid, 'the same process, not a restart');
    assert.match(processState(thawed.State.Pid) ?? 'gone', /^[SR]$/);
    assert.equal((await containerPause.verify(ctx(), p, saved)).active, false);
  });

  it('stop stops it and rollback starts the same container again, each twice', async () => {
    const name = await docker.runContainer('stop');
    const p = containerStop.params.parse({ container: name, timeout: 1 });
    const saved = await containerStop.prepare(ctx(), p);
    await containerStop.inject(ctx(), p, saved);
    await containerStop.inject(ctx(), p, saved);
    assert.equal((await docker.inspect(name)).State.Status, 'exited');
    assert.equal((await containerStop.verify(ctx(), p, saved)).active, true);
    await containerStop.rollback(ctx(), p, saved);
    await containerStop.rollback(ctx(), p, saved);
    const back = await docker.inspect(name);
    assert.equal(back.State.Running, true);
    assert.equal(back.Id, saved.id);
    assert.equal((await containerStop.verify(ctx(), p, saved)).active, false);
  });

  it('kill exits it with the signal and rollback starts it again, each twice', async () => {
    const name = await docker.runContainer('kill');
    const p = containerKill.params.parse({ container: name });
    const saved = await containerKill.prepare(ctx(), p);
    await containerKill.inject(ctx(), p, saved);
    await containerKill.inject(ctx(), p, saved);
    const killed = await docker.inspect(name);
    assert.equal(killed.State.Status, 'exited');
    assert.equal((await containerKill.verify(ctx(), p, saved)).active, true);
    await containerKill.rollback(ctx(), p, saved);
    await containerKill.rollback(ctx(), p, saved);
    assert.equal((await docker.inspect(name)).State.Running, true);
    assert.equal((await containerKill.verify(ctx(), p, saved)).active, false);
  });

  it('restart gives it a new start, verified by its start time; rollback leaves it running', async () => {
    const name = await docker.runContainer('restart');
    const before = await docker.inspect(name);
    const p = containerRestart.params.parse({ container: name, timeout: 1 });
    const saved = await containerRestart.prepare(ctx(), p);
    await containerRestart.inject(ctx(), p, saved);
    const restarted = await docker.inspect(name);
    await containerRestart.inject(ctx(), p, saved); // already restarted: not again
    const again = await docker.inspect(name);
    assert.notEqual(restarted.State.StartedAt, before.State.StartedAt);
    assert.equal(again.State.StartedAt, restarted.State.StartedAt, 'a retried inject does not restart twice');
    assert.notEqual(restarted.State.Pid, before.State.Pid);
    const state = await containerRestart.verify(ctx(), p, saved);
    assert.equal(state.active, true, state.detail);
    assert.equal(state.recovered, true, 'it runs again: a one-shot disturbance');
    await run('docker', ['stop', '-t', '1', name]); // say the restarted container then died
    assert.equal((await containerRestart.verify(ctx(), p, saved)).recovered, false);
    await containerRestart.rollback(ctx(), p, saved);
    await containerRestart.rollback(ctx(), p, saved);
    assert.equal(rolledBack(await containerRestart.verify(ctx(), p, saved)), true);
    const after = await docker.inspect(name);
    assert.equal(after.State.Running, true);
    const rolledBackOnce = after.State.StartedAt;
    await containerRestart.rollback(ctx(), p, saved);
    assert.equal((await docker.inspect(name)).State.StartedAt, rolledBackOnce, 'a running one is left alone');
  });

  it('rollback of a container that never got the fault changes nothing, for every kind', async () => {
    const name = await docker.runContainer('untouched');
    const before = await docker.inspect(name);
    const kinds = [containerPause, containerStop, containerKill, containerRestart] as FaultKind<
      unknown,
      unknown
    >[];
    for (const kind of kinds) {
      const p = kind.params.parse({ container: name });
      const saved = await kind.prepare(ctx(), p);
      await kind.rollback(ctx(), p, saved);
      assert.equal((await kind.verify(ctx(), p, saved)).active, false, kind.kind);
    }
    const after = await docker.inspect(name);
    assert.equal(after.State.Status, 'running');
    assert.equal(after.State.StartedAt, before.State.StartedAt);
  });

  it('rollback of a container removed meanwhile succeeds; one re-created under its name is left alone', async () => {
    const name = await docker.runContainer('removed');
    const p = containerPause.params.parse({ container: name });
    const saved = await containerPause.prepare(ctx(), p);
    await containerPause.inject(ctx(), p, saved);
    await docker.docker('rm', '-f', name);
    await containerPause.rollback(ctx(), p, saved);
    const state = await containerPause.verify(ctx(), p, saved);
    assert.equal(state.active, false);
    assert.match(state.detail, /removed/);

    // A new container with the same name is not the one the fault recorded: never paused nor unpaused by it.
    await docker.runContainer('removed');
    await docker.docker('pause', name);
    await assert.rejects(containerPause.inject(ctx(), p, saved), /was removed after its state was recorded/);
    await containerPause.rollback(ctx(), p, saved);
    assert.equal((await docker.inspect(name)).State.Paused, true, 'the new container is not ours to unpause');
    await docker.docker('unpause', name);
  });

  it('a container stopped before the game day is refused at inject and left stopped by rollback', async () => {
    const name = await docker.runContainer('was-stopped');
    await docker.docker('stop', '-t', '0', name);
    for (const kind of [containerStop, containerKill, containerPause] as FaultKind<unknown, unknown>[]) {
      const p = kind.params.parse({ container: name });
      const saved = await kind.prepare(ctx(), p);
      assert.equal((saved as { running: boolean }).running, false);
      await assert.rejects(kind.inject(ctx(), p, saved), (error: Error) => {
        assert.ok(error instanceof FaultUserError);
        assert.match(
          error.message,
          new RegExp(`container ${name} on host local was exited before the fault`),
        );
        return true;
      });
      await kind.rollback(ctx(), p, saved);
      assert.deepEqual(kind.hostRevert(p, saved, { target: ctx().target, fault: 'f', tag: 'ctrtest' }), []);
      assert.equal((await kind.verify(ctx(), p, saved)).active, false);
      assert.equal((await docker.inspect(name)).State.Status, 'exited', `${kind.kind} left it stopped`);
    }
  });

  it('the host-side revert commands, run alone (twice), undo each fault', async () => {
    const revert = { target: ctx().target, fault: 'f', tag: 'ctrtest' };
    const name = await docker.runContainer('revert');

    const pause = containerPause.params.parse({ container: name });
    const paused = await containerPause.prepare(ctx(), pause);
    await containerPause.inject(ctx(), pause, paused);
    const unpause = containerPause.hostRevert(pause, paused, revert);
    assert.deepEqual(unpause, [['docker', 'unpause', paused.id]]);
    await runRevert(unpause);
    await runRevert(unpause);
    assert.equal((await docker.inspect(name)).State.Paused, false);

    for (const kind of [containerStop, containerKill, containerRestart] as FaultKind<unknown, unknown>[]) {
      const p = kind.params.parse({ container: name, ...(kind === containerKill ? {} : { timeout: 1 }) });
      const saved = await kind.prepare(ctx(), p);
      await kind.inject(ctx(), p, saved);
      assert.equal((await kind.verify(ctx(), p, saved)).active, true, kind.kind);
      const commands = kind.hostRevert(p, saved, revert);
      assert.deepEqual(commands[0], ['docker', 'start', (saved as { id: string }).id]);
      await runRevert(commands);
      await runRevert(commands);
      assert.equal(rolledBack(await kind.verify(ctx(), p, saved)), true, `${kind.kind} undone by the host`);
      assert.equal((await docker.inspect(name)).State.Running, true);
    }
  });

  it('names the container and the host when there is no such container, and when docker is missing', async () => {
    const p = containerPause.params.parse({ container: docker.name('nope') });
    await assert.rejects(containerPause.prepare(ctx(), p), (error: Error) => {
      assert.ok(error instanceof FaultUserError);
      assert.match(error.message, new RegExp(`^no container ${docker.name('nope')} on host local: `));
      return true;
    });
    await assert.rejects(containerPause.prepare(ctx({ exec: new NoDockerExecutor() }), p), (error: Error) => {
      assert.ok(error instanceof FaultUserError);
      assert.match(error.message, /^docker is not installed on host local/);
      return true;
    });
  });

  it('over SSH to a namespace host, which reaches the same daemon', async () => {
    let lab: TestHosts | undefined;
    let ssh: SshExecutor | undefined;
    try {
      lab = await startTestHosts(1);
      const host = lab.hosts[0];
      assert.ok(host);
      ssh = sshExecutorFor(lab, host);
      const over = ctx({
        exec: ssh,
        target: { group: 'apps', kind: 'ssh', name: host.name },
        protectedPids: [],
      });
      const name = await docker.runContainer('ssh');
      const p = containerPause.params.parse({ container: name });
      const saved = await containerPause.prepare(over, p);
      await containerPause.inject(over, p, saved);
      assert.equal((await docker.inspect(name)).State.Paused, true);
      assert.equal((await containerPause.verify(over, p, saved)).active, true);
      await containerPause.rollback(over, p, saved);
      assert.equal((await docker.inspect(name)).State.Paused, false);
      await assert.rejects(
        containerPause.prepare(over, containerPause.params.parse({ container: docker.name('nope') })),
        new RegExp(`no container ${docker.name('nope')} on host ${host.name}`),
      );
    } finally {
      await ssh?.close();
      await lab?.stop();
    }
  });

  it('rejects container names with shell metacharacters at validation', () => {
    for (const bad of ['web;reboot', '$(id)', 'a b', '-web', "we'b", 'web|x', '', 'web`x`', '../web']) {
      assert.equal(containerPause.params.safeParse({ container: bad }).success, false, JSON.stringify(bad));
    }
    for (const good of ['web', 'web-1', 'my_app.2', 'A1', 'f00dfeed']) {
      assert.equal(containerStop.params.safeParse({ container: good }).success, true, good);
    }
    assert.equal(containerKill.params.safeParse({ container: 'web', signal: 'STOP;x' }).success, false);
    assert.equal(containerStop.params.safeParse({ container: 'web', timeout: 301 }).success, false);
  });
});

// Runs in a network namespace: listens on 127.0.0.1:5300 and connects to it, printing "open" or the error.
const selfConnect = `
const net = require('net');
const server = net.createServer((s) => s.end()).listen(5300, '127.0.0.1', () => {
  const socket = net.connect(5300, '127.0.0.1', () => { console.log('open'); socket.destroy(); server.close(); });
  socket.setTimeout(3000, () => { console.log('timeout'); socket.destroy(); server.close(); });
  socket.on('error', (e) => { console.log(e.code); server.close(); });
});`;

async function inNamespace(pid: number | undefined, argv: string[]): Promise<string> {
  const prefix = pid === undefined ? [] : ['nsenter', '-t', String(pid), '-n', '--'];
  const [file, ...args] = [...prefix, ...argv];
  return (await run(file as string, args)).stdout;
}

describe('network faults inside a container network namespace (nsenter), on a real dockerd', () => {
  let docker: TestDocker;
  const ctx = () => localFaultContext('ctrnet');
  const revert = {
    target: { group: 'here', kind: 'local' as const, name: 'local' },
    fault: 'f',
    tag: 'ctrnet',
  };

  before(async () => {
    docker = await startTestDocker();
  });
  after(async () => {
    await docker?.stop();
  });

  it('network-bandwidth shapes the container lo, not the host lo; rollback and the host revert remove it', async () => {
    const name = await docker.runContainer('tbf');
    const pid = (await docker.inspect(name)).State.Pid;
    const kind = hostKindFor({ kind: 'network-bandwidth', container: name });
    const p = kind.params.parse({ interface: 'lo', rate: '1mbit' });
    assert.match(kind.describe(p, ctx().target).inject, new RegExp(`inside container ${name}$`));
    const saved = await kind.prepare(ctx(), p);
    await kind.inject(ctx(), p, saved);
    await kind.inject(ctx(), p, saved);
    assert.match(await inNamespace(pid, ['tc', 'qdisc', 'show', 'dev', 'lo']), /qdisc tbf 7a6d: root/);
    assert.doesNotMatch(await inNamespace(undefined, ['tc', 'qdisc', 'show', 'dev', 'lo']), /7a6d:/);
    const state = await kind.verify(ctx(), p, saved);
    assert.equal(state.active, true, state.detail);
    assert.match(state.detail, new RegExp(`^in container ${name}: lo root qdisc: tbf`));
    await kind.rollback(ctx(), p, saved);
    await kind.rollback(ctx(), p, saved);
    assert.doesNotMatch(await inNamespace(pid, ['tc', 'qdisc', 'show', 'dev', 'lo']), /tbf/);
    assert.equal((await kind.verify(ctx(), p, saved)).active, false);

    await kind.inject(ctx(), p, saved);
    const commands = kind.hostRevert(p, saved, revert);
    assert.deepEqual(commands, [
      [
        'nsenter',
        '-t',
        String(pid),
        '-n',
        '--',
        'tc',
        'qdisc',
        'del',
        'dev',
        'lo',
        'root',
        'handle',
        '7a6d:',
      ],
    ]);
    await runRevert(commands);
    await runRevert(commands);
    assert.equal((await kind.verify(ctx(), p, saved)).active, false, 'undone by the host revert');
  });

  it('network-partition rejects traffic inside the container only, read back with iptables -S', async () => {
    const name = await docker.runContainer('partition');
    const pid = (await docker.inspect(name)).State.Pid;
    const kind = hostKindFor({ kind: 'network-partition', container: name });
    const p = kind.params.parse({ ports: [{ port: 5300 }], direction: 'outbound', action: 'reject' });
    const node = [process.execPath, '-e', selfConnect];
    assert.equal((await inNamespace(pid, node)).trim(), 'open');
    const saved = await kind.prepare(ctx(), p);
    await kind.inject(ctx(), p, saved);
    assert.match(await inNamespace(pid, ['iptables', '-S']), /-N GD-ctrnet/);
    assert.doesNotMatch(await inNamespace(undefined, ['iptables', '-S']), /GD-ctrnet/, 'host untouched');
    assert.equal((await inNamespace(pid, node)).trim(), 'ECONNREFUSED', 'rejected inside the container');
    assert.equal((await inNamespace(undefined, node)).trim(), 'open', 'the host still connects');
    assert.equal((await kind.verify(ctx(), p, saved)).active, true);
    await kind.rollback(ctx(), p, saved);
    await kind.rollback(ctx(), p, saved);
    assert.doesNotMatch(await inNamespace(pid, ['iptables', '-S']), /GD-ctrnet/);
    assert.equal((await inNamespace(pid, node)).trim(), 'open');
  });

  it('a container stopped or removed with the fault in it: verify says gone, rollback succeeds', async () => {
    const name = await docker.runContainer('net-gone');
    const kind = hostKindFor({ kind: 'network-bandwidth', container: name });
    const p = kind.params.parse({ interface: 'lo', rate: '1mbit' });
    const saved = await kind.prepare(ctx(), p);
    await kind.inject(ctx(), p, saved);
    await docker.docker('stop', '-t', '0', name);
    const state = await kind.verify(ctx(), p, saved);
    assert.equal(state.active, false);
    assert.match(state.detail, /is exited: its network namespace, and the fault in it, are gone/);
    await kind.rollback(ctx(), p, saved);
    await assert.rejects(kind.inject(ctx(), p, saved), FaultUserError);
    await docker.docker('rm', '-f', name);
    await kind.rollback(ctx(), p, saved);
    await assert.rejects(kind.prepare(ctx(), p), new RegExp(`no container ${name} on host local`));
  });

  it('a plan may aim only network kinds at a container, by a safe name', () => {
    const plan = (fault: Record<string, unknown>) =>
      planSchema.safeParse({
        apiVersion: 'gameday.dev/v1alpha1',
        kind: 'GameDay',
        metadata: { name: 'p', owner: 'tests' },
        targets: { apps: { ssh: { hosts: ['app-1'] } } },
        faults: [{ name: 'f', target: 'apps', ...fault }],
        observation: { window: '1m' },
      });
    const partition = { kind: 'network-partition', params: { ports: [{ port: 80 }] } };
    const ok = plan({ ...partition, container: 'web' });
    assert.ok(ok.success, JSON.stringify(ok.error?.issues));
    assert.equal(ok.data.faults[0]?.container, 'web');
    const resolved = resolvePlan({ allowLocalTargets: false }, { plan: ok.data, seed: 1, tag: 't' });
    assert.equal(resolved.steps[0]?.container, 'web');
    assert.match(resolved.steps[0]?.inject ?? '', /inside container web$/);
    assert.equal(plan({ ...partition, container: 'web;reboot' }).success, false);
    const pause = plan({ kind: 'process-pause', params: { pattern: 'java' }, container: 'web' });
    assert.equal(pause.success, false);
    assert.match(JSON.stringify(pause.error?.issues), /does not act on a network namespace/);
    assert.equal(
      plan({ kind: 'container-pause', params: { container: 'web' }, container: 'web' }).success,
      false,
    );
    assert.equal(plan({ kind: 'container-pause', params: { container: 'web' } }).success, true);
  });
});
