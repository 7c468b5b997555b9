import { Context } from '@temporalio/activity';
import { workerSecrets } from './redact';

const heartbeatEveryMs = 500;

/**
 * Heartbeats with details: they reach history when the activity times out (its last heartbeat), past the
 * activity interceptor that redacts results and failures, so they are redacted here.
 */
export function heartbeat(ctx: Context, details?: unknown): void {
  ctx.heartbeat(details === undefined ? undefined : workerSecrets.redactDeep(details));
}

/**
 * Runs an activity body while heartbeating in the background, so a dead worker is noticed within the heartbeat
 * timeout and a cancellation reaches the body even while it waits on a slow command.
 */
export async function withHeartbeats<T>(
  body: (ctx: Context) => Promise<T>,
  details?: () => unknown,
): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => heartbeat(ctx, details?.()), heartbeatEveryMs);
  try {
    return await body(ctx);
  } finally {
    clearInterval(timer);
  }
}
