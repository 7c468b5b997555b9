import type { FilesystemUsage } from './evidence';
import { round } from './units';

/** A mounted filesystem from /proc/self/mountinfo, by the device number its files carry (st_dev). */
export interface Mount {
  readonly numbers: string;
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
}

/** mountinfo escapes spaces, tabs, newlines and backslashes in paths as \ooo. */
const unescape = (path: string) =>
  path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));

/** `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw` → by "98:0"; the first mount wins. */
export function parseMountinfo(lines: readonly string[]): Map<string, Mount> {
  const mounts = new Map<string, Mount>();
  for (const line of lines) {
    const [left, right] = line.split(' - ');
    const f = (left ?? '').split(' ');
    const [fsType, source] = (right ?? '').split(' ');
    const numbers = f[2];
    if (numbers === undefined || f[4] === undefined || mounts.has(numbers)) continue;
    mounts.set(numbers, {
      numbers,
      mountPoint: unescape(f[4]),
      fsType: fsType ?? '',
      source: unescape(source ?? ''),
    });
  }
  return mounts;
}

/** "MAJ:MIN" of a decimal st_dev as `stat -c %d` prints it (glibc's gnu_dev_major/minor). */
export function deviceNumbers(stDev: string): string {
  const dev = BigInt(stDev);
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

export interface DfRow {
  readonly source: string;
  readonly sizeBytes: number;
  readonly usedBytes: number;
  readonly mountPoint: string;
}

/** `df -P -B1`: Filesystem, 1-blocks, Used, Available, Capacity, Mounted on (which may contain spaces). */
export function parseDf(lines: readonly string[]): Map<string, DfRow> {
  const rows = new Map<string, DfRow>();
  for (const line of lines) {
    const match = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+\s+(.+)$/.exec(line);
    if (match === null) continue;
    const mountPoint = match[5] ?? '';
    rows.set(mountPoint, {
      source: match[1] ?? '',
      sizeBytes: Number(match[2]),
      usedBytes: Number(match[3]),
      mountPoint,
    });
  }
  return rows;
}

/** Usage at the end of the measurement and its growth from the start; real filesystems only (size > 0). */
export function filesystemUsage(
  first: ReadonlyMap<string, DfRow>,
  second: ReadonlyMap<string, DfRow>,
  seconds: number,
): FilesystemUsage[] {
  const usage: FilesystemUsage[] = [];
  for (const [mountPoint, now] of second) {
    if (now.sizeBytes === 0) continue;
    const before = first.get(mountPoint);
    usage.push({
      source: now.source,
      mountPoint,
      sizeBytes: now.sizeBytes,
      usedBytes: now.usedBytes,
      usedPercent: round((now.usedBytes / now.sizeBytes) * 100, 1),
      growthBytesPerSecond: before ? round((now.usedBytes - before.usedBytes) / seconds, 0) : 0,
    });
  }
  return usage;
}
