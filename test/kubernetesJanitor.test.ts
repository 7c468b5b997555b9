import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1Node,
} from '@kubernetes/client-node';
import { faultHash } from '../activities/faults/context';
import type { ChaosObject } from '../activities/kubernetes/chaosMeshExperiment';
import { chaosMeshResources } from '../activities/kubernetes/chaosMeshSpec';
import { freePort } from '../worker/ports';
import type { JanitorReport } from '../workflows/janitorDefinitions';
import { startChaosMeshHarness, type ChaosMeshHarness } from './support/chaosMesh';
import { runCli, type CliResult } from './support/cli';
import { startTestKubernetes, type TestKubernetes } from './support/kubernetes';
import { startTogether } from './support/together';
import { gameDayPlan } from './support/plans';
import {
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  tagOf,
  waitForPhase,
  type InProcessWorker,
  type TestTemporal,
} from './support/temporal';
import { waitFor } from './support/wait';

const namespace = 'shop';

const gamedayAnnotations = (node: V1Node | { metadata?: { annotations?: Record<string, string> } }) =>
  Object.keys(node.metadata?.annotations ?? {}).filter((key) => key.startsWith('gameday.dev/'));

// The janitor against a real control plane (etcd, kube-apiserver with the Chaos Mesh v2.8.3 CRDs, controller
// manager, scheduler; kwok plays the kubelets). No Chaos Mesh controller can run here: test/support/chaosMesh.ts
// plays it through the API (injects, and lets go of its finalizer on deletion).
describe('janitor on Kubernetes: what a run left, found by its labels (real control plane, real dev servers, the harness plays Chaos Mesh)', () => {
  let temporal: TestTemporal;
  let kube: TestKubernetes;
  let worker: InProcessWorker;
  let harness: ChaosMeshHarness;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let custom: CustomObjectsApi;

  const janitorCli = (...args: string[]): Promise<CliResult> =>
    runCli(
      ['--address', temporal.server.address, '--task-queue', worker.taskQueue, 'janitor', '--json', ...args],
      {
        timeoutMs: 180_000,
      },
    );
  const janitorReport = async (...args: string[]) => {
    const result = await janitorCli(...args);
    try {
      return { code: result.code, report: JSON.parse(result.stdout) as JanitorReport };
    } catch {
      throw new Error(`janitor printed no JSON (exit ${result.code}): ${result.stderr}`);
    }
  };

  const podChaos = async () => {
    const { group, version, plural } = chaosMeshResources.PodChaos;
    return (
      (await custom.listNamespacedCustomObject({ group, version, plural, namespace })) as {
        items: ChaosObject[];
      }
    ).items;
  };
  const readyReplicas = (name: string) =>
    waitFor(
      `deployment ${name} settled`,
      async () => {
        const set = await apps.readNamespacedDeployment({ name, namespace });
        const wanted = set.spec?.replicas ?? 1;
        return set.status?.readyReplicas === wanted && set.status.replicas === wanted ? set : undefined;
      },
      60_000,
    );

  const contexts = (extra: Record<string, unknown> = {}) => ({
    local: { enabled: false },
    kubernetes: {
      contexts: { test: { kubeconfig: kube.kubeconfigPath, namespaces: [namespace] }, ...extra },
    },
  });

  before(async () => {
    [temporal, kube] = await startTogether([
      startTestTemporal(),
      startTestKubernetes({ nodes: 2, chaosMeshCrds: true }),
    ]);
    core = kube.kubeConfig.makeApiClient(CoreV1Api);
    apps = kube.kubeConfig.makeApiClient(AppsV1Api);
    custom = kube.kubeConfig.makeApiClient(CustomObjectsApi);
    harness = startChaosMeshHarness(kube.kubeConfig);
    // A context whose API server is not there (a port nothing listens on): it can never be "clean".
    const unreachable = join(kube.dir, 'unreachable.kubeconfig');
    writeFileSync(
      unreachable,
      readFileSync(kube.kubeconfigPath, 'utf8').replace(kube.server, `https://127.0.0.1:${await freePort()}`),
    );
    worker = await startInProcessWorker(
      temporal,
      undefined,
      contexts({ gone: { kubeconfig: unreachable, namespaces: [namespace] } }),
    );
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    for (const [name, replicas] of [
      ['web', 2],
      ['other', 1],
    ] as const) {
      const labels = { app: name };
      await apps.createNamespacedDeployment({
        namespace,
        body: {
          metadata: { name },
          spec: {
            replicas,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              spec: { containers: [{ name, image: `registry.invalid/${name}:1` }] },
            },
          },
        },
      });
    }
    await Promise.all([readyReplicas('web'), readyReplicas('other')]);
  });
  after(async () => {
    await harness?.stop();
    await worker?.stop();
    await Promise.all([kube?.stop(), temporal?.stop()]);
  });

  it('a Chaos Mesh experiment, a cordoned node and a scaled workload whose run and Temporal are gone: listed by their labels, removed by their kinds', async () => {
    const node = kube.nodeNames[0] ?? '';
    const plan = gameDayPlan({
      metadata: { name: 'k8s-janitor', owner: 'tests' },
      targets: {
        shop: { kubernetes: { context: 'test', namespace } },
        node: {
          kubernetes: { context: 'test', kind: 'node', selector: { fields: `metadata.name=${node}` } },
        },
        web: {
          kubernetes: {
            context: 'test',
            namespace,
            kind: 'deployment',
            selector: { fields: 'metadata.name=web' },
          },
        },
      },
      faults: [
        {
          name: 'fail-web',
          kind: 'chaos-mesh',
          target: 'shop',
          params: {
            experiment: {
              kind: 'PodChaos',
              spec: { action: 'pod-failure', mode: 'one', selector: { labelSelectors: { app: 'web' } } },
            },
          },
        },
        { name: 'cordon', kind: 'node-cordon', target: 'node' },
        { name: 'shrink', kind: 'scale', target: 'web', params: { replicas: 1 } },
      ],
      observation: { window: '10m', sampleInterval: '1s' },
    });
    // The game day runs on another Temporal, which is then gone with its histories: only the labels and
    // annotations its kinds put on the objects are left to say what it did.
    const elsewhere = await startTestTemporal();
    const elsewhereWorker = await startInProcessWorker(elsewhere, undefined, contexts());
    let tag: string;
    try {
      const handle = await startPlan(elsewhere, plan, elsewhereWorker.taskQueue);
      await waitForPhase(handle, 'observe', 60_000);
      tag = await tagOf(handle);
      await handle.terminate('test: no rollback');
    } finally {
      await elsewhereWorker.stop();
      await elsewhere.stop();
    }
    const experiment = `gd-${tag}-${faultHash('fail-web')}`;
    assert.deepEqual(
      (await podChaos()).map((object) => object.metadata?.name),
      [experiment],
    );
    assert.equal(
      (await core.readNode({ name: node })).spec?.unschedulable,
      true,
      'the node is still cordoned',
    );
    assert.equal((await apps.readNamespacedDeployment({ name: 'web', namespace })).spec?.replicas, 1);
    // A kind whose CRD is not installed: nothing of it can exist, and its 404 is not a failure to look.
    await kube.kubeConfig
      .makeApiClient(ApiextensionsV1Api)
      .deleteCustomResourceDefinition({ name: 'timechaos.chaos-mesh.org' });
    const { group, version, plural } = chaosMeshResources.TimeChaos;
    await waitFor('TimeChaos unknown to the API server', () =>
      custom.listNamespacedCustomObject({ group, version, plural, namespace }).then(
        () => undefined,
        (error: { code?: number }) => (error.code === 404 ? true : undefined),
      ),
    );

    const dry = await janitorReport();
    assert.equal(dry.code, 1);
    const lines = dry.report.findings.map(
      (finding) => `${finding.host} ${finding.tag} ${finding.removal.kind} ${finding.what}`,
    );
    assert.equal(dry.report.findings.length, 4, lines.join('\n'));
    const [unreachable, ...left] = [...dry.report.findings].sort((a, b) =>
      a.tag === '-' ? -1 : b.tag === '-' ? 1 : 0,
    );
    assert.equal(unreachable?.host, 'gone');
    assert.equal(unreachable?.removal.kind, 'none');
    assert.match(
      unreachable?.what ?? '',
      /^could not look for gameday's objects in context gone: nodes: cannot list nodes \(context gone\): the API server did not answer/,
    );
    assert.ok(
      left.every(
        (finding) =>
          finding.tag === tag && finding.removal.kind === 'cluster-revert' && finding.run === undefined,
      ),
      lines.join('\n'),
    );
    assert.deepEqual(
      left.map((finding) => `${finding.host}: ${finding.what}`).sort(),
      [
        `${namespace}/deployment/web: deployment ${namespace}/web scaled by run ${tag} from 2 to 1 replicas (context test): in place, and no history explains it`,
        `${namespace}: Chaos Mesh PodChaos ${namespace}/${experiment} (fault fail-web, context test): in place, and no history explains it`,
        `${node}: node ${node} cordoned by run ${tag} (unschedulable; context test): in place, and no history explains it`,
      ].sort(),
    );
    // The dry run changed nothing.
    assert.equal((await podChaos()).length, 1);

    // Scoped: a target name (a node) looks at that node only; another run's tag finds nothing of this one.
    const byNode = await janitorReport('--targets', node);
    assert.deepEqual(
      byNode.report.findings.map((finding) => finding.host),
      [node],
    );
    // (The unreachable context is still said: it could hold that run's objects too.)
    const otherTag = await janitorReport('--tag', 'f00dcafe');
    assert.deepEqual(
      otherTag.report.findings.map((finding) => finding.host),
      ['gone'],
    );

    const applied = await janitorReport('--apply', '--targets', 'test');
    assert.equal(
      applied.code,
      0,
      JSON.stringify({
        removed: applied.report.removed,
        failed: applied.report.failed,
        remaining: applied.report.remaining,
      }),
    );
    // The scale fault may have removed the very pod the PodChaos injected: its removal then notes that too.
    const details = applied.report.removed.map((removal) => removal.detail ?? '').sort();
    assert.equal(details.length, 3, JSON.stringify(details));
    assert.match(
      details[0] ?? '',
      new RegExp(
        `^deleted Chaos Mesh PodChaos ${namespace}/${experiment} and saw it gone \\(context test\\)` +
          `(; note: pod ${namespace}/web-[-a-z0-9]+ was deleted during the window; Chaos Mesh did not re-inject it \\(injectedCount still 1\\))?$`,
      ),
    );
    assert.deepEqual(details.slice(1), [
      `scaled deployment ${namespace}/web back to 2 replicas (Ready) and removed gameday's annotations (context test)`,
      `uncordoned node ${node} and removed gameday's annotations (context test)`,
    ]);
    assert.deepEqual(await podChaos(), [], 'the experiment is gone');
    const after = await core.readNode({ name: node });
    assert.notEqual(after.spec?.unschedulable, true, 'the node is schedulable');
    assert.deepEqual(gamedayAnnotations(after), []);
    const web = await readyReplicas('web');
    assert.equal(web.spec?.replicas, 2, 'replicas back');
    assert.deepEqual(gamedayAnnotations(web), []);
    assert.deepEqual(applied.report.remaining, []);
  });

  it("a running game day's objects are never touched; a terminated one's recorded steps are removed by their rollback, not listed twice by their labels", async () => {
    const node = kube.nodeNames[1] ?? '';
    const plan = gameDayPlan({
      metadata: { name: 'k8s-janitor-recorded', owner: 'tests' },
      targets: {
        node: {
          kubernetes: { context: 'test', kind: 'node', selector: { fields: `metadata.name=${node}` } },
        },
        other: {
          kubernetes: {
            context: 'test',
            namespace,
            kind: 'deployment',
            selector: { fields: 'metadata.name=other' },
          },
        },
      },
      faults: [
        { name: 'cordon', kind: 'node-cordon', target: 'node' },
        { name: 'grow', kind: 'scale', target: 'other', params: { delta: 1 } },
      ],
      observation: { window: '10m', sampleInterval: '1s' },
    });
    const handle = await startPlan(temporal, plan, worker.taskQueue);
    await waitForPhase(handle, 'observe', 60_000);
    const tag = await tagOf(handle);
    assert.equal((await core.readNode({ name: node })).spec?.unschedulable, true);
    const running = await janitorReport('--apply', '--targets', 'test');
    assert.deepEqual(
      running.report.findings.filter((finding) => finding.tag === tag),
      [],
      'a running game day is not a leftover',
    );
    assert.equal((await core.readNode({ name: node })).spec?.unschedulable, true, 'its cordon is untouched');
    assert.equal((await apps.readNamespacedDeployment({ name: 'other', namespace })).spec?.replicas, 2);

    await handle.terminate('test: no rollback');
    const closed = await janitorReport('--targets', 'test');
    assert.deepEqual(
      closed.report.findings
        .map((finding) => `${finding.host} ${finding.tag} ${finding.removal.kind} ${finding.run?.status}`)
        .sort(),
      [
        `${namespace}/deployment/other ${tag} rollback terminated`,
        `${node} ${tag} rollback terminated`,
      ].sort(),
      'found through the history, once',
    );
    const applied = await janitorReport('--apply', '--targets', 'test');
    assert.equal(
      applied.code,
      0,
      JSON.stringify({ failed: applied.report.failed, remaining: applied.report.remaining }),
    );
    const after = await core.readNode({ name: node });
    assert.notEqual(after.spec?.unschedulable, true);
    assert.deepEqual(gamedayAnnotations(after), []);
    const other = await readyReplicas('other');
    assert.equal(other.spec?.replicas, 1);
    assert.deepEqual(gamedayAnnotations(other), []);
  });
});
