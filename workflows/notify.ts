import type { GameDayNotificationEvent, NotificationSummary } from '../activities/notify';
import { activities } from './activityOptions';
import { failureMessage, type GameDayRun } from './gameDayRun';

/** A notification is a few short requests; a worker lost mid-way is retried once, a failure only noted. */
export const notifyOptions = {
  startToCloseTimeout: '3m',
  retry: { initialInterval: '1s', maximumAttempts: 2 },
} as const;

function summaryOf(run: GameDayRun): NotificationSummary {
  const { report } = run;
  return {
    plan: report.plan,
    owner: report.owner,
    tag: report.tag,
    workflowId: report.workflowId,
    ...(report.outcome === undefined ? {} : { outcome: report.outcome }),
    ...(report.reason ? { reason: report.reason } : {}),
    startedAt: report.startedAt,
    ...(report.finishedAt === undefined ? {} : { finishedAt: report.finishedAt }),
    faults: report.faults.map((fault) => ({ name: fault.fault, target: fault.target, status: fault.status })),
  };
}

/**
 * Tells the plan's webhooks (`notify:`) about the event; whatever happens, only the timeline hears about it.
 * A plan without `notify` schedules nothing here (its history is as before).
 */
export async function notifyWebhooks(run: GameDayRun, event: GameDayNotificationEvent): Promise<void> {
  const names = run.plan.notify ?? [];
  if (names.length === 0) return;
  try {
    const result = await activities({
      ...notifyOptions,
      summary: `notify ${names.join(', ')}: ${event}`,
    }).notify({ names, event, summary: summaryOf(run) });
    for (const name of result.sent) run.note(`notified ${name}: ${event}`);
    for (const failure of result.failed) run.note(`notification not sent: ${failure}`);
  } catch (error) {
    run.note(`notification not sent: ${failureMessage(error)}`);
  }
}
