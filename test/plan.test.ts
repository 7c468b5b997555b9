import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { CliError, exitCodes } from '../client/exitCodes';
import { describePlan } from '../client/gameDays';
import { projectRoot } from '../client/paths';
import { escapeControlCharacters } from '../plan/controlCharacters';
import { formatPlanError, loadPlanFile, maxPlanBytes, parsePlan } from '../plan/load';
import { planJsonSchema } from '../plan/schema';
import { selectTargets } from '../plan/selection';
import { resolvePlan } from '../activities/resolve';
import { faultKinds, type FaultKindName } from '../activities/faults/registry';
import { unboundedIn } from './support/jsonSchemaBounds';

const demoText = readFileSync(join(projectRoot, 'examples', 'demo.yaml'), 'utf8');

function errorsOf(text: string): string[] {
  const result = parsePlan(text, 'plan.yaml');
  assert.equal(result.ok, false, 'the plan should be rejected');
  return result.ok ? [] : result.errors.map(formatPlanError);
}

describe('plan files', () => {
  it('the example plan is valid, with durations in milliseconds and defaults applied', () => {
    const result = parsePlan(demoText, 'demo.yaml');
    assert.ok(result.ok);
    assert.equal(result.plan.observation.window, 5000);
    assert.equal(result.plan.checks[1]?.expect, 'fail');
    assert.deepEqual(result.plan.faults[0]?.select, { mode: 'all' });
    assert.match(result.digest, /^[0-9a-f]{16}$/);
  });

  it('reports every error with file:line:col and the field path', () => {
    const text = `apiVersion: gameday.dev/v1alpha1
kind: GameDay
metadata:
  name: Bad_Name
  owner: me
targets:
  box:
    local: {}
checks:
  - name: up
    when: [before]
    http: { url: 'ftp://x', timeout: 10 }
faults:
  - name: pause
    kind: process-pause
    target: nowhere
    params:
      pidfile: relative.pid
      colour: red
  - name: zap
    kind: process-explode
    target: box
observation:
  window: forever
`;
    const errors = errorsOf(text);
    const expected = [
      /^plan\.yaml:4:9: metadata\.name: must be lower-case/,
      /^plan\.yaml:12:18: checks\[0\]\.http\.url: must be an http:\/\/ or https:\/\/ URL/,
      /^plan\.yaml:12:38: checks\[0\]\.http\.timeout: must be text, not a number$/,
      /^plan\.yaml:18:16: faults\[0\]\.params\.pidfile: must be an absolute path/,
      /^plan\.yaml:19:7: faults\[0\]\.params: unknown field: colour/,
      /^plan\.yaml:21:11: faults\[1\]\.kind: /,
      /^plan\.yaml:24:11: observation\.window: must be a duration/,
    ];
    for (const pattern of expected) {
      assert.ok(
        errors.some((line) => pattern.test(line)),
        `expected ${pattern} in:\n${errors.join('\n')}`,
      );
    }
  });

  it('says what is wrong in plain words: a misspelled key gets a suggestion, never a raw zod phrase', () => {
    const text = `apiVersion: gameday.dev/v1alpha1
kind: GameDay
metadata: { name: words, owner: tests }
targets: { box: { local: {} } }
checks:
  - name: c
    when: [before, sometimes]
    http: { url: 'http://127.0.0.1:1/' }
observation: { window: 5s, sampleIntervall: 1s }
`;
    assert.deepEqual(errorsOf(text), [
      'plan.yaml:1:1: faults: is missing: give a list',
      'plan.yaml:7:20: checks[0].when[1]: must be one of before, during, after',
      'plan.yaml:9:28: observation: unknown field: sampleIntervall (did you mean sampleInterval?)',
    ]);
    const far = errorsOf(text.replace('sampleIntervall', 'colour'));
    assert.ok(
      far.includes('plan.yaml:9:28: observation: unknown field: colour'),
      'no far-fetched suggestion',
    );
    for (const line of [...errorsOf(text), ...far]) {
      assert.doesNotMatch(line, /Invalid input|Too small|Too big|Invalid option|received/);
    }
  });

  it('names an undefined target group and the groups that exist', () => {
    const text = demoText.replace('target: this-machine', 'target: elsewhere');
    const errors = errorsOf(text);
    assert.equal(errors.length, 1);
    assert.match(
      errors[0] ?? '',
      /faults\[0\]\.target: target group "elsewhere" is not defined under targets \(defined: this-machine\)/,
    );
  });

  it('reports YAML syntax errors with their position', () => {
    const errors = errorsOf('apiVersion: [unclosed\nkind: GameDay\n');
    assert.match(errors[0] ?? '', /^plan\.yaml:\d+:\d+: /);
  });

  it('rejects duplicate check and fault names', () => {
    const text = demoText.replace('name: service-unresponsive-while-paused', 'name: service-healthy');
    assert.match(errorsOf(text).join('\n'), /checks\[1\]\.name: check name "service-healthy" is used twice/);
  });

  it('a check needs exactly one probe', () => {
    const text = demoText.replace(
      '    http:\n      url: http://127.0.0.1:18181/health\n      timeout: 500ms',
      '    tcp: { host: 127.0.0.1, port: 1 }\n    http:\n      url: http://127.0.0.1:18181/health\n      timeout: 500ms',
    );
    assert.match(errorsOf(text).join('\n'), /give exactly one probe: http, tcp, command/);
  });

  it('enforces bounds on parameters', () => {
    const text = demoText.replace('window: 5s', 'window: 48h');
    assert.match(errorsOf(text).join('\n'), /observation\.window: must be at most 24h/);
  });
});

/** The demo plan with line `number` (1-based) replaced, or with `insert` lines put before it. */
function demoWithLine(number: number, line: string, mode: 'replace' | 'insert' = 'replace'): string {
  const lines = demoText.split('\n');
  lines.splice(number - 1, mode === 'replace' ? 1 : 0, line);
  return lines.join('\n');
}

describe('YAML problems are plan errors, each at its line and column', () => {
  it('a tab used as indentation, where it is', () => {
    assert.deepEqual(errorsOf(demoWithLine(7, '\towner: sre-demo')), [
      'plan.yaml:7:1: Tabs are not allowed as indentation',
    ]);
  });

  it('a duplicate key, at the second one, naming the first', () => {
    assert.deepEqual(errorsOf(demoWithLine(37, '      pidfile: /tmp/other.pid', 'insert')), [
      'plan.yaml:37:7: key "pidfile" is given twice (first at 36:7)',
    ]);
  });

  it('an unclosed flow collection or quoted string, at its opening', () => {
    assert.deepEqual(errorsOf(demoWithLine(16, '    when: [before, after')), [
      'plan.yaml:16:11: this [ is never closed with ]',
    ]);
    assert.deepEqual(errorsOf(demoWithLine(12, '    local: { a: 1')), [
      'plan.yaml:12:12: this { is never closed with }',
    ]);
    assert.deepEqual(errorsOf(demoWithLine(7, '  owner: "sre-demo')), [
      'plan.yaml:7:10: this " string is never closed',
    ]);
  });

  it('an alias without an anchor, and one inside the value it names', () => {
    assert.deepEqual(errorsOf(demoWithLine(7, '  owner: *nope')), [
      'plan.yaml:7:10: alias *nope has no anchor &nope before it',
    ]);
    assert.deepEqual(errorsOf(demoWithLine(12, '    local: &loop { again: *loop }')), [
      'plan.yaml:12:27: alias *loop is inside the value it names',
    ]);
  });

  it('aliases that expand exponentially (billion laughs), at the alias that crosses the bound', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const name of 'bcdefghi') {
      const previous = String.fromCharCode(name.charCodeAt(0) - 1);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(', ')}]`);
    }
    const errors = errorsOf(`${levels.join('\n')}\n`);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0] ?? '', /^plan\.yaml:5:\d+: aliases expand to more than 10,000 values here/);
  });

  it('aliases are fine for reuse', () => {
    const text = demoText
      .replace(
        'url: http://127.0.0.1:18181/health\n      status',
        'url: &health http://127.0.0.1:18181/health\n      status',
      )
      .replace(
        'url: http://127.0.0.1:18181/health\n      timeout: 500ms',
        'url: *health\n      timeout: 500ms',
      );
    assert.ok(text.includes('*health'));
    assert.ok(parsePlan(text, 'plan.yaml').ok);
  });

  it('nesting deep enough to overflow the stack, where it passes the bound', () => {
    assert.deepEqual(errorsOf(`owner: ${'['.repeat(100_000)}`), [
      'plan.yaml:1:39: nested more than 32 levels deep',
    ]);
    assert.deepEqual(errorsOf(`${'- '.repeat(50_000)}x`), [
      'plan.yaml:1:65: nested more than 32 levels deep',
    ]);
    // The top map, 3 brackets and a's 30 are 34 collections: too deep, where the alias brings a's in.
    const chain = [`a: &a ${'['.repeat(30)}x${']'.repeat(30)}`, 'b: [[[*a]]]', ''];
    assert.deepEqual(errorsOf(chain.join('\n')), [
      'plan.yaml:2:7: nested more than 32 levels deep once aliases are expanded',
    ]);
  });

  it('control characters and NUL bytes in the file, where they are', () => {
    assert.deepEqual(errorsOf(demoWithLine(7, '  owner: sre\u0000demo')), [
      'plan.yaml:7:13: control character U+0000 is not allowed in a plan (a binary file?)',
    ]);
    assert.deepEqual(errorsOf(demoWithLine(8, '  description: \u001b]0;pwned\u0007')), [
      'plan.yaml:8:16: control character U+001B is not allowed in a plan (a binary file?)',
    ]);
  });

  it('a second document, collection keys, unknown tags', () => {
    assert.deepEqual(errorsOf(`${demoText}\n---\nkind: GameDay\n`), [
      'plan.yaml:46:1: a plan is one YAML document, and a second one starts here',
    ]);
    assert.deepEqual(errorsOf(demoWithLine(12, '    ? [local]\n    : {}')), [
      'plan.yaml:12:7: a key must be a plain name, not a collection or alias',
    ]);
    assert.match(
      errorsOf(demoWithLine(7, '  owner: !secret sre'))[0] ?? '',
      /^plan\.yaml:7:10: Unresolved tag: !secret/,
    );
  });

  it('checks duplicate keys in linear time and names a few unknown keys, counting the rest', () => {
    // As many keys as fit in a plan file: the library's own check (every pair compared) took about 9 s for these.
    const keys = (count: number) => Array.from({ length: count }, (_, i) => `k${i}: 1`).join('\n');
    let started = performance.now();
    const errors = errorsOf(`${demoText}\n${keys(25_000)}\n`);
    let seconds = (performance.now() - started) / 1000;
    assert.deepEqual(errors, ['plan.yaml:46:1: unknown fields: k0, k1, k2, … and 24,997 more']);
    assert.ok(seconds < 5, `took ${seconds.toFixed(1)} s`);

    started = performance.now();
    assert.match(
      errorsOf(`${demoText}\n${keys(100_000)}\n`)[0] ?? '',
      /^cannot read plan\.yaml: it is 966\.8 KiB, more/,
    );
    seconds = (performance.now() - started) / 1000;
    assert.ok(seconds < 1, `took ${seconds.toFixed(1)} s`);
  });

  it('shows at most 50 errors, then counts the rest on one line', () => {
    const errors = errorsOf(`${Array.from({ length: 100 }, (_, i) => `k${i}: *nope`).join('\n')}\n`);
    assert.equal(errors.length, 51);
    assert.equal(errors[49], 'plan.yaml:50:6: alias *nope has no anchor &nope before it');
    assert.equal(errors[50], 'plan.yaml:51:6: … and 50 more errors from here on');
  });
});

describe('plan files are read within bounds', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gameday-plan-files-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The errors for a file, failing (instead of hanging) when reading it takes more than 5 s. */
  async function fileErrors(file: string): Promise<string[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`reading ${file} took more than 5 s`)), 5000);
    });
    try {
      const result = await Promise.race([loadPlanFile(file), timeout]);
      assert.equal(result.ok, false, 'the file should be refused');
      return result.ok ? [] : result.errors.map(formatPlanError);
    } finally {
      clearTimeout(timer);
    }
  }

  it('a missing file, a directory, a FIFO and a device are refused by name, without reading them', async () => {
    const fifo = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    assert.deepEqual(await fileErrors(join(dir, 'plan.yaml')), [
      `cannot read ${dir}/plan.yaml: no such file`,
    ]);
    assert.deepEqual(await fileErrors(dir), [`cannot read ${dir}: it is a directory, not a regular file`]);
    assert.deepEqual(await fileErrors(fifo), [`cannot read ${fifo}: it is a FIFO, not a regular file`]);
    assert.deepEqual(await fileErrors('/dev/zero'), [
      'cannot read /dev/zero: it is a device, not a regular file',
    ]);
  });

  it('a file over the size limit, naming its size and the limit; the same for text', async () => {
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `owner: ${'x'.repeat(20 * 1024 * 1024)}\n`);
    assert.deepEqual(await fileErrors(big), [
      `cannot read ${big}: it is 20.0 MiB, more than the 256 KiB a plan may have`,
    ]);
    assert.deepEqual(errorsOf(`owner: ${'x'.repeat(maxPlanBytes)}`), [
      'cannot read plan.yaml: it is 256.0 KiB, more than the 256 KiB a plan may have',
    ]);
  });

  it('bytes that are not UTF-8, where they are', async () => {
    const binary = join(dir, 'binary.yaml');
    writeFileSync(
      binary,
      Buffer.concat([Buffer.from('apiVersion: x\nkind: ab'), Buffer.from([0xff, 0xfe, 0x00])]),
    );
    assert.deepEqual(await fileErrors(binary), [`${binary}:2:9: not UTF-8 text (a binary file?)`]);
  });
});

describe('values that reach host commands', () => {
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
  const base = parsePlan(demoText, 'demo.yaml');
  assert.ok(base.ok);

  function withFault(params: Record<string, unknown>, kind = 'process-pause') {
    const document = { ...(JSON.parse(JSON.stringify(parse(demoText))) as Record<string, unknown>) };
    document.faults = [{ name: 'f', kind, target: 'this-machine', params }];
    return parsePlan(stringify(document), 'fuzz.yaml');
  }

  for (const bad of metacharacters) {
    it(`rejects ${JSON.stringify(bad)} in pidfile, pattern, restart argv and command argv`, () => {
      assert.equal(withFault({ pidfile: `/run/a${bad}b.pid` }).ok, false, 'pidfile');
      if (!['$(', '$'].includes(bad))
        assert.equal(withFault({ pattern: `java ${bad} kafka` }).ok, false, 'pattern');
      assert.equal(
        withFault({ pidfile: '/run/a.pid', restart: { argv: ['/bin/app', `--x${bad}`] } }, 'process-kill').ok,
        false,
        'argv',
      );
      const document = parse(demoText) as { checks: Record<string, unknown>[] };
      document.checks = [{ name: 'c', when: ['before'], command: { argv: ['echo', `a${bad}b`] } }];
      assert.equal(parsePlan(stringify(document), 'fuzz.yaml').ok, false, 'command argv');
    });
  }

  it('rejects shell metacharacters in SSH host names', () => {
    for (const bad of ['kafka-1;reboot', 'db$(id)', 'a b', 'UPPER', '-dash']) {
      const document = parse(demoText) as Record<string, unknown>;
      document.targets = { brokers: { ssh: { hosts: [bad] } } };
      document.faults = [
        { name: 'f', kind: 'process-pause', target: 'brokers', params: { pidfile: '/run/k.pid' } },
      ];
      assert.equal(parsePlan(stringify(document), 'fuzz.yaml').ok, false, bad);
    }
  });

  it('rejects ".." in paths', () => {
    assert.equal(withFault({ pidfile: '/run/../etc/passwd' }).ok, false);
  });
});

describe('paths are normalised before any rule sees them', () => {
  const paramsOf = (kind: FaultKindName, params: Record<string, unknown>) =>
    faultKinds[kind].params.safeParse(params);
  const throttle = (cgroup: string) =>
    paramsOf('io-throttle', { device: '/dev/vdb', cgroup, writeBps: '2M' });

  it('io-throttle refuses the root cgroup however it is written', () => {
    for (const root of ['/', '/.', '//', '/./', '///.//']) {
      const parsed = throttle(root);
      assert.equal(parsed.success, false, root);
      assert.match(parsed.error?.issues[0]?.message ?? '', /must not be the root cgroup/, root);
    }
    assert.match(throttle('/a/..').error?.issues[0]?.message ?? '', /must not contain "\.\." segments/);
    assert.equal(
      (throttle('/system.slice/').data as { cgroup?: string } | undefined)?.cgroup,
      '/system.slice',
    );
  });

  it('every path field of every kind is normalised', () => {
    const normalised = (kind: FaultKindName, params: Record<string, unknown>) => {
      const parsed = paramsOf(kind, params);
      assert.ok(parsed.success, `${kind}: ${parsed.error?.message ?? ''}`);
      return parsed.data as Record<string, unknown>;
    };
    assert.equal(normalised('process-pause', { pidfile: '//run//kafka.pid' }).pidfile, '/run/kafka.pid');
    assert.equal(
      (
        normalised('process-kill', { pattern: 'java kafka', restart: { cwd: '/opt/kafka/./' } }).restart as {
          cwd: string;
        }
      ).cwd,
      '/opt/kafka',
    );
    assert.equal(normalised('disk-fill', { path: '/var/lib/kafka/', percent: 90 }).path, '/var/lib/kafka');
    assert.equal(
      (normalised('stress', { io: { path: '/var//tmp/.' } }).io as { path: string }).path,
      '/var/tmp',
    );
    const device = (value: string) =>
      paramsOf('io-throttle', { device: value, cgroup: '/a', writeBps: '2M' });
    assert.equal((device('/dev//vdb/').data as { device?: string } | undefined)?.device, '/dev/vdb');
    assert.equal((device('8:16').data as { device?: string } | undefined)?.device, '8:16');
    assert.match(device('/dev/.').error?.issues[0]?.message ?? '', /must be a device under \/dev/);
    assert.match(
      device('/dev/../etc/passwd').error?.issues[0]?.message ?? '',
      /must not contain "\.\." segments/,
    );
  });
});

describe('JSON Schema', () => {
  it('documents every fault kind and its parameters', () => {
    const schema = JSON.stringify(planJsonSchema());
    assert.match(schema, /process-pause/);
    assert.match(schema, /process-kill/);
    assert.match(schema, /pidfile/);
    assert.match(schema, /breachAfter/);
  });

  it('bounds every string, list and map of a plan, so that a field added later cannot escape', () => {
    assert.deepEqual(
      unboundedIn(
        z.toJSONSchema(
          z.object({ s: z.string(), l: z.array(z.number()), m: z.record(z.string(), z.number()) }),
        ),
      ),
      [
        '/s: string without maxLength',
        '/l: list without maxItems',
        '/m: map without maxProperties',
        '/m/propertyNames: string without maxLength',
      ],
      'the walk finds what is unbounded',
    );
    assert.deepEqual(unboundedIn(planJsonSchema()), []);
  });
});

/** A YAML double-quoted string with every control character escaped (`\x1b`), so that none is in the file. */
function yamlQuoted(text: string): string {
  return `"${escapeControlCharacters(text.replace(/["\\]/g, '\\$&'), { singleLine: true })}"`;
}

describe('lengths and characters of plan values', () => {
  const huge = 'a'.repeat(100_000);

  it('refuses 100,000-character paths, patterns, arguments and names', () => {
    const faults = [
      { name: 'f', kind: 'process-pause', target: 'this-machine', params: { pidfile: `/${huge}` } },
      { name: 'f', kind: 'process-kill', target: 'this-machine', params: { pattern: `java ${huge}` } },
      {
        name: 'f',
        kind: 'process-kill',
        target: 'this-machine',
        params: { pidfile: '/run/a.pid', restart: { argv: ['/bin/app', huge] } },
      },
    ];
    const checks = [
      { name: 'c', when: ['before'], command: { argv: ['echo', huge] } },
      { name: 'c', when: ['before'], command: { argv: ['echo'], outputMatches: huge } },
      { name: huge, when: ['before'], command: { argv: ['echo'] } },
    ];
    const plans = [
      ...faults.map((fault) => ({ ...(parse(demoText) as Record<string, unknown>), faults: [fault] })),
      ...checks.map((check) => ({ ...(parse(demoText) as Record<string, unknown>), checks: [check] })),
    ];
    const paths = [
      'faults[0].params.pidfile',
      'faults[0].params.pattern',
      'faults[0].params.restart.argv[1]',
      'checks[0].command.argv[1]',
      'checks[0].command.outputMatches',
      'checks[0].name',
    ];
    plans.forEach((document, i) => {
      const errors = errorsOf(stringify(document)).join('\n');
      assert.match(
        errors,
        new RegExp(`${(paths[i] ?? '').replace(/[[\].]/g, '\\$&')}: must be at most \\d+ characters`),
      );
    });
  });

  it('refuses control characters in free text; newlines and tabs only where text has lines', () => {
    for (const bad of ['\u001b]0;pwned\u0007', '\u001b[2K', 'a\u009bb', 'a\u0000b', 'a\rb']) {
      const errors = errorsOf(demoText.replace('owner: sre-demo', `owner: ${yamlQuoted(`sre${bad}`)}`));
      assert.deepEqual(errors, [
        'plan.yaml:7:10: metadata.owner: must be one line without control characters',
      ]);
      assert.ok(!errors[0]?.includes('\u001b'), 'the error shows no control character');
    }
    const text = (description: string) =>
      demoText.replace(/description: Freeze.*/, `description: ${yamlQuoted(description)}`);
    assert.ok(parsePlan(text('two\nlines\tand a tab'), 'plan.yaml').ok);
    assert.deepEqual(errorsOf(text('a bell\u0007')), [
      'plan.yaml:8:16: metadata.description: must not contain control characters (newlines and tabs are fine)',
    ]);
  });
});

describe('blast radius', () => {
  const targets = Array.from({ length: 10 }, (_, i) => ({ name: `host-${i}` }));

  it('is deterministic for a seed and independent of input order', () => {
    const a = selectTargets(targets, { mode: 'fixed', count: 3 }, 7);
    const b = selectTargets([...targets].reverse(), { mode: 'fixed', count: 3 }, 7);
    assert.deepEqual(a, b);
    assert.equal(a.length, 3);
    assert.notDeepEqual(selectTargets(targets, { mode: 'fixed', count: 3 }, 8), a);
  });

  it('sizes one / all / percent, and refuses more than exist', () => {
    assert.equal(selectTargets(targets, { mode: 'one' }, 1).length, 1);
    assert.equal(selectTargets(targets, { mode: 'all' }, 1).length, 10);
    assert.equal(selectTargets(targets, { mode: 'percent', percent: 25 }, 1).length, 3);
    assert.equal(selectTargets(targets, { mode: 'percent', percent: 1 }, 1).length, 1);
    assert.throws(
      () => selectTargets(targets, { mode: 'fixed', count: 11 }, 1),
      /asks for 11 target\(s\) but only 10 exist/,
    );
  });

  it('validation refuses a fixed count larger than the group, as resolve would', () => {
    const selected = (select: string) =>
      demoText.replace('    target: this-machine\n', `    target: this-machine\n    select: ${select}\n`);
    assert.deepEqual(errorsOf(selected('{ mode: fixed, count: 2 }')), [
      `plan.yaml:35:35: faults[0].select.count: asks for 2 targets, but group "this-machine" has 1 (local: the worker's own machine)`,
    ]);
    assert.ok(parsePlan(selected('{ mode: fixed, count: 1 }'), 'plan.yaml').ok);
    const document = parse(demoText) as { targets: unknown; faults: { target: string; select?: unknown }[] };
    document.targets = { brokers: { ssh: { hosts: ['kafka-1', 'kafka-2'] } } };
    for (const fault of document.faults) fault.target = 'brokers';
    const withCount = (count: number) => {
      for (const fault of document.faults) fault.select = { mode: 'fixed', count };
      return stringify(document);
    };
    assert.ok(parsePlan(withCount(2), 'plan.yaml').ok);
    assert.match(
      errorsOf(withCount(3))[0] ?? '',
      /select\.count: asks for 3 targets, but group "brokers" has 2$/,
    );
    document.targets = { brokers: { ssh: { hosts: ['kafka-1', 'kafka-2', 'kafka-1'] } } };
    assert.match(
      errorsOf(withCount(1))[0] ?? '',
      /targets\.brokers\.ssh\.hosts\[2\]: kafka-1 is named twice$/,
    );
  });

  it('a dry run turns what resolve refuses into one line and exit 2, never a stack trace', () => {
    const parsed = parsePlan(demoText, 'demo.yaml');
    assert.ok(parsed.ok);
    // A plan that skipped validation (a bug, or a newer resolve rule): the dry run still says it in one line.
    const plan = {
      ...parsed.plan,
      faults: parsed.plan.faults.map((f) => ({ ...f, select: { mode: 'fixed' as const, count: 2 } })),
    };
    assert.throws(
      () => describePlan(plan),
      (error: unknown) =>
        error instanceof CliError &&
        error.exitCode === exitCodes.usage &&
        error.message ===
          'plan demo-pause cannot be resolved: fault pause-service on group this-machine: asks for 2 target(s) but only 1 exist',
    );
  });

  it('resolve refuses local targets when the worker does not allow them, naming the group and the fix', () => {
    const parsed = parsePlan(demoText, 'demo.yaml');
    assert.ok(parsed.ok);
    assert.throws(
      () => resolvePlan({ allowLocalTargets: false }, { plan: parsed.plan, seed: 1, tag: 't' }),
      /target group "this-machine" acts on the worker's own machine.*local\.enabled: true/,
    );
    const resolved = resolvePlan({ allowLocalTargets: true }, { plan: parsed.plan, seed: 1, tag: 't' });
    assert.equal(
      resolved.steps[0]?.inject,
      'pause pidfile /tmp/gameday-demo/demo-service.pid on local (SIGSTOP)',
    );
  });
});

describe('target groups with via (workers per network zone)', () => {
  const zoned = (west: string, checks = '') => `apiVersion: gameday.dev/v1alpha1
kind: GameDay
metadata: { name: zones, owner: sre }
targets:
  east: { ssh: { hosts: [kafka-1] } }
  west: ${west}
checks:${checks || ' []'}
faults:
  - { name: slow, kind: network-bandwidth, target: west, params: { interface: eth0, rate: 1mbit } }
observation: { window: 5s }
`;

  it('via is a task queue name; resolve stamps it on every target of its group, and only there', () => {
    const parsed = parsePlan(zoned('{ ssh: { hosts: [kafka-2] }, via: dc-west.zone_2 }'), 'plan.yaml');
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.map(formatPlanError).join('\n'));
    assert.equal(
      parsed.plan.zoneWorkers,
      undefined,
      'no zoneWorkers unless written (default 3m in the workflow)',
    );
    const resolved = resolvePlan({ allowLocalTargets: false }, { plan: parsed.plan, seed: 1, tag: 't' });
    assert.deepEqual(resolved.steps[0]?.target, {
      group: 'west',
      kind: 'ssh',
      name: 'kafka-2',
      via: 'dc-west.zone_2',
    });
    for (const bad of ['"dc west"', "'-west'", '"dc;rm"', 'x'.repeat(64), '"/_sys/x"']) {
      const errors = errorsOf(zoned(`{ ssh: { hosts: [kafka-2] }, via: ${bad} }`));
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.match(errors[0] ?? '', /targets\.west\.via: must be (a task queue name|at most 63 characters)/);
    }
  });

  it('a host has one zone; a check sampled during the window may not run on a zone host', () => {
    assert.deepEqual(errorsOf(zoned('{ ssh: { hosts: [kafka-1] }, via: dc-west }')), [
      'plan.yaml:6:26: targets.west.ssh.hosts[0]: kafka-1 is reached via dc-west here and the main queue in ' +
        'group "east": a host has one zone, give both groups the same via',
    ]);
    const check = (when: string) => `
  - { name: west-up, when: [${when}], on: kafka-2, tcp: { host: 10.0.0.2, port: 22 } }`;
    const west = '{ ssh: { hosts: [kafka-2] }, via: dc-west }';
    assert.ok(parsePlan(zoned(west, check('before, after')), 'plan.yaml').ok);
    assert.deepEqual(errorsOf(zoned(west, check('during'))), [
      'plan.yaml:8:42: checks[0].on: west-up is sampled during the window on kafka-2, which only workers of ' +
        'queue dc-west reach: the window is observed from the main queue, so run it before/after only',
    ]);
    const bound = errorsOf(
      zoned(west).replace('observation:', 'zoneWorkers: { startWithin: 2h }\nobservation:'),
    );
    assert.match(bound.join('\n'), /zoneWorkers\.startWithin: must be at most 1h/);
  });
});
