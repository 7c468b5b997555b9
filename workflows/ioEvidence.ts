import { isCancellation } from '@temporalio/workflow';
import { isHostTarget, type HostTarget } from '../plan/targets';
import { activities, evidenceOptions, inZone, inZoneFailure, onQueue, zoneOf } from './activityOptions';
import type { ObserveResult } from './definitions';
import { failureMessage, type GameDayRun } from './gameDayRun';

export interface EvidencePlan {
  /** Before the rollback (the faults still in place), or sampled alongside it when safety cannot wait. */
  readonly when: 'before-rollback' | 'alongside-rollback';
  readonly reason: string;
  readonly intervalMs: number;
}

/**
 * Whether the window's result is worth IO evidence from the fault hosts, and when: a breach is a safety stop,
 * so its evidence is sampled as the rollback begins; a deviating `during` check gets evidence before the
 * rollback removes what caused it; a window that held needs none.
 */
export function evidenceAfterWindow(result: ObserveResult): EvidencePlan | undefined {
  if (result.breach) {
    return {
      when: 'alongside-rollback',
      reason: `guardrail ${result.breach.name} breached; sampled as its rollback began`,
      intervalMs: 1000,
    };
  }
  const deviated = result.checks.filter((summary) => summary.held !== summary.samples);
  if (deviated.length === 0) return undefined;
  const names = deviated.map((summary) => summary.name).join(', ');
  return { when: 'before-rollback', reason: `${names} deviated`, intervalMs: 2000 };
}

/**
 * IO evidence from the hosts of the recorded faults, each zone's hosts by its own workers (one activity per
 * queue, side by side); a failure is a note, never the game day's.
 */
export async function collectIoEvidence(
  run: GameDayRun,
  when: 'during' | 'after',
  reason: string,
  intervalMs: number,
): Promise<void> {
  const hosts = new Map(run.rollbacks.map((entry) => [entry.step.target.name, entry.step.target]));
  // Kubernetes objects have no host to diagnose.
  const byZone = new Map<string | undefined, HostTarget[]>();
  for (const target of [...hosts.values()].filter(isHostTarget)) {
    byZone.set(target.via, [...(byZone.get(target.via) ?? []), target]);
  }
  await Promise.all(
    [...byZone].map(([via, targets]) => collectOnQueue(run, via, targets, { when, reason, intervalMs })),
  );
}

async function collectOnQueue(
  run: GameDayRun,
  via: string | undefined,
  targets: HostTarget[],
  { when, reason, intervalMs }: { when: 'during' | 'after'; reason: string; intervalMs: number },
): Promise<void> {
  const zone = zoneOf(run.plan, via);
  try {
    const evidence = await activities(
      inZone(
        {
          ...evidenceOptions(intervalMs),
          summary: `collect IO evidence on ${targets.map((t) => t.name).join(', ')} (${reason})${onQueue(via)}`,
        },
        zone,
      ),
    ).collectIoEvidence({ targets, when, reason, intervalMs });
    (run.report.ioEvidence ??= []).push(evidence);
    for (const host of evidence.hosts) {
      run.note(
        `IO evidence from ${host.host}: ${'error' in host ? `not collected: ${host.error}` : host.finding}`,
      );
    }
  } catch (error) {
    if (isCancellation(error)) throw error;
    run.note(
      `IO evidence could not be collected: ${failureMessage(inZoneFailure(error, zone, 'the IO evidence'))}`,
    );
  }
}
