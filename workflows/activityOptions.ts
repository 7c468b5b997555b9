import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  proxyActivities,
  TimeoutFailure,
  type ActivityOptions,
  type RetryPolicy,
} from '@temporalio/workflow';
import ms from 'ms';
import type { createActivities } from '../activities';
import type { Plan } from '../plan/schema';
import { defaultZoneStartWithin, viaOfHost, type Target } from '../plan/targets';

type Activities = ReturnType<typeof createActivities>;

/** The game day's activities with these options (each call site adds its plain-words summary). */
export const activities = (options: ActivityOptions) => proxyActivities<Activities>(options);

/** Resolving and checking read hosts: a few attempts. */
export const readOnly: ActivityOptions = {
  startToCloseTimeout: '2m',
  heartbeatTimeout: '5s',
  retry: { initialInterval: '500ms', maximumAttempts: 3 },
};

/** Inject and verify change or read hosts: a few attempts, and cancellation waits until the activity has stopped. */
export const changing: ActivityOptions = {
  startToCloseTimeout: '60s',
  heartbeatTimeout: '5s',
  retry: { initialInterval: '500ms', maximumAttempts: 3, nonRetryableErrorTypes: ['FaultUserError'] },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};

/**
 * One activity serving every target of a fault: longer than one target's (all targets share the worker), few
 * attempts (a lost worker's retry skips what it did); a target it could not serve gets its own `changing`.
 */
export const injectTogetherOptions: ActivityOptions = {
  ...changing,
  startToCloseTimeout: '5m',
  retry: { initialInterval: '500ms', maximumAttempts: 2 },
};

// Rollbacks are retried until they succeed. The first round is bounded so that one stuck rollback cannot hold
// up the others; what is left is then retried without limit, in parallel, until a person fixes the cause.
const rollbackRetry: RetryPolicy = {
  initialInterval: '200ms',
  backoffCoefficient: 2,
  maximumInterval: '10s',
};
export const rollbackOptions: ActivityOptions = {
  startToCloseTimeout: '15m',
  // Heartbeats go every 0.5 s (the SDK sends at most one per 1.2 s): a lost worker's rollbacks move to a
  // standby within 1.5 s. A false timeout under load only runs an idempotent rollback once more.
  heartbeatTimeout: '1500ms',
  retry: { ...rollbackRetry, maximumAttempts: 6 },
};
/**
 * The host rollbacks of an abort in one activity: a lost worker is retried elsewhere (finished ones skipped); a
 * batch failing as a whole hands each rollback to its own `rollbackOptions` activity, so few attempts here.
 */
export const rollbackInOrderOptions: ActivityOptions = {
  ...rollbackOptions,
  retry: { ...rollbackRetry, maximumAttempts: 3 },
};
/** No maximumAttempts: unlimited. */
export const stuckRollbackOptions: ActivityOptions = { ...rollbackOptions, retry: rollbackRetry };

/**
 * Renews dead-man leases for as long as faults are in place; a dead worker's renewals move to another worker
 * after the heartbeat timeout, a quarter of the lease (at most 10 s), so a standby takes over in time.
 */
export const leaseKeeperOptions = (leaseMs: number, cancellation: Cancellation): ActivityOptions => ({
  startToCloseTimeout: '7d',
  heartbeatTimeout: Math.max(1000, Math.min(10_000, Math.floor(leaseMs / 4))),
  retry: { initialInterval: '500ms', maximumInterval: '2s' },
  cancellationType: cancellation,
});

/** The window's one heartbeating activity; a retry resumes it towards the same deadline. */
export const observeOptions = (windowMs: number, cancellation: Cancellation): ActivityOptions => ({
  startToCloseTimeout: windowMs + 60_000,
  heartbeatTimeout: '3s',
  retry: { initialInterval: '200ms' },
  cancellationType: cancellation,
});

/**
 * How the lease keeper and the observation are cancelled: the workflow goes on at once either way; since
 * patch `settle-cancelled-activities` it also learns when they have stopped, and waits for that before it
 * completes (histories recorded before it went on without knowing).
 */
export type Cancellation =
  typeof ActivityCancellationType.TRY_CANCEL | typeof ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;

/** The longest a completing game day waits for its cancelled activities: past the longest heartbeat timeout. */
export const settleCancelledWithinMs = 15_000;

export const recoveryOptions = (withinMs: number): ActivityOptions => ({
  startToCloseTimeout: withinMs + 60_000,
  heartbeatTimeout: '5s',
  retry: { initialInterval: '500ms' },
});

/** A recovery action waits up to its own timeout; a few attempts, none for what retrying cannot fix. */
export const recoveryActionOptions = (timeoutMs: number): ActivityOptions => ({
  startToCloseTimeout: timeoutMs + 60_000,
  heartbeatTimeout: '5s',
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: ['RecoveryActionFailed'] },
});

/** Evidence is tried once: its failure is a note, never the game day's. */
export const evidenceOptions = (intervalMs: number): ActivityOptions => ({
  startToCloseTimeout: intervalMs + 90_000,
  heartbeatTimeout: '5s',
  retry: { maximumAttempts: 1 },
});

/** "30s", "5m": durations as plans write them, for summaries and notes. */
export const duration = (milliseconds: number): string => ms(milliseconds);

/**
 * A network zone: the task queue of the workers that reach a target group (its `via`), and how long an
 * activity there may wait for one of them to take it.
 */
export interface Zone {
  readonly queue: string;
  readonly startWithinMs: number;
}

export function zoneOf(plan: Plan, via: string | undefined): Zone | undefined {
  if (via === undefined) return undefined;
  // Plans recorded before zones existed have no `zoneWorkers`.
  return { queue: via, startWithinMs: plan.zoneWorkers?.startWithin ?? defaultZoneStartWithin };
}

/** The zone of whatever acts on or reads `target`: its group's, stamped on it by resolve. */
export const zoneOfTarget = (plan: Plan, target: Target): Zone | undefined => zoneOf(plan, target.via);

/** The zone a check runs in: that of the host it runs `on`, if a group with `via` names it. */
export const zoneOfCheck = (plan: Plan, check: { readonly on?: string | undefined }): Zone | undefined =>
  check.on === undefined ? undefined : zoneOf(plan, viaOfHost(plan, check.on));

/**
 * The one place options are made for an activity in a zone: its queue, and a bound on waiting for a worker
 * there, so that a zone nobody serves fails that step instead of hanging the game day. Outside a zone the
 * options are returned as they are (the commands of plans without `via` are those recorded histories have).
 * A rollback's first round is bounded too, so that it is set aside as stuck and the other rollbacks proceed;
 * `waitForever` (the stuck rollbacks' endless retries) waits for a worker for as long as it takes.
 */
export function inZone(
  options: ActivityOptions,
  zone: Zone | undefined,
  { waitForever = false } = {},
): ActivityOptions {
  if (zone === undefined) return options;
  return {
    ...options,
    taskQueue: zone.queue,
    ...(waitForever ? {} : { scheduleToStartTimeout: zone.startWithinMs }),
  };
}

/** Whether an activity failed because no worker of its queue took it within its bound. */
export function noWorkerTookIt(error: unknown): boolean {
  return (
    error instanceof ActivityFailure &&
    error.cause instanceof TimeoutFailure &&
    error.cause.timeoutType === 'SCHEDULE_TO_START'
  );
}

/** The one line said when a zone's queue has no worker: which queue, how long it waited, what to do. */
export function noWorkerLine(zone: Zone, what: string): string {
  return (
    `no worker of task queue ${zone.queue} took ${what} within ${duration(zone.startWithinMs)}: start one ` +
    `where those hosts can be reached (gameday worker --task-queue ${zone.queue})`
  );
}

/** A zone's "no worker" as that one line (not retried); any other failure as it is. */
export function inZoneFailure(error: unknown, zone: Zone | undefined, what: string): unknown {
  if (zone === undefined || !noWorkerTookIt(error)) return error;
  return ApplicationFailure.create({
    type: 'NoZoneWorker',
    message: noWorkerLine(zone, what),
    nonRetryable: true,
  });
}

/** Where a step ran, for the timeline and summaries: said only for a zone's queue. */
export const onQueue = (via: string | undefined): string => (via === undefined ? '' : ` [task queue ${via}]`);
