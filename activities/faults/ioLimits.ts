import type { Executor } from '../executors/executor';
import type { Hierarchy } from './cgroups';

// A block device's IO limits in one cgroup, as each cgroup version keeps them: v2 in one io.max line per
// device, v1 in four blkio.throttle.* files. io-throttle speaks to one backend and never asks which.

/** The four limits of cgroup v2's io.max, which v1 keeps in four files. */
export const limitKeys = ['rbps', 'wbps', 'riops', 'wiops'] as const;
export type LimitKey = (typeof limitKeys)[number];
/** A device's limits; null is "no limit" (v2 "max", v1 no line or 0). */
export type Limits = Record<LimitKey, number | null>;

export const noLimits: Limits = { rbps: null, wbps: null, riops: null, wiops: null };

/** One control file and the line written to it. `suffix` names its saved copy apart from the others. */
export interface ControlWrite {
  readonly suffix: string;
  readonly target: string;
  readonly content: string;
}

export interface IoLimitBackend {
  readonly version: Hierarchy['version'];
  /** The device's limits in the cgroup at `dir`; undefined when the cgroup (its files) is gone. */
  read(exec: Executor, dir: string, dev: string): Promise<Limits | undefined>;
  /** Writes that set the given limits (only those keys). */
  set(dir: string, dev: string, limits: Partial<Limits>): ControlWrite[];
  /** Writes that put back `previous` for the keys a fault changed (`changed`). */
  restore(dir: string, dev: string, previous: Limits, changed: readonly LimitKey[]): ControlWrite[];
  /** A restore's saved copies (`<source><suffix>`) read back: what a retried prepare must count as before. */
  savedBefore(exec: Executor, source: string, dev: string, current: Limits): Promise<Limits>;
  /** Why there are no limits to read at `dir`: the plan's mistake, in words. */
  missing(dir: string, path: string, mount: string, host: string): string;
}

/** The device's limits in an io.max file ("8:16 rbps=2097152 wbps=max riops=max wiops=120" per line). */
export function parseIoMax(text: string, dev: string): Limits {
  const line = text.split('\n').find((l) => l.split(' ')[0] === dev);
  const limits: Limits = { ...noLimits };
  for (const pair of line?.split(' ').slice(1) ?? []) {
    const [key, value] = pair.split('=');
    if ((limitKeys as readonly string[]).includes(key ?? '') && value !== undefined && value !== 'max') {
      limits[key as LimitKey] = Number(value);
    }
  }
  return limits;
}

/** One io.max line; keys left out stay as they are, so a restore names all four ("max" clears a key). */
export function ioMaxLine(dev: string, limits: Partial<Limits>): string {
  const pairs = limitKeys
    .filter((key) => key in limits)
    .map((key) => `${key}=${limits[key] === null ? 'max' : String(limits[key])}`);
  return `${dev} ${pairs.join(' ')}`;
}

/** The device's value in a v1 blkio.throttle.* file ("8:16 2097152" per line); null when there is none. */
export function parseV1(text: string, dev: string): number | null {
  const line = text.split('\n').find((l) => l.split(' ')[0] === dev);
  const value = Number(line?.split(' ')[1]);
  return Number.isFinite(value) && value > 0 ? value : null;
}

/** A v1 line; writing 0 removes the device's limit. */
export function v1Line(dev: string, value: number | null): string {
  return `${dev} ${value ?? 0}`;
}

const v2: IoLimitBackend = {
  version: 'v2',
  async read(exec, dir, dev) {
    const text = await exec.readFile(`${dir}/io.max`);
    return text === undefined ? undefined : parseIoMax(text, dev);
  },
  set: (dir, dev, limits) => [{ suffix: '', target: `${dir}/io.max`, content: ioMaxLine(dev, limits) }],
  // The whole previous line: io.max keys are set together.
  restore: (dir, dev, previous) => [
    { suffix: '', target: `${dir}/io.max`, content: ioMaxLine(dev, previous) },
  ],
  async savedBefore(exec, source, dev, current) {
    const text = await exec.readFile(source);
    return text === undefined ? current : parseIoMax(text, dev);
  },
  missing: (dir, _path, _mount, host) =>
    `${dir} on ${host} has no io.max: does the cgroup exist, with "io" in its parent's cgroup.subtree_control?`,
};

const v1Files: Record<LimitKey, string> = {
  rbps: 'blkio.throttle.read_bps_device',
  wbps: 'blkio.throttle.write_bps_device',
  riops: 'blkio.throttle.read_iops_device',
  wiops: 'blkio.throttle.write_iops_device',
};

const v1Write = (dir: string, dev: string, key: LimitKey, value: number | null): ControlWrite => ({
  suffix: `-${key}`,
  target: `${dir}/${v1Files[key]}`,
  content: v1Line(dev, value),
});

const v1: IoLimitBackend = {
  version: 'v1',
  async read(exec, dir, dev) {
    const limits: Limits = { ...noLimits };
    for (const key of limitKeys) {
      const text = await exec.readFile(`${dir}/${v1Files[key]}`);
      if (text === undefined) return undefined;
      limits[key] = parseV1(text, dev);
    }
    return limits;
  },
  set: (dir, dev, limits) =>
    limitKeys.filter((key) => key in limits).map((key) => v1Write(dir, dev, key, limits[key] ?? null)),
  restore: (dir, dev, previous, changed) => changed.map((key) => v1Write(dir, dev, key, previous[key])),
  async savedBefore(exec, source, dev, current) {
    const previous = { ...current };
    for (const key of limitKeys) {
      const text = await exec.readFile(`${source}-${key}`);
      if (text !== undefined) previous[key] = parseV1(text, dev);
    }
    return previous;
  },
  missing: (_dir, path, mount, host) => `no cgroup ${path} in the blkio hierarchy ${mount} on ${host}`,
};

export function ioLimitBackend(version: Hierarchy['version']): IoLimitBackend {
  return version === 'v2' ? v2 : v1;
}
