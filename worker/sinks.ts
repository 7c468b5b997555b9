import type { InjectedSinks } from '@temporalio/worker';
import type { GameDayMetrics } from '../activities/metrics';
import type { GameDayMetricsSinks } from '../workflows/metricsSinks';

/** The worker's end of the workflow's metric sinks (not called while replaying history). */
export function gameDaySinks(metrics: GameDayMetrics): InjectedSinks<GameDayMetricsSinks> {
  return {
    gameDayMetrics: {
      gameDayFinished: { fn: (_info, plan, outcome) => metrics.gameDayFinished(plan, outcome) },
      rollbackStuck: { fn: (_info, plan) => metrics.rollbackStuck(plan) },
    },
  };
}
