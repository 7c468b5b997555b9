import { spawn } from 'node:child_process';
import { openSync, closeSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { Socket } from 'node:net';
import {
  CommandNotInstalled,
  CommandTimedOut,
  describeCommand,
  ExecutorError,
  type CommandResult,
  type DetachedOptions,
  type Executor,
  type RunOptions,
} from './executor';
import { couldNotAskReason } from './networkErrors';
import type { TrustedScript } from './shellQuote';
import { inProcessSpawner, type Spawner } from './spawning';

const defaultTimeoutMs = 30_000;

/** Runs commands on the worker's own machine with execFile (spawning.ts): argv only, no shell anywhere. */
export class LocalExecutor implements Executor {
  readonly host = 'local';

  /** Commands start in this process unless a spawner (the worker's spawn helper) is given. */
  constructor(private readonly spawner: Spawner = inProcessSpawner) {}

  async run(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    const [file, ...args] = argv;
    if (file === undefined) throw new ExecutorError('empty command');
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    const { stdout, stderr, failure } = await this.spawner.execFile({
      file,
      args,
      timeoutMs,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.input === undefined ? {} : { input: options.input }),
    });
    if (failure === undefined) return { exitCode: 0, stdout, stderr };
    if (failure.code === 'ENOENT') {
      throw new CommandNotInstalled(`command "${file}" is not installed on host ${this.host}`);
    }
    if (failure.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
      throw new ExecutorError(`${describeCommand(argv)} on ${this.host} printed more than 16 MiB`);
    }
    if (failure.killed) {
      throw new CommandTimedOut(`${describeCommand(argv)} on ${this.host} timed out after ${timeoutMs} ms`);
    }
    if (typeof failure.code === 'number') return { exitCode: failure.code, stdout, stderr };
    throw new ExecutorError(`${describeCommand(argv)} on ${this.host} failed: ${failure.message}`);
  }

  /** execFile passes argv as it is: only a NUL byte cannot be an argument. */
  unsendableArgument(argv: readonly string[]): string | undefined {
    return argv.find((arg) => arg.includes('\0'));
  }

  runScript(script: TrustedScript, args: readonly string[], options?: RunOptions): Promise<CommandResult> {
    return this.run(['sh', '-c', script.text, script.name, ...args], options);
  }

  startDetached(argv: readonly string[], options: DetachedOptions): Promise<number> {
    const [file, ...args] = argv;
    if (file === undefined) return Promise.reject(new ExecutorError('empty command'));
    const log = openSync(options.logPath, 'a');
    const errorLog = options.errorLogPath === undefined ? log : openSync(options.errorLogPath, 'a');
    try {
      // detached + unref: the process gets its own session and survives the worker being killed.
      const child = spawn(file, args, {
        cwd: options.cwd,
        detached: true,
        stdio: ['ignore', log, errorLog],
      });
      return new Promise((resolve, reject) => {
        child.once('error', (error) =>
          reject(new ExecutorError(`could not start ${file} on ${this.host}: ${error.message}`)),
        );
        child.once('spawn', () => {
          child.unref();
          const pid = child.pid ?? -1;
          try {
            if (options.pidfile !== undefined) writeFileSync(options.pidfile, `${pid}\n`);
            resolve(pid);
          } catch (error) {
            reject(
              new ExecutorError(
                `started ${file} on ${this.host} but could not write its pidfile: ${String(error)}`,
              ),
            );
          }
        });
      });
    } finally {
      closeSync(log);
      if (errorLog !== log) closeSync(errorLog);
    }
  }

  tcpReachable(host: string, port: number, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      const done = (reachable: boolean) => {
        socket.destroy();
        resolve(reachable);
      };
      socket.setTimeout(timeoutMs, () => done(false));
      socket.once('error', (error) => {
        socket.destroy();
        const reason = couldNotAskReason(error);
        // Refused, reset, unreachable: the network's answer. A name that does not resolve is no answer.
        if (reason === undefined) resolve(false);
        else reject(new ExecutorError(`cannot connect to ${host}:${port} from ${this.host}: ${reason}`));
      });
      socket.connect(port, host, () => done(true));
    });
  }

  async writeFile(path: string, content: string): Promise<void> {
    await writeFile(path, content);
  }

  async readFile(path: string): Promise<string | undefined> {
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // ESRCH: a /proc entry of a process that exited while we read it.
      if (code === 'ENOENT' || code === 'ESRCH') return undefined;
      throw new ExecutorError(`cannot read ${path} on ${this.host}: ${(error as Error).message}`);
    }
  }

  signal(pid: number, name: string): Promise<boolean> {
    const signals = constants.signals as Record<string, number | undefined>;
    if (signals[`SIG${name}`] === undefined)
      return Promise.reject(new ExecutorError(`unknown signal ${name}`));
    try {
      process.kill(pid, `SIG${name}` as NodeJS.Signals);
      return Promise.resolve(true);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return Promise.resolve(false);
      return Promise.reject(
        new ExecutorError(`cannot send SIG${name} to ${pid} on ${this.host}: ${(error as Error).message}`),
      );
    }
  }

  managementConnection(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
}
