import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
  type V1ClusterRoleBinding,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { projectRoot } from '../client/paths';
import { startTestKubernetes, type TestKubernetes } from './support/kubernetes';
import { startTogether } from './support/together';
import { gameDayPlan } from './support/plans';
import {
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  type InProcessWorker,
  type TestTemporal,
} from './support/temporal';
import { waitFor } from './support/wait';

const manifests = ['rbac.yaml', 'rolebinding-example.yaml'].flatMap((file) =>
  parseAllDocuments(readFileSync(join(projectRoot, 'deploy', 'kubernetes', file), 'utf8')).map(
    (doc) => doc.toJS() as { kind: string; metadata: { name: string; namespace?: string } },
  ),
);
const serviceAccount = 'system:serviceaccount:gameday:gameday-worker';

// The shipped RBAC, applied to a real API server and asked (SubjectAccessReview) for every verb gameday's
// kinds use; and a game day run as that service account where RBAC forbids what the plan asks.
describe('least-privilege RBAC in deploy/kubernetes (real API server)', () => {
  let temporal: TestTemporal;
  let kube: TestKubernetes;
  let worker: InProcessWorker;
  let core: CoreV1Api;

  const allowed = async (
    verb: string,
    resource: string,
    namespace?: string,
    group = '',
    subresource?: string,
  ) => {
    const review = await kube.kubeConfig.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
      body: {
        spec: {
          user: serviceAccount,
          groups: ['system:serviceaccounts', 'system:serviceaccounts:gameday', 'system:authenticated'],
          resourceAttributes: {
            verb,
            resource,
            group,
            ...(subresource ? { subresource } : {}),
            ...(namespace ? { namespace } : {}),
          },
        },
      },
    });
    return review.status?.allowed ?? false;
  };

  before(async () => {
    [temporal, kube] = await startTogether([startTestTemporal(), startTestKubernetes({ nodes: 1 })]);
    core = kube.kubeConfig.makeApiClient(CoreV1Api);
    const rbac = kube.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    for (const name of ['gameday', 'kafka', 'other'])
      await core.createNamespace({ body: { metadata: { name } } });
    for (const manifest of manifests) {
      switch (manifest.kind) {
        case 'ServiceAccount':
          await core.createNamespacedServiceAccount({
            namespace: 'gameday',
            body: manifest,
          });
          break;
        case 'ClusterRole':
          await rbac.createClusterRole({ body: manifest });
          break;
        case 'ClusterRoleBinding':
          await rbac.createClusterRoleBinding({ body: manifest as V1ClusterRoleBinding });
          break;
        case 'RoleBinding':
          await rbac.createNamespacedRoleBinding({
            namespace: manifest.metadata.namespace ?? '',
            body: manifest as V1RoleBinding,
          });
          break;
        default:
          throw new Error(`unexpected ${manifest.kind} in deploy/kubernetes`);
      }
    }
    // A kubeconfig for the service account itself: the worker acts with exactly the shipped permissions.
    const token = await core.createNamespacedServiceAccountToken({
      name: 'gameday-worker',
      namespace: 'gameday',
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const admin = kube.kubeConfig.getCurrentCluster();
    const kubeconfig = join(kube.dir, 'gameday-worker.kubeconfig');
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          { name: 'test', cluster: { server: admin?.server, 'certificate-authority': admin?.caFile } },
        ],
        users: [{ name: 'gameday-worker', user: { token: token.status?.token } }],
        contexts: [{ name: 'sa', context: { cluster: 'test', user: 'gameday-worker' } }],
        'current-context': 'sa',
      }),
    );
    worker = await startInProcessWorker(temporal, undefined, {
      kubernetes: { contexts: { sa: { kubeconfig, namespaces: ['kafka', 'other'] } } },
    });
  });
  after(async () => {
    await worker?.stop();
    await Promise.all([kube?.stop(), temporal?.stop()]);
  });

  it('no rule anywhere uses a wildcard', () => {
    for (const manifest of manifests) {
      const rules =
        (manifest as { rules?: { apiGroups?: string[]; resources?: string[]; verbs?: string[] }[] }).rules ??
        [];
      for (const rule of rules) {
        for (const value of [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...(rule.verbs ?? [])]) {
          assert.ok(!value.includes('*'), `${manifest.metadata.name}: "${value}"`);
        }
      }
    }
  });

  it('allows every verb the fault and check kinds use, in a bound namespace', async () => {
    const uses: [string, string, string | undefined, string?, string?][] = [
      ['list', 'pods', 'kafka'],
      ['get', 'pods', 'kafka'],
      ['patch', 'pods', 'kafka'],
      ['delete', 'pods', 'kafka'],
      ['create', 'pods', 'kafka', '', 'eviction'],
      ['create', 'pods', 'kafka', '', 'exec'],
      ['get', 'pods', 'kafka', '', 'log'],
      ['list', 'events', 'kafka'],
      ['get', 'statefulsets', 'kafka', 'apps'],
      ['patch', 'deployments', 'kafka', 'apps'],
      ['patch', 'statefulsets', 'kafka', 'apps', 'scale'],
      ['get', 'replicasets', 'kafka', 'apps'],
      ['get', 'daemonsets', 'kafka', 'apps'],
      ['create', 'iochaos', 'kafka', 'chaos-mesh.org'],
      ['patch', 'podchaos', 'kafka', 'chaos-mesh.org'],
      ['delete', 'networkchaos', 'kafka', 'chaos-mesh.org'],
      ['get', 'namespaces', undefined],
      ['list', 'nodes', undefined],
      ['patch', 'nodes', undefined],
    ];
    for (const [verb, resource, namespace, group, subresource] of uses) {
      assert.equal(
        await allowed(verb, resource, namespace, group, subresource),
        true,
        `${verb} ${resource}${subresource ? `/${subresource}` : ''}`,
      );
    }
  });

  it('denies what gameday must not have: secrets, creating pods, deleting nodes, unbound namespaces', async () => {
    const forbidden: [string, string, string | undefined, string?][] = [
      ['get', 'secrets', 'kafka'],
      ['list', 'secrets', undefined],
      ['create', 'pods', 'kafka'],
      ['delete', 'nodes', undefined],
      ['delete', 'pods', 'other'],
      ['delete', 'pods', 'kube-system'],
      ['create', 'iochaos', 'other', 'chaos-mesh.org'],
      ['delete', 'deployments', 'kafka', 'apps'],
      ['create', 'clusterrolebindings', undefined, 'rbac.authorization.k8s.io'],
    ];
    for (const [verb, resource, namespace, group] of forbidden) {
      assert.equal(
        await allowed(verb, resource, namespace, group),
        false,
        `${verb} ${resource} in ${namespace ?? 'the cluster'}`,
      );
    }
  });

  it('a game day RBAC forbids ends with one line naming the verb, resource and namespace, and nothing left', async () => {
    // "other" is in the worker's allow-list but has no RoleBinding: the API server says no.
    await kube.kubeConfig.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace: 'other',
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'web', image: 'x' }] },
          },
        },
      },
    });
    await waitFor(
      'the pod of other/web',
      async () => (await core.listNamespacedPod({ namespace: 'other' })).items[0],
    );
    const plan = gameDayPlan({
      metadata: { name: 'k8s-rbac', owner: 'tests' },
      targets: {
        web: { kubernetes: { context: 'sa', namespace: 'other', selector: { labels: { app: 'web' } } } },
      },
      faults: [{ name: 'delete-web', kind: 'pod-delete', target: 'web', params: {} }],
    });
    const report = await (await startPlan(temporal, plan, worker.taskQueue)).result();
    assert.equal(report.outcome, 'aborted');
    // Listing pods is cluster-wide (drain looks at a whole node); reading one in "other" is not allowed.
    assert.match(
      report.reason ?? '',
      /not allowed to get pods web-\S+ in namespace other \(context sa\): .*forbidden.*; grant the worker's identity "get" on pods/,
    );
    assert.equal(report.faults[0]?.status, 'inject-failed', 'refused at prepare, before any change');
    const pods = (await core.listNamespacedPod({ namespace: 'other' })).items;
    assert.equal(pods.length, 1);
    assert.equal(pods[0]?.metadata?.annotations?.['gameday.dev/run'], undefined, 'nothing was changed');
  });
});
