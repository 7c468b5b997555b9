// Before the soak trusts "no leftovers", it plants one residue of each kind it looks for and must see each
// one reported, then removes them and must see the hosts as before: a detector that sees nothing proves nothing.
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import type { TestHost } from '../support/hosts';
import { diffSnapshots, takeSnapshot, type SnapshotScope } from './residue';
import { sleep } from '../support/wait';

const fakeTag = 'soakself';

export async function checkDetector(
  scope: SnapshotScope,
  hosts: readonly [TestHost, TestHost, TestHost],
  pausePid: number,
): Promise<void> {
  const tags = new Set([...scope.tags, fakeTag]);
  const withTag = { ...scope, tags };
  const before = await takeSnapshot(withTag);
  const [h1, h2, h3] = hosts;
  const file = `/tmp/.gameday-${fakeTag}-probe`;
  const tagged = spawn('sh', ['-c', 'sleep 30', `.gameday-${fakeTag}-watch`], { stdio: 'ignore' });
  const stress = spawn(
    'ip',
    ['netns', 'exec', h3.namespace, 'stress-ng', '--cpu', '1', '--cpu-load', '1', '--timeout', '30'],
    { stdio: 'ignore' },
  );
  try {
    await h1.inside(['iptables', '-w', '-N', `GD-${fakeTag}-0-I`]);
    await h2.inside([
      'tc',
      'qdisc',
      'add',
      'dev',
      'eth0',
      'root',
      'handle',
      '7a6d:',
      'tbf',
      'rate',
      '1mbit',
      'burst',
      '32k',
      'latency',
      '50ms',
    ]);
    writeFileSync(file, 'probe\n');
    process.kill(pausePid, 'SIGSTOP');
    await sleep(500); // stress-ng and its worker started
    const planted = diffSnapshots(before, await takeSnapshot(withTag)).map((d) => d.section);
    const expected = [
      `${h1.name} iptables-save`,
      `${h2.name} tc qdisc show`,
      'files',
      'processes',
      'services',
    ];
    const missed = expected.filter((section) => !planted.includes(section));
    if (missed.length > 0)
      throw new Error(`the residue check does not see what was planted in: ${missed.join(', ')}`);
  } finally {
    process.kill(pausePid, 'SIGCONT');
    tagged.kill('SIGKILL');
    stress.kill('SIGTERM');
    rmSync(file, { force: true });
    await h1.inside(['iptables', '-w', '-X', `GD-${fakeTag}-0-I`]);
    await h2.inside(['tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);
  }
  for (let attempt = 0; ; attempt++) {
    await sleep(300);
    const left = diffSnapshots(before, await takeSnapshot(withTag));
    if (left.length === 0) return;
    if (attempt === 10)
      throw new Error(`the residue check's plants were not all removed: ${JSON.stringify(left)}`);
  }
}
