import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { projectRoot } from '../client/paths';
import { formatPlanError, parsePlan } from '../plan/load';
import { planJsonSchema } from '../plan/schema';
import { selectTargets } from '../plan/selection';
import { resolvePlan } from '../activities/resolve';

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
      /^plan\.yaml:12:38: checks\[0\]\.http\.timeout: .*expected string/i,
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

describe('JSON Schema', () => {
  it('documents every fault kind and its parameters', () => {
    const schema = JSON.stringify(planJsonSchema());
    assert.match(schema, /process-pause/);
    assert.match(schema, /process-kill/);
    assert.match(schema, /pidfile/);
    assert.match(schema, /breachAfter/);
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
