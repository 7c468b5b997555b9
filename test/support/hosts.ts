import { LocalExecutor } from '../../activities/executors/local';
import { SshExecutor } from '../../activities/executors/ssh';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestHost {
  readonly name: string;
  readonly namespace: string;
  readonly address: string;
  readonly port: number;
  /** SHA256:… of its generated host key, as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
  readonly knownHostsLine: string;
  /** Runs a command inside the host's network namespace, bypassing SSH (to check what really happened). */
  inside(argv: readonly string[]): Promise<{ stdout: string; code: number }>;
}

export interface TestHosts {
  readonly hosts: readonly TestHost[];
  readonly privateKey: Buffer;
  readonly dir: string;
  /** An address on the hosts' subnet where nothing listens. */
  readonly deadAddress: string;
  stop(): Promise<void>;
}

const sshd = '/usr/sbin/sshd';

/** sshd_config lines every test sshd shares: root by key only, no PAM, MaxSessions 10. */
export const sshdKeyOnlyRoot = [
  'PermitRootLogin prohibit-password',
  'PasswordAuthentication no',
  'KbdInteractiveAuthentication no',
  'UsePAM no',
  'StrictModes no',
  'MaxSessions 10',
] as const;
const hostsAtATime = 8;
/** Host i gets 10.213.<subnet>.(10+i) on a /24; .250 stays free as the dead address. */
const maxHosts = 230;

const local = new LocalExecutor();

/** Whether something accepts TCP connections at address:port (within half a second), as the worker would see. */
export function tcpOpen(address: string, port: number): Promise<boolean> {
  return local.tcpReachable(address, port, 500);
}

/** Hosts 1…count, a few at a time: hundreds of hosts (the benchmark) start in seconds without a fork storm. */
async function inBatches<T>(count: number, each: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let first = 1; first <= count; first += hostsAtATime) {
    const batch = Array.from({ length: Math.min(hostsAtATime, count - first + 1) }, (_, k) => first + k);
    results.push(...(await Promise.all(batch.map(each))));
  }
  return results;
}

async function quietly(argv: string[]): Promise<void> {
  await run(argv[0] as string, argv.slice(1)).catch(() => undefined);
}

/**
 * Real hosts for SSH tests: network namespaces on a bridge (a subnet of 10.213.0.0/16 owned by this test
 * run), each running Debian's sshd with its own host key. Needs root, iproute2 and openssh-server
 * (scripts/install-test-deps.sh); without them this throws, so a suite can never pass by skipping.
 */
export async function startTestHosts(count: number): Promise<TestHosts> {
  if (process.getuid?.() !== 0) throw new Error('SSH test hosts need root (network namespaces)');
  try {
    readFileSync(sshd);
  } catch {
    throw new Error(`${sshd} is missing: run scripts/install-test-deps.sh (Debian openssh-server)`);
  }
  if (count > maxHosts) throw new Error(`at most ${maxHosts} test hosts fit on one /24 bridge`);
  const subnet = 20 + (process.pid % 200);
  const prefix = `gd${subnet}`;
  const bridge = `${prefix}br`;
  // Leftovers of an earlier run with the same subnet (a crashed suite) are removed first.
  const removeAll = async () => {
    await inBatches(count, async (i) => {
      // The kernel destroys a deleted namespace's veth pair asynchronously: delete it explicitly too.
      await quietly(['ip', 'link', 'del', `${prefix}v${i}`]);
      await quietly(['ip', 'netns', 'del', `${prefix}h${i}`]);
    });
    await quietly(['ip', 'link', 'del', bridge]);
  };
  await removeAll();

  const dir = mkdtempSync(join(tmpdir(), 'gameday-hosts-'));
  mkdirSync('/run/sshd', { recursive: true });
  await run('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    'gameday-test',
    '-f',
    join(dir, 'client_key'),
  ]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')));
  await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
  await run('ip', ['addr', 'add', `10.213.${subnet}.1/24`, 'dev', bridge]);
  await run('ip', ['link', 'set', bridge, 'up']);

  const daemons: ChildProcess[] = [];
  const hosts: TestHost[] = [];
  const stop = async () => {
    for (const daemon of daemons) daemon.kill('SIGKILL');
    // Everything still running on a host dies with it (sessions' sshd processes, sleepers, watchers), while
    // its link is still up: a client's connection then ends cleanly instead of waiting for a vanished peer.
    await inBatches(count, async (i) => {
      const { stdout } = await run('ip', ['netns', 'pids', `${prefix}h${i}`]).catch(() => ({ stdout: '' }));
      const pids = stdout.split('\n').filter((pid) => /^\d+$/.test(pid));
      if (pids.length > 0) await quietly(['kill', '-KILL', ...pids]);
    });
    await removeAll();
    rmSync(dir, { recursive: true, force: true });
  };
  // Sessions get a HOME of their own: root's real ~/.bashrc (which bash runs for every SSH command) may do
  // slow things (pyenv init: tens of milliseconds per command) that no test host of a user would.
  const home = join(dir, 'home');
  mkdirSync(home);
  const startHost = async (i: number): Promise<TestHost> => {
    const namespace = `${prefix}h${i}`;
    const veth = `${prefix}v${i}`;
    const address = `10.213.${subnet}.${10 + i}`;
    await run('ip', ['netns', 'add', namespace]);
    await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace]);
    await run('ip', ['link', 'set', veth, 'master', bridge, 'up']);
    await run('ip', ['-n', namespace, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    await run('ip', ['-n', namespace, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
    const hostKey = join(dir, `host${i}_key`);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `host${i}`, '-f', hostKey]);
    const config = join(dir, `sshd${i}.conf`);
    writeFileSync(
      config,
      [
        `ListenAddress ${address}:22`,
        `HostKey ${hostKey}`,
        `PidFile ${join(dir, `sshd${i}.pid`)}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        ...sshdKeyOnlyRoot,
        'AllowTcpForwarding yes',
        `SetEnv HOME=${home}`,
        '',
      ].join('\n'),
    );
    const daemon = spawn('ip', ['netns', 'exec', namespace, sshd, '-D', '-e', '-f', config], {
      stdio: 'ignore',
    });
    daemons.push(daemon);
    const fingerprint =
      (await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`])).stdout.split(' ')[1] ?? '';
    const publicKey = readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    return {
      name: `host-${i}`,
      namespace,
      address,
      port: 22,
      fingerprint,
      knownHostsLine: `${address} ${publicKey}`,
      inside: async (argv) => {
        try {
          const { stdout } = await run('ip', ['netns', 'exec', namespace, ...argv]);
          return { stdout, code: 0 };
        } catch (error) {
          const failed = error as { stdout?: string; code?: number };
          return { stdout: failed.stdout ?? '', code: typeof failed.code === 'number' ? failed.code : 1 };
        }
      },
    };
  };
  try {
    const started = await inBatches(count, startHost);
    hosts.push(...started);
    for (const host of hosts) {
      const deadline = Date.now() + 10_000;
      while (!(await tcpOpen(host.address, 22))) {
        if (Date.now() > deadline) throw new Error(`sshd on ${host.name} (${host.address}) did not start`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    hosts,
    privateKey: readFileSync(join(dir, 'client_key')),
    dir,
    deadAddress: `10.213.${subnet}.250`,
    stop,
  };
}

/**
 * Runs `receiverScript` (Node) in one host's namespace and, once it prints "ready", `senderScript` in
 * another's; both get the receiver's address as argv[1]. Returns the receiver's next line of output.
 */
export async function measureBetween(
  from: TestHost,
  to: TestHost,
  receiverScript: string,
  senderScript: string,
): Promise<string> {
  const receiver = spawn('ip', [
    'netns',
    'exec',
    to.namespace,
    process.execPath,
    '-e',
    receiverScript,
    to.address,
  ]);
  // Taken now: the receiver may exit before the sender's process has been reaped.
  const exited = new Promise((resolve) => receiver.once('exit', resolve));
  let output = '';
  receiver.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 10_000;
  while (!output.includes('ready')) {
    if (Date.now() > deadline || receiver.exitCode !== null)
      throw new Error(`receiver did not start: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await from.inside(['timeout', '20', process.execPath, '-e', senderScript, to.address]);
  const timer = setTimeout(() => receiver.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
  return output.split('\n')[1] ?? '';
}

/** An SSH executor to a test host, with its pinned host key and the lab's client key. */
export function sshExecutorFor(
  lab: TestHosts,
  host: TestHost,
  options: ConstructorParameters<typeof SshExecutor>[2] = {},
): SshExecutor {
  return new SshExecutor(
    {
      name: host.name,
      address: host.address,
      port: host.port,
      user: 'root',
      hostKey: { fingerprints: [host.fingerprint] },
      maxSessions: 10,
    },
    { privateKey: lab.privateKey },
    options,
  );
}

/**
 * A worker configuration that reaches `hosts` of the lab over SSH (the lab's key, each host's pinned key) and
 * not this machine: what every SSH suite gives its workers.
 */
export function sshOnlyWorkerConfig(lab: TestHosts, hosts: readonly TestHost[] = lab.hosts) {
  return {
    local: { enabled: false },
    ssh: {
      credentials: { 'test-key': { privateKeyFile: join(lab.dir, 'client_key') } },
      hosts: Object.fromEntries(
        hosts.map((host) => [
          host.name,
          { address: host.address, credential: 'test-key', hostKey: { fingerprints: [host.fingerprint] } },
        ]),
      ),
      readyTimeoutMs: 2000,
    },
  };
}
