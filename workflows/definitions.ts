// Shared between the workflow, its activities and the CLI. Pure: types and Temporal definitions only.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { Plan, ProbeSpec, RecoveryAction } from '../plan/schema';
import type { HostTarget, Target } from '../plan/targets';
import type { IoEvidenceCollection } from '../activities/diagnosis/evidence';

export const gameDayWorkflowType = 'gameDay';
export const defaultTaskQueue = 'gameday';

export const phases = [
  'resolve',
  'preflight',
  'inject',
  'observe',
  'rollback',
  'rollback-stuck',
  'recover',
  'done',
] as const;
export type Phase = (typeof phases)[number];

export const outcomes = ['passed', 'failed', 'aborted', 'not-started', 'rollback-stuck'] as const;
export type Outcome = (typeof outcomes)[number];

export const searchAttributes = {
  plan: defineSearchAttributeKey('GameDayPlan', SearchAttributeType.KEYWORD),
  phase: defineSearchAttributeKey('GameDayPhase', SearchAttributeType.KEYWORD),
  outcome: defineSearchAttributeKey('GameDayOutcome', SearchAttributeType.KEYWORD),
  targets: defineSearchAttributeKey('GameDayTargets', SearchAttributeType.KEYWORD_LIST),
} as const;

/**
 * Temporal refuses a search attribute value above 2 KB (limit.searchAttributesSizeBytes), which a list of a
 * few hundred host names exceeds: the UI gets as many whole names as fit, the report keeps every target.
 */
export const searchableTargetsMaxBytes = 1800;

/** The first targets whose JSON-encoded list stays within `searchableTargetsMaxBytes` (target names are ASCII). */
export function searchableTargets(targets: readonly string[]): string[] {
  const kept: string[] = [];
  for (const target of targets) {
    if (JSON.stringify([...kept, target]).length > searchableTargetsMaxBytes) break;
    kept.push(target);
  }
  return kept;
}

export interface GameDayInput {
  readonly plan: Plan;
  readonly planDigest: string;
  /**
   * Short tag carried by everything the run leaves on hosts (chains, files, labels). A schedule starts every run
   * with the same arguments, so scheduled runs have none and the workflow draws its own (recorded in the memo).
   */
  readonly tag?: string;
  /**
   * Set when a schedule started the run: such a run first makes sure the system is clean, and with
   * `pauseOnFailure` pauses its schedule when it does not pass (startGate.ts).
   */
  readonly schedule?: { readonly id: string; readonly pauseOnFailure?: boolean };
  /** Seed of the blast-radius choices; random (and recorded) when absent. */
  readonly seed?: number;
}

/** One fault applied to one target, as the resolve phase produced it. */
export interface FaultStep {
  /** `<fault>@<target>`: unique within the run. */
  readonly id: string;
  readonly fault: string;
  readonly kind: string;
  readonly target: Target;
  /** A container on the target whose network namespace the (network) fault acts in. */
  readonly container?: string;
  /** Parameters after validation, defaults applied. */
  readonly params: unknown;
  /** Plain words for the UI: "pause pidfile /run/x.pid on local (SIGSTOP)". */
  readonly inject: string;
  readonly rollback: string;
  /** The plan's observation window, for kinds that end by themselves and must outlast it. */
  readonly windowMs?: number;
}

export interface ResolvedPlan {
  readonly steps: readonly FaultStep[];
  readonly targets: readonly string[];
  /** Plain words for every check and guardrail, by name. */
  readonly checks: Readonly<Record<string, string>>;
  /** Plain words for each recovery action of the plan, in order. */
  readonly actions?: readonly string[];
  /** Things the run must say out loud (e.g. a host whose key is not verified). */
  readonly warnings?: readonly string[];
  /** What checks read at the game day's start to compare later samples with, by check name. */
  readonly baselines?: Readonly<Record<string, CheckBaseline>>;
}

/**
 * A target group with `via`, resolved by a worker of its zone (the main worker cannot reach it): its targets,
 * and for a Kubernetes group what the main resolution needs to choose among them.
 */
export interface ZoneGroup {
  readonly targets: readonly Target[];
  /** A Kubernetes pod selector that takes every pod of its namespace. */
  readonly wholeNamespace?: boolean;
  /** A Kubernetes group's namespace as one target, for kinds that act on a namespace. */
  readonly namespace?: Target;
}

/** What a zone's worker resolves: the plan's groups whose `via` is its queue, and the checks on their hosts. */
export interface ZoneResolveInput {
  readonly plan: Plan;
  readonly queue: string;
}

export interface ZoneResolved {
  /** By group name: every group of the plan whose `via` is the zone's queue. */
  readonly groups: Readonly<Record<string, ZoneGroup>>;
  /** Hosts of these groups whose keys the zone's worker does not verify: every game day on them says so. */
  readonly unverifiedHosts?: readonly string[];
}

/** What the zones' workers resolved, merged: their groups, and which of their hosts' keys are not verified. */
export interface ZonesResolved {
  readonly groups: Readonly<Record<string, ZoneGroup>>;
  readonly unverifiedHosts: readonly string[];
}

/**
 * Numbers a check kind reads once, at the game day's start, to judge later samples against (a `kubernetes`
 * ready check's restart count per pod UID). Kept in the workflow, handed to every evaluation of that check.
 */
export type CheckBaseline = Readonly<Record<string, number>>;

/** What every check evaluation of a game day knows of the run. */
export interface GameDayCheckContext {
  /** When the game day started (epoch ms): checks that look back (logs since the game day) start there. */
  readonly startMs: number;
  readonly baselines?: Readonly<Record<string, CheckBaseline>>;
}

/** One evaluation of one check. */
export interface CheckResult {
  readonly name: string;
  /** Whether the observation matched the plan's expectation (`expect: pass` or `expect: fail`). */
  readonly holds: boolean;
  readonly expect: 'pass' | 'fail';
  readonly detail: string;
  readonly value?: number;
  /** The probe saw nothing to judge (e.g. no data with `onEmpty: unknown`): counted as holding, shown as unknown. */
  readonly unknown?: boolean;
  /** The probe could not ask (command not found, host unreachable, …): never holds, whatever `expect` says. */
  readonly couldNotAsk?: boolean;
  /**
   * A command's (or Kubernetes exec's) output, stdout then stderr, redacted: its last 4 KB, in results that do
   * not hold only (a window of held samples adds nothing to history). `detail` has its last lines.
   */
  readonly output?: string;
  readonly at: string;
}

/**
 * The numbers a check's value must stay within (a command's `value: {min, max}`, a PromQL condition's bound,
 * an HTTP check's maxLatency): the line its samples are plotted against. Absent when a kind judges otherwise.
 */
export interface ValueBound {
  readonly min?: number;
  readonly max?: number;
}

/** How one sample was judged: held, deviated (answered otherwise than the plan expects), unknown, could not ask. */
export type SampleState = 'held' | 'deviated' | 'unknown' | 'could-not-ask';

/** One sample, kept small: when (epoch ms), the number it read, how it was judged. */
export interface SamplePoint {
  readonly atMs: number;
  readonly value?: number;
  readonly state: SampleState;
}

/**
 * Samples kept per check for the report's timeline: a longer window keeps every 2nd, 4th, 8th… sample (evenly
 * spaced, the first and the newest always kept), so a 1 h window at 1 s stays a few KB per check.
 */
export const maxSamplePoints = 240;

/** Many samples of one check during the observation window, summarised. */
export interface SampleSummary {
  readonly name: string;
  /** The samples themselves, at most `maxSamplePoints` (thinned evenly); absent in reports before they existed. */
  readonly points?: readonly SamplePoint[];
  readonly bound?: ValueBound;
  readonly samples: number;
  readonly held: number;
  readonly firstDeviation?: CheckResult;
  readonly last?: CheckResult;
  readonly min?: number;
  readonly max?: number;
  /** Samples that were unknown (counted in `held`). */
  readonly unknown?: number;
  /** Samples whose probe could not ask (never counted in `held`). */
  readonly couldNotAsk?: number;
}

export interface ObserveInput {
  readonly checks: readonly ProbeSpec[];
  readonly guardrails: readonly (ProbeSpec & { readonly breachAfter: number })[];
  /** Epoch ms at which the window ends; a retried activity resumes towards the same deadline. */
  readonly deadline: number;
  readonly intervalMs: number;
  readonly gameDay?: GameDayCheckContext;
}

export interface ObserveResult {
  readonly checks: readonly SampleSummary[];
  readonly guardrails: readonly SampleSummary[];
  readonly breach?: CheckResult;
}

export interface RecoveryResult {
  readonly recovered: boolean;
  /** How long after the start of recovery every check held (or the whole budget when it never did). */
  readonly afterMs: number;
  readonly results: readonly CheckResult[];
  /** Recovery actions that ran before this wait, because an earlier one ran out of time. */
  readonly afterActions?: number;
}

/** Something gameday did to the system beyond a fault's own rollback, because the plan asked for it. */
export interface Intervention {
  readonly at: string;
  /** Plain words: "delete pods app=web in shop (context prod) that check web-ready finds not Ready". */
  readonly action: string;
  /** What it did and found: the pods deleted, the rollout's state. */
  readonly detail: string;
  /** Set when the action failed: why. */
  readonly error?: string;
}

/** One recovery action of the plan, run by the worker (activities/recoveryActions.ts). */
/** What a scheduled run asks before it starts: is anything left unclean by an earlier run of its plan? */
export interface StartBlockersInput {
  readonly plan: string;
  /** The asking run, never its own blocker. */
  readonly workflowId: string;
  /** The hosts the plan's target groups name: leftovers of finished runs there block the start too. */
  readonly targets?: readonly string[];
}

export interface PauseScheduleInput {
  readonly scheduleId: string;
  /** Shown as the schedule's note: which run paused it, and why. */
  readonly note: string;
}

export interface RecoveryActionInput {
  readonly action: RecoveryAction;
  readonly tag: string;
  /** When the workflow began the action (ISO): a rollout restart's `restartedAt`; older pods may be deleted. */
  readonly at: string;
  /** The check a `deletePods` action's `failing` names: only the pods it finds not Ready are deleted. */
  readonly failing?: ProbeSpec;
}

export interface RecoveryActionResult {
  readonly detail: string;
}

/** A fault's host-side dead-man switch (activities/deadMan.ts). */
export interface DeadManSwitch {
  /** Base path of the switch's files on the host; everything it leaves starts with it. */
  readonly base: string;
  /** The host reverts the fault when the lease has not been renewed for this long. */
  readonly leaseMs: number;
}

/**
 * `<dir>/.gameday-<tag>-<name>`: every file a run leaves on a host is named so, and only for as long as its
 * fault is in place; the tag finds them all.
 */
export function taggedPath(tag: string, name: string, dir = '/tmp'): string {
  return `${dir.replace(/\/$/, '')}/.gameday-${tag}-${name}`;
}

/** The n-th fault step's switch: a per-run, per-step path under /tmp, found by the tag. */
export function deadManSwitchFor(tag: string, stepIndex: number, leaseMs: number): DeadManSwitch {
  return { base: taggedPath(tag, `deadman-${stepIndex}`), leaseMs };
}

export interface FaultActivityInput {
  readonly step: FaultStep;
  readonly tag: string;
  readonly deadMan: DeadManSwitch;
}

/** Renews the leases of armed faults, grouped by target, until cancelled. */
export interface KeepLeasesInput {
  readonly leases: readonly { readonly target: HostTarget; readonly switches: readonly DeadManSwitch[] }[];
  readonly leaseMs: number;
}

export interface SavedFaultInput extends FaultActivityInput {
  /** What `prepare` read before anything changed; the rollback restores exactly that. */
  readonly saved: unknown;
}

export interface RollbackResult {
  readonly attempt: number;
  readonly detail: string;
  /** Set when the host's dead-man switch had already reverted the fault: what it logged. */
  readonly revertedByHost?: string;
}

/**
 * Rollbacks for one activity, in the order they run: each group (the targets of one fault) together, the groups
 * one after another, last fault first.
 */
export interface RollbackInOrderInput {
  readonly groups: readonly (readonly SavedFaultInput[])[];
}

/** One rollback's single try inside `rollBackFaultsInOrder`: done and verified, or handed back with why. */
export type RollbackOutcome =
  | {
      readonly rolledBack: true;
      readonly detail: string;
      readonly revertedByHost?: string;
      /** When its verification passed (worker clock). */
      readonly at: string;
    }
  | { readonly rolledBack: false; readonly error: string };

export interface RollbackInOrderResult {
  readonly attempt: number;
  /** Per group it handled, per target: it stops after the first group with a failed rollback. */
  readonly groups: readonly (readonly RollbackOutcome[])[];
}

/** The targets of one fault, for one activity that serves them all (each tried once, reported on its own). */
export interface FaultOnTargetsInput {
  readonly steps: readonly FaultActivityInput[];
}

/** One target's prepare inside `prepareFaultOnTargets`: its saved state, or handed back with why. */
export type PreparedOutcome =
  { readonly prepared: true; readonly saved: unknown } | { readonly prepared: false; readonly error: string };

export interface PrepareOnTargetsResult {
  /** Per target, in the order of the input's steps. */
  readonly outcomes: readonly PreparedOutcome[];
}

export interface InjectOnTargetsInput {
  readonly steps: readonly SavedFaultInput[];
}

/** One target's arm, inject and verify inside `injectFaultOnTargets`: in place and seen, or handed back. */
export type InjectedOutcome =
  | {
      readonly injected: true;
      readonly detail: string;
      /** When its verification saw it in place (worker clock). */
      readonly at: string;
    }
  | { readonly injected: false; readonly error: string };

export interface InjectOnTargetsResult {
  readonly outcomes: readonly InjectedOutcome[];
}

export type FaultStatus =
  'preparing' | 'injecting' | 'active' | 'inject-failed' | 'rolling-back' | 'rolled-back' | 'rollback-stuck';

export interface FaultRecord {
  readonly id: string;
  readonly fault: string;
  readonly kind: string;
  readonly target: string;
  readonly inject: string;
  readonly rollback: string;
  /** The task queue its steps and rollback ran on, when its group has `via` (else the main queue). */
  readonly taskQueue?: string;
  status: FaultStatus;
  injectedAt?: string;
  rollbackStartedAt?: string;
  rolledBackAt?: string;
  rollbackAttempts?: number;
  detail?: string;
  error?: string;
}

export interface TimelineEntry {
  readonly at: string;
  readonly phase: Phase;
  readonly message: string;
}

/** What `state` returns while the game day runs, and (complete) what it returns at the end. */
export interface GameDayReport {
  readonly workflowId: string;
  readonly plan: string;
  readonly owner: string;
  readonly planDigest: string;
  readonly tag: string;
  seed?: number;
  phase: Phase;
  outcome?: Outcome;
  reason?: string;
  readonly startedAt: string;
  finishedAt?: string;
  targets: string[];
  faults: FaultRecord[];
  checks: {
    preflight: CheckResult[];
    during: SampleSummary[];
    guardrails: SampleSummary[];
    /** The guardrail sample that stopped the run. */
    breach?: CheckResult;
    recovery?: RecoveryResult;
  };
  /** The latest value of every check, by name. */
  lastChecks: Record<string, CheckResult>;
  timeline: TimelineEntry[];
  /** IO evidence from the fault targets' hosts, collected when a check deviated or did not recover. */
  ioEvidence?: IoEvidenceCollection[];
  /** Recovery actions (and other interventions) gameday ran, in order. */
  interventions?: Intervention[];
}

export interface AbortRequest {
  readonly reason: string;
  readonly by?: string;
}

export interface AbortResponse {
  /** The phase the game day was in when the abort was accepted. */
  readonly phase: Phase;
}

export const abortUpdate = defineUpdate<AbortResponse, [AbortRequest]>('abort');
export const stateQuery = defineQuery<GameDayReport>('state');
