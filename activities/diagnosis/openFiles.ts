import type { Executor } from '../executors/executor';
import { TrustedScript } from '../executors/shellQuote';
import type { GrowingPath, OpenFile } from './evidence';
import {
  deviceNumbers,
  filesystemUsage,
  parseDf,
  parseMountinfo,
  type DfRow,
  type Mount,
} from './filesystems';
import { section, splitSections } from './sections';
import { round } from './units';
import type { FilesystemUsage } from './evidence';

// The files some processes have open (/proc/PID/fd → readlink, flags from fdinfo), their sizes and offsets
// measured twice `gap` seconds apart, df at both ends and the mount table, in one round trip. Fixed text: its
// inputs are the gap (a number) and pids (digits), checked before it is sent; the pids only ever become parts
// of /proc paths, which is why the unquoted expansions below are safe.
const openFilesScript = new TrustedScript(
  'gameday-io-files',
  `gap=$1; shift
fds=; infos=; dirs=
for p do fds="$fds /proc/$p/fd/*"; infos="$infos /proc/$p/fdinfo/*"; dirs="$dirs /proc/$p/fd"; done
measure() {
  echo "@@uptime $1"; cat /proc/uptime
  echo "@@sizes $1"; [ -n "$fds" ] && stat -L -c '%n %s %d %F' $fds 2>/dev/null </dev/null
  echo "@@positions $1"; [ -n "$infos" ] && grep -H '^pos:' $infos 2>/dev/null </dev/null
  echo "@@df $1"; timeout 10 df -P -B1 2>/dev/null || echo @@unreadable
}
echo "@@links"; [ -n "$dirs" ] && find $dirs -mindepth 1 -maxdepth 1 -printf '%p %l\\n' 2>/dev/null </dev/null
echo "@@flags"; [ -n "$infos" ] && grep -H '^flags:' $infos 2>/dev/null </dev/null
echo "@@mountinfo"; cat /proc/self/mountinfo 2>&1 || echo @@unreadable
measure 0
sleep "$gap"
measure 1
`,
);

interface FdStat {
  readonly size: number;
  readonly numbers: string;
  readonly regular: boolean;
}

const fdKey = (pid: number, fd: number) => `${pid}/${fd}`;

function byFd<T>(
  lines: readonly string[],
  pattern: RegExp,
  value: (m: RegExpExecArray) => T,
): Map<string, T> {
  const found = new Map<string, T>();
  for (const line of lines) {
    const match = pattern.exec(line);
    if (match) found.set(fdKey(Number(match[1]), Number(match[2])), value(match));
  }
  return found;
}

const linesOf = (s: ReturnType<typeof section>) => ('lines' in s ? s.lines : []);

const parseSizes = (lines: readonly string[]) =>
  byFd(lines, /^\/proc\/(\d+)\/fd\/(\d+) (\d+) (\d+) (.+)$/, (m) => ({
    size: Number(m[3]),
    numbers: deviceNumbers(m[4] ?? '0'),
    regular: (m[5] ?? '').startsWith('regular'),
  })) as Map<string, FdStat>;

const parsePositions = (lines: readonly string[]) =>
  byFd(lines, /^\/proc\/(\d+)\/fdinfo\/(\d+):pos:\s+(\d+)$/, (m) => Number(m[3]));

export interface OpenFilesResult {
  readonly files: OpenFile[];
  readonly filesystems: FilesystemUsage[];
  readonly growingPaths: GrowingPath[];
  readonly mounts: ReadonlyMap<string, Mount>;
  readonly unavailable: string[];
}

/** Parses the open-files script's output (exported for tests of the parsing itself). */
export function parseOpenFiles(output: string, deviceNames: ReadonlyMap<string, string>): OpenFilesResult {
  const sections = splitSections(output);
  const unavailable: string[] = [];
  const seconds =
    Number(linesOf(section(sections, 'uptime', '1'))[0]?.split(' ')[0]) -
    Number(linesOf(section(sections, 'uptime', '0'))[0]?.split(' ')[0]);
  const span = Number.isFinite(seconds) && seconds > 0 ? seconds : 1;
  const links = byFd(
    linesOf(section(sections, 'links')),
    /^\/proc\/(\d+)\/fd\/(\d+) (.*)$/,
    (m) => m[3] ?? '',
  );
  const flags = byFd(
    linesOf(section(sections, 'flags')),
    /^\/proc\/(\d+)\/fdinfo\/(\d+):flags:\s+([0-7]+)$/,
    (m) => Number.parseInt(m[3] ?? '0', 8),
  );
  const mountinfo = section(sections, 'mountinfo');
  if ('error' in mountinfo) unavailable.push(`mount table: ${mountinfo.error}`);
  const mounts = parseMountinfo(linesOf(mountinfo));
  const sizes = [
    parseSizes(linesOf(section(sections, 'sizes', '0'))),
    parseSizes(linesOf(section(sections, 'sizes', '1'))),
  ];
  const positions = [
    parsePositions(linesOf(section(sections, 'positions', '0'))),
    parsePositions(linesOf(section(sections, 'positions', '1'))),
  ];
  const files: OpenFile[] = [];
  for (const [key, end] of sizes[1] ?? []) {
    const target = links.get(key);
    // Regular files only, and not the kernel's own (/proc, /sys): those are not what fills a disk.
    if (!end.regular || target === undefined || /^\/(proc|sys)\//.test(target)) continue;
    const [pid, fd] = key.split('/').map(Number) as [number, number];
    const start = sizes[0]?.get(key);
    const accessMode = (flags.get(key) ?? 0) & 3;
    const mount = mounts.get(end.numbers);
    const device = deviceNames.get(end.numbers) ?? deviceNames.get(mountSourceDevice(mount) ?? '');
    const [pos0, pos1] = [positions[0]?.get(key), positions[1]?.get(key)];
    const deleted = target.endsWith(' (deleted)');
    files.push({
      pid,
      fd,
      path: deleted ? target.slice(0, -' (deleted)'.length) : target,
      deleted,
      mode: accessMode === 0 ? 'read' : accessMode === 1 ? 'write' : 'read-write',
      // O_DIRECT is 040000 on x86 and most architectures.
      direct: ((flags.get(key) ?? 0) & 0o40000) !== 0,
      sizeBytes: end.size,
      growthBytesPerSecond: start ? round((end.size - start.size) / span, 0) : 0,
      ...(pos0 !== undefined && pos1 !== undefined
        ? { offsetBytesPerSecond: round(Math.abs(pos1 - pos0) / span, 0) }
        : {}),
      ...(device ? { device } : {}),
      ...(mount ? { mountPoint: mount.mountPoint } : {}),
    });
  }
  const df = [section(sections, 'df', '0'), section(sections, 'df', '1')];
  const dfError = df.find((s) => 'error' in s);
  if (dfError && 'error' in dfError) unavailable.push(`filesystem usage (df): ${dfError.error}`);
  const [df0, df1] = df.map((s) => parseDf(linesOf(s))) as [Map<string, DfRow>, Map<string, DfRow>];
  return {
    files,
    filesystems: filesystemUsage(df0, df1, span),
    growingPaths: growingPaths(files),
    mounts,
    unavailable,
  };
}

/** The diskstats name of a mount's source device ("/dev/vda1" → "vda1"), for filesystems whose st_dev is
 * not a block device's (btrfs, overlay on a device). */
function mountSourceDevice(mount: Mount | undefined): string | undefined {
  return mount?.source.startsWith('/dev/') ? `name:${mount.source.slice(5)}` : undefined;
}

/**
 * Files that grew, and the directories that gather several of them (summed; of a chain of directories holding
 * the same files only the deepest), fastest first.
 */
export function growingPaths(files: readonly OpenFile[], limit = 6): GrowingPath[] {
  const grown = new Map<string, OpenFile>();
  for (const file of files) if (file.growthBytesPerSecond > 0) grown.set(file.path, file);
  const directories = new Map<string, string[]>();
  for (const path of grown.keys()) {
    const parts = path.split('/');
    for (let i = parts.length - 1; i > 1; i--) {
      const dir = parts.slice(0, i).join('/');
      directories.set(dir, [...(directories.get(dir) ?? []), path]);
    }
  }
  const parentOf = (path: string) => path.slice(0, path.lastIndexOf('/'));
  const sameAsChild = new Set<string>();
  for (const [dir, members] of directories) {
    const parent = directories.get(parentOf(dir));
    if (parent?.length === members.length) sameAsChild.add(parentOf(dir));
  }
  const entry = (path: string, members: readonly string[]): GrowingPath => ({
    path,
    growthBytesPerSecond: members.reduce((sum, m) => sum + (grown.get(m)?.growthBytesPerSecond ?? 0), 0),
    sizeBytes: members.reduce((sum, m) => sum + (grown.get(m)?.sizeBytes ?? 0), 0),
  });
  return [
    ...[...grown.keys()].map((path) => entry(path, [path])),
    ...[...directories]
      .filter(([dir, members]) => members.length > 1 && !sameAsChild.has(dir))
      .map(([dir, members]) => entry(dir, members)),
  ]
    .sort((a, b) => b.growthBytesPerSecond - a.growthBytesPerSecond || b.path.length - a.path.length)
    .slice(0, limit);
}

/**
 * The regular files the processes have open, with sizes and offsets over `gapMs`, df and the mount table.
 * `deviceNames` maps "MAJ:MIN" (and "name:vda1") to diskstats names.
 */
export async function openFiles(
  exec: Executor,
  pids: readonly number[],
  gapMs: number,
  deviceNames: ReadonlyMap<string, string>,
): Promise<OpenFilesResult> {
  for (const pid of pids) {
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`not a process id: ${pid}`);
  }
  const gap = (Math.max(100, gapMs) / 1000).toFixed(3);
  const result = await exec.runScript(openFilesScript, [gap, ...pids.map(String)], {
    timeoutMs: gapMs + 40_000,
  });
  if (!result.stdout.includes('@@uptime 1')) {
    throw new Error(
      `the open-files script failed on ${exec.host} (exit ${result.exitCode}): ${result.stderr.trim().slice(0, 300)}`,
    );
  }
  return parseOpenFiles(result.stdout, deviceNames);
}
