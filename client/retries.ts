import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, optionalTsToDate } from '@temporalio/common';
import { temporal as proto } from '@temporalio/proto';
import type { GameDayReport, Phase, TimelineEntry } from '../workflows/definitions';

// What the workflow cannot see and its history can: a step (activity) that ran more than once — its worker was
// lost and another took it over, or it failed and was retried. Read from a game day's history (and, while it
// runs, from its pending activities), said in the timeline every view shows. The workflow's report is not
// changed: these notes are merged into what the CLI shows.

type HistoryEvent = proto.api.history.v1.IHistoryEvent;
type Failure = proto.api.failure.v1.IFailure;
type PendingActivity = proto.api.workflow.v1.IPendingActivityInfo;

const { TimeoutType } = proto.api.enums.v1;

/** One step that took more than one attempt (or whose only attempt was lost with its worker). */
export interface StepAttempts {
  /** The step's plain words, as the workflow named it for the UI (its summary), else the activity's type. */
  readonly step: string;
  readonly activityType: string;
  /** The number of the latest attempt (1 for the first). */
  readonly attempts: number;
  /** Why the attempt before the latest ended, in plain words; absent for a first attempt. */
  readonly earlierEnded?: string;
  /** Whether that earlier attempt ended because its worker stopped answering (a heartbeat timeout). */
  readonly workerLost?: boolean;
  /** The worker the latest attempt ran on (Temporal's worker identity, `<pid>@<host>` by default). */
  readonly worker?: string;
  /** What became of the latest attempt: "finished", "failed: …", "is running", … */
  readonly latest: string;
  /** Whether the step has ended (else it is still pending: running, or waiting for a worker). */
  readonly closed: boolean;
  /** When the latest attempt started (ISO), or when it was scheduled if it has not started. */
  readonly at: string;
}

const oneLine = (text: string, max = 300) => {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
};

/** The timeout a failure reports, looking through its causes (an activity's failure wraps it). */
function timeoutOf(failure: Failure | null | undefined): number | undefined {
  for (let f = failure; f; f = f.cause) {
    const type = f.timeoutFailureInfo?.timeoutType;
    if (type !== undefined && type !== null) return type;
  }
  return undefined;
}

/** How an attempt ended, from the failure Temporal recorded for it; `lost` when its worker stopped answering. */
export function attemptEnd(failure: Failure | null | undefined): { words: string; lost: boolean } {
  const timeout = timeoutOf(failure);
  if (timeout === TimeoutType.TIMEOUT_TYPE_HEARTBEAT) {
    return { words: 'heartbeat timeout (its worker was lost)', lost: true };
  }
  if (timeout === TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE) {
    return { words: 'start-to-close timeout (its worker was lost, or the step hung)', lost: false };
  }
  if (timeout === TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE) {
    return { words: 'schedule-to-close timeout', lost: false };
  }
  if (failure?.canceledFailureInfo) return { words: 'cancellation', lost: false };
  const message = failure?.message ? oneLine(failure.message) : 'an unknown failure';
  return { words: `failure: ${message}`, lost: false };
}

/** An event id (a Long, a number): the key events refer to each other by. */
const idOf = (value: { toString(): string } | null | undefined): string => value?.toString() ?? '';

function isoOf(event: HistoryEvent | undefined): string | undefined {
  return optionalTsToDate(event?.eventTime)?.toISOString();
}

/** The summary the workflow gave the activity (user metadata, a JSON string payload). */
function summaryOf(event: HistoryEvent): string | undefined {
  const payload = event.userMetadata?.summary;
  if (!payload) return undefined;
  try {
    const value: unknown = defaultPayloadConverter.fromPayload(payload);
    return typeof value === 'string' && value !== '' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** What became of a latest attempt, from the event that closed it. */
function closedAs(event: HistoryEvent | undefined): string | undefined {
  if (!event) return undefined;
  if (event.activityTaskCompletedEventAttributes) return 'finished';
  const failed = event.activityTaskFailedEventAttributes;
  if (failed) return `failed (not retried further): ${oneLine(failed.failure?.message ?? 'no message')}`;
  const timedOut = event.activityTaskTimedOutEventAttributes;
  if (timedOut) return `ended by ${attemptEnd(timedOut.failure).words}, not retried further`;
  if (event.activityTaskCanceledEventAttributes) return 'was cancelled (as the workflow asked)';
  return undefined;
}

/** What a pending (not yet closed) activity's latest attempt is doing. */
function pendingAs(pending: PendingActivity | undefined): string {
  const { PendingActivityState } = proto.api.enums.v1;
  switch (pending?.state) {
    case PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
      return 'is running';
    case PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED:
      return 'is being cancelled';
    default:
      return 'waits for a worker';
  }
}

/**
 * Every step of a history that ran more than once, or whose one attempt was lost with its worker; in the order
 * they were scheduled. `pending` (from describe, while the game day runs) adds what the history has not
 * recorded yet: Temporal writes a retried activity's start only when it closes.
 */
export function stepAttempts(
  events: readonly HistoryEvent[],
  pending: readonly PendingActivity[] = [],
): StepAttempts[] {
  const started = new Map<string, HistoryEvent>();
  const closed = new Map<string, HistoryEvent>();
  for (const event of events) {
    if (event.activityTaskStartedEventAttributes) {
      started.set(idOf(event.activityTaskStartedEventAttributes.scheduledEventId), event);
    }
    const closing =
      event.activityTaskCompletedEventAttributes ??
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.activityTaskCanceledEventAttributes;
    if (closing) closed.set(idOf(closing.scheduledEventId), event);
  }
  const pendingById = new Map(pending.map((p) => [p.activityId ?? '', p]));
  const found: StepAttempts[] = [];
  for (const event of events) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (!scheduled) continue;
    const activityType = scheduled.activityType?.name ?? 'activity';
    const step = summaryOf(event) ?? activityType;
    const id = idOf(event.eventId);
    const start = started.get(id);
    const close = closed.get(id);
    const stillPending = close === undefined ? pendingById.get(scheduled.activityId ?? '') : undefined;
    const attempt = start?.activityTaskStartedEventAttributes;
    const attempts = attempt?.attempt ?? stillPending?.attempt ?? 1;
    const lastFailure = attempt?.lastFailure ?? stillPending?.lastFailure;
    const lostAlone =
      attempts === 1 && timeoutOf(close?.activityTaskTimedOutEventAttributes?.failure) !== undefined;
    if (attempts < 2 && !lostAlone) continue;
    const earlier = attempts > 1 ? attemptEnd(lastFailure) : undefined;
    const worker = attempt?.identity || stillPending?.lastWorkerIdentity || undefined;
    const at =
      isoOf(start) ??
      optionalTsToDate(stillPending?.lastStartedTime)?.toISOString() ??
      optionalTsToDate(stillPending?.scheduledTime)?.toISOString() ??
      isoOf(event) ??
      new Date(0).toISOString();
    found.push({
      step,
      activityType,
      attempts,
      ...(earlier ? { earlierEnded: earlier.words, workerLost: earlier.lost } : {}),
      ...(worker ? { worker } : {}),
      latest: closedAs(close) ?? pendingAs(stillPending),
      closed: close !== undefined,
      at,
    });
  }
  return found;
}

/**
 * The timeline's words: "step verify: … ran 2 times: attempt 1 ended by heartbeat timeout (its worker was
 * lost), attempt 2 on worker 4242@host finished".
 */
export function attemptsNote(s: StepAttempts): string {
  const on = s.worker ? ` on worker ${s.worker}` : '';
  if (s.attempts === 1) return `step ${s.step}: its only attempt${on} ${s.latest}`;
  const before = s.attempts - 1;
  const unrecorded =
    before > 1
      ? ` (how attempt${before > 2 ? `s 1–${before - 1}` : ' 1'} ended is not in the history: Temporal keeps the last failure)`
      : '';
  const head = s.closed ? `ran ${s.attempts} times` : `is on attempt ${s.attempts}`;
  return (
    `step ${s.step} ${head}: attempt ${before} ended by ${s.earlierEnded ?? 'an unrecorded failure'}, ` +
    `attempt ${s.attempts}${on} ${s.latest}${unrecorded}`
  );
}

/** The phase the game day was in at `at`: that of the last entry of the timeline at or before it. */
function phaseAt(timeline: readonly TimelineEntry[], at: string): Phase {
  const ms = Date.parse(at);
  let phase: Phase = timeline[0]?.phase ?? 'resolve';
  for (const entry of timeline) {
    if (Date.parse(entry.at) > ms) break;
    phase = entry.phase;
  }
  return phase;
}

/** The timeline entries of these steps, each at the time its latest attempt started. */
export function attemptEntries(report: GameDayReport, steps: readonly StepAttempts[]): TimelineEntry[] {
  return steps.map((s) => ({ at: s.at, phase: phaseAt(report.timeline, s.at), message: attemptsNote(s) }));
}

/** The report with these notes merged into its timeline, in time order (a note after entries of its time). */
export function withAttemptNotes(report: GameDayReport, steps: readonly StepAttempts[]): GameDayReport {
  if (steps.length === 0) return report;
  const notes = attemptEntries(report, steps);
  const timeline = [...report.timeline.map((entry, i) => ({ entry, key: [Date.parse(entry.at), 0, i] }))];
  timeline.push(...notes.map((entry, i) => ({ entry, key: [Date.parse(entry.at), 1, i] })));
  timeline.sort((a, b) => {
    for (let k = 0; k < 3; k++) {
      const difference = (a.key[k] ?? 0) - (b.key[k] ?? 0);
      if (difference !== 0) return difference;
    }
    return 0;
  });
  return { ...report, timeline: timeline.map(({ entry }) => entry) };
}

/** The steps of a game day (finished or running) that ran more than once, read from Temporal. */
export async function fetchStepAttempts(handle: WorkflowHandle): Promise<StepAttempts[]> {
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const closedWorkflow = events.some(
    (e) =>
      e.workflowExecutionCompletedEventAttributes ??
      e.workflowExecutionFailedEventAttributes ??
      e.workflowExecutionTerminatedEventAttributes ??
      e.workflowExecutionTimedOutEventAttributes ??
      e.workflowExecutionCanceledEventAttributes ??
      e.workflowExecutionContinuedAsNewEventAttributes,
  );
  const pending = closedWorkflow ? [] : ((await handle.describe()).raw.pendingActivities ?? []);
  return stepAttempts(events, pending);
}

/**
 * The report as every view shows it: the workflow's own, with the steps that ran more than once in its
 * timeline. Reading the history is a bonus: when it cannot be read the report is shown as it is, and `warn`
 * says why.
 */
export async function reportWithAttempts(
  handle: WorkflowHandle,
  report: GameDayReport,
  warn: (line: string) => void = () => undefined,
): Promise<{ readonly report: GameDayReport; readonly steps: readonly StepAttempts[] }> {
  try {
    const steps = await fetchStepAttempts(handle);
    return { report: withAttemptNotes(report, steps), steps };
  } catch (error) {
    warn(`retried steps left out: the history could not be read (${(error as Error).message})`);
    return { report, steps: [] };
  }
}
