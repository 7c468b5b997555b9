import type { Executor } from '../executors/executor';
import { deviceRates } from './diskstats';
import type { IoEvidence, IoFocus, OpenFile, ProcessIo } from './evidence';
import { culprit, describeFinding } from './finding';
import { openFiles } from './openFiles';
import { pressureOver } from './pressure';
import { processRates, storageRate } from './processIo';
import { sampleWindow } from './snapshot';

export interface DiagnoseOptions {
  /** The window over which rates are measured (default 2 s). */
  readonly intervalMs?: number;
  readonly focus?: IoFocus;
  /** How often process states are read in the window (default 10). */
  readonly stateSamples?: number;
}

const byActivity = (a: OpenFile, b: OpenFile) =>
  b.growthBytesPerSecond - a.growthBytesPerSecond ||
  (b.offsetBytesPerSecond ?? 0) - (a.offsetBytesPerSecond ?? 0) ||
  b.sizeBytes - a.sizeBytes;

/**
 * The iotop → /proc/PID/io → iostat → /proc/PID/fd → df walk on one host, in two round trips: a window
 * sample of every process, device and IO pressure, then the open files of the busiest processes (their
 * growth measured over half the window) with df. Returns the evidence and one finding in plain words.
 */
export async function diagnoseIo(exec: Executor, options: DiagnoseOptions = {}): Promise<IoEvidence> {
  const intervalMs = options.intervalMs ?? 2000;
  const window = await sampleWindow(exec, intervalMs, options.stateSamples);
  const { first, second } = window;
  const seconds = Math.max(0.01, second.uptime - first.uptime);
  const unavailable = [...window.unavailable];

  const devices = first.devices && second.devices ? deviceRates(first.devices, second.devices, seconds) : [];
  const focusPids = options.focus ? new Set(options.focus.pids) : undefined;
  const all = processRates(first.processes, second.processes, seconds, window.waiting);
  const inFocus = focusPids ? all.filter((p) => focusPids.has(p.pid)) : all;
  const busy = inFocus
    .filter((p) => storageRate(p) > 0 || p.waitingSamples > 0)
    .sort((a, b) => storageRate(b) - storageRate(a) || b.waitingSamples - a.waitingSamples);
  const waiting = inFocus
    .filter((p) => p.waitingSamples > 0)
    .sort((a, b) => b.waitingSamples - a.waitingSamples || storageRate(b) - storageRate(a));

  // Open files of the busiest user processes and of those that wait most (and of an asked-for pid).
  const detailed = new Set<number>();
  const user = (list: readonly ProcessIo[]) => list.filter((p) => !p.kernelThread);
  for (const p of user(busy.filter((x) => storageRate(x) > 0)).slice(0, 5)) detailed.add(p.pid);
  for (const p of user(waiting).slice(0, 2)) detailed.add(p.pid);
  if (options.focus?.kind === 'pid') options.focus.pids.forEach((pid) => detailed.add(pid));

  const deviceNames = new Map<string, string>();
  for (const device of second.devices?.values() ?? []) {
    deviceNames.set(device.numbers, device.name);
    deviceNames.set(`name:${device.name}`, device.name);
  }
  const gapMs = Math.min(5000, Math.max(500, intervalMs / 2));
  const opened = await openFiles(exec, [...detailed], gapMs, deviceNames);
  unavailable.push(...opened.unavailable);

  const pressure =
    first.pressure && second.pressure ? pressureOver(first.pressure, second.pressure, seconds) : undefined;
  const input = {
    devices,
    processes: busy,
    waiting,
    stateSamples: window.stateSamples,
    ...(pressure ? { pressure } : {}),
    files: opened.files,
    filesystems: opened.filesystems,
    ...(options.focus ? { focus: options.focus } : {}),
    unavailable,
  };
  const named = culprit(input);
  const mountsOfInterest = new Set(opened.files.map((f) => f.mountPoint));
  const filesystems = opened.filesystems
    .filter(
      (fs) => mountsOfInterest.has(fs.mountPoint) || fs.usedPercent >= 90 || fs.growthBytesPerSecond > 0,
    )
    .sort((a, b) => b.growthBytesPerSecond - a.growthBytesPerSecond || b.usedPercent - a.usedPercent)
    .slice(0, 6);
  // The named process's files first, so the evidence always shows what the finding speaks of.
  const files = [
    ...opened.files.filter((f) => f.pid === named?.process.pid).sort(byActivity),
    ...opened.files.filter((f) => f.pid !== named?.process.pid).sort(byActivity),
  ].slice(0, 12);

  return {
    host: exec.host,
    collectedAt: new Date().toISOString(),
    intervalMs: Math.round(seconds * 1000),
    stateSamples: window.stateSamples,
    ...(options.focus ? { focus: options.focus } : {}),
    finding: describeFinding(input),
    devices: devices.slice(0, 8),
    processes: busy.slice(0, 8),
    waiting: waiting.slice(0, 5),
    ...(pressure ? { pressure } : {}),
    openFiles: files,
    filesystems,
    growingPaths: opened.growingPaths,
    unavailable,
  };
}
