import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { faultKinds } from '../activities/faults/registry';
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

  it('every example plan is valid', async () => {
    const plans = readdirSync(join(projectRoot, 'examples')).filter(
      (f) => f.endsWith('.yaml') && f !== 'worker.yaml',
    );
    assert.ok(plans.length > 0);
    for (const plan of plans) {
      const loaded = await loadPlanFile(join(projectRoot, 'examples', plan));
      assert.ok(loaded.ok, `${plan}: ${loaded.ok ? '' : JSON.stringify(loaded.errors)}`);
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
