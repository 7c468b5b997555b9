import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AppsV1Api, CoreV1Api, RbacAuthorizationV1Api, type V1Pod } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { evaluate, probeEnvironment, takeBaselines } from '../activities/checks/probe';
import { LocalExecutor } from '../activities/executors/local';
import { mergePatch } from '../activities/kubernetes/client';
import { restartedAtAnnotation } from '../activities/recoveryActions';
import type { ProbeSpec } from '../plan/schema';
import type { GameDayCheckContext } from '../workflows/definitions';
import { workerConfigSchema } from '../worker/config';
import { kubernetesClusters } from '../worker/kubernetesClusters';
import { freePort } from '../worker/ports';
import { parsedCheck } from './support/checks';
import { startTestKubernetes, type TestKubernetes } from './support/kubernetes';
import { startTogether } from './support/together';
import { gameDayPlan } from './support/plans';
import {
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  waitForPhase,
  type InProcessWorker,
  type TestTemporal,
} from './support/temporal';
import { waitFor } from './support/wait';

const namespace = 'shop';
const web = { app: 'web' };

const isReady = (pod: V1Pod) =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

// Kubernetes checks and recovery actions against a real control plane (etcd, kube-apiserver, controller manager,
// scheduler; kwok plays the kubelets). A pod is made unready as a failing readiness probe would: its status
// (containers' ready, the Ready condition) is written through the status subresource, which kwok leaves alone
// once the pod runs.
describe('kubernetes checks and recovery actions (real control plane, kwok nodes, real dev server)', () => {
  let temporal: TestTemporal;
  let kube: TestKubernetes;
  let worker: InProcessWorker;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let contexts: Record<string, unknown>;
  const local = new LocalExecutor();

  /** A probe environment with the worker's contexts, as the worker builds it. */
  const env = (gameDay?: GameDayCheckContext) =>
    probeEnvironment(
      {
        checkExecutor: local,
        executorFor: () => local,
        kubernetes: kubernetesClusters(workerConfigSchema.parse({ kubernetes: { contexts } }).kubernetes),
      },
      gameDay ? { gameDay } : {},
    );
  const check = (kubernetes: Record<string, unknown>, expect: 'pass' | 'fail' = 'pass'): ProbeSpec =>
    parsedCheck({
      when: ['before'],
      expect,
      kubernetes: { context: 'test', namespace, selector: { labels: web }, ...kubernetes },
    });

  /** The web pods once `count` are Ready and none is terminating. */
  const readyWeb = (count = 2) =>
    waitFor(
      `${count} Ready web pods`,
      async () => {
        const pods = (await core.listNamespacedPod({ namespace, labelSelector: 'app=web' })).items;
        const ready = pods.filter((pod) => !pod.metadata?.deletionTimestamp && isReady(pod));
        return ready.length === count && pods.length === count ? ready : undefined;
      },
      60_000,
    );

  /** What a failing readiness probe does to a pod's status: its containers and its Ready condition false. */
  const makeUnready = async (pod: V1Pod) => {
    const name = pod.metadata?.name ?? '';
    const containerStatuses = (pod.status?.containerStatuses ?? []).map((s) => ({ ...s, ready: false }));
    const conditions = (pod.status?.conditions ?? []).map((c) =>
      c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: 'False' } : c,
    );
    await core.patchNamespacedPodStatus(
      { name, namespace, body: { status: { containerStatuses, conditions } } },
      mergePatch(),
    );
    await waitFor(`${name} not Ready`, async () => {
      const now = await core.readNamespacedPod({ name, namespace });
      return isReady(now) ? undefined : now;
    });
  };

  /** Adds restarts to a pod's container, as a kubelet counts them. */
  const addRestarts = async (pod: V1Pod, restarts: number) => {
    const name = pod.metadata?.name ?? '';
    const now = await core.readNamespacedPod({ name, namespace });
    const containerStatuses = (now.status?.containerStatuses ?? []).map((s) => ({
      ...s,
      restartCount: s.restartCount + restarts,
    }));
    await core.patchNamespacedPodStatus(
      { name, namespace, body: { status: { containerStatuses } } },
      mergePatch(),
    );
  };

  before(async () => {
    [temporal, kube] = await startTogether([startTestTemporal(), startTestKubernetes({ nodes: 3 })]);
    core = kube.kubeConfig.makeApiClient(CoreV1Api);
    apps = kube.kubeConfig.makeApiClient(AppsV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    // An identity the API server knows and RBAC grants nothing: every request of it answers 403.
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'nobody' } } });
    const token = await core.createNamespacedServiceAccountToken({
      name: 'nobody',
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const cluster = kube.kubeConfig.getCurrentCluster();
    const tokenKubeconfig = (name: string, token: string | undefined) => {
      const file = join(kube.dir, `${name}.kubeconfig`);
      writeFileSync(
        file,
        stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            { name: 'c', cluster: { server: kube.server, 'certificate-authority': cluster?.caFile } },
          ],
          users: [{ name, user: { token } }],
          contexts: [{ name, context: { cluster: 'c', user: name } }],
          'current-context': name,
        }),
        { mode: 0o600 },
      );
      return file;
    };
    const deniedKubeconfig = tokenKubeconfig('nobody', token.status?.token);
    // Nothing listens here: the API server is unreachable.
    const unreachableKubeconfig = join(kube.dir, 'unreachable.kubeconfig');
    writeFileSync(
      unreachableKubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'c',
            cluster: {
              server: `https://127.0.0.1:${await freePort()}`,
              'certificate-authority': cluster?.caFile,
            },
          },
        ],
        users: [{ name: 'u', user: { token: 'unused' } }],
        contexts: [{ name: 'u', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'u',
      }),
    );
    // One that may list and read pods, and nothing else (no logs, no exec).
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'lister' } } });
    const rbac = kube.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'pod-reader' },
        rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'lister-reads-pods' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'lister', namespace }],
      },
    });
    const listerToken = await core.createNamespacedServiceAccountToken({
      name: 'lister',
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    contexts = {
      test: { kubeconfig: kube.kubeconfigPath, namespaces: [namespace] },
      lister: { kubeconfig: tokenKubeconfig('lister', listerToken.status?.token), namespaces: [namespace] },
      denied: { kubeconfig: deniedKubeconfig, namespaces: [namespace] },
      unreachable: { kubeconfig: unreachableKubeconfig, namespaces: [namespace] },
      strict: { kubeconfig: kube.kubeconfigPath, namespaces: [namespace], requireOptIn: true },
    };
    worker = await startInProcessWorker(temporal, undefined, { kubernetes: { contexts } });
    // The web containers' filesystems and logs, served by kwok to pods/exec and pods/log (declared before
    // the pods exist: each is prepared as it is created). etcdctl is a stand-in script in the image.
    await kube.declareContainers({
      namespace,
      labels: web,
      files: {
        '/usr/local/bin/etcdctl': {
          content:
            '#!/bin/sh\nif [ "$4" = /ServiceDiscovery ]; then printf "/ServiceDiscovery/web/1\\n"; exit 0; fi\n' +
            'echo "Error: no keys under $4" >&2\nexit 1\n',
          mode: 0o755,
        },
      },
      logs: ['[INFO] web started', '[WARN] cache cold', '[INFO] serving'],
    });
    for (const [name, labels, replicas] of [
      ['web', web, 2],
      ['other', { app: 'other' }, 1],
    ] as const) {
      await apps.createNamespacedDeployment({
        namespace,
        body: {
          metadata: { name, labels },
          spec: {
            replicas,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              spec: { containers: [{ name: 'app', image: `registry.invalid/${name}:1` }] },
            },
          },
        },
      });
    }
    await readyWeb();
    // The denied identity is bound to nothing (else the could-not-ask tests below would prove nothing).
    const bindings = (await rbac.listNamespacedRoleBinding({ namespace })).items;
    assert.ok(bindings.every((binding) => binding.subjects?.every((subject) => subject.name !== 'nobody')));
  });
  after(async () => {
    await worker?.stop();
    await Promise.all([kube?.stop(), temporal?.stop()]);
  });

  it('ready: a Ready Deployment holds at 100 %, as seed 003 prints it', async () => {
    await readyWeb();
    const result = await evaluate(env(), check({ ready: { minRatio: '100%' } }));
    assert.equal(result.holds, true, result.detail);
    assert.equal(result.detail, '2 ready / 2 expected = 100 %');
    assert.equal(result.value, 100);
    const running = await evaluate(env(), check({ ready: { phase: 'Running', expected: 2, min: 2 } }));
    assert.equal(running.holds, true, running.detail);
  });

  it('ready: a pod made unready deviates with "1 ready / 2 expected = 50 %", naming it; count bounds judge counts', async () => {
    const [victim] = await readyWeb();
    assert.ok(victim);
    await makeUnready(victim);
    const result = await evaluate(env(), check({ ready: { minRatio: 1 } }));
    assert.equal(result.holds, false);
    assert.equal(result.couldNotAsk, undefined, 'the system answered');
    assert.equal(result.value, 50);
    assert.match(
      result.detail,
      new RegExp(
        `^1 ready / 2 expected = 50 %: below 100 %; not Ready: ${victim.metadata?.name} \\(0/1 ready, Running\\)$`,
      ),
    );
    assert.equal((await evaluate(env(), check({ ready: { min: 1 } }))).holds, true, 'one Ready is enough');
    assert.equal((await evaluate(env(), check({ ready: { minRatio: '50%' } }))).holds, true);
    const three = await evaluate(env(), check({ ready: { expected: 3, minRatio: '30%' } }));
    assert.equal(three.detail, '1 ready / 3 expected = 33.3 %');
    // Not Ready, yet Running: the phase alone would have said healthy.
    assert.equal((await evaluate(env(), check({ ready: { phase: 'Running', min: 1 } }))).holds, true);
    assert.equal((await evaluate(env(), check({ ready: {} }, 'fail'))).holds, true, 'expect: fail holds');
    await core.deleteNamespacedPod({ name: victim.metadata?.name ?? '', namespace, gracePeriodSeconds: 0 });
    await readyWeb();
  });

  it('ready: restarts since the game day started are counted against its baseline; new pods count all theirs', async () => {
    const [first] = await readyWeb();
    assert.ok(first);
    const spec = check({ ready: { maxRestarts: 1 } });
    // A pod that restarted before the game day: not held against it.
    await addRestarts(first, 5);
    const baselines = await takeBaselines(env(), [spec]);
    const gameDay = { startMs: Date.now(), baselines };
    assert.equal((await evaluate(env(gameDay), spec)).holds, true);
    await addRestarts(first, 2);
    const restarted = await evaluate(env(gameDay), spec);
    assert.equal(restarted.holds, false);
    assert.match(
      restarted.detail,
      new RegExp(`2 restart\\(s\\) since the game day started, more than 1: ${first.metadata?.name} \\+2`),
    );
    assert.equal((await evaluate(env(gameDay), check({ ready: { maxRestarts: 2 } }))).holds, true);
    // Its replacement was created since the game day started: every restart of it counts.
    await core.deleteNamespacedPod({ name: first.metadata?.name ?? '', namespace, gracePeriodSeconds: 0 });
    const atStart = baselines.c ?? {};
    const replacement = (await readyWeb()).find((pod) => !((pod.metadata?.uid ?? '') in atStart));
    assert.ok(replacement);
    await addRestarts(replacement, 2);
    const replaced = await evaluate(env(gameDay), spec);
    assert.match(
      replaced.detail,
      new RegExp(
        `2 restart\\(s\\) since the game day started, more than 1: ${replacement.metadata?.name} \\+2$`,
      ),
    );
    const noBaseline = await evaluate(env(), spec);
    assert.equal(noBaseline.couldNotAsk, true, noBaseline.detail);
    assert.match(noBaseline.detail, /no restart counts from the game day's start/);
    await core.deleteNamespacedPod({
      name: replacement.metadata?.name ?? '',
      namespace,
      gracePeriodSeconds: 0,
    });
    await readyWeb();
  });

  it('a selector that matches no pod answers no ("0 ready / 0 expected") unless onNone says otherwise', async () => {
    const none = { selector: { labels: { app: 'nope' } } };
    const result = await evaluate(env(), check({ ...none, ready: {} }));
    assert.equal(result.holds, false);
    assert.equal(result.couldNotAsk, undefined);
    assert.equal(result.detail, '0 ready / 0 expected: no pods app=nope in shop (context test)');
    assert.equal((await evaluate(env(), check({ ...none, ready: {} }, 'fail'))).holds, true);
    assert.equal((await evaluate(env(), check({ ...none, ready: {}, onNone: 'pass' }))).holds, true);
    const unknown = await evaluate(env(), check({ ...none, ready: {}, onNone: 'unknown' }));
    assert.equal(unknown.unknown, true);
    const expected = await evaluate(env(), check({ ...none, ready: { expected: 2 } }));
    assert.equal(expected.detail, '0 ready / 2 expected = 0 %: below 100 %');
  });

  it('could not ask: an unknown context, a 403, an unreachable API server — never holds, even with expect: fail', async () => {
    const cases = [
      [
        'prod',
        /could not ask: this worker has no Kubernetes context "prod" \(known: test, lister, denied, unreachable, strict\)/,
      ],
      [
        'denied',
        /could not ask: not allowed to list pods in namespace shop \(context denied\): .*forbidden.*; grant the worker's identity "list" on pods/,
      ],
      [
        'unreachable',
        /could not ask: cannot list pods in namespace shop \(context unreachable\): the API server did not answer/,
      ],
    ] as const;
    for (const [context, detail] of cases) {
      for (const expect of ['pass', 'fail'] as const) {
        const result = await evaluate(env(), check({ context, ready: {} }, expect));
        assert.equal(result.holds, false, `${context} expect ${expect}: ${result.detail}`);
        assert.equal(result.couldNotAsk, true);
        assert.match(result.detail, detail);
      }
    }
  });

  it('logs: WARN|ERROR lines of every web container, with grep -A context and the previous containers (kubectl logs -p)', async () => {
    const pods = await readyWeb();
    const logs = (extra: Record<string, unknown>) =>
      evaluate(env(), check({ logs: { pattern: 'WARN|ERROR', since: '1h', ...extra } }));

    const current = await logs({ after: 1 });
    assert.equal(current.holds, false, current.detail);
    assert.equal(current.couldNotAsk ?? false, false, current.detail);
    assert.equal(current.value, 2, current.detail);
    assert.match(
      current.detail,
      /^2 line\(s\) match \/WARN\|ERROR\/ in 2 log\(s\) in the last 1h, more than 0/,
    );
    assert.ok(current.detail.includes('[WARN] cache cold ⏎ [INFO] serving'), current.detail);
    const allowed = await logs({ maxMatches: 2 });
    assert.equal(allowed.holds, true, allowed.detail);

    // One container restarts: its log so far becomes the previous one, which then logged an error; only it
    // has a previous log to read.
    const [restarted] = pods;
    assert.ok(restarted);
    await addRestarts(restarted, 1);
    (await kube.container(namespace, restarted.metadata?.name ?? '', 'app')).restartLogs();
    (await kube.container(namespace, restarted.metadata?.name ?? '', 'app')).log(
      ['[ERROR] UFS read failed: 503', '[INFO] shutting down'],
      { previous: true },
    );
    const withoutPrevious = await logs({});
    assert.equal(withoutPrevious.value, 1, withoutPrevious.detail);
    const withPrevious = await logs({ previous: true });
    assert.equal(withPrevious.value, 3, withPrevious.detail); // its old WARN and the ERROR, and the other pod's WARN
    assert.match(withPrevious.detail, /\/app previous: \[ERROR\] UFS read failed: 503/);
  });

  it('exec: argv runs in a web container through pods/exec, judged as a command check is', async () => {
    await readyWeb();
    const exec = (spec: Record<string, unknown>) =>
      evaluate(env(), check({ exec: { container: 'app', ...spec } }));
    const serves = await exec({
      argv: ['etcdctl', 'get', '--keys-only', '--prefix', '/ServiceDiscovery'],
      outputMatches: '^/ServiceDiscovery/',
    });
    assert.equal(serves.holds, true, serves.detail);
    const everyPod = await exec({
      argv: ['etcdctl', 'get', '--keys-only', '--prefix', '/ServiceDiscovery'],
      outputMatches: '^/ServiceDiscovery/web/',
      pods: 'all',
    });
    assert.equal(everyPod.holds, true, everyPod.detail);
    // The system's own "no": etcdctl answers, with exit 1.
    const missingKeys = await exec({ argv: ['etcdctl', 'get', '--keys-only', '--prefix', '/Missing'] });
    assert.equal(missingKeys.holds, false, missingKeys.detail);
    assert.equal(missingKeys.couldNotAsk ?? false, false, missingKeys.detail);
    // Its whole output is kept for the report (a result that does not hold); a held one keeps none.
    assert.equal(missingKeys.output, 'Error: no keys under /Missing');
    assert.equal(serves.output, undefined);
    const missingEverywhere = await exec({
      argv: ['etcdctl', 'get', '--keys-only', '--prefix', '/Missing'],
      pods: 'all',
    });
    assert.match(missingEverywhere.output ?? '', /^web-[\w-]+\/app:\nError: no keys under \/Missing$/);
    // Not an answer: the image has no such command (127).
    const missingTool = await exec({ argv: ['no-such-tool', 'get'] });
    assert.equal(missingTool.holds, false, missingTool.detail);
    assert.equal(missingTool.couldNotAsk, true, missingTool.detail);
  });

  it('logs and exec that cannot be read (no such container, RBAC refusing pods/log or pods/exec) are could not ask', async () => {
    const [pod] = await readyWeb();
    const name = pod?.metadata?.name ?? '';
    const cases = [
      [
        { logs: { pattern: 'WARN|ERROR', since: '1m', container: 'sidecar' } },
        `could not ask: cannot get pods/log ${name} in namespace shop (context test): HTTP 400`,
      ],
      [
        { context: 'lister', logs: { pattern: 'ERROR', since: '1m' } },
        `could not ask: not allowed to get pods/log ${name} in namespace shop (context lister)`,
      ],
      [
        { context: 'lister', exec: { argv: ['true'] } },
        `could not ask: not allowed to create pods/exec ${name} in namespace shop (context lister): HTTP 403`,
      ],
    ] as const;
    for (const [probe, detail] of cases) {
      const result = await evaluate(env(), check(probe, 'fail'));
      assert.equal(result.holds, false, result.detail);
      assert.equal(result.couldNotAsk, true, result.detail);
      assert.ok(result.detail.startsWith(detail), `${result.detail}\ndoes not start with\n${detail}`);
    }
  });

  it('resolve holds checks and recovery actions to the allow-lists: another context or namespace is refused', async () => {
    const plan = (extra: Record<string, unknown>) =>
      gameDayPlan({
        metadata: { name: 'k8s-check-refused', owner: 'tests' },
        targets: {
          others: { kubernetes: { context: 'test', namespace, selector: { labels: { app: 'other' } } } },
        },
        faults: [{ name: 'delete-other', kind: 'pod-delete', target: 'others', params: {} }],
        observation: { window: '1s', sampleInterval: '500ms' },
        ...extra,
      });
    const ready = (selection: Record<string, unknown>) => [
      {
        name: 'web-ready',
        when: ['before'],
        kubernetes: { context: 'test', namespace, selector: { labels: web }, ready: {}, ...selection },
      },
    ];
    const deletePods = (selection: Record<string, unknown>) => ({
      recovery: {
        within: '1s',
        actions: [{ deletePods: { context: 'test', namespace, selector: { labels: web }, ...selection } }],
      },
    });
    const refusals = [
      [
        { checks: ready({ context: 'prod' }) },
        /check web-ready names Kubernetes context "prod", which this worker does not have/,
      ],
      [
        { checks: ready({ namespace: 'kube-system' }) },
        /check web-ready reads namespace kube-system, which context test does not allow \(allowed: shop\)/,
      ],
      [
        {
          observation: {
            window: '1s',
            guardrails: [{ name: 'g', kubernetes: { context: 'test', namespace: 'default', ready: {} } }],
          },
        },
        /check g reads namespace default, which context test does not allow/,
      ],
      [
        deletePods({ namespace: 'kube-system' }),
        /recovery action 1 acts in namespace kube-system, which context test does not allow/,
      ],
      [deletePods({ context: 'strict' }), /recovery action 1: namespace shop has not opted in to game days/],
    ] as const;
    for (const [extra, reason] of refusals) {
      const report = await (await startPlan(temporal, plan(extra), worker.taskQueue)).result();
      assert.equal(report.outcome, 'not-started', JSON.stringify(extra));
      assert.match(report.reason ?? '', reason);
      assert.equal(report.faults.length, 0, 'nothing was prepared');
    }
  });

  it('a game day whose preflight check the API refuses (403) does not start, even with expect: fail', async () => {
    const report = await (
      await startPlan(
        temporal,
        gameDayPlan({
          metadata: { name: 'k8s-check-denied', owner: 'tests' },
          targets: {
            others: { kubernetes: { context: 'test', namespace, selector: { labels: { app: 'other' } } } },
          },
          checks: [
            {
              name: 'web-down',
              when: ['before'],
              expect: 'fail',
              kubernetes: { context: 'denied', namespace, selector: { labels: web }, ready: {} },
            },
          ],
          faults: [{ name: 'delete-other', kind: 'pod-delete', target: 'others', params: {} }],
          observation: { window: '1s', sampleInterval: '500ms' },
        }),
        worker.taskQueue,
      )
    ).result();
    assert.equal(report.outcome, 'not-started', report.reason);
    assert.match(
      report.reason ?? '',
      /web-down \(could not ask: not allowed to list pods in namespace shop \(context denied\)/,
    );
    assert.equal(report.faults.length, 0);
  });

  it('a guardrail on restarts breaches when a pod restarts during the window (baseline taken at resolve)', async () => {
    const [first] = await readyWeb();
    assert.ok(first);
    await addRestarts(first, 3); // before the game day: not counted
    const handle = await startPlan(
      temporal,
      gameDayPlan({
        metadata: { name: 'k8s-restarts', owner: 'tests' },
        targets: {
          others: { kubernetes: { context: 'test', namespace, selector: { labels: { app: 'other' } } } },
        },
        faults: [{ name: 'delete-other', kind: 'pod-delete', target: 'others', params: {} }],
        observation: {
          window: '20s',
          sampleInterval: '300ms',
          guardrails: [
            {
              name: 'web-steady',
              kubernetes: {
                context: 'test',
                namespace,
                selector: { labels: web },
                ready: { maxRestarts: 0, minRatio: 0 },
              },
            },
          ],
        },
      }),
      worker.taskQueue,
    );
    await waitForPhase(handle, 'observe');
    await addRestarts(first, 1);
    const report = await handle.result();
    assert.equal(report.outcome, 'aborted', report.reason);
    assert.match(
      report.reason ?? '',
      new RegExp(
        `guardrail web-steady breached: .*1 restart\\(s\\) since the game day started, more than 0: ${first.metadata?.name} \\+1`,
      ),
    );
    assert.ok(report.faults.every((fault) => fault.status === 'rolled-back'));
    await core.deleteNamespacedPod({ name: first.metadata?.name ?? '', namespace, gracePeriodSeconds: 0 });
    await readyWeb();
  });

  /** A game day whose recovery check on the web pods fails until the plan's recovery actions act. */
  const recoveryPlan = (name: string, actions: unknown[]) =>
    gameDayPlan({
      metadata: { name, owner: 'tests' },
      targets: {
        others: { kubernetes: { context: 'test', namespace, selector: { labels: { app: 'other' } } } },
      },
      checks: [
        {
          name: 'web-ready',
          when: ['after'],
          kubernetes: { context: 'test', namespace, selector: { labels: web }, ready: { minRatio: '100%' } },
        },
      ],
      faults: [{ name: 'delete-other', kind: 'pod-delete', target: 'others', params: {} }],
      observation: { window: '1s', sampleInterval: '500ms' },
      recovery: { within: '3s', interval: '500ms', actions },
    });

  it('deletePods (failing: the recovery check): only the unready pod is replaced, then recovered; the intervention is reported', async () => {
    const [healthy, victim] = await readyWeb();
    assert.ok(healthy && victim);
    await makeUnready(victim);
    const report = await (
      await startPlan(
        temporal,
        recoveryPlan('k8s-delete-pods', [
          {
            deletePods: {
              context: 'test',
              namespace,
              selector: { labels: web },
              failing: 'web-ready',
              timeout: '1m',
            },
          },
        ]),
        worker.taskQueue,
      )
    ).result();
    assert.equal(report.checks.recovery?.recovered, true, JSON.stringify(report.checks.recovery));
    assert.equal(report.checks.recovery?.afterActions, 1);
    assert.equal(report.outcome, 'failed');
    assert.equal(report.reason, 'did not recover by itself within 3s; recovered after 1 recovery action(s)');
    const [intervention, ...more] = report.interventions ?? [];
    assert.equal(more.length, 0);
    assert.equal(
      intervention?.action,
      'delete pods app=web in shop (context test) that check web-ready finds not Ready, then wait up to 1m for them to be Ready',
    );
    assert.match(
      intervention?.detail ?? '',
      new RegExp(`^deleted ${victim.metadata?.name}; ReplicaSet web-[a-z0-9]+ has 2 of 2 pods Ready$`),
    );
    assert.ok(report.timeline.some((entry) => entry.message.startsWith('intervention: delete pods app=web')));
    const after = await readyWeb();
    const uids = after.map((pod) => pod.metadata?.uid);
    assert.ok(uids.includes(healthy.metadata?.uid), 'the Ready pod was left alone');
    assert.ok(!uids.includes(victim.metadata?.uid), 'the unready pod was replaced');
  });

  it('rolloutRestart: the Deployment rolls every pod (restartedAt as kubectl sets it), then recovered', async () => {
    const before = await readyWeb();
    const [victim] = before;
    assert.ok(victim);
    await makeUnready(victim);
    const report = await (
      await startPlan(
        temporal,
        recoveryPlan('k8s-rollout-restart', [
          { rolloutRestart: { context: 'test', namespace, kind: 'deployment', name: 'web', timeout: '2m' } },
        ]),
        worker.taskQueue,
      )
    ).result();
    assert.equal(report.checks.recovery?.recovered, true, JSON.stringify(report.checks.recovery));
    const [intervention] = report.interventions ?? [];
    assert.match(
      intervention?.detail ?? '',
      /^deployment shop\/web restarted \(restartedAt .+\): 2 of 2 replicas updated and available$/,
    );
    const deployment = await apps.readNamespacedDeployment({ name: 'web', namespace });
    const restartedAt = deployment.spec?.template.metadata?.annotations?.[restartedAtAnnotation];
    assert.ok(restartedAt && intervention?.at === restartedAt, `${restartedAt} is the action's time`);
    assert.equal(deployment.metadata?.annotations?.['gameday.dev/run'], report.tag);
    const after = await readyWeb();
    const old = new Set(before.map((pod) => pod.metadata?.uid));
    assert.ok(
      after.every((pod) => !old.has(pod.metadata?.uid)),
      'every pod is new',
    );
  });

  it('no recovery action runs unless recovery fails: a recovered game day has no interventions', async () => {
    await readyWeb();
    const report = await (
      await startPlan(
        temporal,
        recoveryPlan('k8s-no-action-needed', [
          { rolloutRestart: { context: 'test', namespace, kind: 'deployment', name: 'web' } },
        ]),
        worker.taskQueue,
      )
    ).result();
    assert.equal(report.outcome, 'passed', report.reason);
    assert.equal(report.interventions, undefined);
    assert.equal(report.checks.recovery?.afterActions, undefined);
  });
});
