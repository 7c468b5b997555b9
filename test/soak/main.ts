// `npm run soak`: game days that get everything killed under them (issue 14, "A soak that kills everything").
// N game days of mixed local and SSH faults run one after another against 2–3 `gameday worker` processes and a
// Temporal dev server. In each, at a moment landed through the game day's live history, the soak SIGKILLs a
// worker (and starts a replacement), restarts the dev server on the same database (every 10th run), or cuts
// one of the plan's SSH hosts off for longer than its dead-man lease. After each run the hosts are read from
// outside (residue.ts) and compared with what they were before. Not part of `npm test`; stops by itself.
// Prints a table and writes soak-results.json.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { stringify } from 'yaml';
import { startDevServer, type DevServer } from '../../client/devServer';
import { projectRoot } from '../../client/paths';
import { freePort } from '../../worker/ports';
import type { GameDayReport } from '../../workflows/definitions';
import type { gameDay } from '../../workflows/gameDay';
import { sshOnlyWorkerConfig, startTestHosts, type TestHost, type TestHosts } from '../support/hosts';
import { startTestService, type TestService } from '../support/services';
import {
  spawnWorkerProcess,
  startPlan,
  tagOf,
  type TestTemporal,
  uniqueTaskQueue,
  type WorkerProcess,
} from '../support/temporal';
import { sleep } from '../support/wait';
import {
  eventMs,
  fetchAll,
  followHistory,
  isRollback,
  landingAt,
  lastRollbackCompletedMs,
  lastWorkflowTaskWorker,
  scheduledType,
  schedulingWorker,
  type HistoryEvent,
} from './history';
import { leaseMs, soakPlan, type SoakLab } from './plans';
import { Random } from './random';
import { checkDetector } from './selfCheck';
import { describeDiff, diffSnapshots, takeSnapshot, type SectionDiff, type SnapshotScope } from './residue';

const exec = promisify(execFile);

interface Options {
  readonly runs: number;
  readonly maxMinutes: number;
  readonly workers: number;
  readonly seed: number;
  readonly out: string;
}

function usage(message: string): never {
  console.error(`soak: ${message}`);
  console.error(
    'usage: npm run soak -- [--runs N (200)] [--max-minutes M (60)] [--workers 2|3 (3)] [--seed S] [--out FILE]',
  );
  process.exit(2);
}

function parseOptions(argv: readonly string[]): Options {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i] as string;
    const value = argv[i + 1];
    if (!['--runs', '--max-minutes', '--workers', '--seed', '--out'].includes(name))
      usage(`unknown option ${name}`);
    if (value === undefined) usage(`${name} needs a value`);
    values.set(name, value);
  }
  const number = (name: string, fallback: number, min: number, max: number): number => {
    const text = values.get(name);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max)
      usage(`${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
  return {
    runs: number('--runs', 200, 1, 100_000),
    maxMinutes: number('--max-minutes', 60, 1, 24 * 60),
    workers: number('--workers', 3, 2, 3),
    seed: number('--seed', Date.now() % 2 ** 31, 0, 2 ** 31),
    out: values.get('--out') ?? join(projectRoot, 'soak-results.json'),
  };
}

const landings = [
  'resolve',
  'between prepare and inject',
  'mid-inject',
  'mid-window',
  'mid-rollback',
  'recovery',
] as const;
type Aim = (typeof landings)[number];
type Disruption = 'worker SIGKILL' | 'Temporal restart' | 'SSH cut';

/** How long an SSH cut lasts: past the dead-man lease, so the host reverts what it can by itself. */
const cutMs = leaseMs + 2500;
/** A run not over by then counts as non-terminal (and is looked at again at the end). */
const runDeadlineMs = 180_000;

interface RunRecord {
  readonly run: number;
  readonly workflowId: string;
  tag?: string;
  readonly faults: string[];
  readonly windowMs: number;
  readonly disruption: Disruption;
  readonly aimedAt: Aim;
  disrupted: boolean;
  landing?: string;
  target?: string;
  status?: string;
  outcome?: string;
  /** The outcome of a run that was not over by its deadline, when it ended later. */
  lateOutcome?: string;
  reason?: string;
  durationMs?: number;
  killToCleanMs?: number;
  killToRolledBackMs?: number;
  /** Each fault as the report says it ended. */
  faultsReported?: string[];
  /** The report's timeline, kept for runs that left something or went wrong. */
  timeline?: string[];
  leftovers: SectionDiff[];
  transientResidueSnapshots: number;
  error?: string;
}

/** A dev server that can be restarted on the same database file and port (its history survives). */
class RestartableTemporal {
  private current!: DevServer;
  private port = 0;
  readonly dir = mkdtempSync(join(tmpdir(), 'gameday-soak-temporal-'));
  connection!: Connection;
  client!: Client;
  restarts = 0;

  async start(): Promise<void> {
    this.port = await freePort();
    this.current = await startDevServer({ stateDir: this.dir, port: this.port });
    this.connection = await Connection.connect({ address: this.current.address });
    this.client = new Client({ connection: this.connection, namespace: this.current.namespace });
  }

  async restart(): Promise<void> {
    await this.current.stop();
    this.current = await startDevServer({ stateDir: this.dir, port: this.port });
    this.restarts += 1;
  }

  get asTestTemporal(): TestTemporal {
    const server = () => this.current;
    const client = () => this.client;
    const connection = () => this.connection;
    return {
      get server() {
        return server();
      },
      get client() {
        return client();
      },
      get connection() {
        return connection();
      },
      dir: this.dir,
      stop: () => this.stop(),
    };
  }

  async stop(): Promise<void> {
    await this.connection?.close().catch(() => undefined);
    await this.current?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** 2–3 `gameday worker` processes on one task queue; a killed one is replaced. */
class WorkerPool {
  readonly workers: WorkerProcess[] = [];
  private replacing: Promise<void>[] = [];
  killed = 0;

  constructor(
    private readonly temporal: TestTemporal,
    readonly taskQueue: string,
    private readonly configFile: string,
    private readonly size: number,
  ) {}

  async fill(): Promise<void> {
    await Promise.all(this.replacing);
    this.replacing = [];
    while (this.alive().length < this.size) {
      this.workers.push(await spawnWorkerProcess(this.temporal, this.taskQueue, this.configFile));
    }
  }

  alive(): WorkerProcess[] {
    return this.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
  }

  /** SIGKILLs the worker with this identity (`<pid>@host`), or any live one; a replacement starts at once. */
  async kill(identity: string | undefined, random: Random): Promise<string> {
    const alive = this.alive();
    const victim =
      alive.find((w) => identity !== undefined && identity.startsWith(`${w.child.pid}@`)) ??
      random.pick(alive);
    await victim.kill('SIGKILL');
    this.killed += 1;
    this.replacing.push(
      spawnWorkerProcess(this.temporal, this.taskQueue, this.configFile).then(
        (worker) => void this.workers.push(worker),
        (error: unknown) => console.error(`[soak] a replacement worker did not start: ${String(error)}`),
      ),
    );
    return `worker ${victim.child.pid}${victim.child.pid !== undefined && identity?.startsWith(`${victim.child.pid}@`) ? '' : ' (random: the runner was not found)'}`;
  }

  async stop(): Promise<void> {
    await Promise.all(this.replacing);
    for (const worker of this.workers) await worker.kill('SIGTERM');
  }
}

const cutRule = [
  'INPUT',
  '-p',
  'tcp',
  '--dport',
  '22',
  '-m',
  'comment',
  '--comment',
  'gameday-soak-cut',
  '-j',
  'DROP',
];

async function cutSsh(host: TestHost, on: boolean): Promise<void> {
  await exec('ip', ['netns', 'exec', host.namespace, 'iptables', '-w', on ? '-I' : '-D', ...cutRule]);
}

interface Trigger {
  /** Whether this event is the moment; returns the worker to aim at (its identity) when it is. */
  match(
    event: HistoryEvent,
    events: readonly HistoryEvent[],
  ): { delayMs: number; worker?: string } | undefined;
}

function triggerFor(aim: Aim, windowMs: number, random: Random): Trigger {
  const onScheduled = (
    type: string | ((type: string | undefined) => boolean),
    delay: () => number,
  ): Trigger => ({
    match: (event, events) =>
      (typeof type === 'string' ? scheduledType(event) === type : type(scheduledType(event)))
        ? { delayMs: delay(), ...optional('worker', schedulingWorker(event, events)) }
        : undefined,
  });
  switch (aim) {
    case 'resolve':
      // The first workflow task schedules resolvePlan and, with eager dispatch, its worker runs it at once:
      // the kill goes to the worker that took that task, as soon as the history says it did.
      return {
        match: (event) =>
          event.workflowTaskStartedEventAttributes
            ? {
                delayMs: 0,
                ...optional('worker', event.workflowTaskStartedEventAttributes.identity ?? undefined),
              }
            : undefined,
      };
    case 'mid-inject':
      return onScheduled('injectFault', () => random.int(0, 40));
    case 'mid-window':
      return onScheduled('observe', () => Math.round(windowMs * (0.1 + 0.8 * random.next())));
    case 'mid-rollback':
      return onScheduled(isRollback, () => random.int(0, 30));
    case 'recovery':
      return onScheduled('awaitRecovery', () => random.int(0, 40));
    case 'between prepare and inject':
      return {
        match: (event, events) => {
          const id = event.activityTaskCompletedEventAttributes?.scheduledEventId;
          if (id === undefined || id === null) return undefined;
          const scheduled = events.find((e) => Number(e.eventId) === Number(id));
          if (scheduledType(scheduled ?? {}) !== 'prepareFault') return undefined;
          const started = events.find(
            (e) => Number(e.activityTaskStartedEventAttributes?.scheduledEventId) === Number(id),
          );
          const worker =
            started?.activityTaskStartedEventAttributes?.identity ?? lastWorkflowTaskWorker(events);
          return { delayMs: 0, ...optional('worker', worker ?? undefined) };
        },
      };
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

async function resultOf(
  handle: WorkflowHandle<typeof gameDay>,
  deadline: number,
): Promise<GameDayReport | undefined> {
  while (Date.now() < deadline) {
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      handle.result().then(
        (report) => ({ report }),
        (error: unknown) => ({ error }),
      ),
      new Promise<{ timeout: true }>((resolve) => {
        timer = setTimeout(() => resolve({ timeout: true }), deadline - Date.now());
      }),
    ]);
    clearTimeout(timer); // else each run's deadline keeps the soak alive after its last run
    if ('report' in outcome) return outcome.report;
    if ('timeout' in outcome) return undefined;
    // A restarting server: ask again. A workflow that failed is not a report.
    const description = await handle.describe().catch(() => undefined);
    if (description !== undefined && description.status.name !== 'RUNNING') return undefined;
    await sleep(500);
  }
  return undefined;
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0
    ? NaN
    : ((sorted[Math.floor((sorted.length - 1) / 2)] as number) +
        (sorted[Math.ceil((sorted.length - 1) / 2)] as number)) /
        2;
};
const seconds = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : '—');

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const random = new Random(options.seed);
  const stopAt = Date.now() + options.maxMinutes * 60_000;
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error('[soak] SIGINT: finishing this run, then cleaning up (again to quit at once)');
  });
  console.error(
    `[soak] ${options.runs} runs at most, ${options.maxMinutes} min at most, ${options.workers} workers, seed ${options.seed}`,
  );

  const work = mkdtempSync(join(tmpdir(), 'gameday-soak-'));
  const temporal = new RestartableTemporal();
  let lab: TestHosts | undefined;
  let pool: WorkerPool | undefined;
  const services: TestService[] = [];
  const records: RunRecord[] = [];
  const tags = new Set<string>();
  const startedAt = Date.now();
  let scope: SnapshotScope | undefined;
  let finalDiff: SectionDiff[] = [];
  try {
    await temporal.start();
    lab = await startTestHosts(3);
    const hosts = lab.hosts as readonly [TestHost, TestHost, TestHost];
    for (let i = 0; i < 2; i++) services.push(await startTestService());
    const [pauseService, killService] = services as [TestService, TestService];
    const sleeper = async (name: string, host: TestHost, seconds: number) => {
      const argv = ['sleep', String(seconds)];
      const { stdout } = await host.inside(['sh', '-c', `${argv.join(' ')} >/dev/null 2>&1 & echo $!`]);
      const pidfile = join(work, `${name}.pid`);
      writeFileSync(pidfile, stdout);
      return { name, host, pidfile, argv };
    };
    const localFillDir = join(work, 'fill-local');
    const sshFillDir = join(work, 'fill-ssh');
    mkdirSync(localFillDir);
    mkdirSync(sshFillDir);
    const soakLab: SoakLab = {
      hosts,
      pauseService: { name: 'svc-pause', pidfile: pauseService.pidfile, port: pauseService.port },
      killService: { name: 'svc-kill', pidfile: killService.pidfile, port: killService.port },
      pauseSleeper: await sleeper('sleeper-pause', hosts[2], 36001),
      killSleeper: await sleeper('sleeper-kill', hosts[2], 36002),
      localFillDir,
      sshFillDir,
    };
    // The filter table's empty built-in chains appear with the first iptables rule in a namespace and stay:
    // they are made before the baseline, so they are not counted as something a fault left.
    for (const host of hosts) {
      await host.inside(['sh', '-c', 'iptables -w -N GDSOAKPRIME && iptables -w -X GDSOAKPRIME']);
    }
    scope = {
      hosts,
      tags,
      fillDirs: [localFillDir, sshFillDir],
      services: [soakLab.pauseService, soakLab.killService],
      sleepers: [soakLab.pauseSleeper, soakLab.killSleeper],
    };
    const configFile = join(work, 'worker.yaml');
    writeFileSync(configFile, stringify({ ...sshOnlyWorkerConfig(lab), local: { enabled: true } }));
    pool = new WorkerPool(temporal.asTestTemporal, uniqueTaskQueue('soak'), configFile, options.workers);
    await pool.fill();
    await checkDetector(scope, hosts, pauseService.currentPid() ?? NaN);
    console.error(
      '[soak] residue check: sees a planted chain, qdisc, tagged file, tagged process, stress-ng, paused service',
    );
    const baseline = await takeSnapshot(scope);
    console.error(
      `[soak] baseline: ${Object.values(baseline).flat().length} lines over ${Object.keys(baseline).length} sections`,
    );

    for (let run = 1; run <= options.runs && Date.now() < stopAt && !interrupted; run++) {
      await pool.fill();
      const plan = soakPlan(soakLab, random);
      const sshHosts = [...new Set(plan.faults.flatMap((f) => (f.host ? [f.host] : [])))];
      const disruption: Disruption =
        run % 10 === 0
          ? 'Temporal restart'
          : sshHosts.length > 0 && random.next() < 0.15
            ? 'SSH cut'
            : 'worker SIGKILL';
      const aimedAt = random.pick(landings);
      const before = await takeSnapshot(scope);
      const started = Date.now();
      const handle = await startPlan(temporal.asTestTemporal, plan.document, pool.taskQueue);
      const record: RunRecord = {
        run,
        workflowId: handle.workflowId,
        faults: plan.faults.map((f) => f.name),
        windowMs: plan.windowMs,
        disruption,
        aimedAt,
        disrupted: false,
        leftovers: [],
        transientResidueSnapshots: 0,
      };
      records.push(record);
      const tag = await tagOf(handle).catch(() => undefined);
      if (tag !== undefined) {
        record.tag = tag;
        tags.add(tag);
      }

      // Land the disruption: follow the history; at the chosen event (plus a delay), act once.
      let fired = false;
      let killMs: number | undefined;
      let acting: Promise<void> = Promise.resolve();
      let over = false;
      const trigger = triggerFor(aimedAt, plan.windowMs, random);
      const act = async (worker: string | undefined) => {
        killMs = Date.now();
        record.disrupted = true;
        if (disruption === 'worker SIGKILL') {
          record.target = await (pool as WorkerPool).kill(worker, random);
        } else if (disruption === 'Temporal restart') {
          record.target = 'dev server';
          await temporal.restart();
        } else {
          const host = random.pick(sshHosts);
          record.target = host.name;
          await cutSsh(host, true);
          await sleep(cutMs);
          await cutSsh(host, false);
        }
      };
      const following = followHistory(
        temporal.client,
        handle.workflowId,
        (event, events) => {
          if (fired) return;
          const hit = trigger.match(event, events);
          if (hit === undefined) return;
          fired = true;
          acting = sleep(hit.delayMs).then(() => act(hit.worker));
        },
        () => fired || over,
      );

      const report = await resultOf(handle, started + runDeadlineMs);
      over = true;
      await following;
      await acting.catch((error: unknown) => {
        record.error = `the disruption failed: ${String(error)}`;
      });
      await pool.fill();
      const description = await handle.describe().catch(() => undefined);
      record.status = description?.status.name ?? 'unknown';
      record.durationMs = Date.now() - started;
      if (report !== undefined) {
        record.outcome = report.outcome;
        if (report.reason !== undefined) record.reason = report.reason;
        record.faultsReported = report.faults.map(
          (f) =>
            `${f.fault} on ${f.target}: ${f.status}${f.rollbackAttempts ? `, ${f.rollbackAttempts} rollback attempt(s)` : ''}` +
            `${f.detail ? `; ${f.detail}` : ''}${f.error ? `; error: ${f.error}` : ''}`,
        );
      }
      const events = await fetchAll(temporal.client, handle.workflowId).catch(() => [] as HistoryEvent[]);
      if (killMs !== undefined) {
        record.landing = landingAt(events, killMs);
        const rolledBack = lastRollbackCompletedMs(events);
        if (rolledBack !== undefined && rolledBack >= killMs)
          record.killToRolledBackMs = Math.round(rolledBack - killMs);
      }

      // Residue: the same as before the run, or (after the host's last steps settle) a leftover.
      if (report !== undefined) {
        const closeMs = description?.closeTime?.getTime() ?? eventMs(events.at(-1) ?? {});
        let diff = diffSnapshots(before, await takeSnapshot(scope));
        let cleanAt = closeMs;
        for (let attempt = 0; diff.length > 0 && attempt < 5; attempt++) {
          record.transientResidueSnapshots += 1;
          await sleep(1000);
          cleanAt = Date.now();
          diff = diffSnapshots(before, await takeSnapshot(scope));
        }
        record.leftovers = diff;
        if (diff.length > 0 || report.outcome !== 'passed')
          record.timeline = report.timeline.map((e) => `${e.at} ${e.phase} ${e.message}`);
        if (diff.length === 0 && killMs !== undefined)
          record.killToCleanMs = Math.max(0, Math.round(cleanAt - killMs));
      }
      const line =
        `[soak] run ${run}: ${record.faults.join(', ')} (${plan.windowMs} ms); ${disruption} aimed at ${aimedAt}` +
        (record.disrupted ? `, landed ${record.landing} (${record.target})` : ', not reached') +
        ` → ${record.outcome ?? record.status}${record.killToCleanMs !== undefined ? `, clean ${seconds(record.killToCleanMs)} after` : ''}` +
        (record.leftovers.length > 0 ? `\n  LEFTOVER ${describeDiff(record.leftovers)}` : '') +
        (report === undefined ? `\n  NOT TERMINAL after ${seconds(record.durationMs)}` : '');
      console.error(line);
    }
    // Runs that were not over by their deadline get one more chance, then are counted as they are.
    for (const record of records.filter((r) => r.outcome === undefined)) {
      const handle = temporal.client.workflow.getHandle<typeof gameDay>(record.workflowId);
      const report = await resultOf(handle, Date.now() + 60_000);
      if (report !== undefined) record.lateOutcome = report.outcome;
    }
    finalDiff = diffSnapshots(baseline, await takeSnapshot(scope));
  } finally {
    const elapsedMs = Date.now() - startedAt;
    await pool?.stop().catch((error: unknown) => console.error(`[soak] stopping workers: ${String(error)}`));
    for (const service of services) await service.stop().catch(() => undefined);
    await lab?.stop().catch((error: unknown) => console.error(`[soak] stopping hosts: ${String(error)}`));
    await temporal
      .stop()
      .catch((error: unknown) => console.error(`[soak] stopping Temporal: ${String(error)}`));
    const strays = removeStrays(tags);
    rmSync(work, { recursive: true, force: true });
    const summary = summarise(
      records,
      elapsedMs,
      options,
      finalDiff,
      temporal.restarts,
      pool?.killed ?? 0,
      strays,
    );
    printTable(summary);
    if (summary.nonTerminal + summary.runsWithLeftovers + summary.strayFilesAndProcessesAfterStop.length > 0)
      process.exitCode = 1;
    writeFileSync(options.out, `${JSON.stringify({ ...summary, runs: records }, null, 2)}\n`);
    console.error(`[soak] wrote ${options.out}`);
  }
}

/** Tagged files and processes of the soak's runs still on this machine after everything stopped: removed, and said. */
function removeStrays(tags: ReadonlySet<string>): string[] {
  const strays: string[] = [];
  const ours = (text: string) => {
    const match = /\.gameday-([0-9a-z]+)-/.exec(text);
    return match !== null && tags.has(match[1] as string);
  };
  for (const name of readdirSync('/tmp')) {
    if (!ours(name)) continue;
    strays.push(`/tmp/${name}`);
    rmSync(`/tmp/${name}`, { recursive: true, force: true });
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (!ours(cmdline)) continue;
    strays.push(`pid ${entry}: ${cmdline.trim()}`);
    try {
      process.kill(Number(entry), 'SIGKILL');
    } catch {
      // gone
    }
  }
  return strays;
}

interface Summary {
  readonly seed: number;
  readonly runsAsked: number;
  readonly maxMinutes: number;
  readonly runs: number;
  readonly elapsedS: number;
  readonly disruptions: Record<string, { runs: number; landed: number }>;
  readonly landings: Record<string, number>;
  readonly killToCleanMs: { runs: number; median: number; max: number };
  readonly killToRolledBackMs: { runs: number; median: number; max: number };
  readonly outcomes: Record<string, number>;
  readonly terminalWithReport: number;
  readonly nonTerminal: number;
  readonly runsWithLeftovers: number;
  readonly leftoversAtTheEnd: SectionDiff[];
  readonly strayFilesAndProcessesAfterStop: string[];
  readonly temporalRestarts: number;
  readonly workersKilled: number;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

function stats(values: readonly number[]) {
  return {
    runs: values.length,
    median: Math.round(median(values)),
    max: values.length === 0 ? NaN : Math.max(...values),
  };
}

function summarise(
  records: readonly RunRecord[],
  elapsedMs: number,
  options: Options,
  leftoversAtTheEnd: SectionDiff[],
  temporalRestarts: number,
  workersKilled: number,
  strays: string[],
): Summary {
  const disruptions: Record<string, { runs: number; landed: number }> = {};
  for (const record of records) {
    const entry = (disruptions[record.disruption] ??= { runs: 0, landed: 0 });
    entry.runs += 1;
    if (record.disrupted) entry.landed += 1;
  }
  return {
    seed: options.seed,
    runsAsked: options.runs,
    maxMinutes: options.maxMinutes,
    runs: records.length,
    elapsedS: Math.round(elapsedMs / 1000),
    disruptions,
    landings: countBy(records, (r) =>
      r.disrupted ? (r.landing ?? '?') : `not reached (aimed at ${r.aimedAt})`,
    ),
    killToCleanMs: stats(records.flatMap((r) => (r.killToCleanMs === undefined ? [] : [r.killToCleanMs]))),
    killToRolledBackMs: stats(
      records.flatMap((r) => (r.killToRolledBackMs === undefined ? [] : [r.killToRolledBackMs])),
    ),
    outcomes: countBy(
      records,
      (r) => r.outcome ?? (r.lateOutcome ? `${r.lateOutcome} (late)` : `none: ${r.status}`),
    ),
    terminalWithReport: records.filter((r) => r.outcome !== undefined).length,
    nonTerminal: records.filter((r) => r.outcome === undefined).length,
    runsWithLeftovers: records.filter((r) => r.leftovers.length > 0).length,
    leftoversAtTheEnd,
    strayFilesAndProcessesAfterStop: strays,
    temporalRestarts,
    workersKilled,
  };
}

function printTable(summary: Summary): void {
  const rows: [string, string][] = [];
  rows.push(['runs', `${summary.runs} in ${summary.elapsedS} s (seed ${summary.seed})`]);
  for (const [name, d] of Object.entries(summary.disruptions))
    rows.push([`  ${name}`, `${d.runs} runs, ${d.landed} landed`]);
  rows.push(['kill landing (phase)', 'count']);
  const order = (name: string) => {
    const i = [
      'resolve',
      'preflight',
      'prepare',
      'between prepare and inject',
      'mid-inject',
      'verify after inject',
      'mid-window',
      'mid-rollback',
      'recovery',
    ].indexOf(name);
    return i === -1 ? 99 : i;
  };
  for (const [landing, count] of Object.entries(summary.landings).sort(
    ([a], [b]) => order(a) - order(b) || a.localeCompare(b),
  ))
    rows.push([`  ${landing}`, String(count)]);
  const c = summary.killToCleanMs;
  rows.push(['kill → clean', `median ${seconds(c.median)}, max ${seconds(c.max)} (${c.runs} runs)`]);
  const r = summary.killToRolledBackMs;
  rows.push([
    'kill → last rollback done',
    `median ${seconds(r.median)}, max ${seconds(r.max)} (${r.runs} runs)`,
  ]);
  rows.push([
    'outcomes',
    Object.entries(summary.outcomes)
      .map(([o, n]) => `${o} ${n}`)
      .join(', '),
  ]);
  rows.push(['terminal with a report', `${summary.terminalWithReport} of ${summary.runs}`]);
  rows.push(['non-terminal', String(summary.nonTerminal)]);
  rows.push(['runs with leftovers', String(summary.runsWithLeftovers)]);
  rows.push([
    'leftovers at the end (vs baseline)',
    String(summary.leftoversAtTheEnd.reduce((n, d) => n + d.added.length + d.removed.length, 0)),
  ]);
  rows.push(['stray files/processes after stop', String(summary.strayFilesAndProcessesAfterStop.length)]);
  rows.push(['Temporal restarts, workers killed', `${summary.temporalRestarts}, ${summary.workersKilled}`]);
  const width = Math.max(...rows.map(([a]) => a.length));
  console.log(rows.map(([a, b]) => `${a.padEnd(width)}  ${b}`).join('\n'));
}

main().then(
  () => undefined,
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
