import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { faultKinds } from '../activities/faults/registry';
import { describePlan } from '../client/gameDays';
import { projectRoot } from '../client/paths';
import { loadPlanFile } from '../plan/load';
import { loadWorkerConfig } from '../worker/config';

// What ships in examples/ must load with the same code that users run.
describe('examples', () => {
  it('the worker configuration example is valid, with its SSH inventory', async () => {
    const config = await loadWorkerConfig(join(projectRoot, 'examples', 'worker.yaml'), {});
    assert.equal(config.ssh.hosts['kafka-1']?.credential, 'ops-key');
    assert.equal(config.local.enabled, true);
  });

  it('a credential that does not exist is named in the error', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'gameday-config-')), 'worker.yaml');
    writeFileSync(
      file,
      'ssh:\n  hosts:\n    db-1: { address: 10.0.0.1, credential: nope, hostKey: { insecureSkipVerify: true } }\n',
    );
    await assert.rejects(
      loadWorkerConfig(file, {}),
      /ssh\.hosts\.db-1\.credential: no credential named "nope"/,
    );
  });

  it('every example plan is valid, and dry-runs', async () => {
    const plans = readdirSync(join(projectRoot, 'examples')).filter(
      (f) => f.endsWith('.yaml') && f !== 'worker.yaml',
    );
    assert.ok(plans.length > 0);
    for (const plan of plans) {
      const loaded = await loadPlanFile(join(projectRoot, 'examples', plan));
      assert.ok(loaded.ok, `${plan}: ${loaded.ok ? '' : JSON.stringify(loaded.errors)}`);
      // What `gameday run --dry-run` prints: every action and its rollback, in plain words.
      const dryRun = describePlan(loaded.plan);
      const rollbacks = dryRun.match(/^ {7}rollback: /gm) ?? [];
      assert.equal(rollbacks.length, loaded.plan.faults.length, `${plan}: a rollback per fault`);
      if (plan === 'alluxio-worker-pod-delete.yaml') {
        // Recovery actions are actions too: the dry run lists them.
        assert.match(
          dryRun,
          /if they do not hold by then, in order \(each an intervention\), then 1m more:\n {3}- delete pods app\.kubernetes\.io\/component=worker,app\.kubernetes\.io\/instance=alluxio in alluxio \(context chaos-lab\) that check workers-ready finds not Ready, then wait up to 5m for them to be Ready/,
        );
      }
    }
  });

  it('the Kubernetes examples name only contexts and Prometheus endpoints of the example worker configuration', async () => {
    const config = await loadWorkerConfig(join(projectRoot, 'examples', 'worker.yaml'), {});
    const seeds = [
      'milvus-querynode-iochaos.yaml',
      'kafka-broker-pod-failure.yaml',
      'alluxio-worker-pod-delete.yaml',
    ];
    for (const file of seeds) {
      const loaded = await loadPlanFile(join(projectRoot, 'examples', file));
      assert.ok(loaded.ok, file);
      const plan = loaded.plan;
      const probes = [...plan.checks, ...plan.observation.guardrails];
      const named = [
        ...Object.values(plan.targets).map((group) => group.kubernetes),
        ...probes.map((check) => check.kubernetes),
        ...(plan.recovery.actions ?? []).map((action) => action.deletePods ?? action.rolloutRestart),
      ].filter((selection) => selection !== undefined);
      assert.ok(named.length > 0, file);
      for (const { context, namespace } of named) {
        const allowed = config.kubernetes.contexts[context];
        assert.ok(allowed, `${file}: context ${context} is in examples/worker.yaml`);
        if (namespace !== undefined)
          assert.ok(allowed.namespaces.includes(namespace), `${file}: ${namespace}`);
      }
      for (const check of probes) {
        if (check.prometheus === undefined) continue;
        const endpoint = check.prometheus.endpoint;
        assert.ok(
          config.prometheus.endpoints[endpoint],
          `${file}: endpoint ${endpoint} in examples/worker.yaml`,
        );
      }
    }
  });

  it("the README's fault table lists every registered fault kind, and no other", () => {
    const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
    const table = readme.slice(
      readme.indexOf('Fault kinds (one file each'),
      readme.indexOf('### Containers'),
    );
    const listed = [...table.matchAll(/^\| `([a-z-]+)` +\|/gm)].map((match) => match[1]);
    assert.deepEqual([...listed].sort(), Object.keys(faultKinds).sort());
  });
});
