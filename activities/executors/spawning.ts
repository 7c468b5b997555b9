import { execFile } from 'node:child_process';

/** Output beyond this is refused (the command fails with a clear line): history must not carry megabytes. */
export const maxOutputBytes = 16 * 1024 * 1024;

/** One command for `execFile`: plain data, so it can be handed to the spawn helper process as it is. */
export interface ExecFileRequest {
  readonly file: string;
  readonly args: readonly string[];
  /** Killed with SIGKILL after this long. */
  readonly timeoutMs: number;
  readonly cwd?: string;
  /** The command's standard input; closed at once when absent. */
  readonly input?: string;
}

/** What `execFile` reported, as plain data: the parts the local executor reads. */
export interface ChildOutcome {
  readonly stdout: string;
  readonly stderr: string;
  /** Absent when the command exited 0. */
  readonly failure?: {
    /** The exit status (a number), or Node's error code (`ENOENT`, `ERR_CHILD_PROCESS_STDIO_MAXBUFFER`). */
    readonly code?: string | number;
    /** Killed by its timeout. */
    readonly killed: boolean;
    readonly message: string;
  };
}

/** Starts commands for the local executor: in this process, or in the spawn helper process. */
export interface Spawner {
  execFile(request: ExecFileRequest): Promise<ChildOutcome>;
}

/** Runs the command from this process: argv only, no shell anywhere. */
export function execFileOutcome(request: ExecFileRequest): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const child = execFile(
      request.file,
      request.args,
      {
        timeout: request.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: maxOutputBytes,
        cwd: request.cwd,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error === null) return resolve({ stdout, stderr });
        const code = (error as NodeJS.ErrnoException).code as string | number | undefined;
        resolve({
          stdout,
          stderr,
          failure: { code, killed: error.killed === true, message: error.message },
        });
      },
    );
    // Without input the child's stdin is closed at once: nothing waits on a terminal that is not there. A
    // command that exits without reading its input (EPIPE) is its own business: its exit status says how it went.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(request.input ?? '');
  });
}

export const inProcessSpawner: Spawner = { execFile: execFileOutcome };
