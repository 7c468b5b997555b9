import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { diskFill } from '../activities/faults/diskFill';
import { localFaultContext } from './support/faultContext';

const run = promisify(execFile);

/** Capacity as df shows it: used / (used + available), in percent. */
async function capacity(path: string): Promise<number> {
  const fields = (await run('df', ['-P', '-B1', path])).stdout.trim().split('\n')[1]?.split(/\s+/) ?? [];
  const used = Number(fields[2]);
  return (used / (used + Number(fields[3]))) * 100;
}

// A real 64 MB ext4 filesystem on a loop device, so filling it endangers nothing else.
describe('disk-fill on a loop-device filesystem', () => {
  let dir: string;
  let mount: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gameday-disk-'));
    mount = join(dir, 'mnt');
    mkdirSync(mount);
    await run('truncate', ['-s', '64M', join(dir, 'fs.img')]);
    await run('mkfs.ext4', ['-q', '-F', join(dir, 'fs.img')]);
    await run('mount', ['-o', 'loop', join(dir, 'fs.img'), mount]);
  });
  after(async () => {
    await run('umount', [mount]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('fills to the target percentage with one tagged file, and rollback removes exactly that file', async () => {
    const ctx = localFaultContext('disktest');
    writeFileSync(join(mount, 'data.log'), 'x'.repeat(1000));
    const baseline = await capacity(mount);
    const p = diskFill.params.parse({ path: mount, percent: 90 });
    const saved = await diskFill.prepare(ctx, p);
    assert.match(saved.file, /\/\.gameday-disktest-fill-[0-9a-f]{6}$/);
    await diskFill.inject(ctx, p, saved);
    await diskFill.inject(ctx, p, saved);
    const filled = await capacity(mount);
    assert.ok(filled > 89 && filled < 91, `filled to ${filled}%`);
    assert.equal((await diskFill.verify(ctx, p, saved)).active, true);
    const retried = await diskFill.prepare(ctx, p);
    assert.equal(retried.file, saved.file, 'a retried prepare names the same file');
    // …and about the same size: the filesystem's own extent metadata is counted as used, not as the file.
    assert.ok(
      Math.abs(retried.bytes - saved.bytes) / saved.bytes < 0.001,
      `${retried.bytes} vs ${saved.bytes}`,
    );
    await diskFill.rollback(ctx, p, saved);
    await diskFill.rollback(ctx, p, saved);
    assert.equal((await diskFill.verify(ctx, p, saved)).active, false);
    assert.ok(Math.abs((await capacity(mount)) - baseline) < 0.5, 'back to where it was');
    assert.equal((await run('cat', [join(mount, 'data.log')])).stdout.length, 1000, 'other files untouched');
  });

  it('refuses to go past the safety floor, naming path, host and numbers', async () => {
    const ctx = localFaultContext('disktest');
    const p = diskFill.params.parse({ path: mount, size: '62M' });
    await assert.rejects(
      diskFill.prepare(ctx, p),
      /filling .*mnt on local by \d+ bytes would leave less than \d+ bytes free/,
    );
    const keep = diskFill.params.parse({ path: mount, percent: 50, keepFree: '40M' });
    await assert.rejects(diskFill.prepare(ctx, keep), /would leave less than 41943040 bytes free/);
  });

  it('validates its parameters', () => {
    assert.equal(diskFill.params.safeParse({ path: '/data', percent: 96 }).success, false, '≤ 95%');
    assert.equal(
      diskFill.params.safeParse({ path: '/data', percent: 50, size: '1G' }).success,
      false,
      'one of',
    );
    assert.equal(diskFill.params.safeParse({ path: '/data;rm', percent: 50 }).success, false);
    assert.equal(diskFill.params.parse({ path: '/data', size: '2G' }).size, 2 * 1024 ** 3);
  });
});
