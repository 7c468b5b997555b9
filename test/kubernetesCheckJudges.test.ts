import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Deployment, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { CouldNotAsk } from '../activities/checks/contract';
import { execSpec, execTargets, exitCodeOf, judgeExec } from '../activities/checks/kubernetesExec';
import { grepLogs, judgeLogs, logsSpec } from '../activities/checks/kubernetesLogs';
import { judgeReady, readySpec } from '../activities/checks/kubernetesReady';
import { deploymentRollout, statefulSetRollout } from '../activities/recoveryActions';
import { planSchema } from '../plan/schema';

// The judging parts of the kubernetes check kinds and the rollout states of the recovery actions: pure
// functions over objects shaped as the API returns them. The real control plane tests (kubernetesChecks) run
// them end to end; exec and logs are judged here only, since the test kubelets (kwok) serve neither yet.

function pod(
  name: string,
  ready: boolean,
  extra: { phase?: string; restarts?: number; uid?: string } = {},
): V1Pod {
  return {
    metadata: { name, namespace: 'shop', uid: extra.uid ?? `uid-${name}` },
    spec: { containers: [{ name: 'app' }] },
    status: {
      phase: extra.phase ?? 'Running',
      containerStatuses: [{ name: 'app', image: 'x', imageID: '', ready, restartCount: extra.restarts ?? 0 }],
    },
  };
}

describe('kubernetes ready: judging', () => {
  const spec = (input: unknown) => readySpec.parse(input);

  it('counts containers ready, not phases; a pod without container statuses is not Ready', () => {
    const pending: V1Pod = {
      metadata: { name: 'web-3' },
      spec: { containers: [{ name: 'app' }] },
      status: { phase: 'Pending' },
    };
    const result = judgeReady([pod('web-1', true), pod('web-2', false), pending], spec({}), undefined);
    assert.equal(result.ok, false);
    assert.equal(
      result.detail,
      '1 ready / 3 expected = 33.3 %: below 100 %; not Ready: web-2 (0/1 ready, Running), web-3 (Pending, no container started)',
    );
    assert.equal(result.value, 33.3);
  });

  it('bounds on the ratio, the count and the phase; a ratio as a percentage or a number', () => {
    const pods = [pod('web-1', true), pod('web-2', true, { phase: 'Pending' })];
    assert.equal(judgeReady(pods, spec({ minRatio: '50%' }), undefined).ok, true);
    assert.equal(
      judgeReady(pods, spec({ minRatio: 0.5, phase: 'Running' }), undefined).detail,
      '2 ready / 2 expected = 100 %: not Running: web-2 (Pending)',
    );
    assert.equal(
      judgeReady(pods, spec({ min: 3 }), undefined).detail,
      '2 ready / 2 expected = 100 %: fewer than 3 Ready',
    );
    assert.equal(
      judgeReady(pods, spec({ expected: 4, min: 2 }), undefined).ok,
      true,
      'a count alone sets no ratio',
    );
    assert.throws(() => spec({ minRatio: '150%' }), /at most 100%/);
    assert.throws(() => spec({ minRatio: 1.5 }), /a ratio is from 0 to 1 \(1 is all\)/);
  });

  it('restarts since the baseline: pods missing from it (new since) count all theirs; many pods are summarised', () => {
    const baseline = { 'uid-web-1': 4 };
    const pods = [pod('web-1', true, { restarts: 5 }), pod('web-2', true, { restarts: 2 })];
    assert.equal(judgeReady(pods, spec({ maxRestarts: 3 }), baseline).ok, true);
    assert.equal(
      judgeReady(pods, spec({ maxRestarts: 2 }), baseline).detail,
      '2 ready / 2 expected = 100 %: 3 restart(s) since the game day started, more than 2: web-1 +1, web-2 +2',
    );
    const many = Array.from({ length: 8 }, (_, i) => pod(`w-${i}`, false));
    assert.match(
      judgeReady(many, spec({}), undefined).detail,
      /not Ready: w-0 .*, w-4 \(0\/1 ready, Running\) and 3 more$/,
    );
  });
});

describe('kubernetes logs: judging', () => {
  const logs = [
    {
      source: 'worker-0/worker',
      text: '10:00 INFO up\n10:01 ERROR HdfsUfsStatusIterator - Failed to list\njava.net.ConnectException: refused\n10:02 INFO ok\n',
    },
    { source: 'worker-0/worker previous', text: '09:00 WARN quota\nat QuotaCoordinator\n' },
  ];

  it('matches each line (RE2), shows N lines after each as grep -A, counts every match', () => {
    const { count, matches } = grepLogs(logs, 'WARN|ERROR', 1);
    assert.equal(count, 2);
    assert.deepEqual(matches, [
      {
        source: 'worker-0/worker',
        lines: ['10:01 ERROR HdfsUfsStatusIterator - Failed to list', 'java.net.ConnectException: refused'],
      },
      { source: 'worker-0/worker previous', lines: ['09:00 WARN quota', 'at QuotaCoordinator'] },
    ]);
    assert.equal(grepLogs(logs, '^java', 0).count, 1, '^ matches at each line start');
  });

  it('more matches than maxMatches answer no; the value is the count; what was cut short is said', () => {
    const spec = logsSpec.parse({ pattern: 'WARN|ERROR', after: 1, previous: true });
    const result = judgeLogs(logs, spec, ['worker-1/worker: no log yet']);
    assert.equal(result.ok, false);
    assert.equal(result.value, 2);
    assert.equal(
      result.detail,
      '2 line(s) match /WARN|ERROR/ in 2 log(s) since the game day started, more than 0; ' +
        'worker-0/worker: 10:01 ERROR HdfsUfsStatusIterator - Failed to list ⏎ java.net.ConnectException: refused; ' +
        'worker-0/worker previous: 09:00 WARN quota ⏎ at QuotaCoordinator; worker-1/worker: no log yet',
    );
    assert.equal(judgeLogs(logs, { ...spec, maxMatches: 2 }, []).ok, true);
    const cut = judgeLogs([{ source: 'a/b', text: 'ok\n', truncated: true }], spec, []);
    assert.match(cut.detail, /read only the first 8 MiB of a\/b$/);
  });

  it('a pattern RE2 cannot run in linear time is a validation error', () => {
    assert.throws(() => logsSpec.parse({ pattern: '(a)\\1' }), /not a regular expression RE2 accepts/);
  });
});

describe('kubernetes exec: judging', () => {
  const spec = (input: Record<string, unknown>) => execSpec.parse({ argv: ['etcdctl', 'get'], ...input });

  it('reads the exit code from the status channel as a kubelet sends it', () => {
    assert.equal(exitCodeOf({ status: 'Success' }), 0);
    assert.equal(
      exitCodeOf({
        status: 'Failure',
        reason: 'NonZeroExitCode',
        details: { causes: [{ reason: 'ExitCode', message: '3' }] },
      }),
      3,
    );
    assert.throws(
      () =>
        exitCodeOf({ status: 'Failure', reason: 'InternalError', message: 'container not found ("etcd")' }),
      (error: unknown) =>
        error instanceof CouldNotAsk && /without an exit code: container not found/.test(error.message),
    );
    assert.throws(() => exitCodeOf(undefined), CouldNotAsk);
  });

  it('judged like the command check: exit code, output, a number; a timeout answers no; 126/127 could not ask', () => {
    const keys = '/ServiceDiscovery/default-alluxio/worker-1\n/ServiceDiscovery/default-alluxio/worker-2';
    assert.equal(
      judgeExec({ exitCode: 0, output: keys }, spec({ outputMatches: '^/ServiceDiscovery/' }), 1000).ok,
      true,
    );
    const wrong = judgeExec({ exitCode: 1, output: 'Error: context deadline exceeded' }, spec({}), 1000);
    assert.equal(wrong.ok, false);
    assert.equal(wrong.detail, 'exited 1, expected 0: Error: context deadline exceeded');
    const number = judgeExec(
      { exitCode: 0, output: 'lag 42' },
      spec({ value: { pattern: 'lag (\\d+)', max: 10 } }),
      1000,
    );
    assert.deepEqual([number.ok, number.value], [false, 42]);
    assert.deepEqual(judgeExec({ timedOut: true, output: 'partial' }, spec({}), 1000), {
      ok: false,
      detail: 'did not finish within 1000 ms: partial',
      output: 'partial',
    });
    assert.equal(wrong.output, 'Error: context deadline exceeded', 'the whole output, for the report');
    assert.throws(
      () => judgeExec({ exitCode: 127, output: 'sh: etcdctl: not found' }, spec({}), 1000),
      (error: unknown) => error instanceof CouldNotAsk && error.output === 'sh: etcdctl: not found',
    );
  });

  it('one: the first Ready pod by name; all: every selected pod', () => {
    const pods = [pod('etcd-0', false), pod('etcd-1', true), pod('etcd-2', true)];
    assert.deepEqual(
      execTargets(pods, spec({})).map((p) => p.metadata?.name),
      ['etcd-1'],
    );
    assert.equal(execTargets(pods, spec({ pods: 'all' })).length, 3);
    assert.deepEqual(execTargets([pod('etcd-0', false)], spec({})), []);
  });

  it('argv takes no shell metacharacters; a shell runs only when argv calls one, with the plan words', () => {
    assert.throws(() => spec({ argv: ['sh', '-c', 'etcdctl get / | head'] }), /may contain only letters/);
    assert.ok(
      spec({ argv: ['bash', '-c', 'ETCDCTL_API=3 etcdctl get --keys-only --prefix /ServiceDiscovery'] }),
    );
  });
});

describe('recovery actions: rollout states, as kubectl rollout status judges them', () => {
  it('deployment: observed, updated, old replicas gone, available', () => {
    const deployment = (status: V1Deployment['status'], generation = 2): V1Deployment => ({
      metadata: { name: 'web', generation },
      spec: { replicas: 2, selector: {}, template: {} },
      status,
    });
    assert.equal(
      deploymentRollout(deployment({ observedGeneration: 1 })).detail,
      'the new spec is not observed yet',
    );
    assert.equal(
      deploymentRollout(deployment({ observedGeneration: 2, updatedReplicas: 1, replicas: 3 })).detail,
      '1 of 2 replicas updated',
    );
    assert.equal(
      deploymentRollout(deployment({ observedGeneration: 2, updatedReplicas: 2, replicas: 3 })).detail,
      '1 old replica(s) pending termination',
    );
    assert.equal(
      deploymentRollout(
        deployment({ observedGeneration: 2, updatedReplicas: 2, replicas: 2, availableReplicas: 1 }),
      ).detail,
      '1 of 2 updated replicas available',
    );
    assert.deepEqual(
      deploymentRollout(
        deployment({ observedGeneration: 2, updatedReplicas: 2, replicas: 2, availableReplicas: 2 }),
      ),
      {
        done: true,
        detail: '2 of 2 replicas updated and available',
      },
    );
  });

  it('statefulset: Ready, then the update revision current (or the partition reached)', () => {
    const set = (status: V1StatefulSet['status'], partition?: number): V1StatefulSet => ({
      metadata: { name: 'etcd', generation: 3 },
      spec: {
        replicas: 3,
        selector: {},
        serviceName: 'etcd',
        template: {},
        updateStrategy: { type: 'RollingUpdate', ...(partition ? { rollingUpdate: { partition } } : {}) },
      },
      ...(status ? { status } : {}),
    });
    assert.equal(
      statefulSetRollout(set({ replicas: 3, observedGeneration: 3, readyReplicas: 2 })).detail,
      '2 of 3 pods Ready',
    );
    assert.equal(
      statefulSetRollout(
        set({
          replicas: 3,
          observedGeneration: 3,
          readyReplicas: 3,
          updatedReplicas: 1,
          currentRevision: 'a',
          updateRevision: 'b',
        }),
      ).done,
      false,
    );
    assert.equal(
      statefulSetRollout(
        set({
          replicas: 3,
          observedGeneration: 3,
          readyReplicas: 3,
          currentRevision: 'b',
          updateRevision: 'b',
        }),
      ).done,
      true,
    );
    assert.equal(
      statefulSetRollout(
        set(
          {
            replicas: 3,
            observedGeneration: 3,
            readyReplicas: 3,
            updatedReplicas: 1,
            currentRevision: 'a',
            updateRevision: 'b',
          },
          2,
        ),
      ).done,
      true,
    );
  });
});

describe('kubernetes checks and recovery actions in plans', () => {
  const plan = (extra: Record<string, unknown>) =>
    planSchema.safeParse({
      apiVersion: 'gameday.dev/v1alpha1',
      kind: 'GameDay',
      metadata: { name: 'k8s', owner: 'tests' },
      targets: {
        pods: { kubernetes: { context: 'prod', namespace: 'shop', selector: { labels: 'app=web' } } },
      },
      faults: [{ name: 'f', kind: 'pod-delete', target: 'pods', params: {} }],
      observation: { window: '10s' },
      ...extra,
    });
  const errors = (extra: Record<string, unknown>) => {
    const result = plan(extra);
    assert.equal(result.success, false, 'expected a validation error');
    return result.error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('\n') ?? '';
  };
  const check = (kubernetes: Record<string, unknown>, more: Record<string, unknown> = {}) => ({
    checks: [
      {
        name: 'web',
        when: ['after'],
        kubernetes: { context: 'prod', namespace: 'shop', ...kubernetes },
        ...more,
      },
    ],
  });

  it('one of ready, logs or exec; pods only; run from the worker', () => {
    assert.ok(plan(check({ ready: {} })).success);
    assert.match(errors(check({})), /checks.0.kubernetes: give exactly one of ready, logs, exec/);
    assert.match(
      errors(check({ ready: {}, logs: { pattern: 'x' } })),
      /give exactly one of ready, logs, exec/,
    );
    assert.match(errors(check({ kind: 'node', ready: {} })), /checks.0.kubernetes.kind/);
    assert.match(
      errors(check({ namespace: undefined, ready: {} })),
      /pods are selected in a namespace: give one/,
    );
    assert.match(errors(check({ ready: {} }, { on: 'kafka-1' })), /kubernetes probes run from the worker/);
  });

  it('recovery actions: exactly one kind each; failing names a kubernetes ready check of the plan', () => {
    const actions = (...list: unknown[]) => ({ ...check({ ready: {} }), recovery: { actions: list } });
    const deletePods = { context: 'prod', namespace: 'shop', selector: { labels: 'app=web' } };
    assert.ok(plan(actions({ deletePods: { ...deletePods, failing: 'web' } })).success);
    assert.ok(
      plan(
        actions({
          rolloutRestart: { context: 'prod', namespace: 'shop', kind: 'statefulset', name: 'etcd' },
        }),
      ).success,
    );
    assert.match(errors(actions({})), /recovery.actions.0: give exactly one of deletePods, rolloutRestart/);
    assert.match(
      errors(actions({ deletePods: { ...deletePods, failing: 'nope' } })),
      /recovery.actions.0.deletePods.failing: check "nope" is not defined \(defined: web\)/,
    );
    const logsCheck = {
      ...check({ logs: { pattern: 'ERROR' } }),
      recovery: { actions: [{ deletePods: { ...deletePods, failing: 'web' } }] },
    };
    assert.match(errors(logsCheck), /check "web" is not a kubernetes ready check/);
    assert.match(
      errors(
        actions({ rolloutRestart: { context: 'prod', namespace: 'shop', kind: 'daemonset', name: 'x' } }),
      ),
      /kind/,
    );
  });
});
