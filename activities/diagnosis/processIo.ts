import type { ProcessIo } from './evidence';
import { round } from './units';

/** What /proc/PID/stat and /proc/PID/io say about one process at one instant. */
export interface ProcessCounters {
  readonly pid: number;
  readonly comm: string;
  readonly state: string;
  readonly kernelThread: boolean;
  /** Start time in clock ticks after boot: tells a reused pid from the process seen before. */
  readonly startTime: number;
  /** Undefined when /proc/PID/io could not be read (another user's process, without root). */
  readonly io?: IoCounters;
}

export interface IoCounters {
  readonly rchar: number;
  readonly wchar: number;
  readonly readBytes: number;
  readonly writeBytes: number;
  readonly cancelledWriteBytes: number;
}

const kernelThreadFlag = 0x00200000; // PF_KTHREAD

/** Parses one /proc/PID/stat line. The comm is in parentheses and may itself contain spaces or ")". */
export function parseStat(line: string): Omit<ProcessCounters, 'io'> | undefined {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(line.slice(0, open).trim());
  // Fields after the comm: state is field 3, flags field 9, starttime field 22 (proc(5)).
  const rest = line
    .slice(close + 2)
    .split(' ')
    .filter((f) => f !== '');
  const flags = Number(rest[6] ?? 0);
  if (!Number.isInteger(pid)) return undefined;
  return {
    pid,
    comm: line.slice(open + 1, close),
    state: rest[0] ?? '?',
    kernelThread: (flags & kernelThreadFlag) !== 0,
    startTime: Number(rest[19] ?? 0),
  };
}

const ioKeys: Record<string, keyof IoCounters> = {
  rchar: 'rchar',
  wchar: 'wchar',
  read_bytes: 'readBytes',
  write_bytes: 'writeBytes',
  cancelled_write_bytes: 'cancelledWriteBytes',
};

/**
 * Parses `grep -H '' /proc/[0-9]*\/stat /proc/[0-9]*\/io` output: lines `/proc/PID/stat:…` and
 * `/proc/PID/io:key: value`, into one entry per process that has a stat line.
 */
export function parseProcesses(lines: readonly string[]): Map<number, ProcessCounters> {
  const stats = new Map<number, Omit<ProcessCounters, 'io'>>();
  const ios = new Map<number, Partial<Record<keyof IoCounters, number>>>();
  for (const line of lines) {
    const match = /^\/proc\/(\d+)\/(stat|io):(.*)$/.exec(line);
    if (match === null) continue;
    const pid = Number(match[1]);
    const content = match[3] ?? '';
    if (match[2] === 'stat') {
      const stat = parseStat(content);
      if (stat) stats.set(pid, stat);
    } else {
      const [key, value] = content.split(':');
      const field = ioKeys[key ?? ''];
      if (field === undefined) continue;
      const counters = ios.get(pid) ?? {};
      counters[field] = Number((value ?? '').trim());
      ios.set(pid, counters);
    }
  }
  const processes = new Map<number, ProcessCounters>();
  for (const [pid, stat] of stats) {
    const io = ios.get(pid);
    const complete = io && Object.values(ioKeys).every((key) => Number.isFinite(io[key]));
    processes.set(pid, complete ? { ...stat, io: io as IoCounters } : stat);
  }
  return processes;
}

/**
 * Counts, per process, the samples in which any of its threads was in state D. Each sample is the output of
 * `grep -l ') D ' /proc/[0-9]*\/task/[0-9]*\/stat`: the stat files of waiting threads.
 */
export function countWaiting(samples: readonly (readonly string[])[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const sample of samples) {
    const pids = new Set<number>();
    for (const line of sample) {
      const match = /^\/proc\/(\d+)\/task\/\d+\/stat$/.exec(line);
      if (match) pids.add(Number(match[1]));
    }
    for (const pid of pids) counts.set(pid, (counts.get(pid) ?? 0) + 1);
  }
  return counts;
}

/**
 * Per-process rates between two snapshots `seconds` apart (the iotop view). A process that started in
 * between counts from zero; a pid reused by another process is the new one, from zero.
 */
export function processRates(
  first: ReadonlyMap<number, ProcessCounters>,
  second: ReadonlyMap<number, ProcessCounters>,
  seconds: number,
  waiting: ReadonlyMap<number, number>,
): ProcessIo[] {
  const zero: IoCounters = { rchar: 0, wchar: 0, readBytes: 0, writeBytes: 0, cancelledWriteBytes: 0 };
  const rates: ProcessIo[] = [];
  for (const [pid, now] of second) {
    if (now.io === undefined) continue;
    const before = first.get(pid);
    const base = before?.io && before.startTime === now.startTime ? before.io : zero;
    const per = (key: keyof IoCounters) => round(Math.max(0, now.io![key] - base[key]) / seconds, 0);
    rates.push({
      pid,
      comm: now.comm,
      kernelThread: now.kernelThread,
      readBytesPerSecond: per('readBytes'),
      // Bytes written to the page cache and then truncated away never reach the disk (iotop does the same).
      writeBytesPerSecond: Math.max(0, per('writeBytes') - per('cancelledWriteBytes')),
      readCharsPerSecond: per('rchar'),
      writeCharsPerSecond: per('wchar'),
      waitingSamples: waiting.get(pid) ?? 0,
    });
  }
  return rates;
}

export const storageRate = (p: ProcessIo): number => p.readBytesPerSecond + p.writeBytesPerSecond;
