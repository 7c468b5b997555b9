import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { freePort } from '../../worker/ports';

const run = promisify(execFile);
const prometheusBinary = '/usr/bin/prometheus';
const promtool = '/usr/bin/promtool';

type Labels = Readonly<Record<string, string>>;

function labelText(labels: Labels): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\]/g, '\\$&')}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

function valueText(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

interface Series {
  readonly name: string;
  readonly labels: Labels;
  /** A gauge's value, or a counter's value at `since` … */
  value: number;
  /** … growing by this much per second (counters). */
  perSecond: number;
  since: number;
}

/**
 * A test exporter: an HTTP server in the test process serving Prometheus exposition text whose values the
 * test sets (gauges), or whose counters grow at a rate the test sets (for rate/irate).
 */
export class TestExporter {
  private readonly series = new Map<string, Series>();
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<TestExporter> {
    const server = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const exporter = new TestExporter(server, port);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      if (request.url !== '/metrics') {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      response.end(exporter.exposition());
    });
    return exporter;
  }

  private key(name: string, labels: Labels): string {
    return `${name}${labelText(labels)}`;
  }

  /** A gauge's value from now on. */
  set(name: string, value: number, labels: Labels = {}): void {
    this.series.set(this.key(name, labels), { name, labels, value, perSecond: 0, since: Date.now() });
  }

  /** A counter that grows by `perSecond` from now on (continuing from its current value). */
  rate(name: string, perSecond: number, labels: Labels = {}): void {
    const key = this.key(name, labels);
    const current = this.series.get(key);
    const value = current ? this.valueOf(current) : 0;
    this.series.set(key, { name, labels, value, perSecond, since: Date.now() });
  }

  remove(name: string, labels: Labels = {}): void {
    this.series.delete(this.key(name, labels));
  }

  private valueOf(series: Series): number {
    return series.value + (series.perSecond * (Date.now() - series.since)) / 1000;
  }

  exposition(): string {
    return [...this.series.values()]
      .map((series) => `${series.name}${labelText(series.labels)} ${valueText(this.valueOf(series))}\n`)
      .join('');
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** History written into the TSDB before Prometheus starts, so `offset 1d` / `offset 1w` find data. */
export interface Backfill {
  readonly name: string;
  readonly labels?: Labels;
  /** A gauge's constant value, or … */
  readonly value?: number;
  /** … a counter growing by this much per second. */
  readonly perSecond?: number;
  /** How far back each stretch of history is centred ("1d" and "1w" in ms). */
  readonly ago: readonly number[];
}

export const day = 24 * 3600 * 1000;
export const week = 7 * day;

/**
 * OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`: each stretch runs from 10 minutes
 * before `ago` to 90 minutes after it, every 15 s, so a suite of up to an hour has a baseline throughout.
 */
function openMetrics(backfill: readonly Backfill[], now: number): string {
  const lines: string[] = [];
  const families = new Map<string, Backfill[]>();
  for (const item of backfill) families.set(item.name, [...(families.get(item.name) ?? []), item]);
  for (const [name, items] of families) {
    lines.push(`# TYPE ${name} gauge`);
    for (const item of items) {
      for (const ago of [...item.ago].sort((a, b) => b - a)) {
        const start = now - ago - 10 * 60_000;
        for (let at = start; at <= now - ago + 90 * 60_000; at += 15_000) {
          const value =
            item.perSecond !== undefined ? (item.perSecond * (at - start)) / 1000 : (item.value ?? 0);
          lines.push(`${name}${labelText(item.labels ?? {})} ${valueText(value)} ${(at / 1000).toFixed(3)}`);
        }
      }
    }
  }
  lines.push('# EOF');
  return `${lines.join('\n')}\n`;
}

export interface TestPrometheusOptions {
  /** What it scrapes every second: the test exporter, and/or other `host:port` targets (a worker's /metrics). */
  readonly exporter?: TestExporter;
  readonly scrapeTargets?: readonly string[];
  /** The scrape job's name (alert rules may select on it). */
  readonly jobName?: string;
  /** Rule files it evaluates every second (the shipped alert rules). */
  readonly ruleFiles?: readonly string[];
  readonly backfill?: readonly Backfill[];
  /** Basic auth in front of Prometheus's own API (its --web.config.file), with a bcrypt hash of the password. */
  readonly basicAuth?: { readonly username: string; readonly bcryptHash: string };
}

export interface TestPrometheus {
  readonly url: string;
  readonly port: number;
  /** Stops the server (the data dir stays, so `start` brings the same history back on the same port). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its data. */
  close(): Promise<void>;
  /** Instant query without credentials; the result vector. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
}

/**
 * Debian's real Prometheus on a free local port with a temp data dir, scraping the test exporter every second.
 * Never skipped: a missing binary fails the suite.
 */
export async function startTestPrometheus(options: TestPrometheusOptions): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'gameday-prom-'));
  const data = join(dir, 'data');
  const port = await freePort();
  const targets = [
    ...(options.exporter ? [`127.0.0.1:${options.exporter.port}`] : []),
    ...(options.scrapeTargets ?? []),
  ];
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      ...(options.ruleFiles ? { rule_files: [...options.ruleFiles] } : {}),
      scrape_configs: [{ job_name: options.jobName ?? 'exporter', static_configs: [{ targets }] }],
    }),
  );
  const args = [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${data}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=30d',
    '--log.level=warn',
  ];
  const auth = options.basicAuth;
  if (auth) {
    writeFileSync(join(dir, 'web.yml'), `basic_auth_users:\n  ${auth.username}: '${auth.bcryptHash}'\n`);
    args.push(`--web.config.file=${join(dir, 'web.yml')}`);
  }
  if (options.backfill && options.backfill.length > 0) {
    const file = join(dir, 'history.om');
    writeFileSync(file, openMetrics(options.backfill, Date.now()));
    await run(promtool, ['tsdb', 'create-blocks-from', 'openmetrics', file, data], { timeout: 120_000 });
  }
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = '';

  const start = async () => {
    output = '';
    child = spawn(prometheusBinary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    const started = child;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (started.exitCode !== null) throw new Error(`prometheus exited ${started.exitCode}: ${output}`);
      // /-/ready needs no credentials on 2.42 only when no web config is set: any answer means it is up.
      const status = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).then(
        (response) => response.status,
        () => 0,
      );
      if (status === 200 || status === 401) break;
      if (Date.now() > deadline) throw new Error(`prometheus did not become ready: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    await exited;
  };

  await start();
  return {
    url,
    port,
    stop,
    start,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    query: async (promql) => {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await response.json()) as {
        status: string;
        error?: string;
        data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (body.status !== 'success') throw new Error(`query ${promql}: ${body.error ?? response.status}`);
      return body.data?.result ?? [];
    },
  };
}

/** Waits until Prometheus has scraped the exporter at least once more, so a value just set is visible. */
export async function waitForScrape(
  prometheus: TestPrometheus,
  query: string,
  accept: (values: number[]) => boolean,
  headers: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let last: number[] = [];
  for (;;) {
    const response = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(query)}`, {
      headers,
    }).then((r) => r.json() as Promise<{ data?: { result?: { value: [number, string] }[] } }>);
    last = (response.data?.result ?? []).map((r) => Number(r.value[1]));
    if (accept(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`${query} never satisfied the test (last: ${JSON.stringify(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
