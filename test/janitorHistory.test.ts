import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { unrolledSteps } from '../activities/janitor/recordedSteps';
import { deadManSwitchFor, type FaultActivityInput, type FaultStep } from '../workflows/definitions';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
// fromObject turns plain numbers into the Long ids and times a real history has.
const event = (fields: Record<string, unknown>): HistoryEvent =>
  temporal.api.history.v1.HistoryEvent.fromObject(fields);

const payloads = (value: unknown) => ({ payloads: [defaultPayloadConverter.toPayload(value)] });

const stepNamed = (id: string): FaultStep => ({
  id,
  fault: id.split('@')[0] ?? id,
  kind: 'process-pause',
  target: { group: 'here', kind: 'local', name: 'local' },
  params: { pidfile: '/run/x.pid' },
  inject: `pause ${id}`,
  rollback: `resume ${id}`,
});

/** A history as a game day writes it: activities scheduled (with input) and completed (with result). */
function history() {
  const events: HistoryEvent[] = [];
  let id = 0;
  const schedule = (type: string, input: unknown): number => {
    events.push(
      event({
        eventId: ++id,
        eventTime: { seconds: 1_800_000_000 + id, nanos: 0 },
        activityTaskScheduledEventAttributes: { activityType: { name: type }, input: payloads(input) },
      }),
    );
    return id;
  };
  const complete = (scheduledEventId: number, result: unknown) =>
    events.push(
      event({
        eventId: ++id,
        activityTaskCompletedEventAttributes: { scheduledEventId, result: payloads(result) },
      }),
    );
  const fail = (scheduledEventId: number) =>
    events.push(event({ eventId: ++id, activityTaskFailedEventAttributes: { scheduledEventId } }));
  return { events, schedule, complete, fail };
}

const input = (id: string, index: number): FaultActivityInput => ({
  step: stepNamed(id),
  tag: 'ab12cd34',
  deadMan: deadManSwitchFor('ab12cd34', index, 60_000),
});

describe("the janitor's reading of a game day's history", () => {
  it('lists prepared and inject-scheduled steps without a completed rollback, with their saved state', () => {
    const h = history();
    const saved = { processes: [{ pid: 42, startTime: 7 }] };
    // a: prepared, injected, its rollback failed (then the run was terminated): still a leftover.
    h.complete(h.schedule('prepareFault', input('a@local', 0)), saved);
    h.schedule('injectFault', { ...input('a@local', 0), saved });
    h.fail(h.schedule('rollbackFault', { ...input('a@local', 0), saved }));
    // b: rolled back and verified: not one.
    h.complete(h.schedule('prepareFault', input('b@local', 1)), saved);
    h.schedule('injectFault', { ...input('b@local', 1), saved });
    h.complete(h.schedule('rollbackFault', { ...input('b@local', 1), saved }), { attempt: 1, detail: 'ok' });
    // c: only prepared (prepare reads, changes nothing): not one.
    h.complete(h.schedule('prepareFault', input('c@local', 2)), saved);
    // d: inject scheduled but prepare never completed: nothing was recorded to roll back with.
    h.schedule('prepareFault', input('d@local', 3));

    const steps = unrolledSteps(h.events, defaultPayloadConverter);
    assert.deepEqual(
      steps.map((step) => step.fault.step.id),
      ['a@local'],
    );
    const [a] = steps;
    assert.deepEqual(a?.fault.saved, saved, 'the saved state, exactly as prepare returned it');
    assert.equal(a?.fault.tag, 'ab12cd34');
    assert.equal(a?.fault.deadMan.base, '/tmp/.gameday-ab12cd34-deadman-0');
    assert.equal(a?.injectScheduledAt, new Date((1_800_000_000 + 3) * 1000).toISOString());
  });

  it('reads the targets of a fault served by one activity each for prepare and inject, per target', () => {
    const h = history();
    const saved = (pid: number) => ({ processes: [{ pid, startTime: 7 }] });
    const steps = ['e@one', 'e@two', 'e@three'].map((id, i) => input(id, i));
    // e@three's prepare failed in the shared activity (handed to its own, which never completed).
    h.complete(h.schedule('prepareFaultOnTargets', { steps }), {
      outcomes: [
        { prepared: true, saved: saved(1) },
        { prepared: true, saved: saved(2) },
        { prepared: false, error: 'ssh: connection refused' },
      ],
    });
    h.schedule('injectFaultOnTargets', {
      steps: steps.slice(0, 2).map((one, i) => ({ ...one, saved: saved(i + 1) })),
    });
    // e@two was rolled back by the batch, e@one's rollback failed there.
    h.complete(
      h.schedule('rollBackFaultsInOrder', {
        groups: [steps.slice(0, 2).map((one, i) => ({ ...one, saved: saved(i + 1) }))],
      }),
      {
        attempt: 1,
        groups: [
          [
            { rolledBack: false, error: 'busy' },
            { rolledBack: true, detail: 'ok', at: 'x' },
          ],
        ],
      },
    );

    const found = unrolledSteps(h.events, defaultPayloadConverter);
    assert.deepEqual(
      found.map((step) => step.fault.step.id),
      ['e@one'],
    );
    assert.deepEqual(found[0]?.fault.saved, saved(1), 'its own saved state, not a sibling target’s');
    assert.equal(found[0]?.fault.deadMan.base, '/tmp/.gameday-ab12cd34-deadman-0');
    assert.equal(found[0]?.injectScheduledAt, new Date((1_800_000_000 + 3) * 1000).toISOString());
  });

  it('a history with no fault activity has nothing', () => {
    const h = history();
    h.complete(h.schedule('resolvePlan', { plan: {} }), { steps: [] });
    assert.deepEqual(unrolledSteps(h.events, defaultPayloadConverter), []);
  });
});
