import type { PayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type {
  FaultActivityInput,
  FaultOnTargetsInput,
  PrepareOnTargetsResult,
  RollbackInOrderInput,
  RollbackInOrderResult,
  SavedFaultInput,
} from '../../workflows/definitions';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type Payloads = temporal.api.common.v1.IPayloads | null | undefined;

/** A fault step a run recorded and started to inject, and whose verified rollback never completed. */
export interface UnrolledStep {
  /** Exactly what the run's own rollback would have been handed: the step, its tag, switch and saved state. */
  readonly fault: SavedFaultInput;
  /** When its inject was scheduled (ISO). */
  readonly injectScheduledAt?: string;
}

interface Scheduled {
  readonly type: string;
  readonly input: Payloads;
}

function firstValue(converter: PayloadConverter, payloads: Payloads): unknown {
  const [payload] = payloads?.payloads ?? [];
  return payload ? converter.fromPayload(payload) : undefined;
}

function eventTime(event: HistoryEvent): string | undefined {
  const seconds = event.eventTime?.seconds;
  if (seconds === undefined || seconds === null) return undefined;
  return new Date(
    Number(String(seconds)) * 1000 + Math.floor((event.eventTime?.nanos ?? 0) / 1e6),
  ).toISOString();
}

/** The step ids a completed `rollBackFaultsInOrder` reports as rolled back and verified. */
function rolledBackTogether(converter: PayloadConverter, input: Payloads, result: Payloads): string[] {
  const { groups } = (firstValue(converter, input) ?? { groups: [] }) as RollbackInOrderInput;
  const outcome = firstValue(converter, result) as RollbackInOrderResult | undefined;
  return (outcome?.groups ?? []).flatMap((outcomes, g) =>
    outcomes.flatMap((done, i) => {
      const id = groups[g]?.[i]?.step.id;
      return done.rolledBack && id !== undefined ? [id] : [];
    }),
  );
}

/** The saved state of every target a completed `prepareFaultOnTargets` prepared, with its input. */
function preparedTogether(converter: PayloadConverter, input: Payloads, result: Payloads): SavedFaultInput[] {
  const { steps } = (firstValue(converter, input) ?? { steps: [] }) as FaultOnTargetsInput;
  const outcome = firstValue(converter, result) as PrepareOnTargetsResult | undefined;
  return (outcome?.outcomes ?? []).flatMap((done, i) => {
    const step = steps[i];
    return done.prepared && step !== undefined ? [{ ...step, saved: done.saved }] : [];
  });
}

/**
 * Reads a game day's history for fault steps that may still be in place: `prepareFault` completed (its result
 * is the saved state, kept unredacted in history for this reason) or reported prepared by a completed
 * `prepareFaultOnTargets`, `injectFault` or `injectFaultOnTargets` scheduled (so something may
 * have changed on the host, the dead-man switch at least), and no `rollbackFault` of the step completed
 * (rollbackFault completes only after its verification), nor reported rolled back by a completed
 * `rollBackFaultsInOrder`. A step only prepared changed nothing: not listed.
 */
export function unrolledSteps(events: readonly HistoryEvent[], converter: PayloadConverter): UnrolledStep[] {
  const scheduled = new Map<string, Scheduled>();
  const prepared = new Map<string, SavedFaultInput>();
  const injectScheduledAt = new Map<string, string | undefined>();
  const rolledBack = new Set<string>();
  for (const event of events) {
    const start = event.activityTaskScheduledEventAttributes;
    if (start) {
      const type = start.activityType?.name ?? '';
      scheduled.set(String(event.eventId), { type, input: start.input });
      if (type === 'injectFault' || type === 'injectFaultOnTargets') {
        const input = firstValue(converter, start.input) as
          (Partial<SavedFaultInput> & { steps?: readonly SavedFaultInput[] }) | undefined;
        for (const one of input?.steps ?? [input]) {
          if (one?.step?.id !== undefined) injectScheduledAt.set(one.step.id, eventTime(event));
        }
      }
      continue;
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (!completed) continue;
    const activity = scheduled.get(String(completed.scheduledEventId));
    if (activity === undefined) continue;
    if (activity.type === 'prepareFaultOnTargets') {
      for (const fault of preparedTogether(converter, activity.input, completed.result)) {
        prepared.set(fault.step.id, fault);
      }
      continue;
    }
    if (activity.type === 'rollBackFaultsInOrder') {
      for (const id of rolledBackTogether(converter, activity.input, completed.result)) rolledBack.add(id);
      continue;
    }
    const input = firstValue(converter, activity.input) as FaultActivityInput | undefined;
    if (input?.step?.id === undefined) continue;
    if (activity.type === 'prepareFault') {
      prepared.set(input.step.id, { ...input, saved: firstValue(converter, completed.result) });
    } else if (activity.type === 'rollbackFault') {
      rolledBack.add(input.step.id);
    }
  }
  return [...prepared.entries()]
    .filter(([id]) => injectScheduledAt.has(id) && !rolledBack.has(id))
    .map(([id, fault]) => {
      const at = injectScheduledAt.get(id);
      return { fault, ...(at === undefined ? {} : { injectScheduledAt: at }) };
    });
}
