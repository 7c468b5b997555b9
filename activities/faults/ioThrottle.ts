import { z } from 'zod';
import { absolutePath, maxPathLength } from '../../plan/safeValues';
import { ExecutorError } from '../executors/executor';
import { cgroupOf, findHierarchy, type Hierarchy } from './cgroups';
import { ioLimitBackend, limitKeys, type LimitKey, type Limits } from './ioLimits';
import { FaultUserError, type FaultContext, type FaultKind } from './contract';
import { describeSelector, processSelectorFields, selectProcesses } from './processes';

/** A block device as a path under /dev (normalised as every plan path is), or as major:minor numbers. */
const device = z
  .string()
  .max(maxPathLength)
  .regex(
    /^(\/dev\/[A-Za-z0-9._/-]+|\d{1,4}:\d{1,7})$/,
    'must be a block device path such as "/dev/vda" or its numbers such as "253:0"',
  )
  .transform((value, ctx) => {
    if (!value.startsWith('/')) return value;
    const path = absolutePath.safeParse(value);
    if (path.success && path.data.startsWith('/dev/')) return path.data;
    ctx.addIssue({
      code: 'custom',
      message: path.error?.issues[0]?.message ?? 'must be a device under /dev',
    });
    return z.NEVER;
  });

/** Bytes per second: "2M" is 2 MiB/s, as sizes elsewhere in plans. */
const bytesPerSecond = z
  .string()
  .max(20)
  .regex(/^\d+(K|M|G)?$/, 'must be bytes per second such as "512K", "2M" or "1G" (binary units)')
  .transform((text) => {
    const unit = 'KMG'.indexOf(text.slice(-1));
    return Number.parseInt(text, 10) * 1024 ** (unit + 1);
  })
  .pipe(
    z
      .number()
      .min(4096, 'must be at least 4K per second (one page)')
      .max(1024 ** 4, 'must be at most 1024G per second'),
  );
const iops = z.number().int().min(1).max(10_000_000);

const params = z
  .strictObject({
    device: device.describe('the block device to throttle (a partition means its whole disk)'),
    cgroup: absolutePath
      .refine((path) => path !== '/', 'must not be the root cgroup: that would throttle the whole host')
      .optional()
      .describe('the cgroup to throttle, as a path inside the hierarchy ("/system.slice/kafka.service")'),
    ...processSelectorFields,
    readBps: bytesPerSecond.optional().describe('read limit, bytes per second ("2M" = 2 MiB/s)'),
    writeBps: bytesPerSecond.optional().describe('write limit, bytes per second'),
    readIops: iops.optional().describe('read limit, operations per second'),
    writeIops: iops.optional().describe('write limit, operations per second'),
  })
  .refine(
    (p) => [p.cgroup, p.pidfile, p.pattern].filter((x) => x !== undefined).length === 1,
    'give exactly one of "cgroup", "pidfile" or "pattern" (the processes whose cgroup is throttled)',
  )
  .refine(
    (p) => [p.readBps, p.writeBps, p.readIops, p.writeIops].some((x) => x !== undefined),
    'give at least one of readBps, writeBps, readIops, writeIops',
  );
type Params = z.infer<typeof params>;

function wanted(p: Params): Partial<Record<LimitKey, number>> {
  const all = { rbps: p.readBps, wbps: p.writeBps, riops: p.readIops, wiops: p.writeIops };
  return Object.fromEntries(Object.entries(all).filter(([, value]) => value !== undefined));
}

/** Writing a control file: restoring `content` into `target`; `source` holds the same for the host's revert. */
interface Restore {
  readonly source: string;
  readonly target: string;
  readonly content: string;
}

interface SavedCgroup {
  /** The cgroup's directory on the host. */
  readonly dir: string;
  readonly previous: Limits;
}

interface Saved {
  readonly version: Hierarchy['version'];
  /** major:minor of the whole disk. */
  readonly device: string;
  readonly cgroups: readonly SavedCgroup[];
  /** What rollback writes back; each source file is written by inject for the host-side revert. */
  readonly restores: readonly Restore[];
}

/** major:minor of the whole disk behind a device path or number (throttling applies to whole disks). */
async function resolveDevice(ctx: FaultContext, dev: string): Promise<string> {
  let numbers = dev;
  if (dev.startsWith('/')) {
    const stat = await ctx.exec.run(['stat', '-L', '-c', '%F:%t:%T', dev]);
    const [type, major, minor] = stat.stdout.trim().split(':');
    if (stat.exitCode !== 0) {
      throw new FaultUserError(`device ${dev} does not exist on ${ctx.target.name}`);
    }
    if (type !== 'block special file') {
      throw new FaultUserError(`${dev} on ${ctx.target.name} is not a block device (${type})`);
    }
    numbers = `${Number.parseInt(major ?? '', 16)}:${Number.parseInt(minor ?? '', 16)}`;
  }
  if ((await ctx.exec.readFile(`/sys/dev/block/${numbers}/dev`)) === undefined) {
    throw new FaultUserError(`no block device ${numbers} (${dev}) on ${ctx.target.name}`);
  }
  if ((await ctx.exec.readFile(`/sys/dev/block/${numbers}/partition`)) !== undefined) {
    // A partition's sysfs directory sits inside its disk's.
    const disk = (await ctx.exec.readFile(`/sys/dev/block/${numbers}/../dev`))?.trim();
    if (disk === undefined || !/^\d+:\d+$/.test(disk)) {
      throw new FaultUserError(`cannot find the disk of partition ${dev} on ${ctx.target.name}`);
    }
    return disk;
  }
  return numbers;
}

/** The cgroups (paths inside the hierarchy) the plan names, directly or by their processes. */
async function cgroupPaths(ctx: FaultContext, p: Params, hierarchy: Hierarchy): Promise<string[]> {
  if (p.cgroup !== undefined) return [p.cgroup]; // normalised by absolutePath: no trailing /
  const processes = await selectProcesses(ctx.exec, p, ctx.protectedPids);
  const paths = new Set<string>();
  for (const { pid } of processes) {
    const path = cgroupOf((await ctx.exec.readFile(`/proc/${pid}/cgroup`)) ?? '', hierarchy, 'blkio');
    if (path === undefined) continue; // exited while we looked
    if (path === '/') {
      throw new FaultUserError(
        `process ${pid} on ${ctx.target.name} is in the root ${hierarchy.version} cgroup: ` +
          'throttling it would throttle the whole host; run it in its own cgroup',
      );
    }
    if (!absolutePath.safeParse(path).success) {
      throw new FaultUserError(
        `process ${pid}'s cgroup "${path}" on ${ctx.target.name} has unusual characters`,
      );
    }
    paths.add(path);
  }
  return [...paths];
}

async function writeControl(ctx: FaultContext, path: string, line: string): Promise<void> {
  try {
    // One short write, no shell: locally a plain write(2), over SSH `tee` with the line on stdin.
    await ctx.exec.writeFile(path, `${line}\n`);
  } catch (error) {
    throw new ExecutorError(
      `cannot write "${line}" to ${path} on ${ctx.target.name}: ${(error as Error).message}`,
    );
  }
}

async function exists(ctx: FaultContext, dir: string): Promise<boolean> {
  return (await ctx.exec.run(['test', '-d', dir])).exitCode === 0;
}

function formatRate(bytes: number): string {
  for (const [unit, factor] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes % factor === 0) return `${bytes / factor} ${unit}`;
  }
  return `${bytes} B`;
}

function describeLimits(limits: Partial<Record<LimitKey, number | null>>): string {
  const words: Record<LimitKey, (v: number) => string> = {
    rbps: (v) => `read ${formatRate(v)}/s`,
    wbps: (v) => `write ${formatRate(v)}/s`,
    riops: (v) => `read ${v} IOPS`,
    wiops: (v) => `write ${v} IOPS`,
  };
  const parts = limitKeys
    .filter((key) => key in limits)
    .map((key) => {
      const value = limits[key];
      return value === null || value === undefined ? `${key} unlimited` : words[key](value);
    });
  return parts.join(', ');
}

const whose = (p: Params) =>
  p.cgroup !== undefined ? `cgroup ${p.cgroup}` : `the cgroup of ${describeSelector(p)}`;

/**
 * Throttles a block device for the processes of one cgroup with the kernel's own IO throttling: cgroup v2
 * io.max where the host has the io controller, else cgroup v1 blkio.throttle.*. The previous limits of that
 * device in that cgroup are saved and written back exactly.
 */
export const ioThrottle: FaultKind<Params, Saved> = {
  kind: 'io-throttle',
  description:
    'Throttles reads and/or writes (bytes or operations per second) of a block device for one cgroup, given ' +
    'as a path or found from a process (pidfile or command-line pattern), with cgroup v2 io.max or v1 ' +
    'blkio.throttle; rollback restores the limits that were there before.',
  targetKinds: ['local', 'ssh'],
  params,

  describe: (p, target) => ({
    inject: `throttle ${p.device} on ${target.name} for ${whose(p)}: ${describeLimits(wanted(p))}`,
    rollback: `restore the previous IO limits of ${p.device} for ${whose(p)} on ${target.name}`,
  }),

  async prepare(ctx, p) {
    const hierarchy = await findHierarchy(ctx.exec, 'io', 'blkio');
    const backend = ioLimitBackend(hierarchy.version);
    const dev = await resolveDevice(ctx, p.device);
    const paths = await cgroupPaths(ctx, p, hierarchy);
    const cgroups: SavedCgroup[] = [];
    const restores: Restore[] = [];
    const want = wanted(p);
    for (const [i, path] of paths.entries()) {
      if (path === '/')
        throw new FaultUserError('refusing to throttle the root cgroup: it holds the whole host');
      const dir = `${hierarchy.mount}${path}`;
      const current = await backend.read(ctx.exec, dir, dev);
      if (current === undefined) {
        throw new FaultUserError(backend.missing(dir, path, hierarchy.mount, ctx.target.name));
      }
      const source = `${ctx.artifactPath('io')}-${i}`;
      // A prepare retried after an inject reads the limits saved by that inject, not its own.
      const previous = await backend.savedBefore(ctx.exec, source, dev, current);
      if (Object.entries(want).every(([key, value]) => previous[key as LimitKey] === value)) {
        throw new FaultUserError(`${whose(p)} on ${ctx.target.name} already has these limits on ${p.device}`);
      }
      cgroups.push({ dir, previous });
      const changed = limitKeys.filter((key) => key in want);
      for (const write of backend.restore(dir, dev, previous, changed)) {
        restores.push({ source: `${source}${write.suffix}`, target: write.target, content: write.content });
      }
    }
    return { version: hierarchy.version, device: dev, cgroups, restores };
  },

  async inject(ctx, p, saved) {
    // The host-side revert copies these files back, so they exist before any limit does.
    for (const restore of saved.restores) await ctx.exec.writeFile(restore.source, `${restore.content}\n`);
    const backend = ioLimitBackend(saved.version);
    for (const cgroup of saved.cgroups) {
      for (const write of backend.set(cgroup.dir, saved.device, wanted(p))) {
        await writeControl(ctx, write.target, write.content);
      }
    }
  },

  async verify(ctx, p, saved) {
    const want = wanted(p);
    const backend = ioLimitBackend(saved.version);
    let active = false;
    const details: string[] = [];
    for (const cgroup of saved.cgroups) {
      const now = await backend.read(ctx.exec, cgroup.dir, saved.device);
      if (now === undefined) {
        details.push(`${cgroup.dir}: gone`);
        continue;
      }
      const ours = Object.entries(want).some(
        ([key, value]) => now[key as LimitKey] === value && cgroup.previous[key as LimitKey] !== value,
      );
      active ||= ours;
      const shown = Object.fromEntries(Object.keys(want).map((key) => [key, now[key as LimitKey]]));
      details.push(`${cgroup.dir} on ${saved.device}: ${describeLimits(shown)}`);
    }
    return { active, detail: `${saved.version} ${details.join('; ')}` };
  },

  async rollback(ctx, _p, saved) {
    for (const restore of saved.restores) {
      const dir = restore.target.slice(0, restore.target.lastIndexOf('/'));
      // A cgroup that is gone (its service stopped) took its limits with it.
      if (await exists(ctx, dir)) await writeControl(ctx, restore.target, restore.content);
    }
    for (const restore of saved.restores) {
      await ctx.run(['rm', '-f', '--', restore.source]);
    }
  },

  // dd copies the saved line in one write and no shell; once rollback removed the copy, dd finds no input and
  // writes nothing. A cgroup that is gone has no directory for dd to open.
  hostRevert: (_p, saved) => [
    ...saved.restores.map(({ source, target }) => ['dd', `if=${source}`, `of=${target}`, 'status=none']),
    ...saved.restores.map(({ source }) => ['rm', '-f', '--', source]),
  ],
};
