import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deviceRates, parseDiskstats } from '../activities/diagnosis/diskstats';
import { deviceNumbers, parseDf, parseMountinfo } from '../activities/diagnosis/filesystems';
import { growingPaths } from '../activities/diagnosis/openFiles';
import { parsePressure, pressureOver } from '../activities/diagnosis/pressure';
import { parseProcesses, parseStat, processRates } from '../activities/diagnosis/processIo';
import { parseWindow } from '../activities/diagnosis/snapshot';
import type { OpenFile } from '../activities/diagnosis/evidence';

// The formats as the kernel and coreutils print them (proc(5), Documentation/admin-guide/iostats.rst, psi.rst).
describe('IO diagnosis parsing', () => {
  it('stat: a comm with spaces and parentheses, kernel threads by PF_KTHREAD', () => {
    const user = parseStat(
      '4242 (my (odd) app) D 1 4242 4242 0 -1 4194304 10 0 0 0 5 6 0 0 20 0 1 0 98765 0',
    );
    assert.deepEqual(user, {
      pid: 4242,
      comm: 'my (odd) app',
      state: 'D',
      kernelThread: false,
      startTime: 98765,
    });
    const kernel = parseStat('12 (kworker/u8:0-loop0) I 2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 20 0 1 0 7 0');
    assert.equal(kernel?.kernelThread, true);
  });

  it('process rates: io deltas per second, minus cancelled writes; a reused pid counts from zero', () => {
    const io = (pid: number, read: number, write: number, cancelled = 0) => [
      `/proc/${pid}/io:rchar: ${read * 2}`,
      `/proc/${pid}/io:wchar: ${write}`,
      `/proc/${pid}/io:syscr: 1`,
      `/proc/${pid}/io:syscw: 1`,
      `/proc/${pid}/io:read_bytes: ${read}`,
      `/proc/${pid}/io:write_bytes: ${write}`,
      `/proc/${pid}/io:cancelled_write_bytes: ${cancelled}`,
    ];
    const stat = (pid: number, comm: string, start: number) =>
      `/proc/${pid}/stat:${pid} (${comm}) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${start} 0`;
    const first = parseProcesses([
      stat(10, 'dd', 100),
      ...io(10, 0, 1000),
      stat(11, 'old', 100),
      ...io(11, 0, 5e6),
    ]);
    const second = parseProcesses([
      stat(10, 'dd', 100),
      ...io(10, 4000, 9000, 2000),
      stat(11, 'new', 200),
      ...io(11, 0, 600),
      stat(12, 'secret', 300), // no io lines: not readable
    ]);
    assert.equal(second.get(12)?.io, undefined);
    const rates = processRates(first, second, 2, new Map([[10, 3]]));
    assert.deepEqual(
      rates.map((r) => [r.pid, r.comm, r.readBytesPerSecond, r.writeBytesPerSecond, r.waitingSamples]),
      [
        [10, 'dd', 2000, 3000, 3],
        [11, 'new', 0, 300, 0],
      ],
    );
  });

  it('diskstats: utilisation, await and queue size as iostat -x computes them', () => {
    const line = (
      reads: number,
      msR: number,
      writes: number,
      sectors: number,
      msW: number,
      io: number,
      w: number,
    ) =>
      `   7       1 loop1 ${reads} 0 ${reads * 8} ${msR} ${writes} 0 ${sectors} ${msW} 0 ${io} ${w} 0 0 0 0 0 0`;
    const before = parseDiskstats([line(100, 50, 1000, 8000, 200, 1000, 1500)]);
    const after = parseDiskstats([line(100, 50, 3000, 408000, 2200, 2980, 3500)]);
    const [loop] = deviceRates(before, after, 2);
    assert.deepEqual(loop, {
      name: 'loop1',
      numbers: '7:1',
      utilisationPercent: 99,
      readsPerSecond: 0,
      writesPerSecond: 1000,
      readBytesPerSecond: 0,
      writeBytesPerSecond: 102400000,
      awaitMs: 1,
      writeAwaitMs: 1,
      queueSize: 1,
    });
    assert.deepEqual(deviceRates(before, before, 2), [], 'an idle device is left out');
  });

  it('IO pressure: the share of the window from the totals, with the kernel avg10', () => {
    const first = parsePressure([
      'some avg10=1.00 avg60=0.50 avg300=0.10 total=1000000',
      'full avg10=0.00 avg60=0.00 avg300=0.00 total=0',
    ]);
    const second = parsePressure([
      'some avg10=48.00 avg60=9.00 avg300=2.00 total=1960000',
      'full avg10=30.00 avg60=0.00 avg300=0.00 total=500000',
    ]);
    assert.ok(first && second);
    assert.deepEqual(pressureOver(first, second, 2), { somePercent: 48, fullPercent: 25, someAvg10: 48 });
  });

  it('device numbers from st_dev, mountinfo with escaped paths, df with spaces', () => {
    assert.equal(deviceNumbers('1793'), '7:1');
    assert.equal(deviceNumbers('66304'), '259:0');
    assert.equal(deviceNumbers('1050668'), '8:300');
    const mounts = parseMountinfo(['36 35 7:1 / /mnt/my\\040data rw,relatime shared:1 - ext4 /dev/loop1 rw']);
    assert.deepEqual(mounts.get('7:1'), {
      numbers: '7:1',
      mountPoint: '/mnt/my data',
      fsType: 'ext4',
      source: '/dev/loop1',
    });
    const df = parseDf([
      'Filesystem 1-blocks Used Available Capacity Mounted on',
      '/dev/loop1 1000 900 100 90% /mnt/my data',
    ]);
    assert.deepEqual(df.get('/mnt/my data'), {
      source: '/dev/loop1',
      sizeBytes: 1000,
      usedBytes: 900,
      mountPoint: '/mnt/my data',
    });
  });

  it('growing paths: files, and the deepest directory gathering several of them, fastest first', () => {
    const file = (path: string, growth: number): OpenFile => ({
      pid: 1,
      fd: 3,
      path,
      deleted: false,
      mode: 'write',
      direct: false,
      sizeBytes: 10,
      growthBytesPerSecond: growth,
    });
    const paths = growingPaths([
      file('/var/log/app/a.log', 100),
      file('/var/log/app/b.log', 50),
      file('/srv/x', 0),
    ]);
    assert.deepEqual(
      paths.map((p) => [p.path, p.growthBytesPerSecond]),
      [
        ['/var/log/app', 150],
        ['/var/log/app/a.log', 100],
        ['/var/log/app/b.log', 50],
      ],
    );
  });

  it('a window whose pressure file is missing says so, with the reader’s own words', () => {
    const snapshot = (n: string, uptime: string) =>
      [
        `@@uptime ${n}`,
        `${uptime} 1.00`,
        `@@diskstats ${n}`,
        `@@pressure ${n}`,
        'cat: /proc/pressure/io: No such file or directory',
        '@@unreadable',
        `@@processes ${n}`,
        `@@io-readable ${n}`,
        '7',
      ].join('\n');
    const window = parseWindow(
      [snapshot('0', '100.00'), '@@waiting 1', '/proc/7/task/8/stat', snapshot('1', '102.00')].join('\n'),
    );
    assert.equal(window.second.uptime - window.first.uptime, 2);
    assert.equal(window.first.pressure, undefined);
    assert.deepEqual(window.unavailable, [
      'IO pressure: /proc/pressure/io: No such file or directory (kernel without PSI, or booted with psi=0)',
    ]);
    assert.equal(window.waiting.get(7), 1);
    assert.equal(window.stateSamples, 1);
  });
});
