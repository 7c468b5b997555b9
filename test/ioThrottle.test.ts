import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { runChecked } from '../activities/executors/executor';
import type { SshExecutor } from '../activities/executors/ssh';
import { shellCommand } from '../activities/executors/shellQuote';
import { cgroupMounts, cgroupOf } from '../activities/faults/cgroups';
import type { FaultContext } from '../activities/faults/contract';
import { ioMaxLine, parseIoMax, parseV1, v1Line } from '../activities/faults/ioLimits';
import { ioThrottle } from '../activities/faults/ioThrottle';
import { localFaultContext } from './support/faultContext';
import { waitFor } from './support/wait';
import { sshExecutorFor, startTestHosts, type TestHost, type TestHosts } from './support/hosts';

const run = promisify(execFile);
const blkio = '/sys/fs/cgroup/blkio';
const MiB = 1024 * 1024;

/**
 * Writes `mib` MiB with O_DIRECT (so the page cache cannot absorb it) from a process inside the cgroup, and
 * returns bytes per second as dd measured them.
 */
async function writeThroughput(cgroupDir: string, file: string, mib: number): Promise<number> {
  // A test-only shell: it joins the cgroup, then becomes dd.
  const script = 'echo $$ > "$1/cgroup.procs" && exec dd if=/dev/zero of="$2" bs=1M count="$3" oflag=direct';
  const { stderr } = await run('sh', ['-c', script, 'dd-in-cgroup', cgroupDir, file, String(mib)], {
    timeout: 120_000,
  });
  const match = /(\d+) bytes .* copied, ([\d.]+) s/.exec(stderr);
  assert.ok(match, `dd said: ${stderr}`);
  return Number(match[1]) / Number(match[2]);
}

const mbps = (bytesPerSecond: number) => `${(bytesPerSecond / MiB).toFixed(1)} MiB/s`;

// A real ext4 filesystem on its own loop device, and a v1 blkio cgroup of our own: the throttle is the
// kernel's, measured with real writes. The machine has no cgroup v2 io controller (blkio is bound to v1).
describe('io-throttle with cgroup v1 blkio on a loop device', () => {
  let dir: string;
  let mount: string;
  let loop: string;
  let numbers: string;
  let cgroupDir: string;
  const cgroup = `/gameday-iotest-${process.pid}`;
  const writeFile = () => join(mount, 'data');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gameday-io-'));
    mount = join(dir, 'mnt');
    mkdirSync(mount);
    await run('truncate', ['-s', '256M', join(dir, 'fs.img')]);
    loop = (await run('losetup', ['-f', '--show', join(dir, 'fs.img')])).stdout.trim();
    await run('mkfs.ext4', ['-q', '-F', loop]);
    await run('mount', [loop, mount]);
    const [major, minor] = (await run('stat', ['-L', '-c', '%t %T', loop])).stdout.trim().split(' ');
    numbers = `${Number.parseInt(major ?? '', 16)}:${Number.parseInt(minor ?? '', 16)}`;
    cgroupDir = join(blkio, cgroup);
    mkdirSync(cgroupDir);
  });
  after(async () => {
    await run('umount', [mount]).catch(() => undefined);
    if (loop) await run('losetup', ['-d', loop]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    // Our dd processes have exited, so the cgroup is empty and can go.
    if (cgroupDir && existsSync(cgroupDir)) rmdirSync(cgroupDir);
  });

  const limitOf = (file: string) => readFileSync(join(cgroupDir, file), 'utf8').trim();

  it('measured write throughput drops to the set rate and comes back after rollback', async (t) => {
    const ctx = localFaultContext('iotest');
    const fast = await writeThroughput(cgroupDir, writeFile(), 64);
    const p = ioThrottle.params.parse({ device: loop, cgroup, writeBps: '2M' });
    const saved = await ioThrottle.prepare(ctx, p);
    assert.equal(saved.version, 'v1');
    assert.equal(saved.device, numbers);
    assert.deepEqual(saved.cgroups[0]?.previous, { rbps: null, wbps: null, riops: null, wiops: null });
    await ioThrottle.inject(ctx, p, saved);
    await ioThrottle.inject(ctx, p, saved);
    assert.equal(limitOf('blkio.throttle.write_bps_device'), `${numbers} 2097152`);
    assert.equal(limitOf('blkio.throttle.read_bps_device'), '', 'only the limits asked for');
    const state = await ioThrottle.verify(ctx, p, saved);
    assert.equal(state.active, true, state.detail);
    assert.match(state.detail, /write 2 MiB\/s/);

    // 8 MiB at 2 MiB/s is about 4 s. blk-throttle dispatches in 100 ms slices, so the mean rate over seconds is
    // close to the limit; the margins cover the slice at the start and a busy shared machine (slower only).
    const slow = await writeThroughput(cgroupDir, writeFile(), 8);
    assert.ok(slow > 2 * MiB * 0.7 && slow < 2 * MiB * 1.2, `throttled to ${mbps(slow)}, set 2 MiB/s`);

    await ioThrottle.rollback(ctx, p, saved);
    await ioThrottle.rollback(ctx, p, saved);
    assert.equal((await ioThrottle.verify(ctx, p, saved)).active, false);
    assert.equal(limitOf('blkio.throttle.write_bps_device'), '');
    const restored = await writeThroughput(cgroupDir, writeFile(), 64);
    t.diagnostic(
      `before ${mbps(fast)}, throttled ${mbps(slow)} (set 2 MiB/s), after rollback ${mbps(restored)}`,
    );
    assert.ok(fast > 20 * MiB, `unthrottled ${mbps(fast)}`);
    assert.ok(restored > 20 * MiB, `after rollback ${mbps(restored)} (before: ${mbps(fast)})`);
  });

  it('restores the previous limits exactly, and a rollback never applied changes nothing', async () => {
    const ctx = localFaultContext('iotest');
    await run('sh', ['-c', `echo "${numbers} 7340032" > ${cgroupDir}/blkio.throttle.write_bps_device`]);
    await run('sh', ['-c', `echo "${numbers} 500" > ${cgroupDir}/blkio.throttle.read_iops_device`]);
    try {
      const p = ioThrottle.params.parse({
        device: loop,
        cgroup,
        writeBps: '1M',
        readIops: 50,
        readBps: '4M',
      });
      const saved = await ioThrottle.prepare(ctx, p);
      assert.deepEqual(saved.cgroups[0]?.previous, { rbps: null, wbps: 7340032, riops: 500, wiops: null });
      await ioThrottle.rollback(ctx, p, saved); // never injected
      assert.equal(limitOf('blkio.throttle.write_bps_device'), `${numbers} 7340032`);
      assert.equal(limitOf('blkio.throttle.read_iops_device'), `${numbers} 500`);
      await ioThrottle.inject(ctx, p, saved);
      assert.equal(limitOf('blkio.throttle.write_bps_device'), `${numbers} 1048576`);
      assert.equal(limitOf('blkio.throttle.read_iops_device'), `${numbers} 50`);
      assert.equal(limitOf('blkio.throttle.read_bps_device'), `${numbers} 4194304`);
      // A retried prepare (after an inject) still saves what was there before the inject.
      assert.deepEqual((await ioThrottle.prepare(ctx, p)).cgroups, saved.cgroups);
      await ioThrottle.rollback(ctx, p, saved);
      assert.equal(limitOf('blkio.throttle.write_bps_device'), `${numbers} 7340032`);
      assert.equal(limitOf('blkio.throttle.read_iops_device'), `${numbers} 500`);
      assert.equal(limitOf('blkio.throttle.read_bps_device'), '');
      assert.equal((await ioThrottle.verify(ctx, p, saved)).active, false);
    } finally {
      await run('sh', ['-c', `echo "${numbers} 0" > ${cgroupDir}/blkio.throttle.write_bps_device`]);
      await run('sh', ['-c', `echo "${numbers} 0" > ${cgroupDir}/blkio.throttle.read_iops_device`]);
    }
  });

  it('hostRevert commands undo the fault alone, and do nothing once it is gone', async () => {
    const ctx = localFaultContext('iotest');
    const p = ioThrottle.params.parse({ device: numbers, cgroup, writeBps: '3M', writeIops: 40 });
    const saved = await ioThrottle.prepare(ctx, p);
    await ioThrottle.inject(ctx, p, saved);
    assert.equal(limitOf('blkio.throttle.write_iops_device'), `${numbers} 40`);
    const commands = ioThrottle.hostRevert(p, saved, { target: ctx.target, fault: ctx.fault, tag: ctx.tag });
    for (const command of commands) {
      assert.doesNotMatch(command.join(' '), /\bsh\b|[;&|<>`'"]/);
      shellCommand(command); // passes the SSH boundary's strict pattern as it is
    }
    const runAll = async () => {
      for (const [file, ...args] of commands) await run(file as string, args).catch(() => undefined);
    };
    await runAll();
    assert.equal(limitOf('blkio.throttle.write_bps_device'), '');
    assert.equal(limitOf('blkio.throttle.write_iops_device'), '');
    assert.equal((await ioThrottle.verify(ctx, p, saved)).active, false);
    for (const restore of saved.restores) assert.equal(existsSync(restore.source), false, 'copies removed');
    await runAll(); // again: the copies are gone, dd writes nothing
    await ioThrottle.rollback(ctx, p, saved);
    assert.equal(limitOf('blkio.throttle.write_bps_device'), '');
  });

  it('finds the cgroup from a process (pattern or pidfile), and refuses a process in the root cgroup', async () => {
    const ctx = localFaultContext('iotest');
    // sleep takes a fraction: a duration unique to this test run is the pattern that finds it.
    const marker = `sleep 30.${process.pid}`;
    const sleeper = spawn('sh', ['-c', `echo $$ > ${cgroupDir}/cgroup.procs && exec ${marker}`]);
    const outside = spawn('sleep', [`31.${process.pid}`]);
    const stop = async (child: ReturnType<typeof spawn>) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    };
    try {
      // The shell joins the cgroup, then becomes sleep.
      await waitFor('the sleeper in its cgroup', () => {
        const comm =
          existsSync(`/proc/${sleeper.pid}/comm`) && readFileSync(`/proc/${sleeper.pid}/comm`, 'utf8');
        return comm === 'sleep\n';
      });
      const p = ioThrottle.params.parse({ device: loop, pattern: marker, readBps: '1M' });
      const saved = await ioThrottle.prepare(ctx, p);
      assert.deepEqual(
        saved.cgroups.map((c) => c.dir),
        [cgroupDir],
      );
      writeFileSync(join(dir, 'outside.pid'), `${outside.pid}\n`);
      const root = ioThrottle.params.parse({
        device: loop,
        pidfile: join(dir, 'outside.pid'),
        readBps: '1M',
      });
      await assert.rejects(ioThrottle.prepare(ctx, root), /is in the root v1 cgroup/);
    } finally {
      await stop(sleeper);
      await stop(outside);
    }
  });

  it('clear errors: no such device, not a block device, no such cgroup', async () => {
    const ctx = localFaultContext('iotest');
    const parse = (input: object) => ioThrottle.params.parse({ writeBps: '1M', ...input });
    await assert.rejects(
      ioThrottle.prepare(ctx, parse({ device: '/dev/gameday-none', cgroup })),
      /device \/dev\/gameday-none does not exist on local/,
    );
    await assert.rejects(
      ioThrottle.prepare(ctx, parse({ device: '/dev/null', cgroup })),
      /\/dev\/null on local is not a block device/,
    );
    await assert.rejects(
      ioThrottle.prepare(ctx, parse({ device: loop, cgroup: '/gameday-no-such' })),
      /no cgroup \/gameday-no-such in the blkio hierarchy/,
    );
  });

  it('over SSH (a namespace host on the same kernel): inject, verify, rollback', async () => {
    let lab: TestHosts | undefined;
    let ssh: SshExecutor | undefined;
    try {
      lab = await startTestHosts(1);
      const host = lab.hosts[0] as TestHost;
      ssh = sshExecutorFor(lab, host);
      const ctx: FaultContext = localFaultContext('iotest', {
        exec: ssh,
        target: { group: 'db', kind: 'ssh', name: host.name },
        protectedPids: [],
      });
      const p = ioThrottle.params.parse({ device: loop, cgroup, writeBps: '2M' });
      // `ip netns exec` gives sshd a fresh /sys without cgroups, and detection reads the target's own mounts.
      await assert.rejects(ioThrottle.prepare(ctx, p), /host-1 has neither a cgroup v2 "io" controller nor/);
      // Mounted as a host would have it (in sshd's mount namespace only): the same kernel blkio hierarchy.
      await runChecked(ssh, ['mount', '-t', 'tmpfs', 'cgroup', '/sys/fs/cgroup']);
      await runChecked(ssh, ['mkdir', '/sys/fs/cgroup/blkio']);
      await runChecked(ssh, ['mount', '-t', 'cgroup', '-o', 'blkio', 'cgroup', '/sys/fs/cgroup/blkio']);
      const saved = await ioThrottle.prepare(ctx, p);
      await ioThrottle.inject(ctx, p, saved);
      assert.equal(limitOf('blkio.throttle.write_bps_device'), `${numbers} 2097152`, 'written through tee');
      assert.equal((await ioThrottle.verify(ctx, p, saved)).active, true);
      const slow = await writeThroughput(cgroupDir, writeFile(), 4);
      assert.ok(slow < 2 * MiB * 1.2, `throttled over SSH to ${mbps(slow)}`);
      await ioThrottle.rollback(ctx, p, saved);
      await ioThrottle.rollback(ctx, p, saved);
      assert.equal(limitOf('blkio.throttle.write_bps_device'), '');
      assert.equal((await ioThrottle.verify(ctx, p, saved)).active, false);
    } finally {
      await ssh?.close();
      await lab?.stop();
    }
  });
});

describe('io-throttle parameters and formats', () => {
  it('validates its parameters strictly', () => {
    const ok = (input: object) => ioThrottle.params.safeParse(input).success;
    assert.equal(ok({ device: '/dev/vda', cgroup: '/kafka.slice', writeBps: '2M' }), true);
    assert.equal(ok({ device: '253:0', pidfile: '/run/kafka.pid', readIops: 100 }), true);
    assert.equal(ok({ device: '/dev/vda', cgroup: '/x' }), false, 'a limit is required');
    assert.equal(ok({ device: '/dev/vda', cgroup: '/x', pattern: 'kafka', writeBps: '1M' }), false, 'one of');
    assert.equal(ok({ device: '/dev/vda;reboot', cgroup: '/x', writeBps: '1M' }), false);
    assert.equal(ok({ device: '/dev/../etc/passwd', cgroup: '/x', writeBps: '1M' }), false);
    assert.equal(ok({ device: 'vda', cgroup: '/x', writeBps: '1M' }), false);
    assert.equal(ok({ device: '/dev/vda', cgroup: '/x y$(id)', writeBps: '1M' }), false);
    assert.equal(ok({ device: '/dev/vda', cgroup: '/x', writeBps: '2MB' }), false);
    assert.equal(
      ok({ device: '/dev/vda', cgroup: '/x', writeBps: '100' }),
      false,
      'below one page per second',
    );
    assert.equal(ok({ device: '/dev/vda', cgroup: '/x', writeIops: 0 }), false);
    assert.equal(ioThrottle.params.parse({ device: '8:0', cgroup: '/x', readBps: '512K' }).readBps, 524288);
  });

  it('captured io.max format (no cgroup v2 io controller here)', () => {
    // As the kernel prints io.max (Documentation/admin-guide/cgroup-v2.rst): one line per device with a limit.
    const captured =
      '8:16 rbps=2097152 wbps=max riops=max wiops=120\n253:0 rbps=max wbps=1048576 riops=max wiops=max\n';
    assert.deepEqual(parseIoMax(captured, '8:16'), { rbps: 2097152, wbps: null, riops: null, wiops: 120 });
    assert.deepEqual(parseIoMax(captured, '253:0'), { rbps: null, wbps: 1048576, riops: null, wiops: null });
    assert.deepEqual(parseIoMax(captured, '8:0'), { rbps: null, wbps: null, riops: null, wiops: null });
    assert.deepEqual(parseIoMax('', '8:0'), { rbps: null, wbps: null, riops: null, wiops: null });
    // Injecting names only the keys asked for; restoring names all four, "max" clearing what was not there.
    assert.equal(ioMaxLine('8:16', { wbps: 2097152 }), '8:16 wbps=2097152');
    assert.equal(
      ioMaxLine('8:16', parseIoMax(captured, '8:16')),
      '8:16 rbps=2097152 wbps=max riops=max wiops=120',
    );
    assert.equal(ioMaxLine('8:0', parseIoMax(captured, '8:0')), '8:0 rbps=max wbps=max riops=max wiops=max');
    // v1 files: "MAJ:MIN value" per line; writing 0 removes the device's limit.
    assert.equal(parseV1('7:0 2097152\n8:0 100\n', '8:0'), 100);
    assert.equal(parseV1('', '8:0'), null);
    assert.equal(v1Line('7:0', null), '7:0 0');
  });

  it('finds cgroup hierarchies and a process cgroup in captured /proc formats', () => {
    const mounts = cgroupMounts(
      'cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0\n' +
        'cgroup /sys/fs/cgroup/blkio cgroup rw,relatime,blkio 0 0\n/dev/vda / ext4 rw 0 0\n',
    );
    assert.deepEqual(
      mounts.map((m) => [m.dir, m.type]),
      [
        ['/sys/fs/cgroup', 'cgroup2'],
        ['/sys/fs/cgroup/blkio', 'cgroup'],
      ],
    );
    const procCgroup = '7:blkio:/docker/abc\n4:memory:/x\n0::/system.slice/kafka.service\n';
    assert.equal(
      cgroupOf(procCgroup, { version: 'v1', mount: '/sys/fs/cgroup/blkio' }, 'blkio'),
      '/docker/abc',
    );
    assert.equal(
      cgroupOf(procCgroup, { version: 'v2', mount: '/sys/fs/cgroup' }, 'blkio'),
      '/system.slice/kafka.service',
    );
    assert.equal(cgroupOf('3:cpu,cpuacct:/a\n', { version: 'v1', mount: '/m' }, 'blkio'), undefined);
  });
});
