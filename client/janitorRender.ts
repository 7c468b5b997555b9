import ms from 'ms';
import type { JanitorFinding, JanitorRemoval, JanitorReport } from '../workflows/janitorDefinitions';
import { printable } from './printable';

/** "3h" since an ISO time; "?" when unknown. */
function age(since: string | undefined, now: number): string {
  const at = since === undefined ? Number.NaN : Date.parse(since);
  return Number.isNaN(at) ? '?' : ms(Math.max(0, now - at));
}

const howRemoved: Record<JanitorFinding['removal']['kind'], string> = {
  rollback: "its fault kind's rollback",
  'host-revert': "its dead-man switch's revert",
  'fault-revert': "its fault kind's rollback, from its name on the host",
  'cluster-revert': "its Kubernetes kind's rollback, from its label and annotations",
  none: 'by hand',
};

function findingLine(finding: JanitorFinding, now: number): string {
  const run = finding.run ? `${finding.run.workflowId} (${finding.run.status})` : 'no run known';
  return (
    `  ${finding.host}  tag ${finding.tag}  ${age(finding.since, now)} old  run ${run}\n` +
    `    ${finding.what}\n    removed by ${howRemoved[finding.removal.kind]}` +
    (finding.removal.kind === 'none' ? `: ${finding.removal.why}` : '')
  );
}

const removalLine = (removal: JanitorRemoval): string =>
  `  ${removal.host}  tag ${removal.tag}: ${removal.what}\n    ${removal.error ?? removal.detail ?? ''}`;

/** The janitor's report as people read it: what it found, what it removed, what is left. */
export function renderJanitorReport(report: JanitorReport, now = Date.now()): string {
  const lines: string[] = [];
  if (report.findings.length === 0) {
    lines.push('no leftovers of finished game days');
  } else {
    lines.push(`${report.findings.length} leftover(s) of finished game days:`);
    lines.push(...report.findings.map((finding) => findingLine(finding, now)));
  }
  if (report.apply) {
    if (report.removed.length > 0)
      lines.push(`removed ${report.removed.length}:`, ...report.removed.map(removalLine));
    if (report.failed.length > 0)
      lines.push(`could not remove ${report.failed.length}:`, ...report.failed.map(removalLine));
    lines.push(
      report.remaining.length === 0
        ? 'looked again: the hosts are clean'
        : `looked again: ${report.remaining.length} leftover(s) remain`,
    );
  } else if (report.findings.length > 0) {
    lines.push('dry run: nothing was changed; `gameday janitor --apply` removes them');
  }
  lines.push(...(report.notes ?? []));
  return printable(lines.join('\n'));
}
