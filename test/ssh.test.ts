import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SshExecutor, type SshHost } from '../activities/executors/ssh';
import { UnsafeArgumentError } from '../activities/executors/shellQuote';
import type { HostKeyPolicy } from '../activities/executors/hostKeys';
import { faultContext } from '../activities/faults/context';
import type { FaultContext } from '../activities/faults/contract';
import { processPause } from '../activities/faults/processPause';
import { matchingPids, readStat } from '../activities/faults/processes';
import { evaluate, probeEnvironment } from '../activities/checks/probe';
import { parsedCheck } from './support/checks';
import { sleep } from './support/wait';
import { startTestHosts, type TestHost, type TestHosts } from './support/hosts';

// Real OpenSSH servers (Debian sshd) in network namespaces act as the hosts.
describe('SSH executor against real sshd hosts in network namespaces', () => {
  let lab: TestHosts;
  const executors: SshExecutor[] = [];

  const executor = (
    host: TestHost,
    hostKey?: HostKeyPolicy,
    extra: Partial<SshHost> = {},
    onInsecure?: (h: string) => void,
  ) => {
    const created = new SshExecutor(
      {
        name: host.name,
        address: host.address,
        port: host.port,
        user: 'root',
        hostKey: hostKey ?? { fingerprints: [host.fingerprint] },
        maxSessions: 10,
        ...extra,
      },
      { privateKey: lab.privateKey },
      { readyTimeoutMs: 2000, ...(onInsecure ? { onInsecure } : {}) },
    );
    executors.push(created);
    return created;
  };

  before(async () => {
    lab = await startTestHosts(2);
  });
  after(async () => {
    for (const created of executors) await created.close();
    await lab?.stop();
  });

  it('runs argv on the host itself, arguments intact', async () => {
    const [first, second] = lab.hosts as [TestHost, TestHost];
    const result = await executor(first).run(['printf', '%s/', 'two  spaces', 'x=1,y=2', '']);
    assert.deepEqual(result, { exitCode: 0, stdout: 'two  spaces/x=1,y=2//', stderr: '' });
    const addresses = await executor(second).run(['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
    assert.match(
      addresses.stdout,
      new RegExp(`inet ${second.address.replace(/\./g, '\\.')}/24`),
      'ran inside host-2',
    );
    const failing = await executor(first).run(['ls', '/no/such/path']);
    assert.equal(failing.exitCode, 2);
    assert.match(failing.stderr, /No such file/);
  });

  it('refuses arguments with shell metacharacters before sending anything', async () => {
    const host = lab.hosts[0] as TestHost;
    const ssh = executor(host);
    const marker = join(lab.dir, 'pwned');
    for (const bad of [
      `x; touch ${marker}`,
      `$(touch ${marker})`,
      `\`touch ${marker}\``,
      `a' ; touch '${marker}`,
      'a\nb',
      'a"b',
      'a\\b',
      'a|b',
      'a&b',
      'a>b',
      'a*',
    ]) {
      await assert.rejects(ssh.run(['echo', bad]), UnsafeArgumentError, JSON.stringify(bad));
    }
    assert.equal((await host.inside(['test', '-e', marker])).code, 1, 'nothing ran');
  });

  it('verifies host keys: pinned fingerprint, known_hosts, and a loud opt-out', async () => {
    const host = lab.hosts[0] as TestHost;
    await assert.rejects(
      executor(host, { fingerprints: ['SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'] }).run(['true']),
      /cannot reach host host-1 \(10\.213\.\d+\.11:22\) over SSH: host key SHA256:\S+ is not one of the pinned fingerprints \(refusing to connect\)/,
    );
    const knownHosts = join(lab.dir, 'known_hosts');
    writeFileSync(
      knownHosts,
      `# test\n${(lab.hosts[1] as TestHost).knownHostsLine}\n${host.knownHostsLine}\n`,
    );
    assert.equal((await executor(host, { knownHostsFile: knownHosts }).run(['true'])).exitCode, 0);
    const wrongEntry = join(lab.dir, 'known_hosts_wrong');
    writeFileSync(
      wrongEntry,
      `${host.address} ${(lab.hosts[1] as TestHost).knownHostsLine.split(' ').slice(1).join(' ')}\n`,
    );
    await assert.rejects(executor(host, { knownHostsFile: wrongEntry }).run(['true']), /does not match/);
    const warned: string[] = [];
    assert.equal(
      (await executor(host, { insecureSkipVerify: true }, {}, (h) => warned.push(h)).run(['true'])).exitCode,
      0,
    );
    assert.deepEqual(warned, ['host-1']);
  });

  it('kills a command that overruns its timeout on the host', async () => {
    const host = lab.hosts[0] as TestHost;
    const started = Date.now();
    await assert.rejects(
      executor(host).run(['sleep', '37'], { timeoutMs: 1000 }),
      /timed out after 1 s and was killed on the host/,
    );
    assert.ok(Date.now() - started < 5000);
    assert.equal((await host.inside(['pgrep', '-f', 'sleep 37'])).code, 1, 'no sleep left running');
  });

  it('keeps below MaxSessions: 30 concurrent commands on one connection all succeed', async () => {
    const ssh = executor(lab.hosts[1] as TestHost);
    const results = await Promise.all(Array.from({ length: 30 }, () => ssh.run(['sleep', '0.2'])));
    assert.ok(results.every((r) => r.exitCode === 0));
  });

  it('an unreachable host is a clear error naming it, within the ready timeout', async () => {
    const host = lab.hosts[0] as TestHost;
    const started = Date.now();
    await assert.rejects(
      executor({ ...host, name: 'ghost', address: lab.deadAddress }).run(['true']),
      /cannot reach host ghost \(10\.213\.\d+\.250:22\) over SSH/,
    );
    assert.ok(Date.now() - started < 6000);
  });

  it('files, signals, detached processes and TCP probes, as seen from the host', async () => {
    const host = lab.hosts[1] as TestHost;
    const ssh = executor(host);
    const path = join(lab.dir, 'written-over-ssh.txt');
    await ssh.writeFile(path, 'hello\n');
    assert.equal(await ssh.readFile(path), 'hello\n');
    assert.equal(await ssh.readFile(join(lab.dir, 'missing')), undefined);
    const pid = await ssh.startDetached(['sleep', '61'], {
      cwd: lab.dir,
      logPath: join(lab.dir, 'detached.log'),
    });
    assert.equal(await ssh.readFile(`/proc/${pid}/cmdline`), 'sleep\u000061\u0000');
    assert.equal(await ssh.signal(pid, 'KILL'), true);
    await sleep(100);
    // Gone, or a zombie until its new parent reaps it: either way no longer running.
    assert.ok([undefined, 'Z'].includes((await readStat(ssh, pid))?.state), 'killed');
    assert.equal(await ssh.signal(999_999, 'KILL'), false, 'no such process');
    // process-kill's restart: the pidfile names the new process in the same step as its start (soak run 141).
    const pidfile = join(lab.dir, 'detached.pid');
    await ssh.writeFile(pidfile, '1\n');
    const restarted = await ssh.startDetached(['sleep', '61'], {
      cwd: lab.dir,
      logPath: join(lab.dir, 'detached.log'),
      pidfile,
    });
    assert.equal(await ssh.readFile(pidfile), `${restarted}\n`);
    assert.equal(await ssh.signal(restarted, 'KILL'), true);
    assert.equal(await ssh.tcpReachable(host.address, 22, 1000), true);
    assert.equal(await ssh.tcpReachable(host.address, 1, 1000), false);
  });

  it('the same fault module works over SSH: process-pause on a process on the host', async () => {
    const host = lab.hosts[0] as TestHost;
    const ssh = executor(host);
    const unique = `62.${Date.now() % 100_000}`; // never matches a sleeper some earlier run left behind
    const pid = await ssh.startDetached(['sleep', unique], {
      cwd: lab.dir,
      logPath: join(lab.dir, 'pause.log'),
    });
    try {
      const pidfile = join(lab.dir, 'sleeper.pid');
      await ssh.writeFile(pidfile, `${pid}\n`);
      const ctx: FaultContext = faultContext({
        exec: ssh,
        target: { group: 'hosts', kind: 'ssh', name: host.name },
        fault: 'pause',
        tag: 'sshtest',
        protectedPids: [],
        heartbeat: () => undefined,
        sleep,
      });
      const params = processPause.params.parse({ pidfile });
      const saved = await processPause.prepare(ctx, params);
      await processPause.inject(ctx, params, saved);
      assert.equal((await processPause.verify(ctx, params, saved)).active, true);
      await processPause.rollback(ctx, params, saved);
      await processPause.rollback(ctx, params, saved);
      assert.equal((await processPause.verify(ctx, params, saved)).active, false);
      // By pattern: the remote shell and `timeout` around pgrep hold the pattern too, and must not be selected.
      const byPattern = await processPause.prepare(
        ctx,
        processPause.params.parse({ pattern: `sleep ${unique}` }),
      );
      assert.deepEqual(
        byPattern.processes.map((process) => process.pid),
        [pid],
      );
      // The lookup itself, before liveness checks: the `timeout` around pgrep is alive while pgrep runs.
      assert.deepEqual(await matchingPids(ssh, { pattern: `sleep ${unique}` }), [pid]);
    } finally {
      await ssh.signal(pid, 'KILL');
    }
  });

  it('a check over SSH that could not ask never holds, even with expect: fail', async () => {
    const [first] = lab.hosts as [TestHost];
    const reachable = executor(first);
    // The dead address: nothing answers, so the SSH connection itself fails.
    const dead = executor({ ...first, name: 'dead-1', address: lab.deadAddress });
    const env = probeEnvironment({
      checkExecutor: reachable,
      executorFor: (target) => (target.name === 'dead-1' ? dead : reachable),
    });
    const failing = (on: string, probe: Record<string, unknown>) =>
      evaluate(env, parsedCheck({ when: ['before'], expect: 'fail', on, ...probe }));
    // exit 127 from the remote shell: the command does not exist there.
    const typo = await failing('host-1', { command: { argv: ['etcdctl-typo', 'get', 'k'] } });
    assert.equal(typo.holds, false, typo.detail);
    assert.match(typo.detail, /^could not ask: etcdctl-typo on host-1 exited 127 \(command not found\)/);
    const unreachable = await failing('dead-1', { command: { argv: ['true'] } });
    assert.equal(unreachable.holds, false, unreachable.detail);
    assert.match(unreachable.detail, /^could not ask: cannot reach host dead-1/);
    const tcpFromDead = await failing('dead-1', { tcp: { host: '127.0.0.1', port: 22 } });
    assert.equal(tcpFromDead.holds, false, tcpFromDead.detail);
    assert.match(tcpFromDead.detail, /^could not ask: cannot reach host dead-1/);
    // A refused port seen from a reachable host is that host's answer.
    const refused = await failing('host-1', { tcp: { host: '127.0.0.1', port: 1, timeout: '1s' } });
    assert.equal(refused.holds, true, refused.detail);
  });
});
