import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '../../client/paths';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Samples of a Prometheus text exposition (version 0.0.4). */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key as string] = value as string;
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels`; undefined when there is none. */
export function sampleValue(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const matching = samples.filter(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  return matching.length === 0 ? undefined : matching.reduce((sum, sample) => sum + sample.value, 0);
}

/** Every sample name an exposition declares (`# TYPE`, with a histogram's _bucket/_sum/_count) or contains. */
export function exportedNames(text: string): Set<string> {
  const names = new Set(parseSamples(text).map((sample) => sample.name));
  for (const [, name, type] of text.matchAll(/^# TYPE ([a-zA-Z_:][\w:]*) (\w+)$/gm)) {
    const family = name as string;
    names.add(family);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(family + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(family + suffix);
  }
  return names;
}

const notMetrics = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'inf',
  'nan',
]);

/** The metric names a PromQL expression reads (Grafana's $variables allowed). */
export function metricNamesIn(expr: string): Set<string> {
  const cleaned = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\$\{[^}]*\}|\$\w+/g, '1m')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names = new Set<string>();
  for (const match of cleaned.matchAll(/(?<![\w.])[a-zA-Z_:][\w:]*/g)) {
    const after = cleaned.slice(match.index + match[0].length).trimStart();
    if (after.startsWith('(') || notMetrics.has(match[0].toLowerCase())) continue;
    names.add(match[0]);
  }
  return names;
}

export const alertRulesFile = join(projectRoot, 'deploy', 'prometheus', 'gameday-alerts.yml');
export const alertTestsFile = join(projectRoot, 'deploy', 'prometheus', 'gameday-alerts.test.yml');
export const scrapeConfigFile = join(projectRoot, 'deploy', 'prometheus', 'scrape-config.yml');
export const dashboardFile = join(projectRoot, 'deploy', 'grafana', 'gameday-dashboard.json');

interface DashboardPanel {
  readonly title?: string;
  readonly targets?: readonly { readonly expr?: string }[];
  readonly panels?: readonly DashboardPanel[];
}

/** Every PromQL expression of the shipped dashboard and alert rules, with where it comes from. */
export function shippedExpressions(): { where: string; expr: string }[] {
  const found: { where: string; expr: string }[] = [];
  const rules = parse(readFileSync(alertRulesFile, 'utf8')) as {
    groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
  };
  for (const rule of rules.groups.flatMap((group) => group.rules)) {
    found.push({ where: `alert ${rule.alert ?? rule.record}`, expr: rule.expr });
  }
  const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as { panels: DashboardPanel[] };
  const visit = (panel: DashboardPanel) => {
    for (const target of panel.targets ?? []) {
      if (target.expr) found.push({ where: `panel "${panel.title ?? ''}"`, expr: target.expr });
    }
    panel.panels?.forEach(visit);
  };
  dashboard.panels.forEach(visit);
  return found;
}

/**
 * Names in the shipped dashboard and alerts that `exposition` does not export. `up` is Prometheus's own.
 * `only` restricts the check to names with these prefixes.
 */
export function namesNotExported(exposition: string, only?: readonly string[]): string[] {
  const exported = exportedNames(exposition);
  const missing: string[] = [];
  for (const { where, expr } of shippedExpressions()) {
    for (const name of metricNamesIn(expr)) {
      if (name === 'up' || exported.has(name)) continue;
      if (only && !only.some((prefix) => name.startsWith(prefix))) continue;
      missing.push(`${name} (${where})`);
    }
  }
  return missing;
}
