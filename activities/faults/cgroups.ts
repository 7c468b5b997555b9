import { absolutePath } from '../../plan/safeValues';
import type { Executor } from '../executors/executor';
import { FaultUserError } from './contract';

/**
 * Where a controller lives on a host: cgroup v2 (one unified hierarchy, the controller listed in its
 * cgroup.controllers) or a v1 hierarchy mounted with the controller as a mount option. A controller can be
 * bound to only one of them, so the host itself decides; this is read from the target, never the worker.
 */
export interface Hierarchy {
  readonly version: 'v1' | 'v2';
  /** Mount point of the hierarchy, e.g. /sys/fs/cgroup or /sys/fs/cgroup/blkio. */
  readonly mount: string;
}

interface Mount {
  readonly dir: string;
  readonly type: string;
  readonly options: readonly string[];
}

/** The cgroup mounts of /proc/mounts (exported for tests of the parsing itself). */
export function cgroupMounts(procMounts: string): Mount[] {
  return (
    procMounts
      .split('\n')
      .map((line) => line.split(' '))
      .filter((fields) => fields[2] === 'cgroup' || fields[2] === 'cgroup2')
      .map((fields) => ({
        dir: fields[1] ?? '',
        type: fields[2] ?? '',
        options: (fields[3] ?? '').split(','),
      }))
      // Mount points with escaped characters (\040 for a space) are not ours to write into.
      .filter((mount) => absolutePath.safeParse(mount.dir).success)
  );
}

/**
 * The hierarchy holding `v2controller` (cgroup v2 name, e.g. "io") or else `v1controller` (e.g. "blkio").
 * Throws a FaultUserError naming the host when neither is there.
 */
export async function findHierarchy(
  exec: Executor,
  v2controller: string,
  v1controller: string,
): Promise<Hierarchy> {
  const mounts = cgroupMounts((await exec.readFile('/proc/mounts')) ?? '');
  for (const mount of mounts.filter((m) => m.type === 'cgroup2')) {
    const controllers = (await exec.readFile(`${mount.dir}/cgroup.controllers`)) ?? '';
    if (controllers.trim().split(/\s+/).includes(v2controller)) return { version: 'v2', mount: mount.dir };
  }
  const v1 = mounts.find((m) => m.type === 'cgroup' && m.options.includes(v1controller));
  if (v1 !== undefined) return { version: 'v1', mount: v1.dir };
  throw new FaultUserError(
    `host ${exec.host} has neither a cgroup v2 "${v2controller}" controller nor a cgroup v1 "${v1controller}" hierarchy mounted`,
  );
}

/**
 * The cgroup of a process in the hierarchy, from /proc/PID/cgroup ("0::/path" for v2,
 * "N:blkio,…:/path" for v1); undefined when the process is gone or not in that hierarchy.
 */
export function cgroupOf(procCgroup: string, hierarchy: Hierarchy, v1controller: string): string | undefined {
  for (const line of procCgroup.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (match === null) continue;
    const [, id, controllers, path] = match as unknown as [string, string, string, string];
    const fits =
      hierarchy.version === 'v2'
        ? id === '0' && controllers === ''
        : controllers.split(',').includes(v1controller);
    if (fits) return path;
  }
  return undefined;
}
