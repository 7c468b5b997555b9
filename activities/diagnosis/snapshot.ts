import type { Executor } from '../executors/executor';
import { TrustedScript } from '../executors/shellQuote';
import { parseDiskstats, type DiskCounters } from './diskstats';
import { parsePressure, type PressureCounters } from './pressure';
import { countWaiting, parseProcesses, type ProcessCounters } from './processIo';
import { section, splitSections, type Section } from './sections';

// One round trip for the whole window: a snapshot of every process's counters, the block devices and IO
// pressure; `count` samples of which threads wait on IO (state D), `step` seconds apart; a second snapshot.
// Fixed text: its only inputs are two numbers, checked before it is sent. grep reads hundreds of /proc files
// in one process (a shell loop would fork per process); files of processes that exit meanwhile are skipped.
const windowScript = new TrustedScript(
  'gameday-io-window',
  `step=$1 count=$2
snapshot() {
  echo "@@uptime $1"; cat /proc/uptime
  echo "@@diskstats $1"; cat /proc/diskstats 2>&1 || echo @@unreadable
  echo "@@pressure $1"; cat /proc/pressure/io 2>&1 || echo @@unreadable
  echo "@@processes $1"; grep -H '' /proc/[0-9]*/stat /proc/[0-9]*/io 2>/dev/null
  echo "@@io-readable $1"; grep -c '' /proc/self/io 2>&1 || echo @@unreadable
}
snapshot 0
i=0
while [ "$i" -lt "$count" ]; do
  sleep "$step"
  i=$((i + 1))
  echo "@@waiting $i"; grep -l ') D ' /proc/[0-9]*/task/[0-9]*/stat 2>/dev/null
done
snapshot 1
`,
);

export interface Snapshot {
  /** Seconds since boot on the host: the clock the rates are computed with. */
  readonly uptime: number;
  readonly devices?: ReadonlyMap<string, DiskCounters>;
  readonly pressure?: PressureCounters;
  readonly processes: ReadonlyMap<number, ProcessCounters>;
}

export interface WindowSample {
  readonly first: Snapshot;
  readonly second: Snapshot;
  readonly waiting: ReadonlyMap<number, number>;
  readonly stateSamples: number;
  /** What could not be read, in plain words. */
  readonly unavailable: string[];
}

function parseSnapshot(sections: readonly Section[], which: string, unavailable: string[]): Snapshot {
  const uptime = section(sections, 'uptime', which);
  const seconds = 'lines' in uptime ? Number((uptime.lines[0] ?? '').split(' ')[0]) : NaN;
  if (!Number.isFinite(seconds)) throw new Error('cannot read /proc/uptime: is /proc mounted?');
  const disks = section(sections, 'diskstats', which);
  const pressure = section(sections, 'pressure', which);
  const processes = section(sections, 'processes', which);
  const note = (what: string) => {
    if (!unavailable.includes(what)) unavailable.push(what);
  };
  if ('error' in disks) note(`device statistics: ${disks.error}`);
  let parsedPressure: PressureCounters | undefined;
  if ('error' in pressure) {
    note(`IO pressure: ${pressure.error} (kernel without PSI, or booted with psi=0)`);
  } else {
    parsedPressure = parsePressure(pressure.lines);
    if (parsedPressure === undefined) note(`IO pressure: /proc/pressure/io has no "some" line`);
  }
  const io = section(sections, 'io-readable', which);
  if ('error' in io) note(`per-process IO: ${io.error} (kernel without task IO accounting)`);
  return {
    uptime: seconds,
    ...('lines' in disks ? { devices: parseDiskstats(disks.lines) } : {}),
    ...(parsedPressure ? { pressure: parsedPressure } : {}),
    processes: parseProcesses('lines' in processes ? processes.lines : []),
  };
}

/** Parses the window script's output (exported for tests of the parsing itself). */
export function parseWindow(output: string): WindowSample {
  const sections = splitSections(output);
  const unavailable: string[] = [];
  const first = parseSnapshot(sections, '0', unavailable);
  const second = parseSnapshot(sections, '1', unavailable);
  const samples = sections.filter((s) => s.name === 'waiting').map((s) => s.lines);
  // Unreadable in both snapshots: a process that merely exited between reading its stat and its io is not.
  const unreadableIo = [...second.processes.values()].filter((p) => {
    const before = first.processes.get(p.pid);
    return p.io === undefined && before !== undefined && before.io === undefined;
  });
  if (unreadableIo.length > 0 && unavailable.every((u) => !u.startsWith('per-process IO'))) {
    const some = unreadableIo
      .slice(0, 3)
      .map((p) => `${p.pid} (${p.comm})`)
      .join(', ');
    const count = `${unreadableIo.length} process${unreadableIo.length === 1 ? '' : 'es'}`;
    unavailable.push(
      `per-process IO of ${count}: /proc/PID/io of ${some} is readable only by its owner or root`,
    );
  }
  return { first, second, waiting: countWaiting(samples), stateSamples: samples.length, unavailable };
}

/** Measures a window of about `intervalMs` on the host, with `stateSamples` samples of waiting threads. */
export async function sampleWindow(
  exec: Executor,
  intervalMs: number,
  stateSamples = 10,
): Promise<WindowSample> {
  const count = Math.max(1, Math.min(50, Math.round(stateSamples)));
  const step = (Math.max(100, intervalMs) / 1000 / count).toFixed(3);
  const result = await exec.runScript(windowScript, [step, String(count)], {
    timeoutMs: intervalMs + 30_000,
  });
  if (!result.stdout.includes('@@uptime 1')) {
    throw new Error(
      `the IO sampling script failed on ${exec.host} (exit ${result.exitCode}): ${result.stderr.trim().slice(0, 300)}`,
    );
  }
  return parseWindow(result.stdout);
}
