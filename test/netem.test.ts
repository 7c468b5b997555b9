import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { netemCommand, netemFromKernelConfig } from '../activities/faults/netem';
import { networkCorrupt } from '../activities/faults/networkCorrupt';
import { delayArgs, networkDelay } from '../activities/faults/networkDelay';
import { networkDuplicate } from '../activities/faults/networkDuplicate';
import { lossArgs, networkLoss } from '../activities/faults/networkLoss';

const target = { group: 'brokers', kind: 'ssh' as const, name: 'kafka-1' };

// These machines' kernels have no netem, so command building is checked here, and the unsupported path end to
// end in sshGameDay.test.ts.
describe('netem command building (no netem on this kernel: argv checked, not applied)', () => {
  it('builds delay with jitter, correlation and distribution', () => {
    const p = networkDelay.params.parse({
      interface: 'eth0',
      delay: '100ms',
      jitter: '10ms',
      correlation: 25,
      distribution: 'normal',
    });
    assert.equal(
      networkDelay.describe(p, target).inject,
      'add 100ms ± 10ms delay on kafka-1 eth0 (tc netem)',
    );
    const argv = netemCommand('eth0', delayArgs(p));
    assert.deepEqual(argv, [
      'tc',
      'qdisc',
      'replace',
      'dev',
      'eth0',
      'root',
      'handle',
      '7a6d:',
      'netem',
      'delay',
      '100ms',
      '10ms',
      '25%',
      'distribution',
      'normal',
    ]);
  });

  it('bounds and couples delay parameters', () => {
    assert.equal(
      networkDelay.params.safeParse({ interface: 'eth0', delay: '61000ms' }).success,
      false,
      'delay ≤ 60 s',
    );
    assert.equal(
      networkDelay.params.safeParse({ interface: 'eth0', delay: '10ms', distribution: 'pareto' }).success,
      false,
      'distribution needs jitter',
    );
    assert.equal(networkDelay.params.safeParse({ interface: 'eth0;reboot', delay: '10ms' }).success, false);
  });

  it('builds delay without jitter, and loss with correlation', () => {
    assert.deepEqual(
      delayArgs(networkDelay.params.parse({ interface: 'eth0', delay: '250ms', correlation: 5 })),
      ['delay', '250ms'],
    );
    assert.deepEqual(lossArgs(networkLoss.params.parse({ interface: 'eth0', percent: 5, correlation: 25 })), [
      'loss',
      '5%',
      '25%',
    ]);
  });

  it('builds loss, corrupt and duplicate', () => {
    assert.equal(
      networkLoss.describe(
        networkLoss.params.parse({ interface: 'eth0', percent: 5, correlation: 25 }),
        target,
      ).inject,
      'drop 5% of packets on kafka-1 eth0 (tc netem)',
    );
    assert.equal(
      networkCorrupt.describe(networkCorrupt.params.parse({ interface: 'eth0', percent: 1 }), target).inject,
      'corrupt 1% of packets on kafka-1 eth0 (tc netem)',
    );
    assert.equal(
      networkDuplicate.params.safeParse({ interface: 'eth0', percent: 0 }).success,
      false,
      'percent > 0',
    );
  });

  it('reads netem support from kernel config lines (the "not set" line is captured real output of this machine)', () => {
    assert.equal(netemFromKernelConfig('# CONFIG_NET_SCH_NETEM is not set\n'), false);
    assert.equal(netemFromKernelConfig('CONFIG_NET_SCH_NETEM=m\n'), true);
    assert.equal(netemFromKernelConfig('CONFIG_NET_SCH_NETEM=y\n'), true);
    assert.equal(netemFromKernelConfig(''), undefined);
  });
});
