import { temporal as proto } from '@temporalio/proto';
import { CliError, exitCodes } from './exitCodes';
import type { Temporal } from './gameDays';

// Whether a gameday worker polls a task queue, asked of Temporal (DescribeTaskQueue), so that nothing the CLI
// does waits silently for a worker that is not there.

/**
 * A worker long-polls for about a minute at a time and Temporal lists a poller for minutes after it went away:
 * one not seen for longer than this is gone.
 */
const pollerFreshMs = 75_000;

/** How long `gameday run` waits for a worker before it gives up (exit 6), unless `--wait`. */
export const defaultWorkerWaitMs = 30_000;

/** How to start what is missing, in the words of the README. */
export function startWorkerHint(taskQueue: string): string {
  return `start one with \`gameday worker --task-queue ${taskQueue} --config <worker.yaml>\` (or \`gameday dev\`)`;
}

/** Workers that polled the queue for workflow tasks lately (a gameday worker always does). */
export async function pollersOn(temporal: Temporal, taskQueue: string): Promise<number> {
  const response = await temporal.client.workflowService.describeTaskQueue({
    namespace: temporal.namespace,
    taskQueue: { name: taskQueue, kind: proto.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  const now = Date.now();
  return (response.pollers ?? []).filter((poller) => {
    const seconds = poller.lastAccessTime?.seconds;
    if (seconds === undefined || seconds === null) return true;
    return now - Number(seconds) * 1000 < pollerFreshMs;
  }).length;
}

/**
 * Waits until a worker polls the queue, saying once what it waits for; after `waitMs` (unless infinite) it
 * gives up with exit 6 and what to do. Returns at once when one is there.
 */
export async function awaitWorker(
  temporal: Temporal,
  taskQueue: string,
  { waitMs, say, what }: { waitMs: number; say: (line: string) => void; what: string },
): Promise<void> {
  // A worker started a moment ago (gameday demo, a test) shows up within a poll: no need to say anything.
  for (let quiet = 0; quiet < 2000; quiet += 250) {
    if ((await pollersOn(temporal, taskQueue)) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const bound = Number.isFinite(waitMs) ? `up to ${Math.round(waitMs / 1000)} s` : 'until one does (--wait)';
  say(`no gameday worker polls task queue ${taskQueue}: ${startWorkerHint(taskQueue)}; waiting ${bound}…`);
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if ((await pollersOn(temporal, taskQueue)) > 0) return;
  }
  throw new CliError(
    `no gameday worker polled task queue ${taskQueue} within ${Math.round(waitMs / 1000)} s, ${what}: ` +
      `${startWorkerHint(taskQueue)} and try again, or pass --wait`,
    exitCodes.error,
  );
}

/** Refuses (exit 6, one line) what needs a worker to answer when none polls the game day's task queue. */
export async function requireWorker(
  temporal: Temporal,
  taskQueue: string,
  workflowId: string,
  need: string,
): Promise<void> {
  if ((await pollersOn(temporal, taskQueue)) > 0) return;
  throw new CliError(
    `game day ${workflowId} is running, but no gameday worker polls its task queue ${taskQueue}, so ${need}: ` +
      `${startWorkerHint(taskQueue)}. The game day goes on (and rolls back) once one does.`,
    exitCodes.error,
  );
}
