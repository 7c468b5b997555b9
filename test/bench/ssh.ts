// `npm run bench -- --only ssh`: the speed goals of issue 3, on real sshd hosts in network namespaces.
// 1. 20 inject/rollback steps: gameday (the executor alone, and whole game days through Temporal) against a
//    plain bash script sending the very same command lines over an ssh ControlMaster connection.
// 2. One fault on 200 hosts against one host: inject+rollback wall time, the worker's peak RSS, history size.
// 3. Abort → 10 faults on 4 hosts rolled back (issue 14's goal 2 over SSH).
// 4. Round trips per target for each fault kind, phase by phase (prepare, arming the dead-man switch, inject,
//    verify, rollback, disarm), and the inject's wall time (issue 14: a fault starts at one instant).
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tsToMs } from '@temporalio/common/lib/time';
import { NativeConnection } from '@temporalio/worker';
import pino from 'pino';
import type { SshExecutor } from '../../activities/executors/ssh';
import { hostSteps } from '../../activities/faultSteps';
import { faultContext } from '../../activities/faults/context';
import type { FaultContext } from '../../activities/faults/contract';
import { getHostFaultKind } from '../../activities/faults/registry';
import type { Target } from '../../plan/targets';
import { activityDepsFromConfig } from '../../worker/activityDeps';
import { createGameDayWorker } from '../../worker/createWorker';
import { workerConfigSchema } from '../../worker/config';
import { installRuntime } from '../../worker/runtime';
import { abortUpdate, deadManSwitchFor, type GameDayReport } from '../../workflows/definitions';
import { gameDayPlan } from '../support/plans';
import {
  spawnWorkerProcess,
  startPlan,
  type TestTemporal,
  uniqueTaskQueue,
  waitForPhase,
  type WorkerProcess,
} from '../support/temporal';
import { sleep } from '../support/wait';
import { sshExecutorFor, startTestHosts, type TestHost, type TestHosts } from '../support/hosts';
import { percentile } from './stats';

const stepHosts = 4;
const stepRuns = Number(process.env.BENCH_SSH_RUNS ?? 5);
const abortRuns = Number(process.env.BENCH_SSH_ABORT_RUNS ?? 10);
const manyTargets = Number(process.env.BENCH_SSH_TARGETS ?? 200);

interface SentCommand {
  readonly host: TestHost;
  readonly command: string;
  readonly input: string | undefined;
}

type Recorder = (sent: SentCommand) => void;

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
};
const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;

function executorFor(lab: TestHosts, host: TestHost, record?: Recorder): SshExecutor {
  return sshExecutorFor(
    lab,
    host,
    record ? { onCommand: (command, input) => record({ host, command, input }) } : {},
  );
}

/** The worker configuration naming every test host (what `gameday worker --config` reads). */
function workerConfig(lab: TestHosts): Record<string, unknown> {
  return {
    local: { enabled: false },
    logLevel: 'warn',
    ssh: {
      credentials: { 'bench-key': { privateKeyFile: join(lab.dir, 'client_key') } },
      hosts: Object.fromEntries(
        lab.hosts.map((host) => [
          host.name,
          { address: host.address, credential: 'bench-key', hostKey: { fingerprints: [host.fingerprint] } },
        ]),
      ),
    },
  };
}

function writeWorkerConfig(lab: TestHosts): string {
  const file = join(lab.dir, 'worker.json'); // JSON is YAML
  writeFileSync(file, JSON.stringify(workerConfig(lab)));
  return file;
}

/** A process to pause on each host: hosts share the file system, so each gets its own pidfile. */
async function startSleepers(lab: TestHosts): Promise<{ pidfiles: string[]; pids: string[] }> {
  const pidfiles: string[] = [];
  const pids: string[] = [];
  for (const [i, host] of lab.hosts.entries()) {
    const { stdout } = await host.inside(['sh', '-c', 'sleep 3600 >/dev/null 2>&1 & echo $!']);
    const pidfile = join(lab.dir, `sleeper-${i}.pid`);
    writeFileSync(pidfile, stdout);
    pidfiles.push(pidfile);
    pids.push(stdout.trim());
  }
  return { pidfiles, pids };
}

interface BenchFault {
  readonly name: string;
  readonly kind: string;
  readonly host: TestHost;
  readonly params: Record<string, unknown>;
}

/** 20 faults, 5 kinds on each of 4 hosts: tc, iptables (three chains) and signals. */
function twentyFaults(lab: TestHosts, pidfiles: readonly string[]): BenchFault[] {
  return lab.hosts.slice(0, stepHosts).flatMap((host, i) => {
    const peer = (lab.hosts[(i + 1) % stepHosts] as TestHost).address;
    return [
      { name: `bw-${i}`, kind: 'network-bandwidth', host, params: { interface: 'eth0', rate: '10mbit' } },
      { name: `cut-${i}`, kind: 'network-partition', host, params: { peers: [peer] } },
      { name: `port-${i}`, kind: 'network-partition', host, params: { ports: [{ port: 9092 }] } },
      { name: `loss-${i}`, kind: 'network-loss-iptables', host, params: { peers: [peer], percent: 10 } },
      { name: `pause-${i}`, kind: 'process-pause', host, params: { pidfile: pidfiles[i] } },
    ];
  });
}

/** The fault kinds called directly over the SSH executor: prepare, inject, verify each; then LIFO rollbacks. */
async function executorSteps(
  faults: readonly BenchFault[],
  executors: ReadonlyMap<string, SshExecutor>,
  tag: string,
): Promise<number> {
  const started = performance.now();
  const applied = [];
  for (const fault of faults) {
    const kind = getHostFaultKind(fault.kind);
    const target: Target = { group: fault.host.name, kind: 'ssh', name: fault.host.name };
    const ctx: FaultContext = faultContext({
      exec: executors.get(fault.host.name) as SshExecutor,
      target,
      fault: fault.name,
      tag,
      protectedPids: [],
      heartbeat: () => undefined,
      sleep,
    });
    const params = kind.params.parse(fault.params);
    const saved = await kind.prepare(ctx, params);
    await kind.inject(ctx, params, saved);
    if (!(await kind.verify(ctx, params, saved)).active) throw new Error(`${fault.name} is not active`);
    applied.push({ kind, ctx, params, saved });
  }
  for (const { kind, ctx, params, saved } of applied.reverse()) {
    await kind.rollback(ctx, params, saved);
    if ((await kind.verify(ctx, params, saved)).active) throw new Error(`${ctx.fault} is still active`);
  }
  return performance.now() - started;
}

const shellQuoted = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/**
 * The plain-bash baseline: one ssh ControlMaster per host (opened before timing), then every command line
 * gameday sent, in the same order, each as `ssh -S <master> host '<command>'` with the same standard input.
 */
class BashReplay {
  private readonly sshOptions: string[];

  constructor(private readonly lab: TestHosts) {
    const knownHosts = join(lab.dir, 'bench_known_hosts');
    writeFileSync(knownHosts, lab.hosts.map((host) => host.knownHostsLine).join('\n') + '\n');
    this.sshOptions = [
      '-F',
      '/dev/null',
      '-i',
      join(lab.dir, 'client_key'),
      '-o',
      `UserKnownHostsFile=${knownHosts}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      `ControlPath=${join(lab.dir, 'cm-%h')}`,
    ];
  }

  private ssh(host: TestHost, extra: string[] = []): string {
    return ['ssh', ...this.sshOptions.map(shellQuoted), ...extra, `root@${host.address}`].join(' ');
  }

  async openMasters(hosts: readonly TestHost[]): Promise<void> {
    const lines = hosts.map(
      (host) => `${this.ssh(host, ['-o', 'ControlMaster=yes', '-o', 'ControlPersist=600', '-f', '-N'])} &`,
    );
    await this.runScript(`${lines.join('\n')}\nwait`);
  }

  async closeMasters(hosts: readonly TestHost[]): Promise<void> {
    await this.runScript(hosts.map((host) => `${this.ssh(host, ['-O', 'exit'])} 2>/dev/null`).join('\n'));
  }

  private line({ host, command, input }: SentCommand): string {
    const send = `${this.ssh(host)} ${shellQuoted(command)} >/dev/null 2>&1`;
    return input ? `printf '%s' ${shellQuoted(input)} | ${send}` : `${send} </dev/null`;
  }

  /** Runs the commands one after the other; returns the wall time of the whole script. */
  async replay(commands: readonly SentCommand[]): Promise<number> {
    const started = performance.now();
    await this.runScript(commands.map((sent) => this.line(sent)).join('\n'));
    return performance.now() - started;
  }

  /** Each host's commands in order, all hosts at once (a subshell per host); returns the wall time. */
  async replayHostsInParallel(commands: readonly SentCommand[]): Promise<number> {
    const byHost = new Map<TestHost, SentCommand[]>();
    for (const sent of commands) byHost.set(sent.host, [...(byHost.get(sent.host) ?? []), sent]);
    const script = [...byHost.values()].map((sent) => `(\n${sent.map((c) => this.line(c)).join('\n')}\n) &`);
    const started = performance.now();
    await this.runScript(`${script.join('\n')}\nwait`);
    return performance.now() - started;
  }

  private runScript(script: string): Promise<void> {
    const file = join(this.lab.dir, 'bench-replay.sh');
    writeFileSync(file, `#!/bin/bash\n${script}\n`);
    return new Promise((resolve, reject) => {
      const child = spawn('bash', [file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', reject);
      child.once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`bash exited ${code}: ${stderr}`)),
      );
    });
  }
}

function faultPlan(
  name: string,
  faults: readonly {
    name: string;
    kind: string;
    hosts: readonly string[];
    params: Record<string, unknown>;
  }[],
) {
  return gameDayPlan({
    metadata: { name, owner: 'bench' },
    targets: Object.fromEntries(
      faults.map((fault) => [`${fault.name}-hosts`, { ssh: { hosts: fault.hosts } }]),
    ),
    faults: faults.map((fault) => ({
      name: fault.name,
      kind: fault.kind,
      target: `${fault.name}-hosts`,
      params: fault.params,
    })),
    observation: { window: '1s', sampleInterval: '1s' },
  });
}

/** Inject phase plus rollback phase, as the workflow's timeline records them (the window in between left out). */
function injectAndRollbackMs(report: GameDayReport): number {
  const at = (phase: string) => Date.parse(report.timeline.find((e) => e.phase === phase)?.at ?? '');
  const ms = at('observe') - at('inject') + (at('recover') - at('rollback'));
  if (!Number.isFinite(ms) || report.outcome !== 'passed') {
    throw new Error(`game day ${report.workflowId} ended ${report.outcome}: ${report.reason ?? ''}`);
  }
  return ms;
}

/** One game day on an in-process worker whose SSH executors record every command line they send. */
async function recordGameDayCommands(
  temporal: TestTemporal,
  lab: TestHosts,
  plan: ReturnType<typeof faultPlan>,
): Promise<SentCommand[]> {
  const log = pino({ level: 'error' }, pino.destination(2));
  installRuntime(log);
  const sent: SentCommand[] = [];
  const executors = new Map(
    lab.hosts.map((host) => [host.name, executorFor(lab, host, (c) => sent.push(c))]),
  );
  const base = activityDepsFromConfig(workerConfigSchema.parse(workerConfig(lab)), log);
  const taskQueue = uniqueTaskQueue('bench-ssh-record');
  const connection = await NativeConnection.connect({ address: temporal.server.address });
  const worker = await createGameDayWorker({
    connection,
    namespace: temporal.server.namespace,
    taskQueue,
    deps: { ...base, executorFor: (target) => executors.get(target.name) ?? base.executorFor(target) },
  });
  const running = worker.run();
  try {
    const report = await (await startPlan(temporal, plan, taskQueue)).result();
    injectAndRollbackMs(report); // throws unless it passed
  } finally {
    worker.shutdown();
    await running;
    await Promise.all([...executors.values()].map((executor) => executor.close()));
    await base.close();
    await connection.close();
  }
  return sent;
}

async function twentySteps(temporal: TestTemporal, lab: TestHosts) {
  const hosts = lab.hosts.slice(0, stepHosts);
  const sleepers = await startSleepers(lab);
  const faults = twentyFaults(lab, sleepers.pidfiles);
  const bash = new BashReplay(lab);
  await bash.openMasters(hosts);
  try {
    // The executor alone, connections opened by a first (untimed) run, as the ControlMasters are.
    const sent: SentCommand[] = [];
    const executors = new Map(hosts.map((host) => [host.name, executorFor(lab, host, (c) => sent.push(c))]));
    await executorSteps(faults, executors, 'bwarm');
    const executorMs: number[] = [];
    const bashMs: number[] = [];
    let commands = 0;
    for (let run = 0; run < stepRuns; run++) {
      sent.length = 0;
      executorMs.push(await executorSteps(faults, executors, `bex${run}`));
      commands = sent.length;
      bashMs.push(await bash.replay([...sent]));
    }
    await Promise.all([...executors.values()].map((executor) => executor.close()));

    // Whole game days: a worker process as in production; the bash baseline replays what a game day sent.
    const plan = faultPlan(
      'bench-20-steps',
      faults.map((f) => ({ name: f.name, kind: f.kind, hosts: [f.host.name], params: f.params })),
    );
    const gameDayCommands = await recordGameDayCommands(temporal, lab, plan);
    const taskQueue = uniqueTaskQueue('bench-ssh-steps');
    const worker = await spawnWorkerProcess(temporal, taskQueue, writeWorkerConfig(lab));
    const gameDayMs: number[] = [];
    const gameDayBashMs: number[] = [];
    try {
      await (await startPlan(temporal, plan, taskQueue)).result(); // opens the worker's connections
      for (let run = 0; run < stepRuns; run++) {
        gameDayMs.push(injectAndRollbackMs(await (await startPlan(temporal, plan, taskQueue)).result()));
        gameDayBashMs.push(await bash.replay(gameDayCommands));
      }
    } finally {
      await worker.kill('SIGTERM');
    }
    return {
      steps: faults.length,
      hosts: hosts.length,
      kinds: [...new Set(faults.map((f) => f.kind))],
      executor: {
        commands,
        executorMs: round(median(executorMs)),
        bashMs: round(median(bashMs)),
        ratio: round(median(executorMs) / median(bashMs), 2),
        perCommandMs: {
          executor: round(median(executorMs) / commands, 1),
          bash: round(median(bashMs) / commands, 1),
        },
      },
      gameDay: {
        commands: gameDayCommands.length,
        injectPlusRollbackMs: round(median(gameDayMs)),
        bashMs: round(median(gameDayBashMs)),
        ratio: round(median(gameDayMs) / median(gameDayBashMs), 2),
        runsMs: gameDayMs,
      },
      goal: 'gameday ≤ 1.2 × bash over a ControlMaster connection',
    };
  } finally {
    await bash.closeMasters(hosts);
    await (hosts[0] as TestHost).inside(['kill', ...sleepers.pids]);
  }
}

/** Peak resident set size of a process (VmHWM), in MB. */
function peakRssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
  return round(kb / 1024, 1);
}

const bandwidthPlan = (hosts: readonly TestHost[]) =>
  faultPlan('bench-many-targets', [
    {
      name: 'bandwidth',
      kind: 'network-bandwidth',
      hosts: hosts.map((host) => host.name),
      params: { interface: 'eth0', rate: '10mbit' },
    },
  ]);

async function oneFaultOn(temporal: TestTemporal, hosts: readonly TestHost[], configFile: string) {
  const plan = bandwidthPlan(hosts);
  const taskQueue = uniqueTaskQueue('bench-ssh-many');
  const worker: WorkerProcess = await spawnWorkerProcess(temporal, taskQueue, configFile);
  try {
    const wallMs: number[] = [];
    let events = 0;
    // A worker that dies mid-run would leave the game day waiting for another: say why instead.
    const died = new Promise<never>((_, reject) =>
      worker.child.once('exit', (code, signal) =>
        reject(new Error(`the worker exited (${code ?? signal}) mid-run: ${worker.output().slice(-4000)}`)),
      ),
    );
    died.catch(() => undefined);
    for (let run = 0; run < 2; run++) {
      const handle = await startPlan(temporal, plan, taskQueue);
      wallMs.push(injectAndRollbackMs(await Promise.race([handle.result(), died])));
      events = (await handle.fetchHistory()).events?.length ?? 0;
    }
    // First run connects to every host; the second reuses the pooled connections.
    return {
      targets: hosts.length,
      coldMs: wallMs[0] ?? NaN,
      warmMs: wallMs[1] ?? NaN,
      events,
      peakRssMb: peakRssMb(worker.child.pid),
    };
  } finally {
    await worker.kill('SIGTERM');
  }
}

/** Least squares through (x, y): the slope and intercept, to project a measured curve past its end. */
function linearFit(points: readonly (readonly [number, number])[]): { slope: number; intercept: number } {
  const n = points.length;
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n;
  const sxy = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0);
  const sxx = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0);
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

/** The curve at 50, 100 and 200 targets, fitted and projected to 1,000: per added target, and the total. */
function projected(curve: readonly Awaited<ReturnType<typeof oneFaultOn>>[], targets = 1000) {
  const at = (of: (point: (typeof curve)[number]) => number) => {
    const fit = linearFit(curve.map((point) => [point.targets, of(point)] as const));
    return {
      perTarget: round(fit.slope, 2),
      fixed: round(fit.intercept),
      at1000: round(fit.intercept + fit.slope * targets),
    };
  };
  return {
    targets,
    warmMs: at((point) => point.warmMs),
    events: at((point) => point.events),
    peakRssMb: at((point) => point.peakRssMb),
  };
}

async function manyTargetsBench(temporal: TestTemporal) {
  const started = performance.now();
  const lab = await startTestHosts(manyTargets);
  console.error(
    `[bench]   ${manyTargets} sshd hosts started in ${round((performance.now() - started) / 1000, 1)} s`,
  );
  try {
    const configFile = writeWorkerConfig(lab);
    const one = await oneFaultOn(temporal, lab.hosts.slice(0, 1), configFile);
    const sizes = [...new Set([Math.round(manyTargets / 4), Math.round(manyTargets / 2), manyTargets])];
    const curve = [];
    for (const size of sizes) curve.push(await oneFaultOn(temporal, lab.hosts.slice(0, size), configFile));
    const many = curve.at(-1) as (typeof curve)[number];
    // The floor on this machine: every host is a process here, so the host-side work of 200 hosts (a shell,
    // `timeout` and the command per command line) shares the same 2 cores. Bash sends the same lines, all
    // hosts at once.
    const sent = await recordGameDayCommands(temporal, lab, bandwidthPlan(lab.hosts));
    const bash = new BashReplay(lab);
    await bash.openMasters(lab.hosts);
    let floor;
    try {
      const oneHost = sent.filter((c) => c.host === lab.hosts[0]);
      floor = {
        commandsPerTarget: oneHost.length,
        commands: sent.length,
        bashOneHostMs: round(await bash.replay(oneHost)),
        bashAllHostsInParallelMs: round(await bash.replayHostsInParallel(sent)),
      };
    } finally {
      await bash.closeMasters(lab.hosts);
    }
    return {
      targets: 'sshd hosts, one network namespace each (tc tbf on eth0)',
      one,
      curve,
      many,
      projected: projected(curve),
      roundTripsPerTarget: floor.commandsPerTarget,
      ratio: { cold: round(many.coldMs / one.coldMs, 1), warm: round(many.warmMs / one.warmMs, 1) },
      gamedayOverBashFloor: round(many.warmMs / floor.bashAllHostsInParallelMs, 2),
      bashFloor: { ...floor, ratio: round(floor.bashAllHostsInParallelMs / floor.bashOneHostMs, 1) },
      goal: `${manyTargets} targets: ≤ 4 round trips per target, ≤ 600 history events, gameday ÷ bash floor ≤ 1.0, worker RSS ≤ 300 MB`,
    };
  } finally {
    await lab.stop();
  }
}

/** What one fault kind costs one target over SSH: commands sent per phase, and the inject's wall time. */
interface KindRoundTrips {
  readonly prepare: number;
  /** Arm the switch, inject and read the state back, as `injectFaultOnTargets` does. */
  readonly armInjectVerify: number;
  /** Roll back and read the state back, as every rollback does before it disarms. */
  readonly rollbackVerify: number;
  readonly disarm: number;
  /** Arm and inject: what stands between the recorded rollback and the fault in place. */
  readonly toInPlace: number;
  readonly total: number;
  /** Arm + inject + read, spawn to answer. */
  readonly injectMs: number;
}

/**
 * Each kind on one host through the steps a game day runs (`hostSteps`), each phase's commands counted at the
 * executor (one command is one round trip).
 */
async function roundTripsPerKind(lab: TestHosts): Promise<Record<string, KindRoundTrips>> {
  const host = lab.hosts[0] as TestHost;
  const peer = (lab.hosts[1] as TestHost).address;
  let sent = 0;
  const exec = executorFor(lab, host, () => (sent += 1));
  const { pidfiles } = await startSleepers(lab);
  const kinds: [string, Record<string, unknown>][] = [
    ['network-bandwidth', { interface: 'eth0', rate: '10mbit' }],
    ['network-partition', { peers: [peer], ports: [{ port: 9092 }, { port: 2379 }] }],
    ['network-loss-iptables', { peers: [peer], percent: 10 }],
    ['process-pause', { pidfile: pidfiles[0] }],
  ];
  const results: Record<string, KindRoundTrips> = {};
  try {
    await exec.run(['true']); // connected before counting
    for (const [index, [kindName, rawParams]] of kinds.entries()) {
      const kind = getHostFaultKind(kindName);
      const target: Target = { group: host.name, kind: 'ssh', name: host.name };
      const ctx = faultContext({
        exec,
        target,
        fault: `rt-${index}`,
        tag: 'benchrt',
        protectedPids: [],
        heartbeat: () => undefined,
        sleep,
      });
      const steps = hostSteps(kind, ctx, kind.params.parse(rawParams));
      const sw = deadManSwitchFor('benchrt', index, 60_000);
      const count = async (body: () => Promise<unknown>): Promise<number> => {
        const before = sent;
        await body();
        return sent - before;
      };
      let saved: unknown;
      const prepare = await count(async () => (saved = await steps.prepare()));
      const injectStarted = performance.now();
      const armInjectVerify = await count(async () => {
        if (!(await steps.injectAndVerify(saved, sw)).active) throw new Error(`${kindName} not active`);
      });
      const injectMs = performance.now() - injectStarted;
      const rollbackVerify = await count(async () => {
        if ((await steps.rollbackAndVerify(saved)).active) throw new Error(`${kindName} still active`);
      });
      const disarm = await count(() => steps.disarm(sw));
      results[kindName] = {
        prepare,
        armInjectVerify,
        rollbackVerify,
        disarm,
        toInPlace: kind.commands === undefined ? armInjectVerify - 1 : 1,
        total: prepare + armInjectVerify + rollbackVerify + disarm,
        injectMs: round(injectMs, 1),
      };
    }
  } finally {
    await exec.close();
  }
  return results;
}

const eventMs = (event: { eventTime?: Parameters<typeof tsToMs>[0] }): number => tsToMs(event.eventTime);

/**
 * Abort → every fault rolled back, for 10 faults (5 kinds) on 4 hosts: from the abort to the completion of the
 * last rollback activity in history (the same machine's clock; a rollback completes only once verified).
 */
async function abortOverSsh(temporal: TestTemporal, lab: TestHosts) {
  const sleepers = await startSleepers(lab);
  const faults = twentyFaults(lab, sleepers.pidfiles).filter((_, i) => i % 2 === 0);
  const plan = faultPlan(
    'bench-ssh-abort',
    faults.map((f) => ({ name: f.name, kind: f.kind, hosts: [f.host.name], params: f.params })),
  );
  const taskQueue = uniqueTaskQueue('bench-ssh-abort');
  const worker = await spawnWorkerProcess(temporal, taskQueue, writeWorkerConfig(lab));
  const toRolledBack: number[] = [];
  try {
    for (let run = 0; run < abortRuns; run++) {
      const handle = await startPlan(
        temporal,
        { ...plan, observation: { window: '10m', sampleInterval: '1s' } },
        taskQueue,
      );
      await waitForPhase(handle, 'observe');
      const started = Date.now();
      await handle.executeUpdate(abortUpdate, { args: [{ reason: 'bench' }] });
      const report = await handle.result();
      if (!report.faults.every((fault) => fault.status === 'rolled-back')) throw new Error('not rolled back');
      const events = (await handle.fetchHistory()).events ?? [];
      const typeOf = new Map(
        events.map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes?.activityType?.name]),
      );
      const lastRollback = events.findLast((event) =>
        ['rollBackFaultsInOrder', 'rollbackFault'].includes(
          typeOf.get(String(event.activityTaskCompletedEventAttributes?.scheduledEventId)) ?? '',
        ),
      );
      if (lastRollback === undefined) throw new Error('no rollback completed');
      toRolledBack.push(eventMs(lastRollback) - started);
    }
  } finally {
    await worker.kill('SIGTERM');
    await (lab.hosts[0] as TestHost).inside(['kill', ...sleepers.pids]);
  }
  return {
    runs: toRolledBack.length,
    faults: faults.length,
    hosts: stepHosts,
    p50: Math.round(percentile(toRolledBack, 50)),
    p99: Math.round(percentile(toRolledBack, 99)),
    goal: 'reported beside the local goal (p50 ≤ 150 ms, p99 ≤ 400 ms)',
  };
}

export async function sshBench(temporal: TestTemporal): Promise<Record<string, unknown>> {
  const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const lab = await startTestHosts(stepHosts);
  let steps;
  let abort;
  let roundTrips;
  try {
    console.error(
      `[bench] SSH: 20 inject/rollback steps vs bash over ControlMaster, ${stepRuns} runs (load ${load()})`,
    );
    steps = await twentySteps(temporal, lab);
    console.error(`[bench] SSH: abort → 10 faults on ${stepHosts} hosts rolled back (load ${load()})`);
    abort = await abortOverSsh(temporal, lab);
    console.error(`[bench] SSH: round trips per target for each fault kind (load ${load()})`);
    roundTrips = await roundTripsPerKind(lab);
  } finally {
    await lab.stop();
  }
  console.error(`[bench] SSH: one fault on ${manyTargets} hosts vs one host (load ${load()})`);
  const many = await manyTargetsBench(temporal);
  return {
    sshTwentySteps: steps,
    sshAbortToRolledBackMs: abort,
    sshRoundTripsPerKind: roundTrips,
    sshManyTargets: many,
    sshLoadAverage: load(),
  };
}
