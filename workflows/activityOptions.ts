import {
  ActivityCancellationType,
  proxyActivities,
  type ActivityOptions,
  type RetryPolicy,
} from '@temporalio/workflow';
import ms from 'ms';
import type { createActivities } from '../activities';

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

// Rollbacks are retried until they succeed. The first round is bounded so that one stuck rollback cannot hold
// up the others; what is left is then retried without limit, in parallel, until a person fixes the cause.
const rollbackRetry: RetryPolicy = {
  initialInterval: '200ms',
  backoffCoefficient: 2,
  maximumInterval: '10s',
};
export const rollbackOptions: ActivityOptions = {
  startToCloseTimeout: '15m',
  heartbeatTimeout: '3s',
  retry: { ...rollbackRetry, maximumAttempts: 6 },
};
/** No maximumAttempts: unlimited. */
export const stuckRollbackOptions: ActivityOptions = { ...rollbackOptions, retry: rollbackRetry };

/**
 * Renews dead-man leases for as long as faults are in place; a dead worker's renewals move to another worker
 * after the heartbeat timeout, a quarter of the lease (at most 10 s), so a standby takes over in time.
 */
export const leaseKeeperOptions = (leaseMs: number): ActivityOptions => ({
  startToCloseTimeout: '7d',
  heartbeatTimeout: Math.max(1000, Math.min(10_000, Math.floor(leaseMs / 4))),
  retry: { initialInterval: '500ms', maximumInterval: '2s' },
  cancellationType: ActivityCancellationType.TRY_CANCEL,
});

/** The window's one heartbeating activity; a retry resumes it towards the same deadline. */
export const observeOptions = (windowMs: number): ActivityOptions => ({
  startToCloseTimeout: windowMs + 60_000,
  heartbeatTimeout: '3s',
  retry: { initialInterval: '200ms' },
  cancellationType: ActivityCancellationType.TRY_CANCEL,
});

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
