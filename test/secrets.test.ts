import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { NativeConnection, type Worker } from '@temporalio/worker';
import pino from 'pino';
import { renderReport } from '../client/render';
import { workerConfigSchema } from '../worker/config';
import { activityDepsFromConfig } from '../worker/activityDeps';
import { createGameDayWorker } from '../worker/createWorker';
import { freePort } from '../worker/ports';
import { installRuntime } from '../worker/runtime';
import { gameDayPlan } from './support/plans';
import { startTestService, type TestService } from './support/services';
import { startPlan, startTestTemporal, type TestTemporal, uniqueTaskQueue } from './support/temporal';
import { startTestPrometheus, TestExporter, waitForScrape, type TestPrometheus } from './support/prometheus';

// A password that URL-encodes differently from itself (space, "/", "@", ":", "%", "+"), so that each form it
// can take in a message is a different string to look for. The hash is bcrypt (cost 4) of it, for Prometheus.
const username = 'gameday';
const password = 'gd S3cr3t/p@ss:w0rd%+!';
const bcryptHash = '$2b$04$UM1GCCksyUb06O0Lspf71uayZhpzslOZLIfO..7lnbUfGs24YhPia';
const urlEncodedPassword = encodeURIComponent(password);
const basicToken = Buffer.from(`${username}:${password}`).toString('base64');
const bearerToken = 'gd-bearer-T0ken-9f8e7d6c5b4a';
const bearerEnv = 'GAMEDAY_TEST_SECRETS_BEARER';
const forbidden: Readonly<Record<string, string>> = {
  password,
  'the URL-encoded password': urlEncodedPassword,
  'base64(user:password)': basicToken,
  'the bearer token': bearerToken,
};

/** An error page that echoes the request's headers, as some proxies and debug servers do. */
async function startHeaderEcho(): Promise<{
  port: number;
  seen: IncomingHttpHeaders[];
  close(): Promise<void>;
}> {
  const seen: IncomingHttpHeaders[] = [];
  const server: Server = createServer((request, response) => {
    seen.push(request.headers);
    const lines = Object.entries(request.headers).map(([name, value]) => `${name}: ${String(value)}`);
    response.writeHead(500, { 'content-type': 'text/html' });
    // Long, as debug pages are: what a message keeps of it must be bounded.
    const trace = Array.from({ length: 100 }, (_, i) => `  at handler${i} (server.js:${i}:1)`).join('\n');
    response.end(`<html><body><pre>\n${lines.join('\n')}\n</pre><pre>${trace}</pre></body></html>`);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every forbidden form that occurs in `text`, by name. */
function leaks(text: string): string[] {
  return Object.entries(forbidden)
    .filter(([, secret]) => text.includes(secret))
    .map(([name]) => name);
}

describe('secrets stay out of workflow history, reports and logs (real Prometheus, dev server, worker)', () => {
  let exporter: TestExporter;
  let prometheus: TestPrometheus;
  let echo: Awaited<ReturnType<typeof startHeaderEcho>>;
  let temporal: TestTemporal;
  let service: TestService;
  let connection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;
  let closeDeps: () => Promise<void>;
  const taskQueue = uniqueTaskQueue('secrets');
  const logLines: string[] = [];

  before(async () => {
    // The worker logs (ours and the SDK's, which logs every failed activity) are captured to be searched.
    const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
    installRuntime(log);
    exporter = await TestExporter.start();
    exporter.set('gd_queue_depth', 10);
    prometheus = await startTestPrometheus({ exporter, basicAuth: { username, bcryptHash } });
    await waitForScrape(prometheus, 'gd_queue_depth', (v) => v[0] === 10, {
      authorization: `Basic ${basicToken}`,
    });
    echo = await startHeaderEcho();
    const nothingListens = await freePort();
    process.env[bearerEnv] = bearerToken;
    const withCredentials = (port: number) => `http://${username}:${urlEncodedPassword}@127.0.0.1:${port}`;
    const config = workerConfigSchema.parse({
      taskQueue,
      logLevel: 'info',
      prometheus: {
        endpoints: {
          secured: { url: withCredentials(prometheus.port) },
          nowhere: { url: withCredentials(nothingListens) },
          echo: { url: withCredentials(echo.port) },
          'echo-bearer': { url: `http://127.0.0.1:${echo.port}`, bearerTokenEnv: bearerEnv },
        },
      },
    });
    temporal = await startTestTemporal();
    service = await startTestService();
    connection = await NativeConnection.connect({ address: temporal.server.address });
    const deps = activityDepsFromConfig(config, log);
    closeDeps = () => deps.close();
    worker = await createGameDayWorker({ connection, namespace: temporal.server.namespace, taskQueue, deps });
    running = worker.run();
  });

  after(async () => {
    worker?.shutdown();
    await running;
    await closeDeps?.();
    await connection?.close();
    await service?.stop();
    await temporal?.stop();
    await echo?.close();
    await prometheus?.close();
    await exporter?.stop();
  });

  it('URL credentials, a refused connection and an error page echoing headers leave no secret behind', async () => {
    const query = (endpoint: string) => ({
      endpoint,
      query: 'gd_queue_depth',
      condition: '< 100',
      attempts: 1,
    });
    const handle = await startPlan(
      temporal,
      gameDayPlan({
        metadata: { name: 'secrets', owner: 'tests' },
        checks: [
          { name: 'secured', when: ['before', 'during', 'after'], prometheus: query('secured') },
          { name: 'nowhere', when: ['during'], prometheus: { ...query('nowhere'), timeout: '2s' } },
          { name: 'echo', when: ['during'], prometheus: query('echo') },
          { name: 'echo-bearer', when: ['during'], prometheus: query('echo-bearer') },
        ],
        faults: [
          { name: 'pause', kind: 'process-pause', target: 'here', params: { pidfile: service.pidfile } },
        ],
        observation: { window: '3s', sampleInterval: '1s' },
      }),
      taskQueue,
    );
    const report = await handle.result();

    // Payload bytes come out of the history as base64 strings: decoded, so that a secret in any would show.
    const decoded = (key: string, value: unknown): unknown =>
      key === 'data' && typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : value;
    const history = JSON.stringify((await handle.fetchHistory()).events, decoded);
    assert.ok(history.includes('gd_queue_depth'), 'payloads were decoded (the query is there)');
    assert.deepEqual(leaks(history), [], 'nothing secret in workflow history');
    assert.deepEqual(leaks(JSON.stringify(report)), [], 'nothing secret in the report');
    assert.deepEqual(leaks(renderReport(report)), [], 'nothing secret in the rendered report');
    const logs = logLines.join('');
    assert.ok(logs.length > 0, 'the worker logged');
    assert.deepEqual(leaks(logs), [], 'nothing secret in the worker log');

    // The checks did what they should: credentials from the URL reached Prometheus as basic auth …
    const during = (name: string) => report.checks.during.find((summary) => summary.name === name);
    assert.equal(report.checks.preflight.find((c) => c.name === 'secured')?.holds, true, report.reason);
    const secured = during('secured');
    assert.ok(secured && secured.samples >= 2 && secured.held === secured.samples, JSON.stringify(secured));
    assert.equal(report.checks.recovery?.recovered, true);
    // … a port where nothing listens fails with the connection error and the URL without credentials …
    assert.match(
      during('nowhere')?.firstDeviation?.detail ?? '',
      new RegExp(
        `^could not ask: Prometheus endpoint "nowhere" \\(http://127\\.0\\.0\\.1:\\d+\\): .*ECONNREFUSED`,
      ),
    );
    // … and the echoing error page is shown, bounded, with its secrets replaced.
    for (const name of ['echo', 'echo-bearer']) {
      const detail = during(name)?.firstDeviation?.detail ?? '';
      assert.match(detail, /HTTP 500: .*authorization: \[redacted\]/, detail);
      assert.ok(detail.length < 600, `the body excerpt is bounded (${detail.length} characters)`);
    }
    assert.ok(
      echo.seen.some((headers) => headers.authorization === `Basic ${basicToken}`),
      "the URL's user:password were sent as an Authorization header",
    );
    assert.equal(report.outcome, 'failed', 'the failing checks made the game day fail');
  });

  it('what a rollback restores is not rewritten: a killed process comes back with its exact command line', async () => {
    // A credential-shaped argument, as a service's database URL would be: it must not come back "[redacted]".
    const argv = [
      process.execPath,
      '-e',
      'setInterval(() => {}, 1 << 30)',
      'db=postgres://app:Db-s3cret@db/x',
    ];
    const child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: 'ignore' });
    child.unref();
    const pidfile = join(service.dir, 'credential-arg.pid');
    writeFileSync(pidfile, `${child.pid}\n`);
    const report = await (
      await startPlan(
        temporal,
        gameDayPlan({
          metadata: { name: 'secrets-restore', owner: 'tests' },
          faults: [{ name: 'kill', kind: 'process-kill', target: 'here', params: { pidfile } }],
          observation: { window: '1s', sampleInterval: '500ms' },
        }),
        taskQueue,
      )
    ).result();
    const restarted = Number(readFileSync(pidfile, 'utf8'));
    try {
      assert.equal(report.faults[0]?.status, 'rolled-back', report.reason);
      assert.notEqual(restarted, child.pid, 'the process was killed and started again');
      const cmdline = readFileSync(`/proc/${restarted}/cmdline`, 'utf8').split('\0').slice(0, -1);
      assert.deepEqual(cmdline, argv);
    } finally {
      for (const pid of new Set([child.pid, restarted])) {
        if (Number.isInteger(pid) && processAlive(pid as number)) process.kill(pid as number, 'SIGKILL');
      }
    }
  });
});
