// The soak reads each game day's history twice: live (long-polled), to land a disruption at a chosen moment,
// and afterwards, to say where the disruption really landed (what was pending at that instant) — the table
// counts where it landed, not where it was aimed.
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { sleep } from '../support/wait';

export type HistoryEvent = proto.api.history.v1.IHistoryEvent;

export const eventMs = (event: HistoryEvent): number =>
  Number(event.eventTime?.seconds ?? 0) * 1000 + (event.eventTime?.nanos ?? 0) / 1e6;

/** The activity type an event schedules, or undefined for any other event. */
/** Rolling back: the host rollbacks of a run in one activity, or one fault's on its own. */
export const isRollback = (type: string | undefined): boolean =>
  type === 'rollbackFault' || type === 'rollBackFaultsInOrder';

/**
 * The activity type an event schedules; one serving every target of a fault counts as its per-target kind
 * (`injectFaultOnTargets` is an inject, its verify included).
 */
export const scheduledType = (event: HistoryEvent): string | undefined =>
  event.activityTaskScheduledEventAttributes?.activityType?.name?.replace(/OnTargets$/, '') ?? undefined;

/** The scheduled event id an activity's closing event refers to, or undefined for any other event. */
function closedActivity(event: HistoryEvent): number | undefined {
  const closing =
    event.activityTaskCompletedEventAttributes ??
    event.activityTaskFailedEventAttributes ??
    event.activityTaskTimedOutEventAttributes ??
    event.activityTaskCanceledEventAttributes;
  const id = closing?.scheduledEventId;
  return id === undefined || id === null ? undefined : Number(id);
}

export const completedType = (event: HistoryEvent, events: readonly HistoryEvent[]): string | undefined => {
  const id = event.activityTaskCompletedEventAttributes?.scheduledEventId;
  if (id === undefined || id === null) return undefined;
  return scheduledType(events.find((e) => Number(e.eventId) === Number(id)) ?? {});
};

const workflowClosed = (event: HistoryEvent): boolean =>
  Boolean(
    event.workflowExecutionCompletedEventAttributes ??
    event.workflowExecutionFailedEventAttributes ??
    event.workflowExecutionTerminatedEventAttributes ??
    event.workflowExecutionTimedOutEventAttributes ??
    event.workflowExecutionCanceledEventAttributes ??
    event.workflowExecutionContinuedAsNewEventAttributes,
  );

/** The worker that completed the workflow task an activity was scheduled in (with eager dispatch, its runner). */
export function schedulingWorker(event: HistoryEvent, events: readonly HistoryEvent[]): string | undefined {
  const wft = event.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId;
  if (wft === undefined || wft === null) return undefined;
  return (
    events.find((e) => Number(e.eventId) === Number(wft))?.workflowTaskCompletedEventAttributes?.identity ??
    undefined
  );
}

/** The worker that completed the latest workflow task (the sticky one). */
export function lastWorkflowTaskWorker(events: readonly HistoryEvent[]): string | undefined {
  return (
    events.findLast((e) => e.workflowTaskCompletedEventAttributes)?.workflowTaskCompletedEventAttributes
      ?.identity ?? undefined
  );
}

/**
 * Where an instant falls in a game day, from its history: the steps pending then (scheduled, not closed),
 * the lease keeper aside; with none, between which steps.
 */
export function landingAt(events: readonly HistoryEvent[], atMs: number): string {
  const before = events.filter((event) => eventMs(event) <= atMs);
  if (before.some(workflowClosed)) return 'after the end';
  const pending = new Map<number, string>();
  let lastClosed: string | undefined;
  let rolledBack = false;
  let injected = false;
  for (const event of before) {
    // An inject serving all targets verifies them too: once it closed, what follows is the next fault.
    const raw = event.activityTaskScheduledEventAttributes?.activityType?.name;
    const type = raw === 'injectFaultOnTargets' ? 'injectFaultOnTargets' : scheduledType(event);
    if (type !== undefined) pending.set(Number(event.eventId), type);
    const closed = closedActivity(event);
    if (closed !== undefined) {
      lastClosed = pending.get(closed) ?? lastClosed;
      pending.delete(closed);
    }
    if (type === 'injectFault' || type === 'injectFaultOnTargets') injected = true;
    if (isRollback(type)) rolledBack = true;
  }
  const open = new Set([...pending.values()].filter((type) => type !== 'keepLeases'));
  if ([...open].some(isRollback)) return 'mid-rollback';
  if (open.has('awaitRecovery') || (rolledBack && open.has('runCheck'))) return 'recovery';
  if (open.has('observe')) return 'mid-window';
  if (open.has('injectFault') || open.has('injectFaultOnTargets')) return 'mid-inject';
  if (open.has('verifyFault')) return 'verify after inject';
  if (open.has('prepareFault')) return 'prepare';
  if (open.has('resolvePlan') || open.has('resolveZoneGroups')) return 'resolve';
  if (open.has('runCheck')) return injected ? 'recovery' : 'preflight';
  if (open.size > 0) return [...open].sort().join('+');
  switch (lastClosed) {
    case undefined:
      return 'resolve (workflow task)';
    case 'prepareFault':
      return 'between prepare and inject';
    case 'injectFault':
      return 'between inject and verify';
    case 'verifyFault':
    case 'injectFaultOnTargets':
      return 'between faults / before window';
    case 'observe':
      return 'between window and rollback';
    case 'rollbackFault':
    case 'rollBackFaultsInOrder':
      return 'between rollbacks';
    case 'awaitRecovery':
      return 'after recovery';
    default:
      return `after ${lastClosed}`;
  }
}

/** The time the last rollback activity of the run completed (ms), or undefined. */
export function lastRollbackCompletedMs(events: readonly HistoryEvent[]): number | undefined {
  const times = events
    .filter((event) => isRollback(completedType(event, events)))
    .map((event) => eventMs(event));
  return times.length > 0 ? Math.max(...times) : undefined;
}

/** A game day's whole history as it is now. */
export function fetchAll(client: Client, workflowId: string): Promise<HistoryEvent[]> {
  return client.workflow
    .getHandle(workflowId)
    .fetchHistory()
    .then((history) => history.events ?? []);
}

/**
 * Follows a game day's history as it grows (long polls, as the UI does), calling `onEvent` with each new
 * event and every event so far; ends when the workflow closes or `stopped()` says so. Survives a restarting
 * server: a failed poll starts over from the first event, skipping what it has seen.
 */
export async function followHistory(
  client: Client,
  workflowId: string,
  onEvent: (event: HistoryEvent, events: readonly HistoryEvent[]) => void,
  stopped: () => boolean,
): Promise<void> {
  const events: HistoryEvent[] = [];
  let token: Uint8Array | undefined;
  while (!stopped()) {
    try {
      const response = await client.workflowService.getWorkflowExecutionHistory({
        namespace: client.options.namespace,
        execution: { workflowId },
        waitNewEvent: true,
        maximumPageSize: 200,
        ...(token ? { nextPageToken: token } : {}),
      });
      for (const event of response.history?.events ?? []) {
        if (Number(event.eventId) <= events.length) continue;
        events.push(event);
        onEvent(event, events);
        if (workflowClosed(event)) return;
      }
      token =
        response.nextPageToken && response.nextPageToken.length > 0 ? response.nextPageToken : undefined;
      if (token === undefined) await sleep(50); // a running workflow always has a token; be gentle if not
    } catch {
      token = undefined;
      await sleep(200);
    }
  }
}
