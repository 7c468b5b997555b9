import { z } from 'zod';
import { absolutePath } from '../../plan/safeValues';
import { FaultUserError, type FaultContext, type FaultKind } from './contract';

const size = z
  .string()
  .max(20)
  .regex(/^\d+(K|M|G)$/, 'must be a size such as "512M" or "2G"')
  .transform((text) => Number.parseInt(text, 10) * 1024 ** ('KMG'.indexOf(text.slice(-1)) + 1));

const params = z
  .strictObject({
    path: absolutePath.describe('a directory on the filesystem to fill'),
    percent: z
      .number()
      .gt(0)
      .max(95)
      .optional()
      .describe('fill until the filesystem is this full (as df shows it)'),
    size: size.optional().describe('or: allocate this much'),
    keepFree: size
      .optional()
      .describe('never leave less free space than this (5% of the filesystem at least)'),
  })
  .refine((p) => (p.percent === undefined) !== (p.size === undefined), {
    message: 'give exactly one of percent or size',
  });
type Params = z.infer<typeof params>;

interface Saved {
  /** The one file this fault creates, and the only thing rollback removes. */
  readonly file: string;
  readonly bytes: number;
}

interface Usage {
  readonly used: number;
  readonly available: number;
}

async function usage(ctx: FaultContext, path: string): Promise<Usage> {
  const result = await ctx.exec.run(['df', '-P', '-B1', path]);
  const fields = result.stdout.trim().split('\n')[1]?.split(/\s+/);
  if (result.exitCode !== 0 || fields === undefined) {
    throw new FaultUserError(
      `cannot read disk usage of ${path} on ${ctx.target.name}: ${result.stderr.trim()}`,
    );
  }
  return { used: Number(fields[2]), available: Number(fields[3]) };
}

const percentOf = (u: Usage) => Math.round((u.used / (u.used + u.available)) * 1000) / 10;

async function fileSize(ctx: FaultContext, file: string): Promise<number | undefined> {
  const result = await ctx.exec.run(['stat', '-c', '%s', file]);
  return result.exitCode === 0 ? Number(result.stdout.trim()) : undefined;
}

/** Fills a filesystem with one tagged file (fallocate), never past a safety floor; rollback deletes that file. */
export const diskFill: FaultKind<Params, Saved> = {
  kind: 'disk-fill',
  description:
    'Fills a filesystem to a percentage or by a size with one tagged fallocate file, keeping a safety floor free.',
  targetKinds: ['local', 'ssh'],
  params,

  describe: (p, target) => ({
    inject: `fill ${p.path} on ${target.name} ${p.percent !== undefined ? `to ${p.percent}%` : `by ${p.size} bytes`} (fallocate)`,
    rollback: `delete the fill file in ${p.path} on ${target.name}`,
  }),

  async prepare(ctx, p) {
    const file = ctx.artifactPath('fill', p.path);
    const already = (await fileSize(ctx, file)) ?? 0; // a retried prepare after an inject: count it out
    const now = await usage(ctx, p.path);
    const before: Usage = { used: now.used - already, available: now.available + already };
    const capacity = before.used + before.available;
    const bytes =
      p.percent !== undefined ? Math.ceil((capacity * p.percent) / 100) - before.used : (p.size ?? 0);
    if (bytes <= 0) {
      throw new FaultUserError(
        `${p.path} on ${ctx.target.name} is already ${percentOf(before)}% full, above ${p.percent}%`,
      );
    }
    const floor = Math.max(p.keepFree ?? 0, Math.ceil(capacity * 0.05));
    if (before.available - bytes < floor) {
      throw new FaultUserError(
        `filling ${p.path} on ${ctx.target.name} by ${bytes} bytes would leave less than ${floor} bytes free ` +
          `(it is ${percentOf(before)}% full); lower the target`,
      );
    }
    return { file, bytes };
  },

  async inject(ctx, _p, saved) {
    await ctx.run(['fallocate', '-l', String(saved.bytes), saved.file]);
  },

  async verify(ctx, p, saved) {
    const bytes = await fileSize(ctx, saved.file);
    const now = await usage(ctx, p.path);
    return {
      active: bytes !== undefined,
      detail: `${p.path} ${percentOf(now)}% full${bytes !== undefined ? `, ${saved.file} holds ${bytes} bytes` : ''}`,
    };
  },

  async rollback(ctx, _p, saved) {
    await ctx.run(['rm', '-f', '--', saved.file]);
  },

  hostRevert: (_p, saved) => [['rm', '-f', '--', saved.file]],
};
