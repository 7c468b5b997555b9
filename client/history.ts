import type { GameDayReport, SampleSummary } from '../workflows/definitions';
import { coordinate as c, html, type Markup } from './html';

// The trend over a plan's runs: per run its outcome, time to recover, rollback time and how close a guardrail
// came to its bound; over all, the pass rate. Pure: reports (and the runs visibility lists) in, rows out.

/** How close one guardrail came to its bound: the distance left (negative: past it), in its value's units. */
export interface GuardrailMargin {
  readonly guardrail: string;
  readonly margin: number;
  readonly bound: number;
  /** The margin as a share of the bound's size (when the bound is not 0): comparable across guardrails. */
  readonly ratio?: number;
}

export interface HistoryRun {
  readonly workflowId: string;
  readonly startedAt: string;
  /** The game day's outcome; for a run without a report, its Temporal status in lower case (running, terminated…). */
  readonly outcome: string;
  readonly reason?: string;
  /** From the start of recovery until every check held again; absent when it did not recover. */
  readonly recoverMs?: number;
  /** The longest rollback of the run: from its first attempt until it was verified gone. */
  readonly rollbackMs?: number;
  readonly guardrailMargin?: GuardrailMargin;
}

export interface PlanHistory {
  readonly plan: string;
  readonly since: string;
  /** Oldest first. */
  readonly runs: readonly HistoryRun[];
  /** Passed runs over finished runs (0–1); absent when none finished. */
  readonly passRate?: number;
}

/** The closest a guardrail's samples came to its bound, from the extremes it saw. */
export function guardrailMargin(summary: SampleSummary): GuardrailMargin | undefined {
  const { bound, min, max } = summary;
  if (bound === undefined || min === undefined || max === undefined) return undefined;
  const sides = [
    ...(bound.max === undefined ? [] : [{ margin: bound.max - max, bound: bound.max }]),
    ...(bound.min === undefined ? [] : [{ margin: min - bound.min, bound: bound.min }]),
  ];
  const closest = sides.sort((a, b) => a.margin - b.margin)[0];
  if (closest === undefined) return undefined;
  return {
    guardrail: summary.name,
    margin: closest.margin,
    bound: closest.bound,
    ...(closest.bound === 0 ? {} : { ratio: closest.margin / Math.abs(closest.bound) }),
  };
}

/** Of all guardrails of a run, the one that came closest (by share of its bound where it has one). */
function closestMargin(report: GameDayReport): GuardrailMargin | undefined {
  const margins = report.checks.guardrails
    .map(guardrailMargin)
    .filter((m): m is GuardrailMargin => m !== undefined);
  return margins.sort((a, b) => (a.ratio ?? a.margin) - (b.ratio ?? b.margin))[0];
}

function longestRollbackMs(report: GameDayReport): number | undefined {
  const durations = report.faults
    .filter((f) => f.rollbackStartedAt !== undefined && f.rolledBackAt !== undefined)
    .map((f) => Date.parse(f.rolledBackAt as string) - Date.parse(f.rollbackStartedAt as string));
  return durations.length === 0 ? undefined : Math.max(...durations);
}

/** One finished run's row. */
export function historyRun(report: GameDayReport): HistoryRun {
  const recovery = report.checks.recovery;
  const rollbackMs = longestRollbackMs(report);
  const margin = closestMargin(report);
  return {
    workflowId: report.workflowId,
    startedAt: report.startedAt,
    outcome: report.outcome ?? report.phase,
    ...(report.reason ? { reason: report.reason } : {}),
    ...(recovery?.recovered ? { recoverMs: recovery.afterMs } : {}),
    ...(rollbackMs === undefined ? {} : { rollbackMs }),
    ...(margin ? { guardrailMargin: margin } : {}),
  };
}

const finishedOutcomes = new Set(['passed', 'failed', 'aborted', 'not-started', 'rollback-stuck']);

export function planHistory(plan: string, since: string, runs: readonly HistoryRun[]): PlanHistory {
  const ordered = [...runs].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
  const finished = ordered.filter((run) => finishedOutcomes.has(run.outcome));
  const passed = finished.filter((run) => run.outcome === 'passed').length;
  return {
    plan,
    since,
    runs: ordered,
    ...(finished.length === 0 ? {} : { passRate: passed / finished.length }),
  };
}

const seconds = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);

export function marginText(margin: GuardrailMargin | undefined): string {
  if (margin === undefined) return '-';
  const share = margin.ratio === undefined ? '' : ` (${Math.round(margin.ratio * 100)} % of ${margin.bound})`;
  return `${margin.guardrail}: ${Number(margin.margin.toPrecision(4))}${share}`;
}

export function passRateText(history: PlanHistory): string {
  const finished = history.runs.filter((run) => finishedOutcomes.has(run.outcome)).length;
  const passed = history.runs.filter((run) => run.outcome === 'passed').length;
  return history.passRate === undefined
    ? 'no finished runs'
    : `${Math.round(history.passRate * 100)} % passed (${passed} of ${finished})`;
}

/** The history as plain text columns, for the terminal (data escaped by the caller's `printable`). */
export function historyTable(history: PlanHistory): string {
  const rows = history.runs.map((run) => [
    run.startedAt.slice(0, 19).replace('T', ' '),
    run.outcome,
    seconds(run.recoverMs),
    seconds(run.rollbackMs),
    marginText(run.guardrailMargin),
    run.workflowId,
  ]);
  const header = ['started (UTC)', 'outcome', 'recovered in', 'rollback', 'guardrail margin', 'workflow'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [
    `${history.plan} since ${history.since}: ${history.runs.length} run(s), ${passRateText(history)}`,
    '',
    line(header),
    ...rows.map(line),
  ].join('\n');
}

const outcomeClass = (outcome: string) =>
  outcome === 'passed'
    ? 'run-pass'
    : outcome === 'failed' || outcome === 'rollback-stuck'
      ? 'run-fail'
      : 'run-other';

/** One bar per run (height: time to recover; colour: outcome) and the rollback time as a line over them. */
function historyChart(history: PlanHistory): Markup {
  const width = 960;
  const height = 140;
  const left = 48;
  const top = 14;
  const bottom = height - 22;
  const runs = history.runs;
  const slot = (width - left - 12) / Math.max(runs.length, 1);
  const longest = Math.max(1, ...runs.flatMap((run) => [run.recoverMs ?? 0, run.rollbackMs ?? 0]));
  const y = (ms: number) => bottom - (ms / longest) * (bottom - top);
  const bars = runs.map((run, i) => {
    const barWidth = Math.min(Math.max(slot * 0.7, 2), 48);
    const x = left + i * slot + (slot - barWidth) / 2;
    // A run that did not recover gets a full-height bar: it is the worst case, not a missing value.
    // The shortest bars still show their outcome's colour.
    const barTop = run.recoverMs === undefined ? top : Math.min(y(run.recoverMs), bottom - 6);
    return html`<rect
      class="run-bar ${outcomeClass(run.outcome)}"
      x="${c(x)}"
      y="${c(barTop)}"
      width="${c(barWidth)}"
      height="${c(bottom - barTop)}"
      ><title>
        ${run.startedAt} ${run.outcome}: recovered in ${seconds(run.recoverMs)}, rollback
        ${seconds(run.rollbackMs)}, margin ${marginText(run.guardrailMargin)}
      </title></rect
    >`;
  });
  const spark = runs
    .map((run, i) =>
      run.rollbackMs === undefined ? undefined : `${c(left + (i + 0.5) * slot)},${c(y(run.rollbackMs))}`,
    )
    .filter((point): point is string => point !== undefined)
    .join(' ');
  return html`<svg
    class="history"
    xmlns="http://www.w3.org/2000/svg"
    viewBox="0 0 ${width} ${height}"
    width="${width}"
    height="${height}"
    role="img"
    aria-label="runs of ${history.plan}"
  >
    <line class="grid" x1="${left}" x2="${width - 12}" y1="${c(bottom)}" y2="${c(bottom)}" stroke="#d0d7de" />
    <text x="${left - 6}" y="${c(top + 8)}" text-anchor="end" font-size="10" fill="#57606a">
      ${seconds(longest)}
    </text>
    <text x="${left - 6}" y="${c(bottom)}" text-anchor="end" font-size="10" fill="#57606a">0</text>
    ${bars}${spark ? html`<polyline class="spark" points="${spark}" />` : ''}
    <text x="${left}" y="${height - 6}" font-size="10" fill="#57606a">
      bars: time to recover (full height: did not recover), coloured by outcome; line: rollback time
    </text>
  </svg>`;
}

/** The history as a section of an HTML page. */
export function historySection(history: PlanHistory): Markup {
  return html`<section class="history">
    <h2>History of ${history.plan} since ${history.since}</h2>
    <p class="pass-rate">${passRateText(history)} over ${history.runs.length} run(s)</p>
    ${historyChart(history)}
    <table class="history-runs">
      <thead>
        <tr>
          <th>started</th>
          <th>outcome</th>
          <th>recovered in</th>
          <th>rollback</th>
          <th>guardrail margin</th>
          <th>workflow</th>
        </tr>
      </thead>
      <tbody>
        ${history.runs.map(
          (run) =>
            html`<tr>
              <td>${run.startedAt}</td>
              <td class="${outcomeClass(run.outcome)}">${run.outcome}</td>
              <td>${seconds(run.recoverMs)}</td>
              <td>${seconds(run.rollbackMs)}</td>
              <td>${marginText(run.guardrailMargin)}</td>
              <td>${run.workflowId}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}
