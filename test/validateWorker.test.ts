// `gameday validate --config worker.yaml`: plans checked against a worker's configuration by the CLI, with the
// worker's own resolve code. Nothing here needs a Temporal server: resolve asks only the configuration and, for
// Kubernetes groups, the clusters' API servers (here one that is not there).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { exitCodes } from '../client/exitCodes';
import { freePort } from '../worker/ports';
import { runCli } from './support/cli';
import { gameDayPlan } from './support/plans';

describe('gameday validate --config: a plan checked against a worker configuration, as its worker resolves it', () => {
  let dir: string;
  let config: string;
  const fingerprint = `SHA256:${'A'.repeat(43)}`;

  const write = (name: string, document: unknown): string => {
    const file = join(dir, name);
    writeFileSync(file, stringify(document));
    return file;
  };
  const validate = (...args: string[]) => runCli(['validate', ...args], { timeoutMs: 30_000 });
  const sshPlan = (name: string, overrides: Record<string, unknown> = {}) =>
    write(
      `${name}.yaml`,
      gameDayPlan({
        metadata: { name, owner: 'tests' },
        targets: { db: { ssh: { hosts: ['db-1'] } } },
        faults: [{ name: 'pause', kind: 'process-pause', target: 'db', params: { pidfile: '/run/db.pid' } }],
        ...overrides,
      }),
    );

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gameday-validate-'));
    writeFileSync(join(dir, 'key'), 'not read at resolve\n', { mode: 0o600 });
    // A kubeconfig whose API server is not there: a port nothing listens on.
    const kubeconfig = write('gone.kubeconfig', {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'gone', cluster: { server: `https://127.0.0.1:${await freePort()}` } }],
      users: [{ name: 'u', user: { token: 'x' } }],
      contexts: [{ name: 'gone', context: { cluster: 'gone', user: 'u' } }],
      'current-context': 'gone',
    });
    config = write('worker.yaml', {
      taskQueue: 'gameday-main',
      local: { enabled: false },
      ssh: {
        credentials: { key: { privateKeyFile: join(dir, 'key') } },
        hosts: {
          'db-1': { address: '192.0.2.10', credential: 'key', hostKey: { fingerprints: [fingerprint] } },
          'db-2': { address: '192.0.2.11', credential: 'key', hostKey: { insecureSkipVerify: true } },
        },
      },
      prometheus: { endpoints: { metrics: { url: 'http://127.0.0.1:9' } } },
      kubernetes: { contexts: { gone: { kubeconfig, namespaces: ['shop'] } } },
    });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a plan the worker would run is valid, with the targets it would act on', async () => {
    const result = await validate(sshPlan('fine'), '--config', config);
    assert.equal(result.code, exitCodes.passed, result.stderr);
    assert.match(
      result.stdout,
      /fine\.yaml: valid \(1 fault\(s\), 0 check\(s\)\); the worker of .*worker\.yaml would run it on db-1/,
    );
    assert.equal(result.stderr, '');
  });

  it('each thing the worker refuses at resolve is one line naming it, exit 2: host, check host, endpoint, local, context', async () => {
    const refusals: [string, Record<string, unknown>, RegExp][] = [
      [
        'rogue-host',
        { targets: { db: { ssh: { hosts: ['db-9'] } } } },
        /target group "db" names db-9, not in this worker's SSH inventory \(known: db-1, db-2\); add it to ssh\.hosts/,
      ],
      [
        'rogue-check',
        { checks: [{ name: 'probe', when: ['before'], on: 'db-7', command: { argv: ['true'] } }] },
        /check probe runs on db-7, not in this worker's SSH inventory/,
      ],
      [
        'rogue-endpoint',
        {
          checks: [
            {
              name: 'errors',
              when: ['before'],
              prometheus: { endpoint: 'thanos', query: 'up', condition: '>= 1' },
            },
          ],
        },
        /check errors queries Prometheus endpoint "thanos", which this worker does not know \(known: metrics\)/,
      ],
      [
        'rogue-local',
        {
          targets: { here: { local: {} } },
          faults: [
            { name: 'pause', kind: 'process-pause', target: 'here', params: { pidfile: '/run/x.pid' } },
          ],
        },
        /target group "here" acts on the worker's own machine, which this worker does not allow/,
      ],
      [
        'rogue-context',
        {
          targets: {
            web: { kubernetes: { context: 'prod', namespace: 'shop', selector: { labels: { app: 'web' } } } },
          },
          faults: [{ name: 'kill', kind: 'pod-delete', target: 'web', params: {} }],
        },
        /target group "web" names Kubernetes context "prod", which this worker does not have \(known: gone\)/,
      ],
    ];
    for (const [name, overrides, reason] of refusals) {
      const file = sshPlan(name, overrides);
      const result = await validate(file, '--config', config);
      assert.equal(result.code, exitCodes.usage, `${name}: ${result.stdout}${result.stderr}`);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `${name}: one line: ${result.stderr}`);
      assert.match(lines[0] ?? '', new RegExp(`^${file}: the worker of ${config} would refuse it: `));
      assert.match(lines[0] ?? '', reason, name);
      // Without --config the same file is a valid plan: the worker's configuration is what refuses it.
      assert.equal((await validate(file)).code, exitCodes.passed, name);
    }
  });

  it('a cluster that does not answer could not be checked: exit 1, said as such, never "valid"', async () => {
    const file = sshPlan('k8s-gone', {
      targets: {
        web: { kubernetes: { context: 'gone', namespace: 'shop', selector: { labels: { app: 'web' } } } },
      },
      faults: [{ name: 'kill', kind: 'pod-delete', target: 'web', params: {} }],
    });
    const result = await validate(file, '--config', config);
    assert.equal(result.code, exitCodes.error, result.stdout + result.stderr);
    assert.doesNotMatch(result.stdout, /valid/);
    assert.match(result.stderr, new RegExp(`^${file}: could not be checked against ${config}: .*`));
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  });

  it("groups of another task queue are left to that queue's workers and said so; its own queue's are checked", async () => {
    const zoned = (name: string, via: string, host: string) =>
      sshPlan(name, {
        targets: { db: { ssh: { hosts: ['db-1'] } }, west: { via, ssh: { hosts: [host] } } },
        faults: [
          { name: 'pause', kind: 'process-pause', target: 'db', params: { pidfile: '/run/db.pid' } },
          { name: 'pause-west', kind: 'process-pause', target: 'west', params: { pidfile: '/run/w.pid' } },
        ],
      });
    const elsewhere = await validate(zoned('zone-elsewhere', 'dc-west', 'west-1'), '--config', config);
    assert.equal(elsewhere.code, exitCodes.passed, elsewhere.stderr);
    assert.match(elsewhere.stdout, /would run it on db-1, west-1/);
    assert.match(
      elsewhere.stdout,
      /note: target group\(s\) west are resolved by the workers of task queue dc-west: validate with their --config too/,
    );
    // The same configuration as a dc-west worker (--task-queue) resolves group west itself, and refuses west-1.
    const own = await validate(
      zoned('zone-own', 'dc-west', 'west-1'),
      '--config',
      config,
      '--task-queue',
      'dc-west',
    );
    assert.equal(own.code, exitCodes.usage, own.stdout);
    assert.match(
      own.stderr,
      /a worker of task queue dc-west refused: target group "west" names west-1, not in this worker's SSH inventory/,
    );
  });

  it('an unverified host key is a note; a missing configuration is one line, exit 2', async () => {
    const warned = await validate(
      sshPlan('unverified', { targets: { db: { ssh: { hosts: ['db-2'] } } } }),
      '--config',
      config,
    );
    assert.equal(warned.code, exitCodes.passed, warned.stderr);
    assert.match(warned.stdout, /note: WARNING: the host key of db-2 is not verified/);
    const missing = await validate(sshPlan('fine'), '--config', join(dir, 'nope.yaml'));
    assert.equal(missing.code, exitCodes.usage);
    assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
    assert.match(missing.stderr, /cannot read worker configuration .*nope\.yaml: ENOENT/);
  });
});
