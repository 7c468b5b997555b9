import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { diagnoseIo } from '../activities/diagnosis/collect';
import type { IoEvidence } from '../activities/diagnosis/evidence';
import type { CommandResult, RunOptions } from '../activities/executors/executor';
import { LocalExecutor } from '../activities/executors/local';
import type { TrustedScript } from '../activities/executors/shellQuote';
import { exitCodes } from '../client/exitCodes';
import { renderReport } from '../client/render';
import { pausePlan } from './support/plans';
import { startTestService } from './support/services';
import {
  cliPath,
  type InProcessWorker,
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  type TestTemporal,
} from './support/temporal';
import { runCli, type CliResult } from './support/cli';
import { waitFor } from './support/wait';
import { startTestDocker, type TestDocker } from './support/docker';
import { sshExecutorFor, startTestHosts, type TestHosts } from './support/hosts';

const run = promisify(execFile);

interface Writer {
  readonly pid: number;
  readonly file: string;
  stop(): Promise<void>;
}

/**
 * A host where the kernel's IO pressure file cannot be read: every script runs in its own mount namespace
 * with an empty tmpfs over /proc/pressure (as on a kernel booted with psi=0). The rest of /proc is the real one.
 */
class NoPressureExecutor extends LocalExecutor {
  override runScript(
    script: TrustedScript,
    args: readonly string[],
    options?: RunOptions,
  ): Promise<CommandResult> {
    const hide = 'mount -t tmpfs gameday-test /proc/pressure && exec sh -c "$@"';
    return this.run(['unshare', '-m', 'sh', '-c', hide, 'hide', script.text, script.name, ...args], options);
  }
}

/** A real ext4 filesystem on its own loop device (a sparse image: only what is written takes space). */
interface LoopFilesystem {
  readonly dir: string;
  readonly mount: string;
  /** /dev/loopN */
  readonly device: string;
  stop(): Promise<void>;
}

async function loopFilesystem(size: string): Promise<LoopFilesystem> {
  const dir = mkdtempSync(join(tmpdir(), 'gameday-diag-'));
  const mount = join(dir, 'mnt');
  mkdirSync(mount);
  await run('truncate', ['-s', size, join(dir, 'fs.img')]);
  const device = (await run('losetup', ['-f', '--show', join(dir, 'fs.img')])).stdout.trim();
  await run('mkfs.ext4', ['-q', '-F', device]);
  // discard: a deleted file's blocks are punched out of the sparse image again.
  await run('mount', ['-o', 'discard', device, mount]);
  return {
    dir,
    mount,
    device,
    stop: async () => {
      await run('umount', [mount]).catch(() => undefined);
      await run('losetup', ['-d', device]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until a file exists and is not empty. */
function waitForData(file: string): Promise<boolean> {
  return waitFor(`data in ${file}`, () => {
    try {
      return statSync(file).size > 0;
    } catch {
      return undefined;
    }
  });
}

/** dd writing a new file with O_DIRECT, 4 KiB at a time (up to 4 GB), until stopped. */
async function startWriter(mount: string, name: string): Promise<Writer> {
  const file = join(mount, name);
  const child: ChildProcess = spawn(
    'dd',
    ['if=/dev/zero', `of=${file}`, 'bs=4k', 'count=1000000', 'oflag=direct'],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await waitForData(file);
  return {
    pid: child.pid ?? -1,
    file,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(file, { force: true });
    },
  };
}

/** What every diagnosis of the writer must show: its pid and comm, the loop device and the file. */
function assertNames(
  evidence: IoEvidence,
  writer: Pick<Writer, 'pid' | 'file'>,
  fs: LoopFilesystem,
  path = writer.file,
  comm = 'dd',
): void {
  const { finding } = evidence;
  const loopName = () => basename(fs.device);
  const mount = fs.mount;
  assert.match(finding, new RegExp(`pid ${writer.pid} \\(${comm}\\) writes [\\d.]+ [kMG]B/s to ${path} `));
  assert.match(
    finding,
    new RegExp(
      `^(pid \\d+: |container \\S+ \\(\\d+ process\\(es\\)\\): )?device ${loopName()} [\\d.]+ % utilised, await`,
    ),
  );
  const process = evidence.processes.find((p) => p.pid === writer.pid);
  assert.ok(process && process.writeBytesPerSecond > 1e6, `dd writes: ${JSON.stringify(process)}`);
  assert.equal(process.comm, comm);
  const device = evidence.devices.find((d) => d.name === loopName());
  assert.ok(device && device.writeBytesPerSecond > 1e6 && device.utilisationPercent > 0, finding);
  const file = evidence.openFiles.find((f) => f.pid === writer.pid && f.path === path);
  assert.ok(file, `dd's file among ${JSON.stringify(evidence.openFiles)}`);
  assert.equal(file.mode, 'write');
  assert.equal(file.direct, true, 'dd opened it with O_DIRECT');
  assert.equal(file.device, loopName());
  assert.equal(file.mountPoint, mount);
  assert.ok(file.growthBytesPerSecond > 0, 'the file grows');
  assert.ok(
    evidence.filesystems.some((m) => m.mountPoint === mount && m.source === fs.device),
    'df of the loop filesystem',
  );
  assert.ok(evidence.growingPaths.some((g) => g.path === path));
}

// A real ext4 filesystem on its own loop device, and dd writing to it with O_DIRECT (so the page cache cannot
// absorb the load): the diagnosis must name dd's pid, the loop device and the file, locally and over SSH.
describe('IO diagnosis against a real induced IO load', () => {
  let fs: LoopFilesystem;
  let mount: string;
  let lab: TestHosts;
  let temporal: TestTemporal;
  let worker: InProcessWorker;
  const writers: Writer[] = [];

  before(async () => {
    fs = await loopFilesystem('8G');
    mount = fs.mount;
    lab = await startTestHosts(1);
    temporal = await startTestTemporal();
    worker = await startInProcessWorker(temporal);
  });
  after(async () => {
    for (const writer of writers) await writer.stop();
    await worker?.stop();
    await temporal?.stop();
    await lab?.stop();
    await fs?.stop();
  });

  const startDd = async (name: string) => {
    const writer = await startWriter(mount, name);
    writers.push(writer);
    return writer;
  };

  const assertNamesWriter = (evidence: IoEvidence, writer: Writer) => assertNames(evidence, writer, fs);

  it('locally: names dd (pid and comm), the loop device and the file it writes', async (t) => {
    const writer = await startDd('local.data');
    try {
      const evidence = await diagnoseIo(new LocalExecutor(), { intervalMs: 2000 });
      t.diagnostic(`finding: ${evidence.finding}`);
      assertNamesWriter(evidence, writer);
      assert.equal(evidence.host, 'local');
      assert.equal(evidence.stateSamples, 10);
      assert.ok(evidence.intervalMs >= 2000, `window ${evidence.intervalMs} ms`);
      assert.ok(evidence.pressure, 'this kernel has /proc/pressure/io');
      assert.match(evidence.finding, /IO pressure some [\d.]+ %, full [\d.]+ %/);
    } finally {
      await writer.stop();
    }
  });

  it('over SSH to a test host: the same finding through the remote shell', async (t) => {
    const writer = await startDd('ssh.data');
    const exec = sshExecutorFor(lab, lab.hosts[0]!);
    try {
      const evidence = await diagnoseIo(exec, { intervalMs: 2000 });
      t.diagnostic(`finding: ${evidence.finding}`);
      assert.equal(evidence.host, 'host-1');
      assertNamesWriter(evidence, writer);
    } finally {
      await exec.close();
      await writer.stop();
    }
  });

  it('a host without /proc/pressure/io degrades clearly: says what is missing and why, names the rest', async (t) => {
    const writer = await startDd('nopsi.data');
    try {
      const evidence = await diagnoseIo(new NoPressureExecutor(), { intervalMs: 1000 });
      t.diagnostic(`finding: ${evidence.finding}`);
      assert.equal(evidence.pressure, undefined);
      assert.ok(
        evidence.unavailable.some((u) =>
          /^IO pressure: \/proc\/pressure\/io: No such file or directory/.test(u),
        ),
        JSON.stringify(evidence.unavailable),
      );
      assert.match(evidence.finding, /not available: IO pressure/);
      assert.doesNotMatch(evidence.finding, /IO pressure some/);
      assertNamesWriter(evidence, writer);
    } finally {
      await writer.stop();
    }
  });

  // The CLI reads no worker configuration but the one a test passes.
  const { GAMEDAY_WORKER_CONFIG: _ignored, ...inherited } = process.env;
  const cliEnv = { ...inherited, NO_COLOR: '1' };
  const gameday = (...args: string[]): Promise<CliResult> =>
    runCli([...args], { env: cliEnv, timeoutMs: 60_000 });

  it('CLI: diagnose io --host local --pid P --json, and over SSH with --config; exit codes', async (t) => {
    const writer = await startDd('cli.data');
    try {
      const local = await gameday('diagnose', 'io', '--host', 'local', '--pid', String(writer.pid), '--json');
      assert.equal(local.code, exitCodes.passed, local.stderr);
      const evidence = JSON.parse(local.stdout) as IoEvidence;
      t.diagnostic(`finding: ${evidence.finding}`);
      assert.deepEqual(evidence.focus, { kind: 'pid', value: String(writer.pid), pids: [writer.pid] });
      assert.match(evidence.finding, new RegExp(`^pid ${writer.pid}: device `));
      assert.deepEqual(
        evidence.processes.map((p) => p.pid),
        [writer.pid],
        'only the asked-for process',
      );
      assertNamesWriter(evidence, writer);
      for (const key of ['devices', 'processes', 'waiting', 'openFiles', 'filesystems', 'growingPaths']) {
        assert.ok(Array.isArray((evidence as unknown as Record<string, unknown>)[key]), key);
      }

      const host = lab.hosts[0]!;
      const config = join(fs.dir, 'worker.yaml');
      writeFileSync(
        config,
        stringify({
          ssh: {
            credentials: { lab: { privateKeyFile: join(lab.dir, 'client_key') } },
            hosts: {
              [host.name]: {
                address: host.address,
                credential: 'lab',
                hostKey: { fingerprints: [host.fingerprint] },
              },
            },
          },
        }),
      );
      const remote = await gameday(
        'diagnose',
        'io',
        '--host',
        host.name,
        '--config',
        config,
        '--interval',
        '1s',
      );
      assert.equal(remote.code, exitCodes.passed, remote.stderr);
      assert.match(remote.stdout, /^# host-1, [\d.]+ s window/);
      assert.match(remote.stdout, new RegExp(`pid ${writer.pid} \\(dd\\) writes .* to ${writer.file}`));
      assert.match(
        remote.stdout,
        /\| device \| util \| r\/s \| w\/s \| read \| written \| await \| queue \|/,
      );

      const unknown = await gameday('diagnose', 'io', '--host', 'kafka-9', '--config', config);
      assert.equal(unknown.code, exitCodes.usage);
      assert.match(unknown.stderr, /host kafka-9 is not in the SSH inventory .*\(hosts: host-1\)/);
      const both = await gameday('diagnose', 'io', '--host', 'local', '--pid', '1', '--container', 'web');
      assert.equal(both.code, exitCodes.usage);
      assert.match(both.stderr, /either --container or --pid/);
      const gone = await gameday('diagnose', 'io', '--host', 'local', '--pid', '999999999');
      assert.equal(gone.code, exitCodes.usage);
      assert.match(gone.stderr, /no process 999999999 on host local/);
      const interval = await gameday('diagnose', 'io', '--host', 'local', '--interval', 'soon');
      assert.equal(interval.code, exitCodes.usage);
      assert.match(interval.stderr, /--interval must be a duration/);
    } finally {
      await writer.stop();
    }
  });

  it('a game day whose during-check deviates carries IO evidence from its target in the report', async (t) => {
    const writer = await startDd('gameday.data');
    const service = await startTestService();
    try {
      // The service is paused, so a during-check that expects it to answer deviates.
      const plan = pausePlan(service);
      const checks = plan.checks as { name: string; expect?: string }[];
      checks[1]!.expect = 'pass';
      const report = await (await startPlan(temporal, plan, worker.taskQueue)).result();
      assert.equal(report.outcome, 'failed', report.reason);
      assert.equal(report.faults[0]?.status, 'rolled-back');
      const [collection] = report.ioEvidence ?? [];
      assert.ok(collection, 'evidence collected');
      assert.equal(collection.when, 'during');
      assert.equal(collection.reason, 'frozen deviated');
      const [evidence] = collection.hosts;
      assert.ok(evidence && !('error' in evidence), JSON.stringify(evidence));
      t.diagnostic(`finding: ${evidence.finding}`);
      assert.equal(evidence.host, 'local');
      assertNamesWriter(evidence, writer);
      // Collected while the fault was in place: the paused service waits in state T, and rollback came after.
      const noted = report.timeline.findIndex((e) => e.message.startsWith('IO evidence from local: '));
      const rolledBack = report.timeline.findIndex((e) => e.message.startsWith('rolled back: '));
      assert.ok(noted >= 0 && noted < rolledBack, 'evidence before rollback');
      const markdown = renderReport(report);
      assert.match(markdown, /## IO evidence\n\nCollected while the faults were in place: frozen deviated\./);
      assert.ok(markdown.includes(evidence.finding));
    } finally {
      await service.stop();
      await writer.stop();
    }
  });

  it('a guardrail breach starts its rollback at once and collects IO evidence alongside', async () => {
    const service = await startTestService();
    try {
      const url = `http://127.0.0.1:${service.port}/health`;
      const plan = pausePlan(service, {
        observation: {
          window: '60s',
          sampleInterval: '500ms',
          guardrails: [{ name: 'must-answer', breachAfter: 2, http: { url, timeout: '300ms' } }],
        },
      });
      const handle = await startPlan(temporal, plan, worker.taskQueue);
      const report = await handle.result();
      assert.equal(report.outcome, 'aborted', report.reason);
      const [collection] = report.ioEvidence ?? [];
      assert.equal(collection?.when, 'during');
      assert.equal(collection.reason, 'guardrail must-answer breached; sampled as its rollback began');
      const [evidence] = collection.hosts;
      assert.ok(evidence && 'finding' in evidence, JSON.stringify(evidence));
      // Both are scheduled by the same workflow task, the evidence first: the rollback waits for nothing.
      const scheduled = ((await handle.fetchHistory()).events ?? []).flatMap((event) => {
        const attributes = event.activityTaskScheduledEventAttributes;
        return attributes
          ? [{ type: attributes.activityType?.name, task: String(attributes.workflowTaskCompletedEventId) }]
          : [];
      });
      const collect = scheduled.find((activity) => activity.type === 'collectIoEvidence');
      const rollback = scheduled.find((activity) => activity.type === 'rollBackFaultsInOrder');
      assert.ok(collect && rollback, JSON.stringify(scheduled));
      assert.equal(collect.task, rollback.task, 'scheduled by the same workflow task');
      assert.ok(scheduled.indexOf(collect) < scheduled.indexOf(rollback));
    } finally {
      await service.stop();
    }
  });

  it('a game day that does not recover collects IO evidence after rollback', async () => {
    const service = await startTestService();
    try {
      const plan = pausePlan(service, { recovery: { within: '1s', interval: '200ms' } });
      (plan.checks as unknown[]).push({ name: 'never', when: ['after'], command: { argv: ['false'] } });
      const report = await (await startPlan(temporal, plan, worker.taskQueue)).result();
      assert.equal(report.outcome, 'failed', report.reason);
      assert.deepEqual(
        report.ioEvidence?.map((c) => [c.when, c.reason, c.hosts.map((h) => h.host)]),
        [['after', 'recovery checks failed', ['local']]],
      );
      const [evidence] = report.ioEvidence?.[0]?.hosts ?? [];
      assert.ok(evidence && 'finding' in evidence && evidence.finding.length > 0, JSON.stringify(evidence));
      assert.match(renderReport(report), /Collected after rollback: recovery checks failed\./);
    } finally {
      await service.stop();
    }
  });

  it('a game day that holds collects no IO evidence', async () => {
    const service = await startTestService();
    try {
      const report = await (await startPlan(temporal, pausePlan(service), worker.taskQueue)).result();
      assert.equal(report.outcome, 'passed', report.reason);
      assert.equal(report.ioEvidence, undefined);
      assert.doesNotMatch(renderReport(report), /IO evidence/);
    } finally {
      await service.stop();
    }
  });
});

/** The pid of the process whose command line contains `text` (one of ours, started just before). */
function pidWithCommandLine(text: string): Promise<number> {
  return waitFor(`a process running ${text}`, () => {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').includes(text)) {
          return Number(entry);
        }
      } catch {
        // exited meanwhile
      }
    }
    return undefined;
  });
}

// --container: docker inspect gives the container's first process, its cgroup the others; the diagnosis looks
// at those only. A busier dd outside the container is left out.
describe('IO diagnosis of a Docker container', () => {
  let fs: LoopFilesystem;
  let docker: TestDocker;
  const writers: Writer[] = [];

  before(async () => {
    fs = await loopFilesystem('8G');
    docker = await startTestDocker();
  });
  after(async () => {
    for (const writer of writers) await writer.stop();
    await docker?.stop();
    await fs?.stop();
  });

  it('names the dd inside the container, with its file as the container sees it', async (t) => {
    const outside = await startWriter(fs.mount, 'outside.data');
    writers.push(outside);
    const name = await docker.runContainer('io', ['-v', `${fs.mount}:/data`]);
    const { State } = await docker.inspect(name);
    await docker.docker(
      'exec',
      '-d',
      name,
      'busybox',
      'dd',
      'if=/dev/zero',
      'of=/data/inside.data',
      'bs=4096',
      'count=1000000',
      'oflag=direct',
    );
    const inside = {
      pid: await pidWithCommandLine('/data/inside.data'),
      file: join(fs.mount, 'inside.data'),
    };
    await waitForData(inside.file);
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [cliPath, 'diagnose', 'io', '--host', 'local', '--container', name, '--json'],
        { timeout: 60_000 },
        (error, stdout, stderr) =>
          resolve({
            code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1,
            stdout,
            stderr,
          }),
      );
    });
    assert.equal(result.code, exitCodes.passed, result.stderr);
    const evidence = JSON.parse(result.stdout) as IoEvidence;
    t.diagnostic(`finding: ${evidence.finding}`);
    t.diagnostic(`files: ${JSON.stringify(evidence.openFiles.map((f) => f.path))}`);
    assert.equal(evidence.focus?.kind, 'container');
    assert.ok(evidence.focus.pids.includes(State.Pid), 'the container init process');
    assert.ok(evidence.focus.pids.includes(inside.pid), 'the exec-ed dd');
    assert.ok(!evidence.focus.pids.includes(outside.pid));
    assert.match(evidence.finding, new RegExp(`^container ${name} \\(2 process\\(es\\)\\): `));
    assert.ok(
      evidence.processes.every((p) => p.pid !== outside.pid),
      'the dd outside is not in focus',
    );
    const missing = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [cliPath, 'diagnose', 'io', '--host', 'local', '--container', docker.name('missing')],
        { timeout: 60_000 },
        (error, _stdout, stderr) =>
          resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stderr }),
      );
    });
    assert.equal(missing.code, exitCodes.usage);
    assert.match(missing.stderr, new RegExp(`no container ${docker.name('missing')} on host local`));
    // busybox is its own comm; its getopt rewrites the command line ("of /data/inside.data").
    assertNames(evidence, inside, fs, '/data/inside.data', 'busybox');
  });
});
