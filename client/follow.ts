import type { WorkflowHandle } from '@temporalio/client';
import { stateQuery, type GameDayReport } from '../workflows/definitions';
import type { gameDay } from '../workflows/gameDay';
import { samplesSoFar, type SamplesSoFar } from './progress';
import { timelineLine } from './render';
import { CliError, exitCodes } from './exitCodes';
import { style } from './style';
import { startWorkerHint } from './workerPresence';

export interface FollowOptions {
  /** Where progress lines go; nothing is printed when absent (--json). */
  readonly print?: (line: string) => void;
  readonly pollMs?: number;
  /**
   * Given the samples so far while the observation window runs (asked at most once a second), and undefined
   * once it is over.
   */
  readonly samples?: (samples: SamplesSoFar | undefined) => void;
  /** Called once if the game day enters rollback-stuck; returning true stops following. */
  readonly onStuck?: (state: GameDayReport) => boolean;
  /**
   * When its state cannot be asked: the task queue and how many workers poll it now. With none for longer than
   * `waitMs`, following gives up (exit 6); the game day itself goes on when a worker comes back.
   */
  readonly worker?: {
    readonly taskQueue: string;
    readonly pollers: () => Promise<number>;
    readonly waitMs: number;
  };
}

export type FollowResult = { readonly report: GameDayReport; readonly stuck: boolean };

/** Prints the timeline as it grows (phases, faults, checks) until the game day ends, and returns its report. */
export async function follow(
  handle: WorkflowHandle<typeof gameDay>,
  options: FollowOptions = {},
): Promise<FollowResult> {
  const print = options.print ?? (() => undefined);
  const pollMs = options.pollMs ?? 300;
  let shown = 0;
  let samplesAskedAt = 0;
  let warned = false;
  let noWorkerSince: number | undefined;
  let finished: GameDayReport | undefined;
  let failure: Error | undefined;
  const result = handle.result().then(
    (report) => (finished = report),
    (error: unknown) => (failure = error instanceof Error ? error : new Error(String(error))),
  );
  const { worker } = options;
  const queue = worker?.taskQueue ?? "the workflow's task queue";
  /** No worker answered: say so once, naming the queue; give up once none has polled it for too long. */
  const noAnswer = async () => {
    const polling = worker ? await worker.pollers().catch(() => 1) : 1;
    if (polling > 0) {
      noWorkerSince = undefined;
      if (!warned) print(style.yellow(`waiting for a gameday worker on task queue ${queue} to answer…`));
      warned = true;
      return;
    }
    noWorkerSince ??= Date.now();
    if (!warned) {
      print(style.yellow(`no gameday worker polls task queue ${queue}: ${startWorkerHint(queue)}`));
      warned = true;
    }
    if (worker && Date.now() - noWorkerSince > worker.waitMs) {
      throw new CliError(
        `no gameday worker has polled task queue ${queue} for ${Math.round(worker.waitMs / 1000)} s: game day ` +
          `${handle.workflowId} goes on (and rolls back) when one does; follow it with \`gameday status ${handle.workflowId}\``,
        exitCodes.error,
      );
    }
  };
  const show = (report: GameDayReport) => {
    for (const entry of report.timeline.slice(shown)) print(timelineLine(entry));
    shown = Math.max(shown, report.timeline.length);
  };
  while (finished === undefined && failure === undefined) {
    try {
      const state = await handle.query(stateQuery);
      if (state.phase !== 'observe') options.samples?.(undefined);
      show(state);
      noWorkerSince = undefined;
      if (state.phase === 'observe' && options.samples && Date.now() - samplesAskedAt >= 1000) {
        samplesAskedAt = Date.now();
        // The samples are a bonus: a describe that fails leaves the last ones shown.
        const samples = await samplesSoFar(handle).catch(() => null);
        if (samples !== null) options.samples(samples);
      }
      if (state.phase === 'rollback-stuck' && options.onStuck?.(state)) return { report: state, stuck: true };
    } catch {
      if (finished === undefined && failure === undefined) await noAnswer();
    }
    await Promise.race([result, new Promise((resolve) => setTimeout(resolve, pollMs))]);
  }
  options.samples?.(undefined);
  if (failure !== undefined) throw failure;
  const report = finished as GameDayReport;
  show(report);
  return { report, stuck: false };
}
