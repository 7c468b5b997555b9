// The deployable stack's worker image: the Dockerfile's two stages built against a Node base image made offline
// (deploy/docker/offline-base.sh: debootstrap + docker import, as no image can be pulled here), then its worker
// command run with docker-compose.yml's environment and worker configuration against the suite's dev server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { temporal as proto } from '@temporalio/proto';
import { projectRoot } from '../client/paths';
import { freePort } from '../worker/ports';
import { runCli } from './support/cli';
import { bindMounts, repo, service } from './support/compose';
import { dockerClient, startTestDocker, type TestDocker } from './support/docker';
import { startTestTemporal, uniqueTaskQueue, type TestTemporal } from './support/temporal';
import { waitFor } from './support/wait';

const run = promisify(execFile);

describe('the worker image: Dockerfile built against a base made offline, run as compose runs it', () => {
  const baseImage = 'gameday-base:offline';
  let docker: TestDocker;
  let temporal: TestTemporal;
  let image: string;
  let container: string;
  const taskQueue = uniqueTaskQueue('stack');
  let metricsPort: number;

  before(async () => {
    docker = await startTestDocker();
    temporal = await startTestTemporal();
    image = `${docker.name('gameday-worker')}:test`;
    container = docker.name('worker');
    metricsPort = await freePort();
  });
  after(async () => {
    await docker?.docker('rm', '-f', container).catch(() => undefined);
    await docker?.docker('rmi', '-f', image).catch(() => undefined);
    await temporal?.stop();
    await docker?.stop();
  });

  it(
    'has the offline base (deploy/docker/offline-base.sh: debootstrap once, then docker import)',
    { timeout: 600_000 },
    async () => {
      const started = Date.now();
      await run('bash', [repo('deploy/docker/offline-base.sh'), baseImage], { timeout: 600_000 });
      process.stderr.write(`[stack] offline base ready in ${Math.round((Date.now() - started) / 1000)} s\n`);
      assert.match(
        await docker.docker('run', '--rm', '--network', 'none', baseImage, 'node', '--version'),
        /^v20\./,
      );
    },
  );

  it('builds both stages of the Dockerfile with BASE set to it', { timeout: 600_000 }, async () => {
    const started = Date.now();
    // BuildKit (Debian's docker 20.10 client has it built in); the host network so npm ci reaches the registry
    // (the daemon runs with --bridge=none).
    await run(
      dockerClient,
      ['build', '--network', 'host', '--build-arg', `BASE=${baseImage}`, '-t', image, projectRoot],
      { env: { ...process.env, DOCKER_BUILDKIT: '1' }, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 },
    );
    process.stderr.write(`[stack] image built in ${Math.round((Date.now() - started) / 1000)} s\n`);
  });

  it(
    "its worker command, configured as compose configures it, polls the dev server's task queue",
    { timeout: 120_000 },
    async () => {
      const worker = service('worker');
      const mounts = bindMounts('worker').flatMap(({ host, container: path }) => [
        '-v',
        `${host}:${path}:ro`,
      ]);
      // Compose's environment, but this dev server, a task queue of this suite and a free metrics port (the host
      // network is shared with everything else on this machine).
      const environment = {
        ...worker.environment,
        TEMPORAL_ADDRESS: temporal.server.address,
        GAMEDAY_TASK_QUEUE: taskQueue,
        GAMEDAY_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
      };
      const env = Object.entries(environment).flatMap(([key, value]) => ['-e', `${key}=${value}`]);
      await docker.docker(
        'run',
        '-d',
        '--name',
        container,
        '--network',
        'host',
        ...env,
        ...mounts,
        image,
        ...(worker.command ?? []),
      );
      await waitFor(
        'the container worker to log that it polls',
        async () => (await run(dockerClient, ['logs', container])).stdout.includes('gameday worker polling'),
        60_000,
      );
      for (const taskQueueType of [
        proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      ]) {
        const pollers = await waitFor(
          `pollers of ${taskQueue}`,
          async () => {
            const described = await temporal.client.workflowService.describeTaskQueue({
              namespace: temporal.server.namespace,
              taskQueue: { name: taskQueue },
              taskQueueType,
            });
            return described.pollers.length > 0 ? described.pollers : undefined;
          },
          30_000,
        );
        // The SDK's identity is pid@host: PID 1 is the container's node (this test process is not PID 1).
        assert.ok(
          pollers.some((poller) => poller.identity?.startsWith('1@')),
          JSON.stringify(pollers),
        );
      }
    },
  );

  it('runs it as a non-root user, with production dependencies only and no tests', async () => {
    // What npm's lock file marks dev-only (typescript, eslint, prettier, playwright-core and what only they
    // need) must be absent; every other package for this platform present (so the look-up itself is checked).
    const lock = JSON.parse(readFileSync(repo('package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean }>;
    };
    const installed = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
    const devOnly = installed.filter(([, entry]) => entry.dev === true).map(([path]) => path);
    const production = installed.filter(([, entry]) => !entry.dev && !entry.optional).map(([path]) => path);
    assert.ok(devOnly.includes('node_modules/typescript'));
    // Looked up in the running worker's container (as its user): each further `docker run` would copy the whole
    // image once more on vfs.
    const script = `
      const fs = require('fs');
      const has = (path) => fs.existsSync('/app/' + path);
      const writable = (path) => { try { fs.accessSync(path, fs.constants.W_OK); return true; } catch { return false; } };
      console.log(JSON.stringify({
        uid: process.getuid(),
        devPresent: ${JSON.stringify(devOnly)}.filter(has),
        productionMissing: ${JSON.stringify(production)}.filter((path) => !has(path)),
        tests: has('dist/test'),
        bundle: has('dist/workflow-bundle.js'),
        codeWritable: writable('/app/dist'),
      }));`;
    const seen = JSON.parse(await docker.docker('exec', container, 'node', '-e', script)) as Record<
      string,
      unknown
    >;
    assert.notEqual(seen.uid, 0);
    assert.equal(
      (await docker.docker('image', 'inspect', '--format', '{{.Config.User}}', image)).trim(),
      'node',
    );
    assert.deepEqual(
      { ...seen, uid: 'not root' },
      {
        uid: 'not root',
        devPresent: [],
        productionMissing: [],
        tests: false,
        bundle: true,
        codeWritable: false,
      },
    );
  });

  it('runs a janitor sweep (a workflow and its activities) for the CLI', { timeout: 120_000 }, async () => {
    const result = await runCli(
      ['--address', temporal.server.address, '--task-queue', taskQueue, 'janitor', '--json'],
      { timeoutMs: 90_000 },
    );
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { findings: unknown[]; failed: unknown[] };
    assert.deepEqual([report.findings, report.failed], [[], []]);
  });

  it("serves gameday's metrics, and compose's healthcheck passes inside the container", async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(text, /^gameday_faults_active\{/m);
    const [kind, ...command] = service('worker').healthcheck?.test ?? [];
    assert.equal(kind, 'CMD');
    const probe = command.map((arg) => arg.replace('127.0.0.1:9464', `127.0.0.1:${metricsPort}`));
    await docker.docker('exec', container, ...probe); // rejects on a non-zero exit
    const wrongPort = command.map((arg) => arg.replace('127.0.0.1:9464', '127.0.0.1:1'));
    await assert.rejects(docker.docker('exec', container, ...wrongPort));
  });

  it('stops on SIGTERM (docker stop) with exit code 0', { timeout: 120_000 }, async () => {
    await docker.docker('stop', '-t', '30', container);
    const { State } = await docker.inspect(container);
    assert.equal(State.Running, false);
    const exitCode = (await docker.docker('inspect', '--format', '{{.State.ExitCode}}', container)).trim();
    assert.equal(exitCode, '0', (await run(dockerClient, ['logs', container])).stderr.slice(-2000));
  });
});
