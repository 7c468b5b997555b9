import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Plan, ProbeSpec } from '../plan/schema';
import { settleCancelledWithinMs, type Cancellation } from './activityOptions';
import {
  abortUpdate,
  searchAttributes,
  stateQuery,
  type AbortRequest,
  type CheckResult,
  type DeadManSwitch,
  type CheckBaseline,
  type FaultRecord,
  type FaultStep,
  type GameDayCheckContext,
  type GameDayInput,
  type Intervention,
  type GameDayReport,
  type Outcome,
  type Phase,
} from './definitions';
import { framedMarkdown, markdownText } from './markdown';

/** A recorded fault step: what its rollback needs. Recorded before its inject runs. */
export interface RollbackEntry {
  readonly step: FaultStep;
  readonly saved: unknown;
  readonly record: FaultRecord;
  readonly deadMan: DeadManSwitch;
}

/**
 * One game day's state, owned in one place: the report with its timeline and phase, why it is stopping, the
 * rollbacks recorded so far. Phases change it only through these methods.
 */
export class GameDayRun {
  readonly plan: Plan;
  readonly tag: string;
  readonly report: GameDayReport;
  /** Last in, first out: every fault step whose rollback was recorded. */
  readonly rollbacks: RollbackEntry[] = [];
  /** Renews dead-man leases while faults are in place; cancelled once every rollback has been tried. */
  readonly leaseKeeper = new CancellationScope();
  /** Plain words for each check, by name, once resolved. */
  descriptions: Readonly<Record<string, string>> = {};
  /** Plain words for each recovery action, in plan order, once resolved. */
  actionWords: readonly string[] = [];
  /** What checks read at the start to compare with (restart counts), by check name, once resolved. */
  baselines: Readonly<Record<string, CheckBaseline>> = {};
  /** When the game day started (workflow time), for checks that look back to it. */
  readonly startMs = Date.now();
  /** Set when the run ended before anything was injected and the verdict is already known. */
  outcome?: Outcome;
  /** Why the run stops early: a user abort, a guardrail breach, a failed step, cancellation. */
  private stopReason: string | undefined;
  private rollbackStarted = false;
  /** Evidence sampled while the rollbacks begin (after a breach); awaited before recovery. */
  evidenceAlongsideRollback: Promise<void> | undefined;
  /**
   * How activities the run cancels without awaiting (lease keeper, an aborted observation) are cancelled: new
   * runs wait, before completing, until each has stopped, so a finished game day shows nothing pending.
   */
  readonly cancellation: Cancellation = patched('settle-cancelled-activities')
    ? ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
    : ActivityCancellationType.TRY_CANCEL;
  /** Activities started and not awaited, still running or being cancelled. */
  private unsettled = 0;

  constructor(input: GameDayInput) {
    this.plan = input.plan;
    // uuid4 is seeded by the workflow: the same tag on every replay.
    this.tag = input.tag ?? uuid4().replace(/-/g, '').slice(0, 8);
    const seed = input.seed ?? Math.floor(Math.random() * 2 ** 31);
    this.report = {
      workflowId: workflowInfo().workflowId,
      plan: input.plan.metadata.name,
      owner: input.plan.metadata.owner,
      planDigest: input.planDigest,
      tag: this.tag,
      seed,
      phase: 'resolve',
      startedAt: now(),
      targets: [],
      faults: [],
      checks: { preflight: [], during: [], guardrails: [] },
      lastChecks: {},
      timeline: [],
    };
  }

  get seed(): number {
    return this.report.seed ?? 0;
  }

  /** `state` answers with the report so far; `abort` stops the run until its rollback has begun. */
  listen(): void {
    setHandler(stateQuery, () => this.report);
    setHandler(
      abortUpdate,
      ({ reason, by }) => {
        this.stopReason ??= `aborted${by ? ` by ${by}` : ''}: ${reason}`;
        this.note(this.stopReason);
        return { phase: this.report.phase };
      },
      {
        validator: ({ reason }: AbortRequest) => {
          if (!reason?.trim()) throw new Error('an abort needs a reason (--reason "…")');
          if (this.rollbackStarted)
            throw new Error(`the game day is already past injection (phase ${this.report.phase})`);
        },
      },
    );
  }

  /** Whether the run is stopping early (no further fault is injected, the window ends). */
  get stopping(): boolean {
    return this.stopReason !== undefined;
  }

  get abortReason(): string | undefined {
    return this.stopReason;
  }

  /** Stops the run early; the first reason given is the one reported. */
  stop(reason: string): void {
    this.stopReason ??= reason;
    this.note(this.stopReason);
  }

  /** A safety stop (a guardrail breach): its reason is the one reported. */
  stopForSafety(reason: string): void {
    this.stopReason = reason;
    this.note(reason);
  }

  /** An observation an abort ended, still to be cancelled. */
  private unfinishedObservation: CancellationScope | undefined;

  /** The observation an abort ended is cancelled as the rollback begins, without waiting for it. */
  cancelAtRollback(observation: CancellationScope): void {
    this.unfinishedObservation = observation;
  }

  /**
   * From here on an abort is refused: the rollback runs anyway. An observation an abort ended is cancelled
   * now, in the same step as the rollback's first commands (the order recorded histories have).
   */
  rollbackBegins(): void {
    this.rollbackStarted = true;
    this.unfinishedObservation?.cancel();
  }

  /** An activity the run does not await: the run waits for it, bounded, before it completes. */
  settleBeforeEnd(activity: Promise<unknown>): void {
    this.unsettled += 1;
    const settled = () => {
      this.unsettled -= 1;
    };
    activity.then(settled, settled);
  }

  /** Waits until every activity it cancelled has stopped, at most settleCancelledWithinMs; no timer if none. */
  async cancelledActivitiesStopped(): Promise<void> {
    if (this.cancellation === ActivityCancellationType.TRY_CANCEL || this.unsettled === 0) return;
    if (!(await condition(() => this.unsettled === 0, settleCancelledWithinMs))) {
      this.note(
        `${this.unsettled} cancelled activity(ies) had not stopped after ${settleCancelledWithinMs / 1000} s; ` +
          'completing without them (Temporal times them out)',
      );
    }
  }

  note(message: string): void {
    this.report.timeline.push({ at: now(), phase: this.report.phase, message });
  }

  enter(phase: Phase, message: string): void {
    this.report.phase = phase;
    this.note(message);
    upsertSearchAttributes([{ key: searchAttributes.phase, value: phase }]);
    const outcome = phase === 'done' ? this.report.outcome : undefined;
    setCurrentDetails(
      outcome === undefined ? `**${phase}** — ${markdownText(message)}` : this.outcomeDetails(outcome),
    );
  }

  /**
   * The UI's current details once the game day is over: Temporal shows every finished game day as a green
   * "Completed", so these lead with the outcome and its reason, then what became of each fault.
   */
  private outcomeDetails(outcome: Outcome): string {
    const { report } = this;
    const faults = report.faults.map(
      (fault) => `- ${markdownText(`${fault.id}: ${fault.status}${fault.error ? ` (${fault.error})` : ''}`)}`,
    );
    const lines = [
      `## outcome: ${outcome}`,
      '',
      markdownText(report.reason ?? ''),
      '',
      ...(faults.length > 0 ? ['**Faults**', '', ...faults] : ['Nothing was injected.']),
      '',
      `Plan ${markdownText(report.plan)} (owner ${markdownText(report.owner)}), tag ${report.tag}, finished ` +
        `${report.finishedAt ?? now()}. Temporal's "Completed" only says the game day ran to its end: its ` +
        'outcome is the one above, also in search attribute GameDayOutcome and in the memo.',
    ];
    return framedMarkdown(lines.join('\n'));
  }

  recordChecks(results: readonly CheckResult[]): void {
    for (const result of results) {
      this.report.lastChecks[result.name] = result;
      this.note(
        `check ${result.name} ${result.holds ? 'held' : 'DEVIATED'} (expect ${result.expect}): ${result.detail}`,
      );
    }
  }

  /** What each check evaluation is told of the run: its start and the checks' baselines. */
  checkContext(): GameDayCheckContext {
    const baselines = Object.keys(this.baselines).length > 0 ? { baselines: this.baselines } : {};
    return { startMs: this.startMs, ...baselines };
  }

  /** Something gameday did beyond a rollback (a recovery action): into the report and the timeline. */
  intervene(intervention: Intervention): void {
    (this.report.interventions ??= []).push(intervention);
    const outcome = intervention.error === undefined ? intervention.detail : `FAILED: ${intervention.error}`;
    this.note(`intervention: ${intervention.action}: ${outcome}`);
  }

  checkSummary(spec: ProbeSpec): string {
    return `check ${spec.name}: ${this.descriptions[spec.name] ?? spec.name}`;
  }
}

export const now = (): string => new Date().toISOString();

/** The message of a failure as the workflow sees it: an activity's own error, not Temporal's wrapper. */
export function failureMessage(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : error.message;
  }
  return String(error);
}

/** Items grouped by the fault they belong to, groups in order of each fault's first item. */
export function groupedByFault<T>(items: readonly T[], faultOf: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(faultOf(item), [...(groups.get(faultOf(item)) ?? []), item]);
  return [...groups.values()];
}
