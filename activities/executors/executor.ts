import type { TrustedScript } from './shellQuote';

/** The result of one command; a non-zero exit is a result, not an error. */
export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Kill the command (SIGKILL) after this long. */
  readonly timeoutMs?: number;
  readonly cwd?: string;
  /** The command's standard input (closed after it); none when absent. */
  readonly input?: string;
}

export interface DetachedOptions {
  readonly cwd: string;
  /** Where the detached process's stdout goes (appended), and its stderr too unless `errorLogPath` is given. */
  readonly logPath: string;
  readonly errorLogPath?: string;
  /**
   * Written with the new pid in the same step as the start (on the host, before it is reported), so no moment
   * exists in which the process runs while the pidfile still names another: a retry after a lost worker sees it.
   */
  readonly pidfile?: string;
}

/**
 * Runs commands on one host. Commands are argv arrays; an executor that has to go through a shell quotes
 * each argument at its own boundary, so fault modules never build command strings.
 */
export interface Executor {
  /** The host's name as shown to users ("local", "kafka-1"). */
  readonly host: string;
  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /**
   * The first argument this executor could not send to its host, if any: an executor that goes through a
   * remote shell refuses arguments outside its strict pattern. A fault that records arguments from a host (a
   * command line to restart later) checks them here before it changes anything.
   */
  unsendableArgument(argv: readonly string[]): string | undefined;
  /**
   * Runs a fixed script written by gameday (`sh -c SCRIPT NAME ARGS…`): one round trip for work that would
   * otherwise take many commands. Its arguments pass the same checks as any argv.
   */
  runScript(script: TrustedScript, args: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** Starts a process that outlives the executor and the worker; returns its pid. */
  startDetached(argv: readonly string[], options: DetachedOptions): Promise<number>;
  /**
   * Whether a TCP connection to the port succeeds, as seen from the host. Refused, reset, unreachable or
   * silent is false; throws when the host could not even try (the name does not resolve, the host itself
   * cannot be reached).
   */
  tcpReachable(host: string, port: number, timeoutMs: number): Promise<boolean>;
  /** Writes a small file (a pidfile) without going through a shell. */
  writeFile(path: string, content: string): Promise<void>;
  /** Reads a small file (/proc entries, pidfiles); undefined when it does not exist. */
  readFile(path: string): Promise<string | undefined>;
  /** Sends a signal (by name: STOP, CONT, KILL, …); false when the process does not exist. */
  signal(pid: number, name: string): Promise<boolean>;
  /**
   * The connection gameday itself uses to reach the host, as the host sees it, so that network faults can
   * leave it alone; undefined when there is none (the local executor).
   */
  managementConnection(): Promise<ManagementConnection | undefined>;
}

export interface ManagementConnection {
  /** The worker's address as the host sees it. */
  readonly clientAddress: string;
  /** The host's port the worker connects to (sshd). */
  readonly serverPort: number;
}

/** Raised when a command cannot be run at all (missing binary, host unreachable). */
export class ExecutorError extends Error {
  override readonly name: string = 'ExecutorError';
}

/**
 * The command ran but did not finish within its timeout, and was killed on its host. Unlike a command that
 * could not be run, this is the command's own answer ("no reply in time"): a check may judge it.
 */
export class CommandTimedOut extends ExecutorError {
  override readonly name = 'CommandTimedOut';
}

/**
 * The command itself is not on the host: the executor could not start it (locally, ENOENT; over SSH the
 * remote shell answers 127 instead, a result). The only error a "is it installed?" probe may read as "no":
 * a host it could not reach is no answer at all.
 */
export class CommandNotInstalled extends ExecutorError {
  override readonly name = 'CommandNotInstalled';
}

/** Exit statuses a shell (and `timeout`) use for "could not run it": 126 not executable, 127 not found. */
export const couldNotRunExitCodes: readonly number[] = [126, 127];

/**
 * Runs a command whose absence is itself an answer ("is stress-ng installed?"). A command the host does not
 * have comes back as exit 127 from every executor (over SSH the remote shell says so; locally the spawn fails
 * with CommandNotInstalled, turned into the same result), so a probe reads one answer; a host that could not
 * be asked (unreachable, timed out) still throws, and never reads as "not installed".
 */
export async function runOrNotFound(
  exec: Executor,
  argv: readonly string[],
  options?: RunOptions,
): Promise<CommandResult> {
  try {
    return await exec.run(argv, options);
  } catch (error) {
    if (error instanceof CommandNotInstalled) return { exitCode: 127, stdout: '', stderr: error.message };
    throw error;
  }
}

/**
 * A command as messages name it: a script's text shown as `…` and the whole cut to one short line, so a long
 * argument (rules sent together, a script) never floods a message that goes into history.
 */
export function describeCommand(argv: readonly string[]): string {
  const line = argv.map((arg) => (arg.includes('\n') ? '…' : arg)).join(' ');
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/**
 * Runs a command and throws with its output when it does not exit 0, naming the command (or `what`) and the
 * host (or `on`, the name the user knows it by).
 */
export async function runChecked(
  exec: Executor,
  argv: readonly string[],
  options: RunOptions & { readonly what?: string; readonly on?: string } = {},
): Promise<CommandResult> {
  const { what, on, ...runOptions } = options;
  const result = await exec.run(argv, runOptions);
  if (result.exitCode !== 0) {
    const output = (result.stderr || result.stdout).trim().slice(0, 500);
    throw new ExecutorError(
      `${what ?? describeCommand(argv)} on ${on ?? exec.host} exited ${result.exitCode}: ${output}`,
    );
  }
  return result;
}
