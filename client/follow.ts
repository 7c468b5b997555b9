import type { WorkflowHandle } from '@temporalio/client';
import { stateQuery, type GameDayReport } from '../workflows/definitions';
import type { gameDay } from '../workflows/gameDay';
import { timelineLine } from './render';
import { style } from './style';

export interface FollowOptions {
  /** Where progress lines go; nothing is printed when absent (--json). */
  readonly print?: (line: string) => void;
  readonly pollMs?: number;
  /** Called once if the game day enters rollback-stuck; returning true stops following. */
  readonly onStuck?: (state: GameDayReport) => boolean;
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
  let warned = false;
  let finished: GameDayReport | undefined;
  let failure: Error | undefined;
  const result = handle.result().then(
    (report) => (finished = report),
    (error: unknown) => (failure = error instanceof Error ? error : new Error(String(error))),
  );
  const show = (report: GameDayReport) => {
    for (const entry of report.timeline.slice(shown)) print(timelineLine(entry));
    shown = Math.max(shown, report.timeline.length);
  };
  while (finished === undefined && failure === undefined) {
    try {
      const state = await handle.query(stateQuery);
      show(state);
      if (state.phase === 'rollback-stuck' && options.onStuck?.(state)) return { report: state, stuck: true };
    } catch {
      if (!warned && finished === undefined && failure === undefined) {
        print(style.yellow(`waiting for a gameday worker on the workflow's task queue…`));
        warned = true;
      }
    }
    await Promise.race([result, new Promise((resolve) => setTimeout(resolve, pollMs))]);
  }
  if (failure !== undefined) throw failure;
  const report = finished as GameDayReport;
  show(report);
  return { report, stuck: false };
}
