import type { HostTarget } from '../../plan/targets';
import type { ActivityDeps } from '../deps';
import { withHeartbeats } from '../heartbeat';
import { diagnoseIo } from './collect';
import type { IoEvidenceCollection } from './evidence';

export interface CollectIoEvidenceInput {
  /** The hosts to look at: the game day's fault targets. */
  readonly targets: readonly HostTarget[];
  readonly when: IoEvidenceCollection['when'];
  /** Why evidence is collected ("check api-latency deviated"), for the report. */
  readonly reason: string;
  readonly intervalMs: number;
}

/**
 * Collects IO evidence from every target host at once. A host that cannot be diagnosed gets its error in the
 * evidence instead: collecting evidence never fails the game day.
 */
export function collectIoEvidence(
  deps: ActivityDeps,
  input: CollectIoEvidenceInput,
): Promise<IoEvidenceCollection> {
  return withHeartbeats(async () => {
    const unique = [...new Map(input.targets.map((t) => [t.name, t])).values()];
    const hosts = await Promise.all(
      unique.map((target) =>
        diagnoseIo(deps.executorFor(target), { intervalMs: input.intervalMs }).catch((error: unknown) => ({
          host: target.name,
          error: error instanceof Error ? error.message : String(error),
        })),
      ),
    );
    return { when: input.when, reason: input.reason, hosts };
  });
}
