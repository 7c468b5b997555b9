import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
  symlinkSync,
  copyFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The fault kinds call plain `docker`, which talks to the default socket, as on a production host. So the
 * test daemon listens there too: the local executor and the SSH test hosts (network namespaces sharing this
 * machine's filesystem) reach it with no extra parameter. A daemon that already answers there is used as it
 * is (said out loud, never stopped by the suite); everything the suite creates carries its own prefix and is
 * removed afterwards.
 */
export const dockerSocket = '/var/run/docker.sock';
const dockerd = '/usr/sbin/dockerd';
/** Debian's client, matching its daemon (an older /usr/local/bin/docker would be found first on PATH). */
export const dockerClient = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
const busybox = '/bin/busybox';

export interface TestDocker {
  /** The image every test container runs: busybox-static, imported from a tar. */
  readonly image: string;
  /** A container name unique to this suite ("gd-<pid>-web"). */
  name(suffix: string): string;
  /** `docker …` with the Debian client; rejects on a non-zero exit, with docker's stderr. */
  docker(...args: string[]): Promise<string>;
  /** `docker run -d --network none IMAGE sleep …` under a suite-unique name; returns that name. */
  runContainer(suffix: string, extra?: readonly string[]): Promise<string>;
  inspect(name: string): Promise<{ Id: string; State: DockerState }>;
  /** Whether this suite started the daemon (false: it reused one already on the socket). */
  readonly started: boolean;
  stop(): Promise<void>;
}

export interface DockerState {
  readonly Status: string;
  readonly Running: boolean;
  readonly Paused: boolean;
  readonly Pid: number;
  readonly StartedAt: string;
}

async function answers(): Promise<boolean> {
  return run(dockerClient, ['version', '--format', '{{.Server.Version}}'], { timeout: 10_000 }).then(
    () => true,
    () => false,
  );
}

/**
 * A real dockerd for one suite: Debian docker.io with vfs storage, no bridge, no iptables, its data-root,
 * exec-root and pidfile under a temp dir, on the default socket. It failing to start throws: a suite
 * never passes by skipping.
 */
export async function startTestDocker(): Promise<TestDocker> {
  if (process.getuid?.() !== 0) throw new Error('the Docker test daemon needs root');
  for (const needed of [dockerd, busybox]) {
    if (!existsSync(needed)) {
      throw new Error(
        `${needed} is missing: run scripts/install-test-deps.sh (Debian docker.io, busybox-static)`,
      );
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'gameday-docker-'));
  const prefix = `gd-${process.pid}`;
  let daemon: ChildProcess | undefined;
  const reuse = await answers();
  if (reuse) {
    process.stderr.write(
      `[docker] a daemon already answers on ${dockerSocket}: the suite uses it and leaves it running\n`,
    );
  } else {
    if (existsSync(dockerSocket)) rmSync(dockerSocket); // a stale socket of a daemon that is gone
    const log = openSync(join(dir, 'dockerd.log'), 'a');
    daemon = spawn(
      dockerd,
      [
        '--storage-driver=vfs',
        '--iptables=false',
        '--ip6tables=false',
        '--bridge=none',
        '--ip-masq=false',
        `--data-root=${join(dir, 'data')}`,
        `--exec-root=${join(dir, 'exec')}`,
        `--pidfile=${join(dir, 'dockerd.pid')}`,
        `--host=unix://${dockerSocket}`,
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    const deadline = Date.now() + 60_000;
    while (!(await answers())) {
      if (daemon.exitCode !== null || Date.now() > deadline) {
        daemon.kill('SIGKILL');
        const output = readFileSync(join(dir, 'dockerd.log'), 'utf8').split('\n').slice(-15).join('\n');
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`dockerd did not start (exit ${daemon.exitCode}):\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  const docker = async (...args: string[]) =>
    (await run(dockerClient, args, { timeout: 60_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }))
      .stdout;

  // An image with nothing but busybox: bin/busybox and the applets the tests use as symlinks.
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  copyFileSync(busybox, join(rootfs, 'bin', 'busybox'));
  for (const applet of ['sh', 'sleep', 'cat', 'ls', 'ps', 'ip', 'nc', 'true']) {
    symlinkSync('busybox', join(rootfs, 'bin', applet));
  }
  await run('tar', ['-C', rootfs, '-cf', join(dir, 'rootfs.tar'), '.']);
  const image = `${prefix}-busybox:test`;
  await docker('import', join(dir, 'rootfs.tar'), image);

  const created: string[] = [];
  const removeContainers = async () => {
    const listed = await docker('ps', '-aq', '--filter', `name=^${prefix}-`).catch(() => '');
    const ids = listed.split('\n').filter(Boolean);
    if (ids.length > 0) await docker('rm', '-f', ...ids).catch(() => undefined);
  };

  return {
    image,
    started: !reuse,
    name: (suffix) => `${prefix}-${suffix}`,
    docker,
    async runContainer(suffix, extra = []) {
      const name = `${prefix}-${suffix}`;
      await docker('rm', '-f', name).catch(() => undefined);
      await docker('run', '-d', '--name', name, '--network', 'none', ...extra, image, 'sleep', '1000000');
      created.push(name);
      return name;
    },
    async inspect(name) {
      const [found] = JSON.parse(await docker('inspect', '--type', 'container', name)) as {
        Id: string;
        State: DockerState;
      }[];
      if (found === undefined) throw new Error(`no container ${name}`);
      return found;
    },
    async stop() {
      await removeContainers();
      await docker('rmi', '-f', image).catch(() => undefined);
      if (daemon !== undefined && daemon.exitCode === null) {
        const exited = new Promise((resolve) => daemon?.once('exit', resolve));
        daemon.kill('SIGTERM');
        const timer = setTimeout(() => daemon?.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
        // dockerd leaves its (vfs) data and the containerd it started under the temp dir, and its default
        // network namespace mounted in the exec-root (exec itself is no mount point: `umount -R exec` missed it).
        const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n');
        const below = mounts.map((line) => line.split(' ')[1] ?? '').filter((at) => at.startsWith(`${dir}/`));
        for (const at of below.reverse()) await run('umount', [at]).catch(() => undefined);
      }
      // vfs keeps a full copy of the filesystem per image layer and container: after an image build that is
      // gigabytes in hundreds of thousands of files, which took minutes to delete on a loaded machine (past the
      // test file's own time limit). The daemon is gone and the directory is this suite's alone, so a detached
      // `rm -rf` removes it while the suite ends; nothing reads it again.
      spawn('rm', ['-rf', dir], { detached: true, stdio: 'ignore' }).unref();
    },
  };
}
