import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ExecutorError } from './executor';
import type { ChildOutcome, ExecFileRequest, Spawner } from './spawning';

export interface HelperRequest {
  readonly id: number;
  readonly request: ExecFileRequest;
}

export interface HelperReply {
  readonly id: number;
  readonly outcome: ChildOutcome;
}

interface Waiting {
  resolve(outcome: ChildOutcome): void;
  reject(error: Error): void;
}

/** One helper process and the commands it runs for us now. */
class HelperProcess {
  readonly waiting = new Map<number, Waiting>();

  constructor(
    readonly child: ChildProcess,
    private readonly onGone: (helper: HelperProcess) => void,
  ) {
    child.on('message', (reply: HelperReply) => {
      const waiting = this.waiting.get(reply.id);
      if (waiting === undefined) return;
      this.waiting.delete(reply.id);
      waiting.resolve(reply.outcome);
      this.holdWorkerWhileBusy();
    });
    child.once('error', (error) => this.gone(error.message));
    child.once('exit', (code, signal) => this.gone(signal ?? `status ${code ?? '?'}`));
    this.holdWorkerWhileBusy();
  }

  send(request: ExecFileRequest, id: number): Promise<ChildOutcome> {
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.holdWorkerWhileBusy();
      const message: HelperRequest = { id, request };
      this.child.send(message, (error) => {
        if (error === null) return;
        this.waiting.delete(id);
        reject(
          new ExecutorError(
            `could not hand ${request.file} to the spawn helper on host local: ${error.message}`,
          ),
        );
      });
    });
  }

  /** An idle helper does not keep a CLI or a test process running; a busy one does, as a child would. */
  private holdWorkerWhileBusy(): void {
    // Both the process and its channel: a helper that dies must still be heard of (its exit event).
    if (this.waiting.size > 0) {
      this.child.ref();
      this.child.channel?.ref();
    } else {
      this.child.unref();
      this.child.channel?.unref();
    }
  }

  private gone(reason: string): void {
    this.onGone(this);
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    // The command may or may not have run: the activity's retry runs it again (every step is idempotent).
    for (const command of waiting) {
      command.reject(
        new ExecutorError(`the spawn helper on host local ended (${reason}) while it ran a command`),
      );
    }
  }
}

/**
 * Starts the local executor's commands from a small helper process instead of the worker. Each spawn blocks
 * the process that makes it (fork and exec, ~4 ms here when idle, ~14 ms on 2 busy cores): in the worker that
 * is its main thread, which also hands workflow tasks on, so 100 game days with local faults queued their
 * workflow tasks behind a few hundred spawns (issue 14's CPU profile). The helper is started on first use and
 * again after it ends; it exits on its own once the worker is gone and its running commands are done.
 */
export class HelperSpawner implements Spawner {
  private helper: HelperProcess | undefined;
  private nextId = 1;

  constructor(private readonly mainPath: string = join(__dirname, 'spawnHelperMain.js')) {}

  execFile(request: ExecFileRequest): Promise<ChildOutcome> {
    return this.running().send(request, this.nextId++);
  }

  /** The helper's pid, once started (tests). */
  get pid(): number | undefined {
    return this.helper?.child.pid;
  }

  /** Lets the helper go: it ends once the commands it still runs are done. */
  close(): void {
    const helper = this.helper;
    this.helper = undefined;
    if (helper?.child.connected === true) helper.child.disconnect();
  }

  private running(): HelperProcess {
    if (this.helper !== undefined) return this.helper;
    // No inherited execArgv: a worker run under --inspect or --cpu-prof must not hand those to its helper.
    const child = fork(this.mainPath, [], {
      execArgv: [],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const helper = new HelperProcess(child, (gone) => {
      if (this.helper === gone) this.helper = undefined;
    });
    this.helper = helper;
    return helper;
  }
}
