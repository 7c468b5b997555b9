import type { DeviceIo } from './evidence';
import { round } from './units';

/** The counters of one /proc/diskstats line (Documentation/admin-guide/iostats.rst). */
export interface DiskCounters {
  readonly name: string;
  readonly numbers: string;
  readonly reads: number;
  readonly sectorsRead: number;
  readonly msReading: number;
  readonly writes: number;
  readonly sectorsWritten: number;
  readonly msWriting: number;
  readonly msDoingIo: number;
  readonly weightedMs: number;
}

export function parseDiskstats(lines: readonly string[]): Map<string, DiskCounters> {
  const devices = new Map<string, DiskCounters>();
  for (const line of lines) {
    const f = line.trim().split(/\s+/);
    if (f.length < 14) continue;
    const n = (i: number) => Number(f[i]);
    const name = f[2] ?? '';
    devices.set(name, {
      name,
      numbers: `${f[0]}:${f[1]}`,
      reads: n(3),
      sectorsRead: n(5),
      msReading: n(6),
      writes: n(7),
      sectorsWritten: n(9),
      msWriting: n(10),
      msDoingIo: n(12),
      weightedMs: n(13),
    });
  }
  return devices;
}

/** `iostat -x` over the window: devices that did any IO in it, busiest first. */
export function deviceRates(
  first: ReadonlyMap<string, DiskCounters>,
  second: ReadonlyMap<string, DiskCounters>,
  seconds: number,
): DeviceIo[] {
  const devices: DeviceIo[] = [];
  for (const [name, now] of second) {
    const before = first.get(name);
    if (before === undefined) continue;
    const d = (key: keyof Omit<DiskCounters, 'name' | 'numbers'>) => Math.max(0, now[key] - before[key]);
    const reads = d('reads');
    const writes = d('writes');
    if (reads + writes === 0 && d('msDoingIo') === 0) continue;
    const average = (ms: number, count: number) => (count > 0 ? { value: round(ms / count) } : undefined);
    const all = average(d('msReading') + d('msWriting'), reads + writes);
    const readAwait = average(d('msReading'), reads);
    const writeAwait = average(d('msWriting'), writes);
    devices.push({
      name,
      numbers: now.numbers,
      utilisationPercent: round(Math.min(100, (d('msDoingIo') / (seconds * 1000)) * 100), 1),
      readsPerSecond: round(reads / seconds, 1),
      writesPerSecond: round(writes / seconds, 1),
      readBytesPerSecond: round((d('sectorsRead') * 512) / seconds, 0),
      writeBytesPerSecond: round((d('sectorsWritten') * 512) / seconds, 0),
      ...(all ? { awaitMs: all.value } : {}),
      ...(readAwait ? { readAwaitMs: readAwait.value } : {}),
      ...(writeAwait ? { writeAwaitMs: writeAwait.value } : {}),
      queueSize: round(d('weightedMs') / (seconds * 1000)),
    });
  }
  const throughput = (x: DeviceIo) => x.readBytesPerSecond + x.writeBytesPerSecond;
  return devices.sort((a, b) => b.utilisationPercent - a.utilisationPercent || throughput(b) - throughput(a));
}
