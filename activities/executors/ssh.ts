import { constants } from 'node:os';
import { Client, type ClientChannel } from 'ssh2';
import {
  CommandTimedOut,
  describeCommand,
  ExecutorError,
  type CommandResult,
  type DetachedOptions,
  type Executor,
  type ManagementConnection,
  type RunOptions,
} from './executor';
import { checkHostKey, type HostKeyPolicy } from './hostKeys';
import { isSendable, shellCommand, TrustedScript, type Argument } from './shellQuote';

export interface SshHost {
  /** The inventory name users see ("kafka-1"). */
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
  readonly hostKey: HostKeyPolicy;
  /** The host's sshd MaxSessions; gameday stays two below it. */
  readonly maxSessions: number;
}

/** Resolved from a credential name in the worker configuration; never part of a plan or of history. */
export interface SshCredential {
  readonly privateKey?: Buffer;
  readonly passphrase?: string;
  /** Path of an ssh-agent socket. */
  readonly agent?: string;
}

export interface SshOptions {
  readonly readyTimeoutMs?: number;
  readonly keepaliveIntervalMs?: number;
  readonly defaultTimeoutMs?: number;
  /** Called on every connection made without host key verification. */
  readonly onInsecure?: (host: string) => void;
  /** Called with every command line sent (and its standard input): tracing, and the benchmark's bash replay. */
  readonly onCommand?: (command: string, input: string | undefined) => void;
}

class Semaphore {
  private waiting: (() => void)[] = [];
  constructor(private free: number) {}

  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    return () => {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

/** SSH_OPEN_CONNECT_FAILED (RFC 4254): the host tried to connect and the peer refused or was unreachable. */
const connectFailed = 2;

/** How long `close` waits for the host to acknowledge the end of the connection. */
const closeGraceMs = 1000;

/** Refused channel opens are retried this often (5 ms, 10 ms, … apart: about 1 s in all). */
const channelOpenAttempts = 20;

const startScript = new TrustedScript(
  'gameday-start',
  'cd "$1" || exit 1; out=$2; err=$3; pidfile=$4; shift 4; setsid "$@" </dev/null >>"$out" 2>>"$err" & ' +
    'pid=$!; if [ -n "$pidfile" ]; then echo "$pid" >"$pidfile" || exit 1; fi; echo "$pid"',
);

/** Collects a started command's output and exit status; the watchdog covers a connection that stops answering. */
function collect(
  stream: ClientChannel,
  what: string,
  seconds: number,
  input: string,
): Promise<CommandResult> {
  return new Promise<CommandResult>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let exitCode: number | undefined;
    let signal: string | undefined;
    // The remote `timeout` kills the command; this only covers a connection that stops answering.
    const watchdog = setTimeout(
      () => {
        stream.close();
        reject(new ExecutorError(`${what}: no answer ${seconds + 5} s after it was started`));
      },
      (seconds + 5) * 1000,
    );
    stream.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    stream.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    stream.on('exit', (code: number | null, signalName?: string) => {
      exitCode = code ?? undefined;
      signal = signalName;
    });
    stream.on('error', (streamError: Error) => reject(new ExecutorError(`${what}: ${streamError.message}`)));
    stream.on('close', () => {
      clearTimeout(watchdog);
      const signals = constants.signals as Record<string, number | undefined>;
      // Killed by a signal: the shell convention, 128 + its number (ssh2 names it with or without "SIG").
      const code = exitCode ?? (signal ? 128 + (signals[`SIG${signal.replace(/^SIG/, '')}`] ?? 0) : 255);
      resolve({ exitCode: code, stdout, stderr });
    });
    stream.end(input);
  });
}

/**
 * Runs commands on one host over SSH: one pooled connection, at most MaxSessions-2 channels at a time, and
 * every command wrapped in the remote `timeout -s KILL`, so a command that overruns is killed on the host
 * even if this process dies. Every `error` event is handled: one unhandled would kill the worker.
 */
export class SshExecutor implements Executor {
  readonly host: string;
  private client: Promise<Client> | undefined;
  private readonly sessions: Semaphore;
  private readonly readyTimeoutMs: number;
  private readonly keepaliveIntervalMs: number;
  private readonly defaultTimeoutMs: number;

  constructor(
    private readonly target: SshHost,
    private readonly credential: SshCredential,
    private readonly options: SshOptions = {},
  ) {
    this.host = target.name;
    this.sessions = new Semaphore(Math.max(1, target.maxSessions - 2));
    this.readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
    this.keepaliveIntervalMs = options.keepaliveIntervalMs ?? 5_000;
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 30_000;
  }

  private connect(): Promise<Client> {
    if (this.client) return this.client;
    const { name, address, port, user, hostKey } = this.target;
    const attempt = new Promise<Client>((resolve, reject) => {
      const client = new Client();
      let refusal: string | undefined;
      const forget = () => {
        if (this.client === attempt) this.client = undefined;
      };
      client.on('ready', () => resolve(client));
      client.on('error', (error) => {
        forget();
        reject(
          new ExecutorError(
            `cannot reach host ${name} (${address}:${port}) over SSH: ${refusal ?? error.message}`,
          ),
        );
      });
      client.on('close', forget);
      client.on('end', forget);
      if ('insecureSkipVerify' in hostKey) this.options.onInsecure?.(name);
      client.connect({
        host: address,
        port,
        username: user,
        ...(this.credential.privateKey ? { privateKey: this.credential.privateKey } : {}),
        ...(this.credential.passphrase ? { passphrase: this.credential.passphrase } : {}),
        ...(this.credential.agent ? { agent: this.credential.agent } : {}),
        readyTimeout: this.readyTimeoutMs,
        keepaliveInterval: this.keepaliveIntervalMs,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
          checkHostKey(hostKey, address, port, key).then(
            (reason) => {
              refusal = reason && `${reason} (refusing to connect)`;
              verify(reason === undefined);
            },
            (error: Error) => {
              refusal = `cannot check its host key: ${error.message}`;
              verify(false);
            },
          );
        },
      });
      // Each command is a few small packets each way: with Nagle's algorithm and the peer's delayed ACK, every
      // command waited ~40 ms for an ACK (measured: ~48 ms per command with it, ~4.5 ms without).
      client.setNoDelay(true);
    });
    this.client = attempt;
    return attempt;
  }

  private async exec(argv: readonly Argument[], options: RunOptions = {}): Promise<CommandResult> {
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    const withCwd: Argument[] = options.cwd ? ['env', '-C', options.cwd, ...argv] : [...argv];
    // Built (and validated) before anything is sent.
    const command = shellCommand(['timeout', '-s', 'KILL', `${seconds}s`, ...withCwd]);
    const what = `${describeCommand(argv.map((a) => (typeof a === 'string' ? a : a.name)))} on ${this.host}`;
    const release = await this.sessions.acquire();
    try {
      const client = await this.connect();
      this.options.onCommand?.(command, options.input);
      const result = await this.openSession(client, command, what, (stream) =>
        collect(stream, what, seconds, options.input ?? ''),
      );
      if (result.exitCode === 137) {
        throw new CommandTimedOut(`${what} timed out after ${seconds} s and was killed on the host`);
      }
      return result;
    } finally {
      release();
    }
  }

  /**
   * Opens a session channel and starts the command; `use` wires the stream in the same tick, before any of
   * its events. sshd frees a closed session only after it has processed the close, so an open right after
   * others closed can be refused although this pool stays below MaxSessions ("Channel open failure").
   * Nothing ran then: the open is retried after a short pause.
   */
  private async openSession<T>(
    client: Client,
    command: string,
    what: string,
    use: (stream: ClientChannel) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const opened = await new Promise<{ result: Promise<T> } | Error>((resolve) =>
        client.exec(command, (error, stream) => resolve(error ?? { result: use(stream) })),
      );
      if (!(opened instanceof Error)) return opened.result;
      if (!/Channel open failure/.test(opened.message) || attempt >= channelOpenAttempts) {
        throw new ExecutorError(`${what}: ${opened.message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt));
    }
  }

  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult> {
    return this.exec(argv, options);
  }

  unsendableArgument(argv: readonly string[]): string | undefined {
    return argv.find((arg) => !isSendable(arg));
  }

  runScript(script: TrustedScript, args: readonly string[], options?: RunOptions): Promise<CommandResult> {
    return this.exec(['sh', '-c', script, script.name, ...args], options);
  }

  async startDetached(argv: readonly string[], options: DetachedOptions): Promise<number> {
    const result = await this.exec([
      'sh',
      '-c',
      startScript,
      startScript.name,
      options.cwd,
      options.logPath,
      options.errorLogPath ?? options.logPath,
      options.pidfile ?? '',
      ...argv,
    ]);
    const pid = Number.parseInt(result.stdout.trim(), 10);
    if (result.exitCode !== 0 || !Number.isInteger(pid)) {
      throw new ExecutorError(`could not start ${argv[0] ?? ''} on ${this.host}: ${result.stderr.trim()}`);
    }
    return pid;
  }

  /**
   * Asks the host's sshd to connect (a direct-tcpip channel). sshd answers "connect failed" (reason 2) for a
   * refused or unreachable peer: the network's answer. Forwarding prohibited, a name the host cannot
   * resolve, or the SSH connection itself failing means the host could not ask: that throws.
   */
  async tcpReachable(host: string, port: number, timeoutMs: number): Promise<boolean> {
    const client = await this.connect();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      client.forwardOut('127.0.0.1', 0, host, port, (error, stream) => {
        clearTimeout(timer);
        if (error) {
          const reason = (error as Error & { reason?: number }).reason;
          const unresolved = /resolve|unknown host|not known|no address/i.test(error.message);
          if (reason === connectFailed && !unresolved) return resolve(false);
          return reject(
            new ExecutorError(`${this.host} cannot try ${host}:${port} for gameday: ${error.message}`),
          );
        }
        stream.on('error', () => undefined);
        stream.close();
        resolve(true);
      });
    });
  }

  async readFile(path: string): Promise<string | undefined> {
    const result = await this.exec(['cat', '--', path]);
    if (result.exitCode === 0) return result.stdout;
    if (/No such file|No such process/.test(result.stderr)) return undefined;
    throw new ExecutorError(`cannot read ${path} on ${this.host}: ${result.stderr.trim()}`);
  }

  async writeFile(path: string, content: string): Promise<void> {
    const result = await this.exec(['tee', '--', path], { input: content });
    if (result.exitCode !== 0)
      throw new ExecutorError(`cannot write ${path} on ${this.host}: ${result.stderr.trim()}`);
  }

  async signal(pid: number, name: string): Promise<boolean> {
    const result = await this.exec(['kill', '-s', name, String(pid)]);
    if (result.exitCode === 0) return true;
    if (/No such process/.test(result.stderr)) return false;
    throw new ExecutorError(`cannot send SIG${name} to ${pid} on ${this.host}: ${result.stderr.trim()}`);
  }

  /** sshd tells the session where it comes from: SSH_CONNECTION="client_ip client_port server_ip server_port". */
  async managementConnection(): Promise<ManagementConnection | undefined> {
    const result = await this.exec(['printenv', 'SSH_CONNECTION']);
    const [clientAddress, , , serverPort] = result.stdout.trim().split(' ');
    if (result.exitCode !== 0 || clientAddress === undefined || serverPort === undefined) {
      throw new ExecutorError(
        `cannot tell how ${this.host} sees this worker's SSH connection: ${result.stderr.trim()}`,
      );
    }
    return { clientAddress, serverPort: Number(serverPort) };
  }

  /** Closes the pooled connection (worker shutdown). */
  async close(): Promise<void> {
    const client = await this.client?.catch(() => undefined);
    this.client = undefined;
    if (client === undefined) return;
    // Waits for the goodbye to be acknowledged: a socket left half-closed to a host that has gone away stays
    // in FIN-WAIT-1 for minutes and keeps the process alive. A host that does not answer is cut off.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        client.destroy();
        resolve();
      }, closeGraceMs);
      client.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      client.end();
    });
  }
}
