import type {
  CheckResult,
  GameDayReport,
  Phase,
  SamplePoint,
  SampleState,
  SampleSummary,
  ValueBound,
} from '../workflows/definitions';
import { coordinate as c, html, type Markup } from './html';

// The game day on one time axis, as SVG: phases, each fault as a bar from inject to rollback, each check's
// samples as marks, each guardrail's values against its bound with the breach marked. Pure: report in, markup
// out; the class names are what the stylesheet (and the browser test) know the parts by.

const width = 960;
const gutter = 190; // the labels' column
const rightPad = 24;
const plotWidth = width - gutter - rightPad;
const axisHeight = 28;
const phaseRowHeight = 20;
const rowHeight = 24;
const guardrailHeight = 96;

/** When the run began and ended (or its last known moment), in epoch ms; never an empty span. */
function timeSpan(report: GameDayReport): { start: number; end: number } {
  const start = Date.parse(report.startedAt);
  const moments = [
    ...report.timeline.map((entry) => Date.parse(entry.at)),
    ...report.faults.flatMap((f) => [f.injectedAt, f.rolledBackAt].map((at) => (at ? Date.parse(at) : NaN))),
    report.finishedAt ? Date.parse(report.finishedAt) : NaN,
  ].filter(Number.isFinite);
  const end = Math.max(start + 1000, ...moments);
  return { start, end };
}

/** A tick every 1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min…: at most about ten across the run. */
function tickStep(spanMs: number): number {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600].map((s) => s * 1000);
  return steps.find((step) => spanMs / step <= 10) ?? 86_400_000;
}

function offsetLabel(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `+${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return `+${minutes}m${seconds % 60 === 0 ? '' : `${seconds % 60}s`}`;
}

const stateLabels: Record<SampleState, string> = {
  held: 'held',
  deviated: 'deviated',
  unknown: 'unknown',
  'could-not-ask': 'could not ask',
};

function stateOf(result: CheckResult): SampleState {
  if (result.couldNotAsk) return 'could-not-ask';
  if (result.unknown) return 'unknown';
  return result.holds ? 'held' : 'deviated';
}

interface Scale {
  readonly x: (ms: number) => number;
  readonly start: number;
  readonly end: number;
}

function axis(scale: Scale, top: number, bottom: number): Markup {
  const step = tickStep(scale.end - scale.start);
  const ticks: Markup[] = [];
  for (let offset = 0; scale.start + offset <= scale.end; offset += step) {
    const x = scale.x(scale.start + offset);
    ticks.push(
      html`<line class="grid" x1="${c(x)}" x2="${c(x)}" y1="${c(top)}" y2="${c(bottom)}" /><text
          class="tick"
          x="${c(x)}"
          y="${c(top - 8)}"
          text-anchor="middle"
          >${offsetLabel(offset)}</text
        >`,
    );
  }
  return html`<g class="axis">${ticks}</g>`;
}

function label(y: number, text: string, title?: string): Markup {
  return html`<text
    class="row-label"
    x="${c(gutter - 8)}"
    y="${c(y)}"
    text-anchor="end"
    dominant-baseline="middle"
    >${title ? html`<title>${title}</title>` : ''}${text.length > 28 ? `${text.slice(0, 27)}…` : text}</text
  >`;
}

/** Phase segments from the timeline: each phase from its first entry to the next phase's. */
function phaseStrip(report: GameDayReport, scale: Scale, top: number): Markup {
  const segments: { phase: Phase; from: number }[] = [];
  for (const entry of report.timeline) {
    if (segments.at(-1)?.phase !== entry.phase)
      segments.push({ phase: entry.phase, from: Date.parse(entry.at) });
  }
  const parts = segments.map((segment, i) => {
    const from = scale.x(segment.from);
    const to = scale.x(segments[i + 1]?.from ?? scale.end);
    return html`<g class="phase phase-${segment.phase}"
      ><title>${segment.phase}</title
      ><rect
        x="${c(from)}"
        y="${c(top)}"
        width="${c(Math.max(to - from, 1))}"
        height="${phaseRowHeight - 4}"
      />${to - from > 44 ? html`<text x="${c(from + 4)}" y="${c(top + 12)}">${segment.phase}</text>` : ''}</g
    >`;
  });
  return html`${label(top + (phaseRowHeight - 4) / 2, 'phases')}${parts}`;
}

function faultRows(report: GameDayReport, scale: Scale, top: number): Markup[] {
  return report.faults.map((fault, i) => {
    const y = top + i * rowHeight;
    const name = `${fault.fault} @ ${fault.target}`;
    if (!fault.injectedAt) {
      return html`${label(y + rowHeight / 2, name, fault.inject)}<text
          class="not-injected"
          x="${c(gutter + 4)}"
          y="${c(y + rowHeight / 2)}"
          dominant-baseline="middle"
          >not injected (${fault.status})</text
        >`;
    }
    const from = scale.x(Date.parse(fault.injectedAt));
    // A fault never rolled back stays on to the end of the chart, drawn as still in place.
    const open = fault.rolledBackAt === undefined;
    const to = scale.x(open ? scale.end : Date.parse(fault.rolledBackAt as string));
    const rollbackFrom = fault.rollbackStartedAt ? scale.x(Date.parse(fault.rollbackStartedAt)) : undefined;
    const title = `${fault.inject}: injected ${fault.injectedAt}, ${open ? `not rolled back (${fault.status})` : `rolled back ${fault.rolledBackAt}`}`;
    return html`${label(y + rowHeight / 2, name, fault.inject)}<g
        class="fault ${open ? 'fault-open' : ''}"
        data-fault="${fault.id}"
        ><title>${title}</title
        ><rect
          class="fault-bar"
          x="${c(from)}"
          y="${c(y + 4)}"
          width="${c(Math.max(to - from, 2))}"
          height="${rowHeight - 8}"
          rx="3"
        />${
          rollbackFrom !== undefined && rollbackFrom < to
            ? html`<rect
                class="fault-rollback"
                x="${c(rollbackFrom)}"
                y="${c(y + 4)}"
                width="${c(Math.max(to - rollbackFrom, 1))}"
                height="${rowHeight - 8}"
              />`
            : ''
        }</g
      >`;
  });
}

interface Mark {
  readonly atMs: number;
  readonly state: SampleState;
  readonly title: string;
}

/** Every evaluation of each check: preflight, the window's samples, the recovery's last answer. */
function checkMarks(report: GameDayReport): Map<string, Mark[]> {
  const marks = new Map<string, Mark[]>();
  const add = (name: string, mark: Mark) => marks.set(name, [...(marks.get(name) ?? []), mark]);
  const fromResult = (when: string) => (result: CheckResult) =>
    add(result.name, {
      atMs: Date.parse(result.at),
      state: stateOf(result),
      title: `${when} ${result.at}: ${stateLabels[stateOf(result)]}: ${result.detail}`,
    });
  report.checks.preflight.forEach(fromResult('preflight'));
  for (const summary of report.checks.during) {
    marks.set(summary.name, marks.get(summary.name) ?? []);
    for (const point of summary.points ?? []) add(summary.name, pointMark(point));
  }
  report.checks.recovery?.results.forEach(fromResult('recovery'));
  return marks;
}

function pointMark(point: SamplePoint): Mark {
  const value = point.value === undefined ? '' : ` (${point.value})`;
  return {
    atMs: point.atMs,
    state: point.state,
    title: `${new Date(point.atMs).toISOString()}: ${stateLabels[point.state]}${value}`,
  };
}

function sampleMark(scale: Scale, mark: Mark, y: number): Markup {
  return html`<circle class="sample sample-${mark.state}" cx="${c(scale.x(mark.atMs))}" cy="${c(y)}" r="4"
    ><title>${mark.title}</title></circle
  >`;
}

function checkRows(marks: Map<string, Mark[]>, scale: Scale, top: number): Markup[] {
  return [...marks.entries()].map(([name, checkMarksOf], i) => {
    const y = top + i * rowHeight + rowHeight / 2;
    return html`${label(y, name)}<g class="check" data-check="${name}"
        ><line
          class="row-rule"
          x1="${gutter}"
          x2="${width - rightPad}"
          y1="${c(y)}"
          y2="${c(y)}"
        />${checkMarksOf.map((mark) => sampleMark(scale, mark, y))}</g
      >`;
  });
}

/** The y range of a guardrail panel: every value and every bound, with a little room around. */
function valueRange(values: readonly number[], bound: ValueBound | undefined): { low: number; high: number } {
  const all = [
    ...values,
    ...(bound?.min === undefined ? [] : [bound.min]),
    ...(bound?.max === undefined ? [] : [bound.max]),
  ];
  if (all.length === 0) return { low: 0, high: 1 };
  const low = Math.min(...all);
  const high = Math.max(...all);
  const pad = high === low ? Math.max(Math.abs(high) * 0.1, 1) : (high - low) * 0.12;
  return { low: low - pad, high: high + pad };
}

function guardrailPanel(report: GameDayReport, summary: SampleSummary, scale: Scale, top: number): Markup {
  const points = summary.points ?? [];
  const valued = points.filter(
    (point): point is SamplePoint & { value: number } => point.value !== undefined,
  );
  const { low, high } = valueRange(
    valued.map((point) => point.value),
    summary.bound,
  );
  const plotTop = top + 8;
  const plotBottom = top + guardrailHeight - 12;
  const y = (value: number) => plotBottom - ((value - low) / (high - low)) * (plotBottom - plotTop);
  const line = valued.map((point) => `${c(scale.x(point.atMs))},${c(y(point.value))}`).join(' ');
  const bounds: Markup[] = [];
  const boundLine = (value: number, side: 'max' | 'min') => {
    const at = y(value);
    // The side past the bound is shaded: a value there deviates.
    const shade =
      side === 'max'
        ? html`<rect
            class="out-of-bounds"
            x="${gutter}"
            y="${c(plotTop)}"
            width="${plotWidth}"
            height="${c(Math.max(at - plotTop, 0))}"
          />`
        : html`<rect
            class="out-of-bounds"
            x="${gutter}"
            y="${c(at)}"
            width="${plotWidth}"
            height="${c(Math.max(plotBottom - at, 0))}"
          />`;
    bounds.push(
      html`${shade}<line
          class="guardrail-bound"
          data-bound="${side}"
          x1="${gutter}"
          x2="${width - rightPad}"
          y1="${c(at)}"
          y2="${c(at)}"
        /><text class="bound-label" x="${c(width - rightPad - 2)}" y="${c(at - 3)}" text-anchor="end"
          >${side} ${value}</text
        >`,
    );
  };
  if (summary.bound?.max !== undefined) boundLine(summary.bound.max, 'max');
  if (summary.bound?.min !== undefined) boundLine(summary.bound.min, 'min');
  const breach = report.checks.breach?.name === summary.name ? report.checks.breach : undefined;
  const breachMark = breach
    ? (() => {
        const x = scale.x(Date.parse(breach.at));
        const at = breach.value === undefined ? (plotTop + plotBottom) / 2 : y(breach.value);
        return html`<g class="breach-mark"
          ><title>breach ${breach.at}: ${breach.detail}</title
          ><line x1="${c(x)}" x2="${c(x)}" y1="${c(plotTop)}" y2="${c(plotBottom)}" /><path
            d="M${c(x - 6)},${c(at - 6)} l12,12 m0,-12 l-12,12"
          /><text x="${c(x + 6)}" y="${c(plotTop + 10)}">breach</text></g
        >`;
      })()
    : '';
  const scaleLabels = html`<text class="scale-label" x="${gutter + 3}" y="${c(plotTop + 9)}">${c(high)}</text
    ><text class="scale-label" x="${gutter + 3}" y="${c(plotBottom - 2)}">${c(low)}</text>`;
  return html`${label((plotTop + plotBottom) / 2, `guardrail ${summary.name}`)}<g
      class="guardrail"
      data-guardrail="${summary.name}"
      ><rect
        class="panel"
        x="${gutter}"
        y="${c(plotTop)}"
        width="${plotWidth}"
        height="${c(plotBottom - plotTop)}"
      />${bounds}${scaleLabels}${
        line
          ? html`<polyline class="guardrail-line" points="${line}" />`
          : html`<text class="no-values" x="${c(gutter + 8)}" y="${c((plotTop + plotBottom) / 2)}"
              >no numeric values</text
            >`
      }${points.map((point) => sampleMark(scale, pointMark(point), point.value === undefined ? plotBottom : y(point.value)))}${breachMark}</g
    >`;
}

/** When the run was told to stop (abort, breach, failed step): the first timeline entry saying the reason. */
function stopMoment(report: GameDayReport): number | undefined {
  if (report.outcome !== 'aborted' || !report.reason) return undefined;
  const entry = report.timeline.find((e) => e.message === report.reason);
  return entry ? Date.parse(entry.at) : undefined;
}

/** The whole timeline as one SVG element. */
export function timelineSvg(report: GameDayReport): Markup {
  const { start, end } = timeSpan(report);
  const scale: Scale = { start, end, x: (ms) => gutter + ((ms - start) / (end - start)) * plotWidth };
  const phasesTop = axisHeight;
  const faultsTop = phasesTop + phaseRowHeight + 6;
  const marks = checkMarks(report);
  const checksTop = faultsTop + report.faults.length * rowHeight + 6;
  const guardrailsTop = checksTop + marks.size * rowHeight + 6;
  const guardrails = report.checks.guardrails.map((summary, i) =>
    guardrailPanel(report, summary, scale, guardrailsTop + i * guardrailHeight),
  );
  const height = guardrailsTop + report.checks.guardrails.length * guardrailHeight + 8;
  const stop = stopMoment(report);
  const stopMark =
    stop === undefined
      ? ''
      : html`<g class="stop-mark"
          ><title>${report.reason ?? ''}</title
          ><line
            x1="${c(scale.x(stop))}"
            x2="${c(scale.x(stop))}"
            y1="${axisHeight}"
            y2="${c(height - 8)}"
          /><text x="${c(scale.x(stop) + 4)}" y="${c(height - 10)}">stopped: ${report.outcome ?? ''}</text></g
        >`;
  return html`<svg
    class="timeline"
    xmlns="http://www.w3.org/2000/svg"
    viewBox="0 0 ${width} ${c(height)}"
    width="${width}"
    height="${c(height)}"
    role="img"
    aria-label="timeline of the game day"
  >
    ${axis(scale, axisHeight, height - 8)}${phaseStrip(report, scale, phasesTop)}${faultRows(report, scale, faultsTop)}${checkRows(marks, scale, checksTop)}${guardrails}${stopMark}
  </svg>`;
}

/** What the marks' colours mean. */
export function timelineLegend(): Markup {
  const states = (Object.keys(stateLabels) as SampleState[]).map(
    (state) =>
      html`<span class="legend-item"
        ><svg width="12" height="12" viewBox="0 0 12 12">
          <circle class="sample sample-${state}" cx="6" cy="6" r="4" />
        </svg>
        ${stateLabels[state]}</span
      >`,
  );
  return html`<p class="legend">
    <span class="legend-item"
      ><svg width="22" height="12" viewBox="0 0 22 12">
        <rect class="fault-bar" x="0" y="2" width="22" height="8" rx="2" />
      </svg>
      fault in place (inject → rolled back)</span
    >${states}<span class="legend-item"
      ><svg width="22" height="12" viewBox="0 0 22 12">
        <line class="guardrail-bound" x1="0" x2="22" y1="6" y2="6" />
      </svg>
      guardrail bound</span
    >
  </p>`;
}
