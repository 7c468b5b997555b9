import { Context } from '@temporalio/activity';

const heartbeatEveryMs = 500;

/**
 * Runs an activity body while heartbeating in the background, so a dead worker is noticed within the heartbeat
 * timeout and a cancellation reaches the body even while it waits on a slow command.
 */
export async function withHeartbeats<T>(
  body: (ctx: Context) => Promise<T>,
  details?: () => unknown,
): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(details?.()), heartbeatEveryMs);
  try {
    return await body(ctx);
  } finally {
    clearInterval(timer);
  }
}
