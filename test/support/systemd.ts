import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LocalExecutor } from '../../activities/executors/local';
import type { TrustedScript } from '../../activities/executors/shellQuote';
import {
  ExecutorError,
  type CommandResult,
  type Executor,
  type RunOptions,
} from '../../activities/executors/executor';

const run = promisify(execFile);

/**
 * Runs as PID 1 of fresh pid, mount, uts and cgroup namespaces (and the caller's network namespace): builds
 * a read-only view of the host's root with private tmpfs for everything systemd writes (/run, /tmp, /var/…,
 * /etc/systemd/system holding only the test's units), a private sysfs and cgroup2 (the cgroup namespace
 * makes a dedicated subtree its root), /proc/sys read-only, and a minimal /dev; then becomes systemd.
 * Nothing this systemd does can write to the host's files, /proc/sys or cgroups outside its subtree.
 */
const containerScript = String.raw`
set -eu
D=$1
R=$D/root
mount --make-rprivate /
mount --bind / "$R"
mount -o remount,bind,ro "$R"
mount -t proc proc "$R/proc"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount -t sysfs -o ro sysfs "$R/sys"
mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup"
mount -t tmpfs -o mode=755 tmpfs "$R/dev"
for n in null zero full random urandom tty; do touch "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"; done
touch "$R/dev/console"; mount --bind "$D/console.log" "$R/dev/console"
mkdir "$R/dev/pts" "$R/dev/shm"; mount -t tmpfs tmpfs "$R/dev/shm"
for d in run tmp var/tmp var/lib/systemd var/log etc/systemd/system root; do
  mount -t tmpfs -o mode=755 tmpfs "$R/$d"
done
chmod 1777 "$R/tmp" "$R/var/tmp"
cp "$D"/units/* "$R/etc/systemd/system/"
mkdir "$R/run/gameday"; cp -r "$D"/files/. "$R/run/gameday/"
cd "$R"
mount --move . /
exec chroot . /usr/bin/env -i container=gameday-test PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  /lib/systemd/systemd --system --unit=gd-test.target --log-target=console --log-level=info
`;

const target = (wants: readonly string[]) =>
  [
    '[Unit]',
    'Description=gameday test target',
    'DefaultDependencies=no',
    `Wants=${wants.join(' ')}`,
    '',
  ].join('\n');

export interface SystemdOptions {
  /** Unit files by name; those listed in `start` are started at boot. */
  readonly units: Record<string, string>;
  readonly start: readonly string[];
  /** Files copied to /run/gameday inside (sshd config and keys). */
  readonly files?: Record<string, string | Buffer>;
  /** A network namespace (`ip netns`) to run in; otherwise a new, empty one. */
  readonly netns?: string;
}

export interface TestSystemd {
  /** systemd's pid as the host sees it (PID 1 inside). */
  readonly pid: number;
  /** Runs commands inside its namespaces (mount, pid, net…), as a host that runs this systemd would. */
  readonly exec: Executor;
  /** Runs a command inside and returns its stdout (throws on a non-zero exit). */
  inside(argv: readonly string[]): Promise<string>;
  stop(): Promise<void>;
}

let count = 0;

function cgroup2Root(): string {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n');
  const line = mounts.map((l) => l.split(' ')).find((fields) => fields[2] === 'cgroup2');
  if (line?.[1] === undefined) throw new Error('no cgroup2 hierarchy is mounted: systemd cannot run here');
  return line[1];
}

/** Removes a cgroup subtree, deepest first (only empty cgroups can be removed). */
function removeCgroup(path: string): void {
  if (!existsSync(path)) return;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory()) removeCgroup(join(path, entry.name));
  }
  rmdirSync(path);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A real systemd (Debian's /lib/systemd/systemd) as PID 1 of its own namespaces, managing only the test's
 * units. Needs root, unshare/nsenter and a cgroup2 hierarchy; throws otherwise, so no suite passes by skipping.
 */
export async function startTestSystemd(options: SystemdOptions): Promise<TestSystemd> {
  if (process.getuid?.() !== 0) throw new Error('a test systemd needs root (namespaces, mounts)');
  if (!existsSync('/lib/systemd/systemd'))
    throw new Error('/lib/systemd/systemd is missing: apt-get install systemd');
  const dir = mkdtempSync(join(tmpdir(), 'gameday-systemd-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  mkdirSync(join(dir, 'units'));
  mkdirSync(join(dir, 'files'));
  writeFileSync(join(dir, 'console.log'), '');
  writeFileSync(join(dir, 'units', 'gd-test.target'), target(options.start));
  for (const [name, text] of Object.entries(options.units)) writeFileSync(join(dir, 'units', name), text);
  for (const [name, content] of Object.entries(options.files ?? {})) {
    writeFileSync(join(dir, 'files', name), content, { mode: 0o600 });
  }
  const cgroup = join(cgroup2Root(), `gameday-test-${process.pid}-${++count}`);
  mkdirSync(cgroup);

  const netns = options.netns !== undefined ? ['ip', 'netns', 'exec', options.netns] : [];
  const unshare = ['unshare', '--pid', '--fork', '--mount', '--uts', '--cgroup'];
  if (options.netns === undefined) unshare.push('--net');
  // Joins the cgroup first, so that the new cgroup namespace (and so systemd) is rooted there.
  const enter = `echo $$ > ${cgroup}/cgroup.procs && exec "$@"`;
  // (before `ip netns exec`, which mounts a sysfs of its own over /sys)
  const argv = ['sh', '-c', enter, 'sh', ...netns, ...unshare, 'sh', '-c', containerScript, 'sh', dir];
  // The set-up script's errors land in the same file as systemd's console output.
  const log = openSync(join(dir, 'console.log'), 'a');
  const launcher: ChildProcess = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', log, log] });
  closeSync(log);

  let pid: number | undefined;
  const cleanup = async () => {
    if (pid !== undefined) {
      // Killing PID 1 of a pid namespace kills everything in it.
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (launcher.exitCode === null && launcher.signalCode === null) {
      const exited = new Promise((resolve) => launcher.once('exit', resolve));
      launcher.kill('SIGKILL');
      await exited;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        removeCgroup(cgroup);
        break;
      } catch (error) {
        if (attempt > 50) throw error;
        await sleep(100);
      }
    }
    // The root bind mount lived only in the dead mount namespace; rmdir (never a recursive delete) proves
    // the directory is an empty mount point on the host before the rest goes.
    rmdirSync(root);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (launcher.exitCode !== null) {
        throw new Error(
          `systemd exited at start (${launcher.exitCode}): ${readFileSync(join(dir, 'console.log'), 'utf8')}`,
        );
      }
      const procs = readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
      for (const candidate of procs) {
        const comm = readFileSync(`/proc/${candidate}/comm`, 'utf8').trim();
        if (comm === 'systemd') pid = Number(candidate);
      }
      // systemd moves itself to /init.scope once it runs.
      if (pid === undefined && existsSync(join(cgroup, 'init.scope'))) {
        pid = Number(readFileSync(join(cgroup, 'init.scope', 'cgroup.procs'), 'utf8').split('\n')[0]);
      }
      if (pid !== undefined) {
        const state = await run('nsenter', [
          '-t',
          String(pid),
          '-a',
          'systemctl',
          'is-active',
          'gd-test.target',
        ])
          .then((r) => r.stdout.trim())
          .catch(() => 'starting');
        if (state === 'active') break;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `systemd did not reach gd-test.target: ${readFileSync(join(dir, 'console.log'), 'utf8')}`,
        );
      }
      await sleep(100);
    }
  } catch (error) {
    await cleanup();
    throw error;
  }

  const systemdPid = pid;
  const exec = new NamespaceExecutor(systemdPid);
  return {
    pid: systemdPid,
    exec,
    inside: async (command) => {
      const result = await exec.run(command);
      if (result.exitCode !== 0) {
        throw new Error(`${command.join(' ')} exited ${result.exitCode}: ${result.stderr}`);
      }
      return result.stdout;
    },
    stop: cleanup,
  };
}

/**
 * The local executor, with every command run inside the test systemd's namespaces through nsenter: to the
 * fault code it is a host whose init is systemd. Only `run` (and what builds on it) is needed by unit faults.
 */
class NamespaceExecutor implements Executor {
  readonly host = 'systemd-host';
  private readonly local = new LocalExecutor();

  constructor(private readonly pid: number) {}

  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult> {
    return this.local.run(['nsenter', '-t', String(this.pid), '-a', '--', ...argv], options);
  }

  runScript(script: TrustedScript, args: readonly string[], options?: RunOptions): Promise<CommandResult> {
    return this.run(['sh', '-c', script.text, script.name, ...args], options);
  }

  unsendableArgument(argv: readonly string[]): string | undefined {
    return this.local.unsendableArgument(argv);
  }

  startDetached(): Promise<number> {
    return Promise.reject(new ExecutorError('startDetached is not supported inside the test systemd'));
  }

  tcpReachable(): Promise<boolean> {
    return Promise.reject(new ExecutorError('tcpReachable is not supported inside the test systemd'));
  }

  async writeFile(path: string, content: string): Promise<void> {
    const result = await this.run(['sh', '-c', 'printf %s "$2" > "$1"', 'sh', path, content]);
    if (result.exitCode !== 0) throw new ExecutorError(`cannot write ${path}: ${result.stderr}`);
  }

  async readFile(path: string): Promise<string | undefined> {
    const result = await this.run(['cat', '--', path]);
    return result.exitCode === 0 ? result.stdout : undefined;
  }

  async signal(pid: number, name: string): Promise<boolean> {
    return (await this.run(['kill', `-${name}`, String(pid)])).exitCode === 0;
  }

  managementConnection(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
}
