import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { faultKinds } from './faults/registry';

export type RollbackResultLabel = 'success' | 'failure';
export type CheckResultLabel = 'held' | 'deviated' | 'unknown';

/** What activities and workflow sinks record; the worker serves it on /metrics when `metrics.listen` is set. */
export interface GameDayMetrics {
  readonly registry: Registry;
  /** A fault passed its inject activity (the dead-man switch armed and the fault in place). */
  faultInjected(key: string, kind: string, seconds: number): void;
  /** One rollback activity attempt; a successful one removes the fault from the active ones. */
  rollbackAttempted(key: string, kind: string, result: RollbackResultLabel, seconds: number): void;
  /** `unknown`: the probe had no evidence either way (e.g. an empty Prometheus result with onEmpty: unknown). */
  checkEvaluated(check: string, result: CheckResultLabel): void;
  /** From the workflow (a sink): the run ended with this outcome. */
  gameDayFinished(plan: string, outcome: string): void;
  /** From the workflow (a sink): a rollback needs a person. */
  rollbackStuck(plan: string): void;
  /** A janitor sweep looked at these hosts and found these leftovers (each host's gauges are replaced). */
  janitorSwept(hosts: readonly string[], findings: readonly { host: string; since?: string }[]): void;
}

export interface GameDayMetricsOptions {
  /** Node's process and runtime metrics; only worth collecting when something scrapes them. */
  readonly defaultMetrics?: boolean;
  /**
   * Game days running in phase `rollback-stuck`, counted in Temporal's visibility store when scraped: true for
   * the whole cluster whichever worker runs them, and across worker restarts (an in-process gauge is not).
   */
  readonly countRollbackStuck?: () => Promise<number>;
  readonly onCollectError?: (error: unknown) => void;
}

/** Inject and rollback take from milliseconds (tc) to minutes (a service that must come back). */
const durationBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export function createGameDayMetrics(options: GameDayMetricsOptions = {}): GameDayMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const gameDays = new Counter({
    name: 'gameday_game_days_total',
    help: 'Game days finished, by plan and outcome (passed, failed, aborted, not-started, rollback-stuck).',
    labelNames: ['plan', 'outcome'],
    registers,
  });
  const stuckEntered = new Counter({
    name: 'gameday_rollback_stuck_entered_total',
    help: 'Times a game day entered phase rollback-stuck (a rollback that needs a person), by plan.',
    labelNames: ['plan'],
    registers,
  });
  // Keyed by run and step, so a retried activity or a rollback of a fault never injected here counts once.
  const active = new Map<string, string>();
  // Every kind is exported from the start (at 0), so graphs see a fault go away and increase() sees the first
  // failed rollback of a kind (a series that appears at 1 would hide it).
  const kindsSeen = new Set<string>(Object.keys(faultKinds));
  new Gauge({
    name: 'gameday_faults_active',
    help: 'Faults injected by this worker process and not yet rolled back, by kind.',
    labelNames: ['kind'],
    registers,
    collect() {
      for (const kind of kindsSeen) this.set({ kind }, 0);
      for (const kind of active.values()) this.inc({ kind });
    },
  });
  const injectSeconds = new Histogram({
    name: 'gameday_fault_inject_duration_seconds',
    help: 'Duration of successful inject activities, by fault kind.',
    labelNames: ['kind'],
    buckets: durationBuckets,
    registers,
  });
  const rollbackSeconds = new Histogram({
    name: 'gameday_fault_rollback_duration_seconds',
    help: 'Duration of rollback attempts (rollback and its verification), by fault kind and result.',
    labelNames: ['kind', 'result'],
    buckets: durationBuckets,
    registers,
  });
  const rollbackAttempts = new Counter({
    name: 'gameday_rollback_attempts_total',
    help: 'Rollback attempts, by fault kind and result (success, failure).',
    labelNames: ['kind', 'result'],
    registers,
  });
  for (const kind of kindsSeen) {
    for (const result of ['success', 'failure'] as const) rollbackAttempts.inc({ kind, result }, 0);
  }
  const checks = new Counter({
    name: 'gameday_check_results_total',
    help: 'Check and guardrail evaluations, by check name and result (held, deviated, unknown).',
    labelNames: ['check', 'result'],
    registers,
  });
  // Set by each janitor sweep of whole hosts, per host (a sweep scoped to some runs' tags sets nothing).
  const janitorFindings = new Gauge({
    name: 'gameday_janitor_findings',
    help: 'Leftovers of finished game days found by the last janitor sweep of each host.',
    labelNames: ['host'],
    registers,
  });
  const janitorOldest = new Gauge({
    name: 'gameday_janitor_oldest_finding_timestamp_seconds',
    help: 'Since when the oldest leftover on each host has been there (unix seconds); absent when clean.',
    labelNames: ['host'],
    registers,
  });
  const { countRollbackStuck, onCollectError } = options;
  if (countRollbackStuck) {
    // Both gauges are collected in parallel on each scrape: they share one query.
    let inFlight: Promise<number | undefined> | undefined;
    const countOnce = () =>
      (inFlight ??= countRollbackStuck()
        .catch((error: unknown) => {
          onCollectError?.(error);
          return undefined;
        })
        .finally(() => (inFlight = undefined)));
    new Gauge({
      name: 'gameday_visibility_query_up',
      help: "1 when counting stuck game days in Temporal's visibility store worked on this scrape, else 0.",
      registers,
      async collect() {
        this.set((await countOnce()) === undefined ? 0 : 1);
      },
    });
    new Gauge({
      name: 'gameday_rollback_stuck',
      help: "Running game days in phase rollback-stuck (from Temporal's visibility store, cluster-wide).",
      registers,
      async collect() {
        // NaN rather than a stale or false 0 when the query failed; gameday_visibility_query_up says so.
        this.set((await countOnce()) ?? Number.NaN);
      },
    });
  }

  return {
    registry,
    faultInjected(key, kind, seconds) {
      active.set(key, kind);
      kindsSeen.add(kind);
      injectSeconds.observe({ kind }, seconds);
    },
    rollbackAttempted(key, kind, result, seconds) {
      if (result === 'success') active.delete(key);
      rollbackAttempts.inc({ kind, result });
      rollbackSeconds.observe({ kind, result }, seconds);
    },
    checkEvaluated(check, result) {
      checks.inc({ check, result });
    },
    gameDayFinished(plan, outcome) {
      gameDays.inc({ plan, outcome });
    },
    rollbackStuck(plan) {
      stuckEntered.inc({ plan });
    },
    janitorSwept(hosts, findings) {
      for (const host of hosts) {
        const here = findings.filter((finding) => finding.host === host);
        janitorFindings.set({ host }, here.length);
        const since = here.flatMap((finding) => (finding.since ? [Date.parse(finding.since) / 1000] : []));
        if (since.length > 0) janitorOldest.set({ host }, Math.min(...since));
        else janitorOldest.remove({ host });
      }
    },
  };
}
