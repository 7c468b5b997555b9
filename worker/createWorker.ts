import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { redactingActivityInterceptors } from './redactingInterceptor';
import { gameDaySinks } from './sinks';
import { workflowSource } from './workflowCode';

/**
 * Results that later activities act on, passed to history unredacted: the resolved steps, and what each
 * rollback restores (a restarted process gets exactly its recorded command line back).
 */
const stateResultsOf: readonly (keyof ReturnType<typeof createActivities>)[] = [
  'resolvePlan',
  'resolveZoneGroups',
  'prepareFault',
  // Its failures are redacted by the activity itself; its saved states must stay as they are.
  'prepareFaultOnTargets',
  // The janitor's findings carry the saved states it hands to rollbackFault, read from the runs' histories.
  'findJanitorFindings',
];

export interface GameDayWorkerOptions {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly deps: ActivityDeps;
}

export async function createGameDayWorker(options: GameDayWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...workflowSource(),
    activities: createActivities(options.deps),
    sinks: gameDaySinks(options.deps.metrics),
    // Heartbeat details carry the observation's running summary: sent at least every second (not only every
    // 0.8 × heartbeat timeout), so a worker that dies loses at most its last second of samples.
    maxHeartbeatThrottleInterval: '1s',
    // Every activity result and failure goes into history: the worker's secrets are taken out on the way.
    interceptors: { activity: [redactingActivityInterceptors({ stateResultsOf })] },
    // A dead worker's sticky queue is abandoned after a few seconds, so a standby takes over quickly.
    stickyQueueScheduleToStartTimeout: '2s',
    // Each game day in its window holds an activity slot per lease keeper and one for the observation until
    // its rollbacks are done: with the SDK's 100 slots, 100 game days in their window would leave none for
    // the rollbacks. The activities wait on I/O, so slots are cheap (issue 14's 100-game-day bench).
    maxConcurrentActivityTaskExecutions: 1000,
    // On SIGTERM/SIGINT, running activities (rollbacks above all) get this long to finish.
    shutdownGraceTime: '30s',
  });
}
