import { ApplicationFailure } from '@temporalio/common';
import pino from 'pino';
import { resolvePlanOnWorker, resolveZoneGroups, uncheckedTargets } from '../activities/resolve';
import type { Plan } from '../plan/schema';
import { zoneQueuesOf } from '../plan/targets';
import { activityDepsFromConfig } from '../worker/activityDeps';
import type { WorkerConfig } from '../worker/config';
import type { ZoneGroup } from '../workflows/definitions';

/** What a worker would say of a plan at resolve. */
export interface WorkerVerdict {
  /** Why the worker refuses the plan (its inventory, endpoints, allow-lists, webhooks); absent when it would run it. */
  readonly refusal?: string;
  readonly targets: readonly string[];
  /** What this check could not cover: groups that another task queue's workers resolve. */
  readonly notes: readonly string[];
}

/**
 * Checks plans as the worker of `config` would at resolve: the same code (resolvePlanOnWorker), with the same
 * inventory, Prometheus endpoints, webhooks and Kubernetes contexts (whose API servers it asks, as the worker
 * does). Groups whose `via` is this worker's task queue are resolved as its zone; groups of other queues are
 * resolved by their own workers, so they are only noted.
 */
export function workerChecker(config: WorkerConfig): {
  check(plan: Plan): Promise<WorkerVerdict>;
  close(): Promise<void>;
} {
  const deps = activityDepsFromConfig(config, pino({ level: 'silent' }));
  return {
    close: () => deps.close(),
    async check(plan) {
      const notes: string[] = [];
      const groups: Record<string, ZoneGroup> = {};
      try {
        for (const queue of zoneQueuesOf(plan)) {
          if (queue === config.taskQueue) {
            Object.assign(groups, (await resolveZoneGroups(deps, { plan, queue })).groups);
            continue;
          }
          const names = Object.keys(plan.targets).filter((name) => plan.targets[name]?.via === queue);
          for (const name of names) {
            const group = plan.targets[name];
            if (group !== undefined) groups[name] = { targets: uncheckedTargets(name, group) };
          }
          notes.push(
            `target group(s) ${names.join(', ')} are resolved by the workers of task queue ${queue}: ` +
              'validate with their --config too',
          );
        }
        const zones = zoneQueuesOf(plan).length > 0 ? { zones: { groups, unverifiedHosts: [] } } : {};
        const resolved = await resolvePlanOnWorker(deps, { plan, seed: 0, tag: 'validate', ...zones });
        return { targets: resolved.targets, notes: [...notes, ...(resolved.warnings ?? [])] };
      } catch (error) {
        if (error instanceof ApplicationFailure && error.type === 'PlanRefused') {
          return { refusal: error.message, targets: [], notes };
        }
        throw error;
      }
    },
  };
}
