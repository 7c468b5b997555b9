import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { SshExecutor } from '../activities/executors/ssh';
import type { FaultContext } from '../activities/faults/contract';
import { getFaultKind } from '../activities/faults/registry';
import { serviceRestart } from '../activities/faults/serviceRestart';
import { serviceStop } from '../activities/faults/serviceStop';
import { parseShow } from '../activities/faults/systemdUnits';
import { rolledBack } from '../activities/faultSteps';
import { localFaultContext } from './support/faultContext';
import { waitFor } from './support/wait';
import { sshdKeyOnlyRoot, startTestHosts, tcpOpen, type TestHosts } from './support/hosts';
import { startTestSystemd, type TestSystemd } from './support/systemd';

const run = promisify(execFile);

function service(exec: string, unit: string[] = [], extra: string[] = []): string {
  return [
    '[Unit]',
    'DefaultDependencies=no',
    ...unit,
    '[Service]',
    `ExecStart=${exec}`,
    'StandardOutput=null',
    'StandardError=null',
    ...extra,
    '',
  ].join('\n');
}

const units = {
  'gd-echo.service': service('/bin/sleep infinity'),
  'gd-idle.service': service('/bin/sleep infinity'),
  // Starts only while /run/gd-flaky-ok exists (its process exits at once otherwise); two starts a minute.
  'gd-flaky.service': service(
    "/bin/sh -c 'test -e /run/gd-flaky-ok && exec sleep infinity'",
    ['StartLimitBurst=2', 'StartLimitIntervalSec=60'],
    ['ExecStartPre=/bin/test -e /run/gd-flaky-ok'],
  ),
  'gd-doomed.service': service('/bin/sleep infinity'),
};

type Shown = Record<string, string>;

async function show(sd: TestSystemd, unit: string): Promise<Shown> {
  const out = await sd.inside([
    'systemctl',
    'show',
    '--property=ActiveState,SubState,MainPID,InvocationID,LoadState,Result',
    '--',
    unit,
  ]);
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/** What the host's dead-man switch does: each command on its own, whatever the others return. */
async function runAlone(sd: TestSystemd, commands: readonly (readonly string[])[]): Promise<void> {
  for (const command of commands) await sd.exec.run(command);
}

describe('service faults against a real systemd (PID 1 of its own namespaces)', () => {
  let sd: TestSystemd;
  let ctx: FaultContext;

  before(async () => {
    sd = await startTestSystemd({
      units,
      start: ['gd-echo.service', 'gd-flaky.service', 'gd-doomed.service'],
      files: {},
    });
    await sd.inside(['touch', '/run/gd-flaky-ok']);
    await sd.inside(['systemctl', 'restart', 'gd-flaky.service']);
    ctx = localFaultContext('svctest', {
      exec: sd.exec,
      target: { group: 'here', kind: 'local', name: 'sd-host' },
    });
  });
  after(async () => {
    await sd?.stop();
  });

  it('service-stop stops the unit, verifies it, and rollback starts it again; each step idempotent', async () => {
    const p = serviceStop.params.parse({ unit: 'gd-echo.service' });
    const before = await show(sd, 'gd-echo.service');
    assert.equal(before.ActiveState, 'active');
    const saved = await serviceStop.prepare(ctx, p);
    assert.deepEqual(saved, {
      activeState: 'active',
      subState: 'running',
      mainPid: Number(before.MainPID),
      wasActive: true,
    });
    await serviceStop.inject(ctx, p, saved);
    await serviceStop.inject(ctx, p, saved);
    assert.equal((await show(sd, 'gd-echo.service')).ActiveState, 'inactive');
    const injected = await serviceStop.verify(ctx, p, saved);
    assert.equal(injected.active, true);
    assert.match(injected.detail, /gd-echo\.service inactive \(dead\)/);

    await serviceStop.rollback(ctx, p, saved);
    await serviceStop.rollback(ctx, p, saved);
    const back = await show(sd, 'gd-echo.service');
    assert.equal(back.ActiveState, 'active');
    assert.notEqual(back.MainPID, before.MainPID, 'a new process runs');
    const restored = await serviceStop.verify(ctx, p, saved);
    assert.equal(restored.active, false);
    assert.ok(rolledBack(restored));
  });

  it('service-restart changes the main pid once, even when inject is retried', async () => {
    const p = serviceRestart.params.parse({ unit: 'gd-echo.service' });
    const before = await show(sd, 'gd-echo.service');
    const saved = await serviceRestart.prepare(ctx, p);
    assert.equal(saved.mainPid, Number(before.MainPID));
    assert.equal(saved.invocationId, before.InvocationID);
    assert.equal((await serviceRestart.verify(ctx, p, saved)).active, false, 'not restarted yet');

    await serviceRestart.inject(ctx, p, saved);
    const first = await show(sd, 'gd-echo.service');
    assert.equal(first.ActiveState, 'active');
    assert.notEqual(first.MainPID, before.MainPID);
    assert.notEqual(first.InvocationID, before.InvocationID);
    await serviceRestart.inject(ctx, p, saved);
    assert.equal(
      (await show(sd, 'gd-echo.service')).MainPID,
      first.MainPID,
      'a retried inject restarts nothing',
    );

    const injected = await serviceRestart.verify(ctx, p, saved);
    assert.equal(injected.active, true, 'the restart happened');
    assert.match(
      injected.detail,
      new RegExp(`restarted: .*main pid ${first.MainPID}.*was ${before.MainPID}`),
    );
    // Nothing of a restart stays in place: rollback only makes sure the unit runs, and is verified so.
    await serviceRestart.rollback(ctx, p, saved);
    const after = await serviceRestart.verify(ctx, p, saved);
    assert.equal(after.recovered, true);
    assert.ok(rolledBack(after));
    assert.equal((await show(sd, 'gd-echo.service')).MainPID, first.MainPID, 'a running unit is left alone');
  });

  it('service-restart rollback starts a unit the restart left down', async () => {
    const p = serviceRestart.params.parse({ unit: 'gd-echo.service' });
    const saved = await serviceRestart.prepare(ctx, p);
    await serviceRestart.inject(ctx, p, saved);
    await sd.inside(['systemctl', 'kill', '--signal=KILL', 'gd-echo.service']);
    await sd.inside(['sh', '-c', 'while systemctl is-active -q gd-echo.service; do sleep 0.05; done']);
    const down = await serviceRestart.verify(ctx, p, saved);
    assert.equal(down.recovered, false);
    assert.equal(rolledBack(down), false);
    await serviceRestart.rollback(ctx, p, saved);
    assert.equal((await show(sd, 'gd-echo.service')).ActiveState, 'active');
    assert.ok(rolledBack(await serviceRestart.verify(ctx, p, saved)));
  });

  it('rollback resets a unit that failed and hit its start limit while it was stopped', async () => {
    const p = serviceStop.params.parse({ unit: 'gd-flaky.service' });
    const saved = await serviceStop.prepare(ctx, p);
    await serviceStop.inject(ctx, p, saved);
    // While it is down, its start condition breaks and someone keeps trying to start it.
    await sd.inside(['rm', '/run/gd-flaky-ok']);
    for (let i = 0; i < 3; i++) await sd.exec.run(['systemctl', 'start', 'gd-flaky.service']);
    const failed = await show(sd, 'gd-flaky.service');
    assert.equal(failed.ActiveState, 'failed');
    assert.equal(failed.Result, 'start-limit-hit');
    const plainStart = await sd.exec.run(['systemctl', 'start', 'gd-flaky.service']);
    assert.notEqual(plainStart.exitCode, 0, 'systemd refuses a plain start now');

    await sd.inside(['touch', '/run/gd-flaky-ok']);
    await serviceStop.rollback(ctx, p, saved);
    assert.equal((await show(sd, 'gd-flaky.service')).ActiveState, 'active');
    assert.equal((await serviceStop.verify(ctx, p, saved)).active, false);
  });

  it('a rollback that cannot start the unit fails, naming why (and is retried by the workflow)', async () => {
    const p = serviceStop.params.parse({ unit: 'gd-flaky.service' });
    const saved = await serviceStop.prepare(ctx, p);
    await serviceStop.inject(ctx, p, saved);
    await sd.inside(['rm', '/run/gd-flaky-ok']);
    await assert.rejects(
      serviceStop.rollback(ctx, p, saved),
      /systemctl start gd-flaky\.service on sd-host exited/,
    );
    assert.equal((await serviceStop.verify(ctx, p, saved)).active, true);
    await sd.inside(['touch', '/run/gd-flaky-ok']);
    await serviceStop.rollback(ctx, p, saved);
    assert.equal((await serviceStop.verify(ctx, p, saved)).active, false);
  });

  it('hostRevert commands, run alone on the host, start the stopped unit again', async () => {
    const p = serviceStop.params.parse({ unit: 'gd-echo.service' });
    const saved = await serviceStop.prepare(ctx, p);
    const revert = serviceStop.hostRevert(p, saved, { target: ctx.target, fault: 'f', tag: 'svctest' });
    assert.deepEqual(revert, [
      ['systemctl', 'reset-failed', '--', 'gd-echo.service'],
      ['systemctl', 'start', '--', 'gd-echo.service'],
    ]);
    await serviceStop.inject(ctx, p, saved);
    await runAlone(sd, revert);
    assert.equal((await show(sd, 'gd-echo.service')).ActiveState, 'active');
    // …and do no harm when the fault is already gone.
    const pid = (await show(sd, 'gd-echo.service')).MainPID;
    await runAlone(sd, revert);
    assert.equal((await show(sd, 'gd-echo.service')).MainPID, pid);

    const r = serviceRestart.params.parse({ unit: 'gd-echo.service' });
    const restartSaved = await serviceRestart.prepare(ctx, r);
    await serviceRestart.inject(ctx, r, restartSaved);
    await sd.inside(['systemctl', 'stop', 'gd-echo.service']);
    await runAlone(
      sd,
      serviceRestart.hostRevert(r, restartSaved, { target: ctx.target, fault: 'f', tag: 't' }),
    );
    assert.equal((await show(sd, 'gd-echo.service')).ActiveState, 'active');
    assert.deepEqual(
      serviceStop.hostRevert(p, { ...saved, wasActive: false }, { target: ctx.target, fault: 'f', tag: 't' }),
      [],
    );
  });

  it('refuses a unit that does not exist, or does not run, before changing anything', async () => {
    await assert.rejects(
      serviceStop.prepare(ctx, serviceStop.params.parse({ unit: 'nope.service' })),
      (error: Error) =>
        error.name === 'FaultUserError' && /^no unit nope\.service on host sd-host$/.test(error.message),
    );
    await assert.rejects(
      serviceRestart.prepare(ctx, serviceRestart.params.parse({ unit: 'nope.service' })),
      /no unit nope\.service on host sd-host/,
    );
    await assert.rejects(
      serviceRestart.prepare(ctx, serviceRestart.params.parse({ unit: 'gd-idle.service' })),
      /gd-idle\.service inactive \(dead\) on host sd-host: it must run before gameday restarts it/,
    );
    assert.equal((await show(sd, 'gd-idle.service')).ActiveState, 'inactive', 'not started by the refusal');
  });

  it('a unit that vanished during the fault rolls back as done', async () => {
    const p = serviceStop.params.parse({ unit: 'gd-doomed.service' });
    const saved = await serviceStop.prepare(ctx, p);
    await serviceStop.inject(ctx, p, saved);
    await sd.inside(['rm', '/etc/systemd/system/gd-doomed.service']);
    await sd.inside(['systemctl', 'daemon-reload']);
    assert.equal((await show(sd, 'gd-doomed.service')).LoadState, 'not-found');
    await serviceStop.rollback(ctx, p, saved);
    const gone = await serviceStop.verify(ctx, p, saved);
    assert.equal(gone.active, false);
    assert.match(gone.detail, /gone \(not-found\)/);
    const r = serviceRestart.params.parse({ unit: 'gd-doomed.service' });
    await serviceRestart.rollback(ctx, r, { invocationId: 'x', mainPid: 1 });
    assert.ok(rolledBack(await serviceRestart.verify(ctx, r, { invocationId: 'x', mainPid: 1 })));
  });
});

describe('service faults over SSH: sshd runs as a unit of the same real systemd', () => {
  let lab: TestHosts;
  let sd: TestSystemd;
  let exec: SshExecutor;
  let keyDir: string;

  before(async () => {
    lab = await startTestHosts(1);
    const host = lab.hosts[0];
    assert.ok(host);
    keyDir = mkdtempSync(join(tmpdir(), 'gameday-sdkeys-'));
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'host_key')]);
    const fingerprint =
      (await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(keyDir, 'host_key.pub')])).stdout.split(
        ' ',
      )[1] ?? '';
    const sshdConfig = [
      `ListenAddress ${host.address}:2222`,
      'HostKey /run/gameday/host_key',
      'PidFile /run/gameday/sshd.pid',
      'AuthorizedKeysFile /run/gameday/authorized_keys',
      ...sshdKeyOnlyRoot,
      '',
    ].join('\n');
    sd = await startTestSystemd({
      netns: host.namespace,
      units: {
        'gd-echo.service': units['gd-echo.service'],
        'gd-sshd.service': service(
          '/usr/sbin/sshd -D -e -f /run/gameday/sshd.conf',
          [],
          ['RuntimeDirectory=sshd'],
        ),
      },
      start: ['gd-echo.service', 'gd-sshd.service'],
      files: {
        'sshd.conf': sshdConfig,
        host_key: readFileSync(join(keyDir, 'host_key')),
        authorized_keys: readFileSync(join(lab.dir, 'authorized_keys')),
      },
    });
    // systemd calls a simple service started once it has forked: sshd may not listen yet.
    await waitFor('sshd under systemd to listen', () => tcpOpen(host.address, 2222));
    exec = new SshExecutor(
      {
        name: 'sd-ssh',
        address: host.address,
        port: 2222,
        user: 'root',
        hostKey: { fingerprints: [fingerprint] },
        maxSessions: 10,
      },
      { privateKey: lab.privateKey },
    );
  });
  after(async () => {
    await exec?.close();
    await sd?.stop();
    await lab?.stop();
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });

  it('stops and starts a unit through SSH and the remote shell', async () => {
    const ctx = localFaultContext('svcssh', {
      exec,
      target: { group: 'remote', kind: 'ssh', name: 'sd-ssh' },
    });
    const p = serviceStop.params.parse({ unit: 'gd-echo.service' });
    const saved = await serviceStop.prepare(ctx, p);
    await serviceStop.inject(ctx, p, saved);
    assert.equal((await show(sd, 'gd-echo.service')).ActiveState, 'inactive');
    assert.equal((await serviceStop.verify(ctx, p, saved)).active, true);
    await serviceStop.rollback(ctx, p, saved);
    assert.equal((await show(sd, 'gd-echo.service')).ActiveState, 'active');
    await assert.rejects(
      serviceStop.prepare(ctx, serviceStop.params.parse({ unit: 'nope.service' })),
      /no unit nope\.service on host sd-ssh/,
    );
  });

  it("a host without systemd is the plan's mistake, said plainly", async () => {
    const host = lab.hosts[0];
    assert.ok(host);
    // The namespace's own sshd (port 22) runs in the host's file system view, where no systemd runs.
    const plain = new SshExecutor(
      {
        name: 'plain',
        address: host.address,
        port: 22,
        user: 'root',
        hostKey: { fingerprints: [host.fingerprint] },
        maxSessions: 10,
      },
      { privateKey: lab.privateKey },
    );
    try {
      const ctx = localFaultContext('svcssh', {
        exec: plain,
        target: { group: 'remote', kind: 'ssh', name: 'plain' },
      });
      await assert.rejects(
        serviceStop.prepare(ctx, serviceStop.params.parse({ unit: 'gd-echo.service' })),
        (error: Error) =>
          error.name === 'FaultUserError' && /systemd does not manage host plain/.test(error.message),
      );
    } finally {
      await plain.close();
    }
  });
});

describe('service fault parameters and words', () => {
  it('accepts unit names and rejects metacharacters, options, globs, templates and risky unit types', () => {
    for (const unit of ['nginx.service', 'getty@tty1.service', 'user-1000:x_y.socket', 'logrotate.timer']) {
      assert.equal(serviceStop.params.safeParse({ unit }).success, true, unit);
    }
    for (const unit of [
      'nginx',
      'nginx.service; reboot',
      '$(reboot).service',
      'a b.service',
      "x'.service",
      '-x.service',
      '--now.service',
      'ng*.service',
      'getty@.service',
      'multi-user.target',
      '-.mount',
      '../../x.service',
      `${'a'.repeat(260)}.service`,
    ]) {
      assert.equal(serviceStop.params.safeParse({ unit }).success, false, unit);
      assert.equal(serviceRestart.params.safeParse({ unit }).success, false, unit);
    }
    assert.equal(serviceStop.params.safeParse({ unit: 'a.service', mode: 'kill' }).success, false, 'strict');
  });

  it('are registered and say what they do in plain words', () => {
    assert.equal(getFaultKind('service-stop'), serviceStop);
    assert.equal(getFaultKind('service-restart'), serviceRestart);
    const target = { group: 'web', kind: 'ssh' as const, name: 'web-1' };
    assert.deepEqual(serviceStop.describe({ unit: 'nginx.service' }, target), {
      inject: 'stop nginx.service on web-1 (systemctl stop)',
      rollback: 'start nginx.service on web-1 again (systemctl start)',
    });
    assert.equal(
      serviceRestart.describe({ unit: 'nginx.service' }, target).inject,
      'restart nginx.service on web-1 (systemctl restart)',
    );
  });

  it('parses systemctl show output whatever the property order', () => {
    const state = parseShow(
      'MainPID=55\nLoadState=loaded\nActiveState=active\nSubState=running\nInvocationID=ab\nResult=success\n',
    );
    assert.deepEqual(state, {
      loadState: 'loaded',
      activeState: 'active',
      subState: 'running',
      mainPid: 55,
      invocationId: 'ab',
      result: 'success',
    });
  });
});
