import { proxySinks, type Sinks } from '@temporalio/workflow';
import type { Outcome } from './definitions';

/**
 * What only the workflow knows, handed to the worker's metrics. Sink calls add nothing to history (recorded
 * histories replay unchanged) and are not repeated when a worker replays a history.
 */
export interface GameDayMetricsSinks extends Sinks {
  gameDayMetrics: {
    gameDayFinished(plan: string, outcome: Outcome): void;
    rollbackStuck(plan: string): void;
  };
}

export const { gameDayMetrics } = proxySinks<GameDayMetricsSinks>();
