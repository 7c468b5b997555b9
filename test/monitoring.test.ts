import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createGameDayMetrics } from '../activities/metrics';
import {
  alertRulesFile,
  alertTestsFile,
  dashboardFile,
  metricNamesIn,
  namesNotExported,
  scrapeConfigFile,
  shippedExpressions,
} from './support/prometheusText';

/** Debian's promtool (scripts/install-test-deps.sh): a missing one fails the suite, as any missing server does. */
function promtool(...args: string[]): string {
  return execFileSync('promtool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('shipped Prometheus alerts and Grafana dashboard', () => {
  it('promtool accepts the alert rules and the scrape configuration', () => {
    assert.match(promtool('check', 'rules', alertRulesFile), /SUCCESS: 5 rules found/);
    assert.match(promtool('check', 'config', scrapeConfigFile), /is valid prometheus config/);
  });

  it("the alerts' unit tests pass under promtool test rules", () => {
    assert.match(promtool('test', 'rules', alertTestsFile), /SUCCESS/);
  });

  it('promtool test rules really judges the alerts (a wrong expectation fails)', () => {
    const broken = readFileSync(alertTestsFile, 'utf8').replace(
      "summary: '1 game day(s) stuck in rollback for 5 minutes'",
      "summary: '2 game day(s) stuck in rollback for 5 minutes'",
    );
    assert.notEqual(broken, readFileSync(alertTestsFile, 'utf8'));
    const dir = mkdtempSync(join(tmpdir(), 'gameday-promtool-'));
    try {
      copyFileSync(alertRulesFile, join(dir, 'gameday-alerts.yml'));
      writeFileSync(join(dir, 'broken.test.yml'), broken);
      assert.throws(() => promtool('test', 'rules', join(dir, 'broken.test.yml')), /FAILED/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the dashboard is a Grafana dashboard: unique panel ids, a Prometheus datasource, queries on every panel', () => {
    const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as {
      uid: string;
      title: string;
      schemaVersion: number;
      templating: { list: { name: string; type: string; query: string }[] };
      panels: { id: number; type: string; gridPos: object; targets?: { expr: string }[] }[];
    };
    assert.equal(dashboard.uid, 'gameday-workers');
    assert.ok(dashboard.schemaVersion >= 36);
    const datasource = dashboard.templating.list.find((variable) => variable.name === 'datasource');
    assert.equal(datasource?.type, 'datasource');
    assert.equal(datasource?.query, 'prometheus');
    const ids = dashboard.panels.map((panel) => panel.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const panel of dashboard.panels) {
      assert.ok(panel.gridPos, `panel ${panel.id} has a position`);
      if (panel.type !== 'row') assert.ok((panel.targets ?? []).length > 0, `panel ${panel.id} has queries`);
    }
  });

  it('reads metric names out of PromQL, not functions, labels or keywords', () => {
    assert.deepEqual(
      [
        ...metricNamesIn(
          'histogram_quantile(0.95, sum by (kind, le) (rate(gameday_fault_inject_duration_seconds_bucket{result="success"}[$__rate_interval]))) > 1 and on(job) up{job="w"} offset 5m',
        ),
      ],
      ['gameday_fault_inject_duration_seconds_bucket', 'up'],
    );
  });

  it("every gameday_, process_ and nodejs_ metric the dashboard and alerts use is one the worker's registry exports", async () => {
    const metrics = createGameDayMetrics({
      defaultMetrics: true,
      countRollbackStuck: () => Promise.resolve(0),
    });
    const exposition = await metrics.registry.metrics();
    assert.ok(shippedExpressions().length >= 15, 'the dashboard and alerts were read');
    assert.deepEqual(namesNotExported(exposition, ['gameday_', 'process_', 'nodejs_']), []);
    // The check itself can fail: a registry without the visibility gauges lacks names the alerts use.
    const partial = await createGameDayMetrics().registry.metrics();
    assert.ok(
      namesNotExported(partial, ['gameday_']).some((name) => name.startsWith('gameday_rollback_stuck ')),
    );
  });
});
