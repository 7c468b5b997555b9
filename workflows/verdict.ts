import type { Plan } from '../plan/schema';
import { duration } from './activityOptions';
import type { GameDayReport, Outcome } from './definitions';

export interface Verdict {
  readonly outcome: Outcome;
  readonly reason: string;
}

/**
 * The outcome of a run whose faults were rolled back: aborted when it stopped early; failed when the window
 * is no evidence, a `during` check deviated or the system did not recover in time; passed otherwise. Pure.
 */
export function verdictOf(report: GameDayReport, plan: Plan, abortReason: string | undefined): Verdict {
  if (abortReason !== undefined) return { outcome: 'aborted', reason: abortReason };
  const unobserved = withoutEvidence(report, plan);
  const deviations = report.checks.during
    .filter((summary) => summary.held !== summary.samples)
    .map((summary) => `${summary.name} held ${summary.held}/${summary.samples} samples`);
  if (unobserved !== undefined) deviations.unshift(unobserved);
  const recovery = report.checks.recovery;
  const within = duration(plan.recovery.within);
  const actions = recovery?.afterActions ?? 0;
  if (recovery !== undefined && !recovery.recovered) {
    deviations.push(
      actions > 0
        ? `did not recover within ${within}, nor within ${within} after ${actions} recovery action(s)`
        : `did not recover within ${within}`,
    );
  } else if (actions > 0) {
    // The system came back only because gameday did what an operator would have: a finding, not a pass.
    deviations.push(
      `did not recover by itself within ${within}; recovered after ${actions} recovery action(s)`,
    );
  }
  if (deviations.length > 0) return { outcome: 'failed', reason: deviations.join('; ') };
  return { outcome: 'passed', reason: 'the steady state held during chaos and recovered' };
}

/**
 * Too few samples are no evidence: a window that passed unobserved (a stalled worker, an observation that
 * started after its deadline) must not pass as "held in 0 of 0 samples". Undefined when every during check
 * and guardrail has at least the plan's minimum.
 */
function withoutEvidence(report: GameDayReport, plan: Plan): string | undefined {
  // Histories from before `minSamples` carry no value: one sample each, as now by default.
  const minimum = plan.observation.minSamples ?? 1;
  const short = [...report.checks.during, ...report.checks.guardrails].filter((s) => s.samples < minimum);
  if (short.length === 0) return undefined;
  const counts = short.map((s) => `${s.name} ${s.samples}`).join(', ');
  return `no evidence: sampled fewer than ${minimum} time(s) in the window (${counts}); a worker stalled or the window passed unobserved`;
}
