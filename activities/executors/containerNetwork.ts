import {
  ExecutorError,
  type CommandResult,
  type DetachedOptions,
  type Executor,
  type RunOptions,
} from './executor';
import { quote, TrustedScript } from './shellQuote';

/** `nsenter -t PID -n -- argv`: argv in the network namespace of process PID, everything else unchanged. */
export function nsenterArgv(pid: number, argv: readonly string[]): string[] {
  if (!Number.isInteger(pid) || pid <= 1)
    throw new ExecutorError(`no network namespace to enter: pid ${pid}`);
  return ['nsenter', '-t', String(pid), '-n', '--', ...argv];
}

/**
 * A container fault's host-side revert, wrapped like the fault itself: each command enters the container's
 * network namespace by the pid of its first process. When that process is gone (the container stopped or was
 * removed, and its namespace with the fault in it), nsenter fails and nothing runs.
 */
export function wrapRevertForContainer(pid: number, commands: readonly (readonly string[])[]): string[][] {
  return commands.map((command) => nsenterArgv(pid, command));
}

/**
 * Runs commands inside a container's network namespace on the underlying executor's host (local or SSH):
 * every command is prefixed with `nsenter -t PID -n --`, where PID is the container's first process as
 * `docker inspect` reported it (resolved by the caller, once per activity). Only the network namespace
 * changes: files, /proc and signals are the host's, so those calls go straight to the underlying executor.
 */
export class ContainerNetworkExecutor implements Executor {
  readonly host: string;

  constructor(
    private readonly inner: Executor,
    readonly pid: number,
    readonly container: string,
  ) {
    this.host = inner.host;
  }

  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult> {
    return this.inner.run(nsenterArgv(this.pid, argv), options);
  }

  unsendableArgument(argv: readonly string[]): string | undefined {
    return this.inner.unsendableArgument(argv);
  }

  startDetached(argv: readonly string[], options: DetachedOptions): Promise<number> {
    return this.inner.startDetached(nsenterArgv(this.pid, argv), options);
  }

  /**
   * The script runs as every command here does: in the container's network namespace (`nsenter -n`), with the
   * host's files and processes. It stays a fixed script: the wrapper is fixed text, the script single-quoted.
   */
  runScript(script: TrustedScript, args: readonly string[], options?: RunOptions): Promise<CommandResult> {
    nsenterArgv(this.pid, []); // the same check of the pid as every command's
    const inContainer = new TrustedScript(
      script.name,
      `pid=$1; shift; exec nsenter -t "$pid" -n -- sh -c ${quote(script.text)} "$0" "$@"`,
    );
    return this.inner.runScript(inContainer, [String(this.pid), ...args], options);
  }

  tcpReachable(): Promise<boolean> {
    return Promise.reject(
      new ExecutorError(
        `TCP probes from inside container ${this.container} on ${this.host} are not supported`,
      ),
    );
  }

  writeFile(path: string, content: string): Promise<void> {
    return this.inner.writeFile(path, content);
  }

  readFile(path: string): Promise<string | undefined> {
    return this.inner.readFile(path);
  }

  signal(pid: number, name: string): Promise<boolean> {
    return this.inner.signal(pid, name);
  }

  /** gameday's own connection reaches the host, not the container's namespace: there is none to spare here. */
  managementConnection(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
}
