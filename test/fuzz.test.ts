import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isNode, LineCounter, parseDocument, stringify } from 'yaml';
import { isKubernetesKind } from '../activities/faults/contract';
import { faultKinds, getFaultKind, type FaultKindName } from '../activities/faults/registry';
import { main } from '../client/main';
import { projectRoot } from '../client/paths';
import { planSchema } from '../plan/schema';

const cliPath = join(projectRoot, 'dist', 'client', 'main.js');

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
  'pod-delete': { gracePeriod: '30s', readyTimeout: '2m' },
  'node-cordon': {},
  'node-drain': { deleteEmptyDirData: true, timeout: '20s', readyTimeout: '2m' },
  scale: { delta: -1, readyTimeout: '2m' },
  // Its spec goes to the API as data (never a shell); these strings are enums, a label value and a duration.
  'chaos-mesh': {
    experiment: {
      kind: 'PodChaos',
      spec: { action: 'pod-failure', mode: 'one', selector: { labelSelectors: { app: 'kafka' } } },
    },
    injectTimeout: '20s',
  },
} satisfies Record<FaultKindName, unknown>;

/** Kinds that take no string parameter at all: nothing of theirs to fuzz. */
const withoutStrings: readonly string[] = ['node-cordon'];

/** The group a kind acts on: the first Kubernetes resource a Kubernetes kind names, SSH hosts for the others. */
function groupFor(kind: string): string {
  const found = getFaultKind(kind);
  if (!isKubernetesKind(found)) return 'brokers';
  const resource = found.kubernetes.scope === 'objects' ? found.kubernetes.resources[0] : 'pod';
  return `${resource ?? 'pod'}s`;
}
const fuzzGroups = {
  brokers: { ssh: { hosts: ['kafka-1', 'kafka-2'] } },
  pods: {
    kubernetes: {
      context: 'prod',
      namespace: 'kafka',
      selector: { labels: 'app=kafka', fields: 'status.phase=Running' },
    },
  },
  nodes: { kubernetes: { context: 'prod', kind: 'node', selector: { labels: 'pool=kafka' } } },
  deployments: {
    kubernetes: {
      context: 'prod',
      namespace: 'kafka',
      kind: 'deployment',
      selector: { labels: 'app=kafka' },
    },
  },
};

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Every string in a value, as a path and a function that returns a copy with that string replaced. */
interface Leaf {
  readonly path: string;
  /** The path as keys and indices, to find the leaf in the YAML document. */
  readonly segments: readonly (string | number)[];
  readonly original: string;
  readonly replace: (s: string) => Json;
}

function stringLeaves(value: Json, path: (string | number)[] = []): Leaf[] {
  if (typeof value === 'string') {
    return [{ path: path.join('.'), segments: path, original: value, replace: (s) => s }];
  }
  if (Array.isArray(value)) {
    return value.flatMap((item, i) =>
      stringLeaves(item, [...path, i]).map(({ replace, ...leaf }) => ({
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
    targets: fuzzGroups,
    faults: [{ name: 'f', kind, target: groupFor(kind), params, ...extra }],
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
      assert.equal(leaves.length === 0, withoutStrings.includes(kind), 'string parameters to fuzz');
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

// ---- hostile plans through the CLI: every string field, every YAML construct -------------------------------

/** A valid plan with every check kind and every fault kind, most optional fields given. */
const everyKindPlan: { [key: string]: Json } = {
  apiVersion: 'gameday.dev/v1alpha1',
  kind: 'GameDay',
  metadata: { name: 'fuzz', owner: 'sre team', description: 'Every check kind\nand every fault kind.' },
  targets: { ...fuzzGroups, here: { local: {} } },
  checks: [
    {
      name: 'web',
      description: 'the front page answers',
      when: ['before', 'after'],
      expect: 'pass',
      http: {
        url: 'http://10.0.0.5:8080/health',
        method: 'GET',
        status: [200, 204],
        bodyMatches: 'ok',
        maxLatency: '500ms',
        timeout: '2s',
      },
    },
    { name: 'port', when: ['during'], on: 'kafka-1', tcp: { host: '127.0.0.1', port: 9092, timeout: '1s' } },
    {
      name: 'lag',
      when: ['before'],
      expect: 'fail',
      command: {
        argv: ['/usr/bin/lag', '--group', 'app'],
        outputMatches: 'lag',
        timeout: '5s',
        value: { pattern: 'lag ([0-9]+)', max: 100 },
      },
    },
    {
      name: 'errors',
      when: ['during'],
      prometheus: {
        endpoint: 'default',
        query: 'sum(rate(errors_total[1m]))',
        condition: '< 0.05',
        range: { over: '5m', step: '15s', summary: 'p99' },
        onEmpty: 'unknown',
        timeout: '3s',
      },
    },
    {
      name: 'traffic',
      when: ['after'],
      prometheus: {
        query: 'sum(rate(requests_total[5m]))',
        baseline: { offset: '1d', tolerance: '10%', deviation: 'below' },
      },
    },
    {
      name: 'workers-ready',
      when: ['before', 'after'],
      kubernetes: {
        context: 'prod',
        namespace: 'alluxio',
        selector: { labels: 'app.kubernetes.io/component=worker', fields: 'status.phase=Running' },
        ready: { minRatio: '100%', expected: 2, maxRestarts: 0, phase: 'Running' },
        onNone: 'fail',
        timeout: '5s',
      },
    },
    {
      name: 'no-errors',
      when: ['after'],
      kubernetes: {
        context: 'prod',
        namespace: 'alluxio',
        selector: { labels: { 'app.kubernetes.io/component': 'fuse' } },
        logs: {
          pattern: 'WARN|ERROR',
          after: 1,
          container: 'fuse',
          previous: true,
          since: '10m',
          maxMatches: 0,
        },
      },
    },
    {
      name: 'etcd-serves',
      when: ['before'],
      kubernetes: {
        context: 'prod',
        namespace: 'alluxio',
        selector: { labels: 'app.kubernetes.io/component=etcd' },
        exec: {
          container: 'etcd',
          argv: ['etcdctl', 'get', '--keys-only', '--prefix', '/ServiceDiscovery'],
          outputMatches: '^/ServiceDiscovery/',
          value: { pattern: 'members ([0-9]+)', min: 3 },
          pods: 'all',
        },
      },
    },
  ],
  faults: [
    ...Object.entries(validParams).map(([kind, params], i): Json => ({
      name: `f${i}`,
      kind,
      target: groupFor(kind),
      select: i % 2 === 0 ? { mode: 'fixed', count: 2 } : { mode: 'one' },
      params,
    })),
    {
      name: 'in-container',
      kind: 'network-delay',
      target: 'here',
      container: 'web',
      params: validParams['network-delay'],
    },
  ],
  observation: {
    window: '10s',
    sampleInterval: '1s',
    minSamples: 2,
    guardrails: [{ name: 'answers', breachAfter: 2, tcp: { host: '127.0.0.1', port: 9092 } }],
  },
  deadManSwitch: { lease: '30s' },
  recovery: {
    within: '1m',
    interval: '1s',
    actions: [
      {
        deletePods: {
          context: 'prod',
          namespace: 'alluxio',
          selector: { labels: 'app.kubernetes.io/component=worker' },
          failing: 'workers-ready',
          gracePeriod: '30s',
          timeout: '5m',
        },
      },
      {
        rolloutRestart: {
          context: 'prod',
          namespace: 'alluxio',
          kind: 'statefulset',
          name: 'etcd',
          timeout: '5m',
        },
      },
    ],
  },
};

const work = mkdtempSync(join(tmpdir(), 'gameday-fuzz-'));
after(() => rmSync(work, { recursive: true, force: true }));
let files = 0;

/** Writes a plan file: YAML text, raw bytes, or a value (as YAML, every control character written escaped). */
function planFile(content: string | Buffer | Json): string {
  const file = join(work, `plan-${files++}.yaml`);
  const text =
    typeof content === 'string' || Buffer.isBuffer(content)
      ? content
      : // yaml escapes C0 in double quotes but leaves DEL and C1 raw: escaped here, so that the schema sees them.
        stringify(content).replace(/[\u007f-\u009f]/gu, (c) => `\\x${c.charCodeAt(0).toString(16)}`);
  writeFileSync(file, text);
  return file;
}

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly lines: readonly string[];
}

/** Runs the CLI in this process, capturing what it prints. */
async function cli(...args: string[]): Promise<Outcome> {
  const { log, error } = console;
  const stdout: string[] = [];
  const stderr: string[] = [];
  console.log = (...parts: unknown[]) => stdout.push(parts.join(' '));
  console.error = (...parts: unknown[]) => stderr.push(parts.join(' '));
  try {
    const code = await main(args);
    return { code, stdout: stdout.join('\n'), lines: stderr.join('\n').split('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

const isControl = (character: string) => {
  const code = character.charCodeAt(0);
  return (code < 0x20 && character !== '\n' && character !== '\t') || (code >= 0x7f && code <= 0x9f);
};

/**
 * What every refused plan must look like: exit 2, nothing on stdout, and on stderr one line per error, each
 * `file:line:col: …` (or `cannot read file: …` when the file could not be read), no stack trace, no raw
 * control character. Returns the lines.
 */
function assertPlanErrors(
  outcome: Outcome,
  file: string,
  unreadable = false,
  what = file,
): readonly string[] {
  const shown = outcome.lines.join('\n').slice(0, 500);
  assert.equal(outcome.code, 2, `${what}: exit code, with: ${shown}`);
  assert.equal(outcome.stdout, '');
  assert.ok(outcome.lines.length > 0 && outcome.lines.length <= 51, `${outcome.lines.length} lines`);
  for (const line of outcome.lines) {
    assert.ok(
      unreadable
        ? line.startsWith(`cannot read ${file}: `)
        : /^\d+:\d+: \S/.test(line.slice(file.length + 1)),
      `not a plan error line: ${line.slice(0, 300)}`,
    );
    assert.ok(line.startsWith(unreadable ? 'cannot read ' : `${file}:`), line.slice(0, 300));
    assert.doesNotMatch(line, /^\s+at /, 'a stack trace');
    assert.equal([...line].find(isControl), undefined, `a raw control character in: ${line.slice(0, 300)}`);
  }
  return outcome.lines;
}

/** The field path as errors write it: `faults[3].params.pidfile`. */
const fieldPath = (segments: readonly (string | number)[]) =>
  segments
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${part}`))
    .join('');

/** Where a value starts in a YAML text, as line:col. */
function positionOf(text: string, segments: readonly (string | number)[]): string {
  const lineCounter = new LineCounter();
  const node: unknown = parseDocument(text, { lineCounter }).getIn(segments, true);
  assert.ok(isNode(node) && node.range, `no node at ${fieldPath(segments)}`);
  const { line, col } = lineCounter.linePos(node.range[0]);
  return `${line}:${col}`;
}

const hostileStrings: Record<string, (original: string) => string> = {
  'an OSC sequence (sets the title) and a bell': (s) => `${s}\u001b]0;owned\u0007`,
  'a CSI sequence (clears the line)': (s) => `${s}\u001b[2K`,
  'a NUL byte': (s) => `${s}\u0000`,
  'a C1 control (CSI)': (s) => `${s}\u009b2J`,
  'a DEL': (s) => `${s}\u007f`,
  'a trailing carriage return (which trimming or URL parsing would drop)': (s) => `${s}\r`,
  '100,000 characters': (s) => `${s}${'a'.repeat(100_000)}`,
};

describe('hostile plans through the CLI: every string field', () => {
  it('the plan with every check and fault kind is valid (the baseline the fuzzing changes)', async () => {
    const outcome = await cli('validate', planFile(everyKindPlan));
    assert.equal(outcome.code, 0, outcome.lines.join('\n'));
    const faults = Object.keys(validParams).length + 1; // every kind, and one in a container
    assert.match(outcome.stdout, new RegExp(`valid \\(${faults} fault\\(s\\), 8 check\\(s\\)\\)`));
  });

  const leaves = stringLeaves(everyKindPlan);
  for (const [what, hostile] of Object.entries(hostileStrings)) {
    it(`${what} in each of the ${leaves.length} string fields: an error at that field, in one line`, async () => {
      for (const leaf of leaves) {
        const file = planFile(leaf.replace(hostile(leaf.original)));
        const lines = assertPlanErrors(await cli('validate', file), file, false, leaf.path);
        const at = `${file}:${positionOf(readFileSync(file, 'utf8'), leaf.segments)}: ${fieldPath(leaf.segments)}: `;
        assert.ok(
          lines.some((line) => line.startsWith(at)),
          `${leaf.path}: expected an error starting ${at}, got:\n${lines.join('\n').slice(0, 600)}`,
        );
      }
    });
  }

  it('a hostile target group name and a hostile unknown field, escaped in the error', async () => {
    const badGroup = planFile({ ...everyKindPlan, targets: { 'web\u001b]0;x\u0007': { local: {} } } });
    const lines = assertPlanErrors(await cli('validate', badGroup), badGroup);
    assert.ok(
      lines.some((line) => line.includes('targets.web\\x1b]0;x\\x07')),
      lines.join('\n'),
    );
    const badKey = planFile({ ...everyKindPlan, ['\u001b[31mcolour']: 1 });
    assert.ok(
      assertPlanErrors(await cli('validate', badKey), badKey).some((line) =>
        line.endsWith('unknown field: \\x1b[31mcolour'),
      ),
    );
  });
});

/** Deterministic bytes that are not text: a PRNG (xorshift) rather than randomBytes, so failures repeat. */
function garbage(length: number): Buffer {
  let state = 0x9e3779b9;
  return Buffer.from(
    Array.from({ length }, () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return state & 0xff;
    }),
  );
}

const demoText = readFileSync(join(projectRoot, 'examples', 'demo.yaml'), 'utf8');
const demoLine = (number: number, line: string) => {
  const lines = demoText.split('\n');
  lines[number - 1] = line;
  return lines.join('\n');
};
const aliasBomb = ['a: &a [x, x, x, x, x, x, x, x, x]']
  .concat(
    [...'bcdefghi'].map((name, i) => `${name}: &${name} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(', ')}]`),
  )
  .join('\n');
const manyKeys = (count: number) =>
  `${demoText}\n${Array.from({ length: count }, (_, i) => `k${i}: 1`).join('\n')}\n`;

interface Construct {
  /** The plan file (made on demand), or a path that is not one. */
  readonly file: () => string;
  /** The first error line, after the file name. */
  readonly first: RegExp;
  readonly unreadable?: boolean;
}

const constructs: Record<string, Construct> = {
  'an alias bomb (billion laughs)': {
    file: () => planFile(aliasBomb),
    first: /^:5:\d+: aliases expand to more than 10,000 values/,
  },
  'an undefined alias': {
    file: () => planFile(demoLine(7, '  owner: *nope')),
    first: /^:7:10: alias \*nope has no anchor/,
  },
  'a tab as indentation': { file: () => planFile(demoLine(7, '\towner: sre')), first: /^:7:1: Tabs/ },
  'a duplicate key': {
    file: () => planFile(demoLine(7, '  name: again')),
    first: /^:7:3: key "name" is given twice \(first at 6:3\)/,
  },
  'an unclosed [': {
    file: () => planFile(demoLine(16, '    when: [before')),
    first: /^:16:11: this \[ is never/,
  },
  'an unclosed {': { file: () => planFile(demoLine(12, '    local: {')), first: /^:12:12: this \{ is never/ },
  'an unclosed quote': { file: () => planFile(demoLine(7, "  owner: 'sre")), first: /^:7:10: this ' string/ },
  'deep nesting': {
    file: () => planFile(`owner: ${'['.repeat(50_000)}`),
    first: /^:1:39: nested more than 32 levels deep/,
  },
  'deep block nesting': {
    file: () => planFile(`${'- '.repeat(50_000)}x`),
    first: /^:1:65: nested more than 32 levels deep/,
  },
  'a huge string': {
    file: () => planFile(demoLine(7, `  owner: ${'x'.repeat(200_000)}`)),
    first: /^:7:10: metadata\.owner: must be at most 100 characters/,
  },
  'a huge file': {
    file: () => planFile(`${demoText}# ${'x'.repeat(20 * 1024 * 1024)}\n`),
    first: /^: it is 20\.0 MiB, more than the 256 KiB a plan may have$/,
    unreadable: true,
  },
  '100,000 keys': {
    file: () => planFile(manyKeys(100_000)),
    first: /^: it is 966\.8 KiB, more than the 256 KiB/,
    unreadable: true,
  },
  '25,000 unknown keys': {
    file: () => planFile(manyKeys(25_000)),
    first: /^:46:1: unknown fields: k0, k1, k2, … and 24,997 more$/,
  },
  'raw control characters': {
    file: () => planFile(demoLine(7, '  owner: sre\u001b]0;owned\u0007')),
    first: /^:7:13: control character U\+001B is not allowed/,
  },
  'NUL bytes': {
    file: () => planFile(demoLine(7, '  owner: s\u0000\u0000')),
    first: /^:7:11: control character U\+0000/,
  },
  'binary garbage': {
    file: () => planFile(garbage(4096)),
    first: /^:\d+:\d+: not UTF-8 text \(a binary file\?\)$/,
  },
  'an empty file': { file: () => planFile(''), first: /^:1:1: / },
  'a second document': {
    file: () => planFile(`${demoText}---\n{}\n`),
    first: /^:45:1: a plan is one YAML document/,
  },
  'a FIFO': {
    file: () => {
      const fifo = join(work, `fifo-${files++}.yaml`);
      execFileSync('mkfifo', [fifo]);
      return fifo;
    },
    first: /^: it is a FIFO, not a regular file$/,
    unreadable: true,
  },
  '/dev/zero': { file: () => '/dev/zero', first: /^: it is a device, not a regular file$/, unreadable: true },
  'a directory': { file: () => work, first: /^: it is a directory, not a regular file$/, unreadable: true },
  'a missing file': { file: () => join(work, 'missing.yaml'), first: /^: no such file$/, unreadable: true },
};

describe('hostile plans through the CLI: every YAML construct, and files that are not plans', () => {
  for (const [what, construct] of Object.entries(constructs)) {
    it(`${what}: exit 2, one line per error, the same from validate, run --dry-run and run`, async () => {
      const file = construct.file();
      const validate = assertPlanErrors(await cli('validate', file), file, construct.unreadable);
      const prefix = construct.unreadable ? `cannot read ${file}` : file;
      assert.match(validate[0]?.slice(prefix.length) ?? '', construct.first, validate.join('\n'));
      // One loader for every command: the same lines, before anything connects to Temporal.
      assert.deepEqual(
        assertPlanErrors(await cli('run', '--dry-run', file), file, construct.unreadable),
        validate,
      );
      assert.deepEqual(assertPlanErrors(await cli('run', file), file, construct.unreadable), validate);
    });
  }

  it('the real CLI process exits 2 with the same lines (a handful of cases)', () => {
    for (const what of [
      'an alias bomb (billion laughs)',
      'an undefined alias',
      'deep nesting',
      'a FIFO',
      '/dev/zero',
    ]) {
      const construct = constructs[what];
      assert.ok(construct);
      const file = construct.file();
      const result = spawnSync(process.execPath, [cliPath, 'validate', file], {
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, NO_COLOR: '1' },
      });
      const lines = result.stderr.trimEnd().split('\n');
      assertPlanErrors(
        { code: result.status ?? -1, stdout: result.stdout, lines },
        file,
        construct.unreadable,
      );
    }
  });
});
