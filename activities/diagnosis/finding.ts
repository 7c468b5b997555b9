import type { DeviceIo, FilesystemUsage, IoFocus, IoPressure, OpenFile, ProcessIo } from './evidence';
import { storageRate } from './processIo';
import { bytes, millis, percent, rate } from './units';

export interface FindingInput {
  readonly devices: readonly DeviceIo[];
  /** Processes that did storage IO or waited on it (in focus), busiest first. */
  readonly processes: readonly ProcessIo[];
  readonly waiting: readonly ProcessIo[];
  readonly stateSamples: number;
  readonly pressure?: IoPressure;
  readonly files: readonly OpenFile[];
  readonly filesystems: readonly FilesystemUsage[];
  readonly focus?: IoFocus;
  readonly unavailable: readonly string[];
}

const writes = (p: ProcessIo) => p.writeBytesPerSecond >= p.readBytesPerSecond;

/** The file a process's IO most likely goes to: open in its direction, growing or moving, then largest. */
export function mainFile(process: ProcessIo, files: readonly OpenFile[]): OpenFile | undefined {
  const wanted = writes(process) ? ['write', 'read-write'] : ['read', 'read-write'];
  const activity = (f: OpenFile) => Math.max(f.growthBytesPerSecond, f.offsetBytesPerSecond ?? 0);
  return files
    .filter((f) => f.pid === process.pid)
    .sort(
      (a, b) =>
        Number(wanted.includes(b.mode)) - Number(wanted.includes(a.mode)) ||
        activity(b) - activity(a) ||
        b.sizeBytes - a.sizeBytes,
    )[0];
}

/**
 * The process to name: the busiest one with a file open on the busiest device, in the direction of its IO (a
 * kernel thread such as a loop device's worker moves the same bytes, and a shell counts the IO of children
 * it reaped, but the cause is the process with the file); else the busiest process that is not a kernel
 * thread, with its file when it has one; else the busiest.
 */
export function culprit(input: FindingInput): { process: ProcessIo; file?: OpenFile } | undefined {
  const busy = input.processes.filter((p) => storageRate(p) > 0);
  const busiest = input.devices[0]?.name;
  for (const process of busy.filter((p) => !p.kernelThread)) {
    const file = mainFile(process, input.files);
    if (file && busiest !== undefined && file.device === busiest) return { process, file };
  }
  const first = busy.find((p) => !p.kernelThread) ?? busy[0];
  if (first === undefined) return undefined;
  const file = first.kernelThread ? undefined : mainFile(first, input.files);
  return file ? { process: first, file } : { process: first };
}

function describeDevice(device: DeviceIo): string {
  const parts = [`device ${device.name} ${percent(device.utilisationPercent)} utilised`];
  if (device.awaitMs !== undefined) parts.push(`await ${millis(device.awaitMs)}`);
  parts.push(`queue ${device.queueSize.toFixed(1)}`);
  const moved: string[] = [];
  if (device.writeBytesPerSecond > 0) moved.push(`${rate(device.writeBytesPerSecond)} written`);
  if (device.readBytesPerSecond > 0) moved.push(`${rate(device.readBytesPerSecond)} read`);
  return `${parts.join(', ')}${moved.length > 0 ? ` (${moved.join(', ')})` : ''}`;
}

function describeFile(file: OpenFile): string {
  const facts = [bytes(file.sizeBytes)];
  if (file.growthBytesPerSecond > 0) facts.push(`growing ${rate(file.growthBytesPerSecond)}`);
  else if ((file.offsetBytesPerSecond ?? 0) > 0)
    facts.push(`offset moving ${rate(file.offsetBytesPerSecond ?? 0)}`);
  // A process in another mount namespace (a container) shows paths as it sees them.
  if (
    file.mountPoint !== undefined &&
    !`${file.path}/`.startsWith(`${file.mountPoint.replace(/\/$/, '')}/`)
  ) {
    facts.push(`on the filesystem mounted at ${file.mountPoint}`);
  }
  if (file.deleted) facts.push('deleted but still open');
  if (file.direct) facts.push('O_DIRECT');
  return `${file.path} (${facts.join(', ')})`;
}

function describeProcess(process: ProcessIo, file: OpenFile | undefined, samples: number): string {
  const writing = writes(process);
  const amount = rate(writing ? process.writeBytesPerSecond : process.readBytesPerSecond);
  const where = file ? ` ${writing ? 'to' : 'from'} ${describeFile(file)}` : '';
  const waits =
    process.waitingSamples > 0 ? `, waiting on IO in ${process.waitingSamples} of ${samples} samples` : '';
  return `pid ${process.pid} (${process.comm}) ${writing ? 'writes' : 'reads'} ${amount}${where}${waits}`;
}

/** One finding in plain words, with the numbers behind it. */
export function describeFinding(input: FindingInput): string {
  const parts: string[] = [];
  const named = culprit(input);
  const device =
    input.devices.find((d) => named?.file?.device !== undefined && d.name === named.file.device) ??
    input.devices[0];
  parts.push(device ? describeDevice(device) : 'no block device did any IO');
  const mentioned = new Set<number>();
  if (named) {
    parts.push(describeProcess(named.process, named.file, input.stateSamples));
    mentioned.add(named.process.pid);
    const other = input.processes.find((p) => !p.kernelThread && p.pid !== named.process.pid);
    if (other && storageRate(other) >= storageRate(named.process) / 4) {
      parts.push(`also ${describeProcess(other, mainFile(other, input.files), input.stateSamples)}`);
      mentioned.add(other.pid);
    }
  } else parts.push(input.focus ? 'none of these processes did storage IO' : 'no process did storage IO');
  for (const waiter of input.waiting.filter((p) => !mentioned.has(p.pid)).slice(0, 2)) {
    parts.push(
      `pid ${waiter.pid} (${waiter.comm}) waits on IO in ${waiter.waitingSamples} of ${input.stateSamples} samples`,
    );
  }
  const filesystem = named?.file?.mountPoint
    ? input.filesystems.find((fs) => fs.mountPoint === named.file?.mountPoint)
    : undefined;
  if (filesystem) {
    const growth =
      filesystem.growthBytesPerSecond > 0 ? `, growing ${rate(filesystem.growthBytesPerSecond)}` : '';
    parts.push(
      `${filesystem.mountPoint} ${percent(filesystem.usedPercent)} full (${bytes(filesystem.usedBytes)} of ${bytes(filesystem.sizeBytes)}${growth})`,
    );
  }
  for (const fs of input.filesystems.filter((f) => f.usedPercent >= 90 && f !== filesystem).slice(0, 2)) {
    parts.push(`${fs.mountPoint} ${percent(fs.usedPercent)} full`);
  }
  if (input.pressure) {
    const full =
      input.pressure.fullPercent === undefined ? '' : `, full ${percent(input.pressure.fullPercent)}`;
    parts.push(`IO pressure some ${percent(input.pressure.somePercent)}${full}`);
  }
  const missing = input.unavailable.map((u) => u.split(':')[0]).filter((u, i, all) => all.indexOf(u) === i);
  if (missing.length > 0) parts.push(`not available: ${missing.join(', ')}`);
  const focus =
    input.focus === undefined
      ? ''
      : input.focus.kind === 'pid'
        ? `pid ${input.focus.value}: `
        : `container ${input.focus.value} (${input.focus.pids.length} process(es)): `;
  return `${focus}${parts.join('; ')}`;
}
