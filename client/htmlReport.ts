import type { IoEvidence, IoEvidenceCollection } from '../activities/diagnosis/evidence';
import { bytes, millis, percent, rate } from '../activities/diagnosis/units';
import type { CheckResult, GameDayReport, SampleSummary } from '../workflows/definitions';
import { html, type Interpolation, type Markup } from './html';
import { historySection, type PlanHistory } from './history';
import { timelineLegend, timelineSvg } from './svgTimeline';

// The report as one self-contained HTML file: the verdict first, the timeline, then the same tables as the
// Markdown report. No script, no external stylesheet, font or image; a Content-Security-Policy forbids any
// fetch, so a file opened from a mail or an artifact store cannot call out. Pure: report in, text out.

function table(
  headers: readonly string[],
  rows: readonly (readonly Interpolation[])[],
  className = '',
): Markup {
  return html`<table class="${className}">
    <thead>
      <tr>
        ${headers.map((h) => html`<th>${h}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (row) =>
          html`<tr>
            ${row.map((cell) => html`<td>${cell}</td>`)}
          </tr>`,
      )}
    </tbody>
  </table>`;
}

const dash = (value: string | number | undefined) => (value === undefined ? '-' : value);

function checkTable(results: readonly CheckResult[]): Markup {
  return table(
    ['check', 'result', 'expect', 'detail'],
    results.map((r) => [
      r.name,
      r.holds ? html`<span class="held">held</span>` : html`<strong class="deviated">deviated</strong>`,
      r.expect,
      r.detail,
    ]),
  );
}

/** Samples that were no evidence either way: unknown (held), could not ask (never held). */
function uncounted(summary: SampleSummary): string {
  return [
    ...(summary.unknown ? [`${summary.unknown} unknown`] : []),
    ...(summary.couldNotAsk ? [`${summary.couldNotAsk} could not ask`] : []),
  ].join(', ');
}

function boundText(summary: SampleSummary): string {
  const { min, max } = summary.bound ?? {};
  if (min !== undefined && max !== undefined) return `${min}..${max}`;
  if (min !== undefined) return `≥ ${min}`;
  return max === undefined ? '-' : `≤ ${max}`;
}

function deviationNote(summary: SampleSummary): string {
  return summary.firstDeviation
    ? `first deviation ${summary.firstDeviation.at}: ${summary.firstDeviation.detail}`
    : (summary.last?.detail ?? '');
}

function verdict(report: GameDayReport, link: string | undefined): Markup {
  const outcome = report.outcome ?? report.phase;
  const seconds =
    report.finishedAt === undefined
      ? undefined
      : Math.round((Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 100) / 10;
  return html`<header class="verdict outcome-${outcome}">
    <p class="outcome">${outcome.toUpperCase()}</p>
    <h1>Game day <span class="plan">${report.plan}</span></h1>
    ${report.reason ? html`<p class="reason">${report.reason}</p>` : ''}
    <dl>
      <dt>workflow</dt>
      <dd>${link ? html`<a href="${link}">${report.workflowId}</a>` : report.workflowId}</dd>
      <dt>tag</dt>
      <dd><code>${report.tag}</code></dd>
      <dt>owner</dt>
      <dd>${report.owner}</dd>
      <dt>started</dt>
      <dd>${report.startedAt}</dd>
      <dt>finished</dt>
      <dd>${report.finishedAt ?? '(running)'}${seconds === undefined ? '' : ` (${seconds} s)`}</dd>
      <dt>seed</dt>
      <dd>${dash(report.seed)}</dd>
      <dt>plan digest</dt>
      <dd><code>${report.planDigest}</code></dd>
      <dt>targets</dt>
      <dd>${report.targets.join(', ') || '-'}</dd>
    </dl>
  </header>`;
}

function ioEvidenceHost(evidence: IoEvidence): Markup {
  const focus = evidence.focus ? ` (${evidence.focus.kind} ${evidence.focus.value})` : '';
  const pressure = evidence.pressure;
  return html`<h4>${evidence.host}${focus}, ${(evidence.intervalMs / 1000).toFixed(1)} s window</h4>
    <p><strong>${evidence.finding}</strong></p>
    ${
      evidence.devices.length > 0 &&
      table(
        ['device', 'util', 'r/s', 'w/s', 'read', 'written', 'await', 'queue'],
        evidence.devices.map((d) => [
          d.name,
          percent(d.utilisationPercent),
          d.readsPerSecond,
          d.writesPerSecond,
          rate(d.readBytesPerSecond),
          rate(d.writeBytesPerSecond),
          d.awaitMs === undefined ? '-' : millis(d.awaitMs),
          d.queueSize,
        ]),
      )
    }
    ${
      evidence.processes.length > 0 &&
      table(
        ['pid', 'command', 'disk read', 'disk write', 'waiting on IO'],
        evidence.processes.map((p) => [
          p.pid,
          p.kernelThread ? `[${p.comm}]` : p.comm,
          rate(p.readBytesPerSecond),
          rate(p.writeBytesPerSecond),
          `${p.waitingSamples}/${evidence.stateSamples} samples`,
        ]),
      )
    }
    ${
      evidence.openFiles.length > 0 &&
      table(
        ['pid', 'fd', 'file', 'mode', 'size', 'growth', 'device'],
        evidence.openFiles.map((f) => [
          f.pid,
          f.fd,
          `${f.path}${f.deleted ? ' (deleted)' : ''}`,
          `${f.mode}${f.direct ? ', O_DIRECT' : ''}`,
          bytes(f.sizeBytes),
          rate(f.growthBytesPerSecond),
          dash(f.device),
        ]),
      )
    }
    ${
      evidence.filesystems.length > 0 &&
      table(
        ['filesystem', 'mounted on', 'used', 'size', 'growth'],
        evidence.filesystems.map((fs) => [
          fs.source,
          fs.mountPoint,
          `${percent(fs.usedPercent)} (${bytes(fs.usedBytes)})`,
          bytes(fs.sizeBytes),
          rate(fs.growthBytesPerSecond),
        ]),
      )
    }
    ${
      evidence.growingPaths.length > 0 &&
      html`<p>
        Growing: ${evidence.growingPaths.map((g) => `${g.path} +${rate(g.growthBytesPerSecond)}`).join(', ')}
      </p>`
    }
    ${
      pressure &&
      html`<p>
        IO pressure over the window: some
        ${percent(pressure.somePercent)}${pressure.fullPercent === undefined ? '' : `, full ${percent(pressure.fullPercent)}`}
        (kernel avg10 ${pressure.someAvg10})
      </p>`
    }
    ${evidence.unavailable.map((missing) => html`<p class="unavailable">Not available: ${missing}</p>`)}`;
}

function ioEvidenceSection(collections: readonly IoEvidenceCollection[]): Markup {
  return html`<section class="io-evidence">
    <h2>IO evidence</h2>
    ${collections.map((collection) => {
      const when = collection.when === 'during' ? 'while the faults were in place' : 'after rollback';
      return html`<p>Collected ${when}: ${collection.reason}.</p>
        ${collection.hosts.map((host) =>
          'error' in host
            ? html`<h4>${host.host}</h4>
                <p class="unavailable">not collected: ${host.error}</p>`
            : ioEvidenceHost(host),
        )}`;
    })}
  </section>`;
}

const stylesheet = `
:root { color-scheme: light; --held: #1a7f37; --deviated: #cf222e; --unknown: #8c959f; --unasked: #bf8700;
  --fault: #5b6cf0; --muted: #57606a; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", sans-serif; margin: 0; padding: 24px 32px 48px;
  color: #1f2328; background: #fff; max-width: 1100px; }
h1 { font-size: 22px; margin: 4px 0 8px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de;
  padding-bottom: 4px; } h4 { margin: 16px 0 6px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.verdict { border-left: 8px solid var(--unknown); padding: 12px 18px; background: #f6f8fa; border-radius: 6px; }
.verdict .outcome { font-weight: 700; font-size: 20px; letter-spacing: .06em; margin: 0; color: var(--unknown); }
.outcome-passed { border-color: var(--held); } .outcome-passed .outcome { color: var(--held); }
.outcome-failed, .outcome-rollback-stuck { border-color: var(--deviated); }
.outcome-failed .outcome, .outcome-rollback-stuck .outcome { color: var(--deviated); }
.outcome-aborted, .outcome-not-started { border-color: var(--unasked); }
.outcome-aborted .outcome, .outcome-not-started .outcome { color: var(--unasked); }
.verdict .reason { font-size: 15px; margin: 0 0 8px; }
.verdict dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
.verdict dt { color: var(--muted); } .verdict dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: 6px 0 12px; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #d8dee4; vertical-align: top;
  overflow-wrap: break-word; }
td:first-child { min-width: 9em; }
th { background: #f6f8fa; font-weight: 600; }
.held { color: var(--held); } .deviated { color: var(--deviated); }
.breach { color: var(--deviated); font-weight: 600; }
.timeline-box { overflow-x: auto; border: 1px solid #d0d7de; border-radius: 6px; padding: 6px 0; }
svg.timeline, svg.history { display: block; font: 11px system-ui, "DejaVu Sans", sans-serif; }
svg .grid { stroke: #eaeef2; } svg .tick { fill: var(--muted); }
svg .row-label { fill: #1f2328; } svg .row-rule { stroke: #d8dee4; stroke-dasharray: 2 3; }
svg .phase rect { fill: #ddf4ff; stroke: #fff; } svg .phase text { fill: #0a3069; font-size: 10px; }
svg .phase-inject rect { fill: #fff8c5; } svg .phase-observe rect { fill: #ffebe9; }
svg .phase-rollback rect, svg .phase-rollback-stuck rect { fill: #fbefff; } svg .phase-recover rect { fill: #dafbe1; }
svg .phase-done rect { fill: #eaeef2; }
.fault-bar { fill: var(--fault); } .fault-rollback { fill: #a5b0ff; }
svg .fault-open .fault-bar { fill: var(--deviated); }
svg .not-injected, svg .no-values { fill: var(--muted); font-style: italic; }
.sample { stroke: #fff; stroke-width: 1; } .sample-held { fill: var(--held); } .sample-deviated { fill: var(--deviated); }
.sample-unknown { fill: var(--unknown); } .sample-could-not-ask { fill: var(--unasked); }
svg .panel { fill: #fafbfc; stroke: #d8dee4; } svg .out-of-bounds { fill: #ffebe9; opacity: .7; }
.guardrail-bound { stroke: var(--deviated); stroke-width: 1.5; stroke-dasharray: 6 3; }
svg .bound-label { fill: var(--deviated); font-size: 10px; } svg .scale-label { fill: var(--muted); font-size: 9px; }
svg .guardrail-line { fill: none; stroke: #0969da; stroke-width: 1.8; }
svg .breach-mark line, svg .breach-mark path { stroke: var(--deviated); stroke-width: 2.5; fill: none; }
svg .breach-mark text { fill: var(--deviated); font-weight: 700; }
svg .stop-mark line { stroke: #1f2328; stroke-width: 1.5; stroke-dasharray: 3 3; }
svg .stop-mark text { fill: #1f2328; font-weight: 600; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; color: var(--muted); margin: 6px 0; }
.legend-item svg { vertical-align: -1px; }
.timeline-entries { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; padding-left: 18px; }
.timeline-entries .phase-name { color: #0a3069; }
.unavailable { color: var(--muted); }
svg.history .run-pass { fill: var(--held); } svg.history .run-fail { fill: var(--deviated); }
svg.history .run-other { fill: var(--unasked); }
td.run-pass { color: var(--held); } td.run-fail { color: var(--deviated); } td.run-other { color: var(--unasked); } svg.history .spark { fill: none; stroke: #0969da; stroke-width: 1.5; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
`;

/** The whole page around a body (the report, or a history on its own). */
export function htmlPage(title: string, body: Markup): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta
          http-equiv="Content-Security-Policy"
          content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title}</title>
        <style>
          ${stylesheet}
        </style>
      </head>
      <body>
        ${body}
        <footer>Made by gameday. This file is self-contained: it loads nothing.</footer>
      </body>
    </html> `.text;
}

export interface HtmlReportOptions {
  /** The run in the Temporal UI: the one outside address the page carries, as a plain link. */
  readonly uiLink?: string;
  /** The plan's recent runs, shown as a section at the end. */
  readonly history?: PlanHistory;
}

/** The report as a self-contained HTML page. */
export function renderHtmlReport(report: GameDayReport, options: HtmlReportOptions = {}): string {
  const { checks } = report;
  const breach = checks.breach;
  const recovery = checks.recovery;
  const body = html`${verdict(report, options.uiLink)}
    <section>
      <h2>Timeline</h2>
      ${timelineLegend()}
      <div class="timeline-box">${timelineSvg(report)}</div>
    </section>
    <section>
      <h2>Faults</h2>
      ${table(
        ['fault', 'target', 'injected', 'rolled back', 'attempts', 'status'],
        report.faults.map((f) => [
          f.inject,
          f.taskQueue === undefined ? f.target : `${f.target} (via ${f.taskQueue})`,
          dash(f.injectedAt),
          dash(f.rolledBackAt),
          dash(f.rollbackAttempts),
          `${f.status}${f.error ? `: ${f.error}` : ''}`,
        ]),
        'faults',
      )}
    </section>
    ${
      checks.preflight.length > 0 &&
      html`<section>
        <h2>Preflight</h2>
        ${checkTable(checks.preflight)}
      </section>`
    }
    ${
      checks.during.length > 0 &&
      html`<section>
        <h2>During the window</h2>
        ${table(
          ['check', 'held/samples', 'values', 'note'],
          checks.during.map((s) => [
            s.name,
            `${s.held}/${s.samples}${uncounted(s) ? `, ${uncounted(s)}` : ''}`,
            s.min === undefined ? '-' : `${s.min}–${s.max}`,
            s.firstDeviation
              ? `first deviation ${s.firstDeviation.at}: ${s.firstDeviation.detail}`
              : s.unknown && s.last
                ? `last: ${s.last.detail}`
                : '',
          ]),
        )}
      </section>`
    }
    ${
      (checks.guardrails.length > 0 || breach) &&
      html`<section>
        <h2>Guardrails</h2>
        ${table(
          ['guardrail', 'held', 'bound', 'min', 'max', 'last', 'note'],
          checks.guardrails.map((s) => [
            s.name,
            `${s.held} of ${s.samples}${uncounted(s) ? ` (${uncounted(s)})` : ''}`,
            boundText(s),
            dash(s.min),
            dash(s.max),
            dash(s.last?.value),
            deviationNote(s),
          ]),
          'guardrails',
        )}${breach && html`<p class="breach">Breach that stopped the run: ${breach.name} at ${breach.at}: ${breach.detail}</p>`}
      </section>`
    }
    ${
      recovery &&
      html`<section>
        <h2>Recovery: ${recovery.recovered ? `recovered after ${recovery.afterMs} ms` : 'not recovered'}</h2>
        ${checkTable(recovery.results)}
      </section>`
    }
    ${report.ioEvidence && report.ioEvidence.length > 0 && ioEvidenceSection(report.ioEvidence)}
    ${
      report.interventions &&
      report.interventions.length > 0 &&
      html`<section>
        <h2>Interventions</h2>
        ${table(
          ['at', 'action', 'detail'],
          report.interventions.map((i) => [i.at, i.action, i.error ? `failed: ${i.error}` : i.detail]),
        )}
      </section>`
    }
    <section>
      <h2>Notes</h2>
      <ol class="timeline-entries">
        ${report.timeline.map(
          (e) =>
            html`<li><time>${e.at}</time> <span class="phase-name">[${e.phase}]</span> ${e.message}</li>`,
        )}
      </ol>
    </section>
    ${options.history && historySection(options.history)}
    ${options.uiLink && html`<p>In the Temporal UI: <a href="${options.uiLink}">${options.uiLink}</a></p>`}`;
  return htmlPage(`Game day ${report.plan}: ${report.outcome ?? report.phase}`, body);
}
