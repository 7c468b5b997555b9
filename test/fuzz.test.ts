import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { faultKinds, type FaultKindName } from '../activities/faults/registry';
import { planSchema } from '../plan/schema';

// Characters a shell would interpret. Any of them in a value that reaches a host command is a validation
// error: the SSH boundary would refuse them too, but a plan must fail before anything runs.
const metacharacters = [
  ';',
  '|',
  '&',
  '$(',
  '`',
  '>',
  '<',
  '\n',
  '"',
  "'",
  '\\',
  '*',
  '?',
  '{',
  '}',
  '!',
  '#',
  '~',
];

// One valid parameter set per kind. `satisfies` makes a new kind without an entry a compile error, so no
// kind escapes the fuzzing below.
const validParams = {
  'process-pause': { pidfile: '/run/kafka.pid' },
  'process-kill': {
    pattern: 'java kafka',
    restart: { argv: ['/opt/kafka/bin/start', '--daemon'], cwd: '/opt' },
  },
  'network-partition': { peers: ['10.0.0.2'], ports: [{ port: 9092 }] },
  'network-loss-iptables': { percent: 10, peers: ['10.0.0.0/24'] },
  'disk-fill': { path: '/var/lib/kafka', percent: 90 },
  'network-bandwidth': { interface: 'eth0', rate: '1mbit' },
  'network-delay': { interface: 'eth0', delay: '100ms' },
  'network-loss': { interface: 'eth0', percent: 5 },
  'network-corrupt': { interface: 'eth0', percent: 5 },
  'network-duplicate': { interface: 'eth0', percent: 5 },
  'service-stop': { unit: 'kafka.service' },
  'service-restart': { unit: 'kafka.service' },
  'io-throttle': { device: '/dev/vdb', cgroup: '/system.slice/kafka.service', writeBps: '2M' },
  stress: { cpu: { workers: 1 }, io: { path: '/var/tmp' }, duration: '1m' },
  'container-pause': { container: 'kafka-1' },
  'container-stop': { container: 'kafka-1' },
  'container-kill': { container: 'kafka-1' },
  'container-restart': { container: 'kafka-1' },
} satisfies Record<FaultKindName, unknown>;

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Every string in a value, as a path and a function that returns a copy with that string replaced. */
interface Leaf {
  readonly path: string;
  readonly original: string;
  readonly replace: (s: string) => Json;
}

function stringLeaves(value: Json, path: string[] = []): Leaf[] {
  if (typeof value === 'string') return [{ path: path.join('.'), original: value, replace: (s) => s }];
  if (Array.isArray(value)) {
    return value.flatMap((item, i) =>
      stringLeaves(item, [...path, String(i)]).map(({ replace, ...leaf }) => ({
        ...leaf,
        replace: (s: string) => value.map((other, j) => (j === i ? replace(s) : other)),
      })),
    );
  }
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, item]) =>
      stringLeaves(item, [...path, key]).map(({ replace, ...leaf }) => ({
        ...leaf,
        replace: (s: string) => ({ ...value, [key]: replace(s) }),
      })),
    );
  }
  return [];
}

function plan(kind: string, params: Json, extra: Record<string, unknown> = {}) {
  return planSchema.safeParse({
    apiVersion: 'gameday.dev/v1alpha1',
    kind: 'GameDay',
    metadata: { name: 'fuzz', owner: 'tests' },
    targets: { hosts: { ssh: { hosts: ['kafka-1'] } } },
    faults: [{ name: 'f', kind, target: 'hosts', params, ...extra }],
    observation: { window: '10s' },
  });
}

describe('every identifier field of every fault kind, fuzzed with shell metacharacters', () => {
  it('every kind has a valid parameter set here (the baseline the fuzzing changes)', () => {
    assert.deepEqual(Object.keys(validParams).sort(), Object.keys(faultKinds).sort());
    for (const [kind, params] of Object.entries(validParams)) {
      const parsed = plan(kind, params);
      assert.ok(parsed.success, `${kind}: ${parsed.error?.message ?? ''}`);
    }
  });

  for (const [kind, params] of Object.entries(validParams)) {
    it(`${kind}: each string parameter with each metacharacter is a validation error`, () => {
      const leaves = stringLeaves(params);
      assert.ok(leaves.length > 0);
      for (const { path, original, replace } of leaves) {
        for (const bad of metacharacters) {
          for (const fuzzed of [`${original}${bad}x`, `${bad}${original}`]) {
            assert.equal(
              plan(kind, replace(fuzzed)).success,
              false,
              `${kind} ${path} = ${JSON.stringify(fuzzed)}`,
            );
          }
        }
      }
    });
  }

  it('the container field of network faults and the host of a check', () => {
    for (const bad of metacharacters) {
      assert.equal(
        plan('network-bandwidth', validParams['network-bandwidth'], { container: `web${bad}x` }).success,
        false,
        `container web${bad}x`,
      );
    }
    assert.ok(plan('network-bandwidth', validParams['network-bandwidth'], { container: 'web' }).success);
  });
});
