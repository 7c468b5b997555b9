import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { goDurationMs, goDurationText } from '../activities/kubernetes/chaosMeshSpec';
import { projectRoot } from '../client/paths';
import { formatPlanError, parsePlan } from '../plan/load';

/** A plan with one chaos-mesh fault whose params are `params` (YAML, indented as under `params:`). */
const planText = (
  params: string,
  { namespace = 'chaos-testing', window = '2m' } = {},
) => `apiVersion: gameday.dev/v1alpha1
kind: GameDay
metadata:
  name: chaos
  owner: tests
targets:
  querynodes:
    kubernetes:
      context: test
      namespace: ${namespace}
faults:
  - name: io-latency
    kind: chaos-mesh
    target: querynodes
    params:
${params
  .split('\n')
  .map((line) => (line ? `      ${line}` : line))
  .join('\n')}
observation:
  window: ${window}
`;

const errorsOf = (text: string): string[] => {
  const result = parsePlan(text, 'plan.yaml');
  return result.ok ? [] : result.errors.map(formatPlanError);
};

// Seed 000 ("IOChaos 配置建议"), the spec as the runbook has it, comments and all.
const seed000Spec = `  action: latency
  delay: 100ms          # 延迟不宜过大
  duration: 5m          # 持续时间不宜过长
  mode: one             # 建议从单个 pod 开始测试
  percent: 50           # 不要 100%，留有余地
  methods:
    - read
  selector:
    labelSelectors:
      component: querynode
    namespaces:
      - chaos-testing
  volumePath: /var/lib/milvus/data`;

// Seed 002 (方法C), the PodChaos spec as the runbook has it.
const seed002Spec = `  action: pod-failure # 故障动作
  mode: one # 对其中一个Pod执行
  selector:
    labelSelector:
      app: kafka-broker # 选择Kafka Broker的Pod
  duration: "5m" # 故障持续5分钟`;

describe('chaos-mesh experiment specs, validated against the Chaos Mesh v2.8.3 CRDs', () => {
  it("seed 000's IOChaos validates as pasted, alone or with the CR's apiVersion and kind", () => {
    for (const experiment of [
      `experiment:\n  kind: IOChaos\n  spec:\n${seed000Spec.replace(/^/gm, '  ')}`,
      `experiment:\n  apiVersion: chaos-mesh.org/v1alpha1\n  kind: IOChaos\n  spec:\n${seed000Spec.replace(/^/gm, '  ')}`,
    ]) {
      const result = parsePlan(planText(`${experiment}\nrestartPodsWithLeftovers: true`), 'plan.yaml');
      assert.ok(result.ok, errorsOf(planText(experiment)).join('\n'));
      const params = result.plan.faults[0]?.params as { experiment: { spec: Record<string, unknown> } };
      assert.equal(params.experiment.spec.volumePath, '/var/lib/milvus/data', 'the spec is kept verbatim');
      assert.equal(params.experiment.spec.percent, 50);
    }
  });

  it("seed 002's PodChaos as pasted is refused at its misspelt labelSelector, which the API server would drop (the experiment would then take any pod of the namespace); corrected, it validates", () => {
    const pasted = `experiment:\n  kind: PodChaos\n  spec:\n${seed002Spec.replace(/^/gm, '  ')}`;
    assert.deepEqual(errorsOf(planText(pasted)), [
      'plan.yaml:22:13: faults[0].params.experiment.spec.selector: selects every pod of the namespace (it names ' +
        'none of labelSelectors, expressionSelectors, annotationSelectors, fieldSelectors, pods, nodes, ' +
        'nodeSelectors); narrow it, or say mode: all if the whole namespace is meant',
      'plan.yaml:23:15: faults[0].params.experiment.spec.selector.labelSelector: PodChaos has no field ' +
        'spec.selector.labelSelector (the API server would drop it); did you mean labelSelectors?',
    ]);
    const corrected = pasted.replace('labelSelector:', 'labelSelectors:');
    assert.deepEqual(errorsOf(planText(corrected)), []);
  });

  it('an invalid spec is a validation error at the field path, in words that say what to do', () => {
    const errors = errorsOf(
      planText(
        `experiment:
  kind: IOChaos
  spec:
    action: latncy
    delay: 100
    duration: 30s
    remoteCluster: other
    selector:
      labelSelectors: { component: "query node" }
      namespaces: [kube-system]
      expressionSelectors:
        - { key: tier, operator: Has }
    volumePath: /var/lib/milvus/data
restartPodsWithLeftovers: true
injectTimeout: 2m`,
      ),
    );
    assert.deepEqual(errors, [
      'plan.yaml:19:11: faults[0].params.experiment.spec.mode: IOChaos needs spec.mode',
      'plan.yaml:19:19: faults[0].params.experiment.spec.action: must be one of: latency, fault, attrOverride, mistake',
      'plan.yaml:20:18: faults[0].params.experiment.spec.delay: must be text, not a number',
      'plan.yaml:21:21: faults[0].params.experiment.spec.duration: Chaos Mesh would end the experiment after 30s, ' +
        'before the observation window (2m) ends: leave duration out (gameday sets the window plus ' +
        'durationMargin) or make it at least the window',
      "plan.yaml:22:26: faults[0].params.experiment.spec.remoteCluster: gameday acts only in the target group's " +
        'own context: leave remoteCluster out and name the cluster by its context',
      'plan.yaml:24:42: faults[0].params.experiment.spec.selector.labelSelectors.component: must be a Kubernetes ' +
        'label value (at most 63 letters, digits, "-", "_" and ".")',
      "plan.yaml:25:26: faults[0].params.experiment.spec.selector.namespaces[0]: the experiment acts in its target group's namespace (chaos-testing) only: leave namespaces out or name chaos-testing",
      'plan.yaml:27:40: faults[0].params.experiment.spec.selector.expressionSelectors[0].operator: must be one ' +
        'of: In, NotIn, Exists, DoesNotExist',
      'plan.yaml:30:22: faults[0].params.injectTimeout: must be at most 45s',
    ]);
    const podChaos = errorsOf(
      planText(`experiment:
  kind: PodChaos
  spec: { action: pod-kill, mode: fixed, selector: { labelSelectors: { app: kafka } } }
restartPodsWithLeftovers: true`),
    );
    assert.deepEqual(podChaos, [
      'plan.yaml:18:15: faults[0].params.experiment.spec.value: mode fixed needs value (a count)',
      'plan.yaml:19:33: faults[0].params.restartPodsWithLeftovers: only IOChaos leaves __chaosfs__ directories ' +
        'behind; PodChaos has nothing to restart for',
    ]);
    assert.match(
      errorsOf(planText('experiment: { kind: KernelChaos, spec: {} }')).join('\n'),
      /experiment.kind: kind must be one of: PodChaos, NetworkChaos, IOChaos, StressChaos, HTTPChaos, DNSChaos, TimeChaos/,
    );
  });

  it('the shipped spec schemas are those generated from the CRDs the tests apply (scripts/chaos-mesh-schemas.js --check)', () => {
    const check = spawnSync(
      process.execPath,
      [join(projectRoot, 'scripts', 'chaos-mesh-schemas.js'), '--check'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(check.status, 0, check.stderr);
  });

  it('Go durations as Chaos Mesh reads them, and the duration gameday writes', () => {
    assert.equal(goDurationMs('5m'), 300_000);
    assert.equal(goDurationMs('1h30m'), 5_400_000);
    assert.equal(goDurationMs('1.5s'), 1500);
    assert.equal(goDurationMs('300ms'), 300);
    for (const bad of ['', '5', '-5m', '0s', '5 m', 'm5', '5mm'])
      assert.equal(goDurationMs(bad), undefined, bad);
    assert.equal(goDurationText(302_000), '5m2s');
    assert.equal(goDurationText(3_600_000 + 1), '1h0m1s');
    assert.equal(goDurationMs(goDurationText(7_384_000)), 7_384_000);
  });
});
