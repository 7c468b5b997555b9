import { formatDuration } from '../plan/duration';
import type { Plan } from '../plan/schema';
import { describeRecoveryAction } from '../plan/recoveryActions';
import {
  deadManSwitchFor,
  type CheckResult,
  type GameDayReport,
  type ResolvedPlan,
  type SampleSummary,
  type TimelineEntry,
} from '../workflows/definitions';
import { isHostTarget } from '../plan/targets';
import { framedMarkdown, markdownText } from '../workflows/markdown';
import { printable } from './printable';
import { renderIoEvidenceSection } from './renderIo';
import { outcomeColour, style } from './style';

export function uiLink(uiUrl: string | undefined, namespace: string, workflowId: string): string | undefined {
  return (
    uiUrl &&
    `${uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`
  );
}

export function timelineLine(timelineEntry: TimelineEntry): string {
  const entry = printable(timelineEntry);
  const time = entry.at.slice(11, 19);
  return `${style.dim(time)} ${style.cyan(entry.phase.padEnd(14))} ${entry.message}`;
}

/** Every action and its rollback in plain words: what `--dry-run` prints, and the workflow's static details. */
export function renderDryRun(planToRun: Plan, resolvedPlan: ResolvedPlan, seed: number): string {
  const plan = printable(planToRun);
  const resolved = printable(resolvedPlan);
  const lines: string[] = [];
  const checks = (when: 'before' | 'during' | 'after') =>
    plan.checks
      .filter((c) => c.when.includes(when))
      .map((c) => `   - ${c.name}: ${resolved.checks[c.name] ?? ''}`);
  lines.push(`Game day ${plan.metadata.name} (owner ${plan.metadata.owner})`);
  if (plan.metadata.description) lines.push(plan.metadata.description.trim());
  lines.push(
    `1. resolve targets: ${resolved.targets.join(', ') || 'none'} (allow-lists are enforced by the worker)`,
  );
  if (Object.values(plan.targets).some((group) => group.kubernetes !== undefined)) {
    lines.push(
      '   Kubernetes groups are listed by the worker as the game day starts: {…} stands for what they select',
    );
  }
  const onHosts = (fault: Plan['faults'][number]) => plan.targets[fault.target]?.kubernetes === undefined;
  if (plan.faults.some((fault) => fault.select.mode !== 'all' && onHosts(fault))) {
    lines.push(
      `   random target choices shown for seed ${seed}; run with --seed ${seed} to get exactly these`,
    );
  }
  lines.push('2. preflight: the steady state must hold, else nothing is injected', ...checks('before'));
  lines.push('3. inject, in order (each rollback is recorded before its inject runs):');
  // A group with `via`: its steps and rollbacks run on the workers of that task queue.
  const queue = (step: (typeof resolved.steps)[number]) =>
    step.target.via === undefined ? '' : ` [task queue ${step.target.via}]`;
  const lease = formatDuration(plan.deadManSwitch.lease);
  resolved.steps.forEach((step, index) => {
    lines.push(`   - ${step.inject}${queue(step)}`, `       rollback: ${step.rollback}`);
    // What the host keeps of the fault until its rollback is verified (the janitor finds it by the tag).
    const deadMan = deadManSwitchFor('<tag>', index, plan.deadManSwitch.lease).base;
    lines.push(
      ...(isHostTarget(step.target)
        ? [
            `       dead-man switch: leaves ${deadMan}.{lease,revert,watch,pid,log} and a watcher process on ${step.target.name}`,
            `         (<tag>: the run's tag); it reverts the fault by itself if its ${lease} lease is not renewed`,
          ]
        : ['       dead-man switch: none (Kubernetes faults leave nothing on a host)']),
    );
  });
  const { window, sampleInterval, guardrails } = plan.observation;
  lines.push(
    `4. observe for ${formatDuration(window)}, sampling every ${formatDuration(sampleInterval)}:`,
    ...checks('during'),
  );
  for (const g of guardrails) {
    lines.push(
      `   - guardrail ${g.name}: ${resolved.checks[g.name] ?? ''} (aborts after ${g.breachAfter} failing sample(s))`,
    );
  }
  if (checks('during').length === 0 && guardrails.length === 0) {
    lines.push(
      `   warning: ${formatDuration(window)} of chaos and nothing watching (no during check, no guardrail)`,
    );
  }
  lines.push('5. roll back, last in first out, each retried until it succeeds and verified:');
  for (const step of [...resolved.steps].reverse()) lines.push(`   - ${step.rollback}${queue(step)}`);
  lines.push(`6. recover: within ${formatDuration(plan.recovery.within)}`, ...checks('after'));
  const actions = plan.recovery.actions ?? [];
  if (actions.length > 0) {
    lines.push(
      `   if they do not hold by then, in order (each an intervention), then ${formatDuration(plan.recovery.within)} more:`,
      ...actions.map((action) => `   - ${describeRecoveryAction(action)}`),
    );
  }
  lines.push('7. report');
  return lines.join('\n');
}

/**
 * A line of the dry run in Markdown: what it quotes in backticks (a command, a PromQL query) as code, shown as
 * written (the UI curls quotes and sets dashes in text, not in code), the rest as text.
 */
function markdownLine(line: string): string {
  return line
    .split(/(`[^`]+`)/)
    .map((part, index) => (index % 2 === 1 ? part : markdownText(part)))
    .join('');
}

/**
 * The dry run as Markdown, for the workflow's static details (the Temporal UI renders them as Markdown and
 * would run the plain text into one paragraph): the numbered phases as an ordered list, checks and fault
 * steps as items under them, a step's rollback and dead-man switch under the step, every text escaped.
 */
export function dryRunMarkdown(dryRun: string): string {
  // Two spaces, not a backslash: a URL that ends a line would take the backslash into its link.
  const hardBreak = '  ';
  const [title = '', ...rest] = dryRun.split('\n');
  const firstPhase = rest.findIndex((line) => line.startsWith('1. resolve targets'));
  const description = (firstPhase < 0 ? rest : rest.slice(0, firstPhase)).join('\n').trim();
  const out = [`**${markdownLine(title)}**`, ''];
  // The plan's description: its line breaks kept, its blank lines between paragraphs.
  for (const paragraph of description === '' ? [] : description.split(/\n\s*\n/)) {
    out.push(paragraph.split('\n').map(markdownLine).join(`${hardBreak}\n`), '');
  }
  // What the previous line was: an ordered item, a list item under it, or a paragraph after such items.
  let previous: 'phase' | 'item' | 'paragraph' = 'phase';
  for (const line of firstPhase < 0 ? [] : rest.slice(firstPhase)) {
    const indent = line.length - line.trimStart().length;
    const text = line.trimStart();
    const phase = indent === 0 ? /^(\d+)\. (.*)$/.exec(text) : null;
    const item = /^- (.*)$/.exec(text);
    if (phase) {
      out.push(`${phase[1]}. ${markdownLine(phase[2] ?? '')}`);
      previous = 'phase';
    } else if (item) {
      // A list after a paragraph needs a blank line before it to be a list.
      if (previous === 'paragraph') out.push('');
      out.push(`${' '.repeat(indent)}- ${markdownLine(item[1] ?? '')}`);
      previous = 'item';
    } else if (indent >= 7 && indent < 9 && previous === 'item') {
      // `rollback:` and `dead-man switch:` of a fault step: items under the step.
      out.push(`     - ${markdownLine(text)}`);
    } else if (indent === 3 && previous === 'item') {
      // A note of a phase after its items (a warning, recovery actions): a paragraph of the phase.
      out.push('', `   ${markdownLine(text)}`);
      previous = 'paragraph';
    } else {
      // The rest of the line above, wrapped for a terminal: a hard line break, as in the dry run.
      out[out.length - 1] += hardBreak;
      out.push(`${' '.repeat(indent)}${markdownLine(text)}`);
    }
  }
  return framedMarkdown(out.join('\n'));
}

function checkRow(result: CheckResult): string {
  return `| ${result.name} | ${result.holds ? 'held' : '**deviated**'} | ${result.expect} | ${result.detail.replace(/\|/g, '\\|')} |`;
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

/** Samples that were no evidence either way: unknown (held), could not ask (never held). */
function uncounted(summary: SampleSummary, open: string, close: string): string {
  const parts = [
    ...(summary.unknown ? [`${summary.unknown} unknown`] : []),
    ...(summary.couldNotAsk ? [`${summary.couldNotAsk} could not ask`] : []),
  ];
  return parts.length === 0 ? '' : `${open}${parts.join(', ')}${close}`;
}

/** One guardrail's samples: how often it held, the range and last value it saw, its first deviation. */
function guardrailRow(summary: SampleSummary): string {
  const unknown = uncounted(summary, ' (', ')');
  const number = (value: number | undefined) => (value === undefined ? '-' : String(value));
  const note = summary.firstDeviation
    ? `first deviation ${summary.firstDeviation.at}: ${summary.firstDeviation.detail}`
    : (summary.last?.detail ?? '');
  return `| ${summary.name} | ${summary.held} of ${summary.samples}${unknown} | ${number(summary.min)} | ${number(summary.max)} | ${number(summary.last?.value)} | ${cell(note)} |`;
}

function sampleRow(summary: SampleSummary): string {
  const range = summary.min === undefined ? '' : ` (values ${summary.min}–${summary.max})`;
  const deviation = summary.firstDeviation
    ? `first deviation ${summary.firstDeviation.at}: ${summary.firstDeviation.detail}`
    : summary.unknown && summary.last
      ? `last: ${summary.last.detail}`
      : '';
  const unknown = uncounted(summary, ', ', '');
  return `| ${summary.name} | ${summary.held}/${summary.samples}${unknown}${range} | ${cell(deviation)} |`;
}

/** The report as Markdown: outcome, faults with their inject and rollback times, every check, the timeline. */
export function renderReport(gameDayReport: GameDayReport, uiLink?: string): string {
  const report = printable(gameDayReport);
  const link = printable(uiLink);
  const out: string[] = [];
  out.push(`# Game day ${report.plan}: ${report.outcome ?? report.phase}`);
  out.push('');
  out.push(`- workflow: ${report.workflowId}${link ? ` (${link})` : ''}`);
  out.push(
    `- owner: ${report.owner}; tag: ${report.tag}; seed: ${report.seed ?? ''}; plan digest: ${report.planDigest}`,
  );
  out.push(`- started ${report.startedAt}, finished ${report.finishedAt ?? '(running)'}`);
  if (report.reason) out.push(`- ${report.reason}`);
  out.push(
    '',
    '## Faults',
    '',
    '| fault | target | injected | rolled back | attempts | status |',
    '|---|---|---|---|---|---|',
  );
  for (const f of report.faults) {
    out.push(
      `| ${f.inject} | ${f.target}${f.taskQueue === undefined ? '' : ` (via ${f.taskQueue})`} | ${f.injectedAt ?? '-'} | ${f.rolledBackAt ?? '-'} | ${f.rollbackAttempts ?? '-'} | ${f.status}${f.error ? `: ${f.error}` : ''} |`,
    );
  }
  if (report.checks.preflight.length > 0) {
    out.push('', '## Preflight', '', '| check | result | expect | detail |', '|---|---|---|---|');
    out.push(...report.checks.preflight.map(checkRow));
  }
  if (report.checks.during.length > 0) {
    out.push('', '## During the window', '', '| check | held/samples | note |', '|---|---|---|');
    out.push(...report.checks.during.map(sampleRow));
  }
  const breach = report.checks.breach;
  if (report.checks.guardrails.length > 0 || breach) {
    out.push(
      '',
      '## Guardrails',
      '',
      '| guardrail | held | min | max | last | note |',
      '|---|---|---|---|---|---|',
      ...report.checks.guardrails.map(guardrailRow),
    );
    if (breach) {
      out.push('', `**Breach that stopped the run: ${breach.name} at ${breach.at}: ${breach.detail}**`);
    }
  }
  const recovery = report.checks.recovery;
  if (recovery) {
    out.push(
      '',
      `## Recovery: ${recovery.recovered ? `recovered after ${recovery.afterMs} ms` : 'not recovered'}`,
      '',
    );
    out.push('| check | result | expect | detail |', '|---|---|---|---|', ...recovery.results.map(checkRow));
  }
  if (report.ioEvidence && report.ioEvidence.length > 0) {
    out.push('', renderIoEvidenceSection(report.ioEvidence));
  }
  out.push('', '## Timeline', '');
  out.push(...report.timeline.map((e) => `- ${e.at} [${e.phase}] ${e.message}`));
  return out.join('\n');
}

export function outcomeLine(gameDayReport: GameDayReport): string {
  const report = printable(gameDayReport);
  const outcome = report.outcome ?? report.phase;
  return `${style.bold(outcomeColour(report.outcome)(outcome.toUpperCase()))} ${report.reason ?? ''}`;
}
