// What an IO diagnosis found on one host. Plain data: it travels through workflow history into the report.

/** One block device over the window, as `iostat -x` shows it (from /proc/diskstats deltas). */
export interface DeviceIo {
  readonly name: string;
  /** "MAJ:MIN", to match files (st_dev) to devices. */
  readonly numbers: string;
  readonly utilisationPercent: number;
  readonly readsPerSecond: number;
  readonly writesPerSecond: number;
  readonly readBytesPerSecond: number;
  readonly writeBytesPerSecond: number;
  /** Mean time a request took, queueing included (ms); undefined when no request completed. */
  readonly awaitMs?: number;
  readonly readAwaitMs?: number;
  readonly writeAwaitMs?: number;
  /** Mean number of requests in flight (aqu-sz). */
  readonly queueSize: number;
}

/** One process over the window, as `iotop` shows it (from /proc/PID/io deltas). */
export interface ProcessIo {
  readonly pid: number;
  readonly comm: string;
  /** A kernel thread (e.g. a loop device's worker): it has no files of its own to show. */
  readonly kernelThread: boolean;
  /** Bytes it caused to be read from / written to storage, per second (read_bytes, write_bytes). */
  readonly readBytesPerSecond: number;
  readonly writeBytesPerSecond: number;
  /** Every byte it passed to read()/write() (rchar, wchar), page cache and pipes included. */
  readonly readCharsPerSecond: number;
  readonly writeCharsPerSecond: number;
  /** Samples in which one of its threads was in state D (uninterruptible sleep: waiting on IO). */
  readonly waitingSamples: number;
}

/** /proc/pressure/io over the window: the share of time some / all runnable tasks were stalled on IO. */
export interface IoPressure {
  readonly somePercent: number;
  readonly fullPercent?: number;
  /** The kernel's own 10 s average, for comparison. */
  readonly someAvg10: number;
}

/** A regular file a busy process has open. */
export interface OpenFile {
  readonly pid: number;
  readonly fd: number;
  readonly path: string;
  /** The path was unlinked while the file is still open: its space is only freed when it is closed. */
  readonly deleted: boolean;
  readonly mode: 'read' | 'write' | 'read-write';
  readonly direct: boolean;
  readonly sizeBytes: number;
  /** Growth of its size over the measurement, per second. */
  readonly growthBytesPerSecond: number;
  /** How fast its file offset moved (a writer that overwrites in place does not grow the file). */
  readonly offsetBytesPerSecond?: number;
  /** The block device it lives on (a diskstats name), when known. */
  readonly device?: string;
  readonly mountPoint?: string;
}

/** One filesystem, as `df` shows it, with its growth over the measurement. */
export interface FilesystemUsage {
  readonly source: string;
  readonly mountPoint: string;
  readonly sizeBytes: number;
  readonly usedBytes: number;
  readonly usedPercent: number;
  readonly growthBytesPerSecond: number;
}

/** A file or directory (the sum of the open files under it) that grew during the measurement. */
export interface GrowingPath {
  readonly path: string;
  readonly growthBytesPerSecond: number;
  readonly sizeBytes: number;
}

export interface IoFocus {
  readonly kind: 'pid' | 'container';
  readonly value: string;
  /** The processes it stands for (a container: every process of its cgroup). */
  readonly pids: readonly number[];
}

export interface IoEvidence {
  readonly host: string;
  readonly collectedAt: string;
  /** The measured window (host clock), ms. */
  readonly intervalMs: number;
  /** In how many samples process states were read (the denominator of waitingSamples). */
  readonly stateSamples: number;
  readonly focus?: IoFocus;
  /** One finding in plain words, with the numbers behind it. */
  readonly finding: string;
  readonly devices: readonly DeviceIo[];
  readonly processes: readonly ProcessIo[];
  /** Processes that were waiting on IO (state D) in at least one sample, most often first. */
  readonly waiting: readonly ProcessIo[];
  readonly pressure?: IoPressure;
  readonly openFiles: readonly OpenFile[];
  readonly filesystems: readonly FilesystemUsage[];
  readonly growingPaths: readonly GrowingPath[];
  /** What could not be read, and why ("/proc/pressure/io: No such file or directory"). */
  readonly unavailable: readonly string[];
}

/** Evidence gathered by the game day, from every fault target's host. */
export interface IoEvidenceCollection {
  /** When: while faults were in place (a check deviated or a guardrail breached) or after rollback. */
  readonly when: 'during' | 'after';
  readonly reason: string;
  readonly hosts: readonly (IoEvidence | { readonly host: string; readonly error: string })[];
}
