import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  KubeConfig,
  type V1CustomResourceDefinition,
  type V1Node,
} from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { projectRoot } from '../../client/paths';
import { freePort } from '../../worker/ports';
import { FakeContainers, KwokRoot, type ContainerDeclaration, type FakeContainer } from './kwokContainers';

export type { ContainerDeclaration, ContainerImage, FakeContainer, LogOptions } from './kwokContainers';

const run = promisify(execFile);

/**
 * Where the Chaos Mesh v2.8.3 CRDs are looked for (their controller does not run here): GAMEDAY_CHAOS_MESH_CRDS,
 * else the copy in the repository (test/fixtures/chaos-mesh-crds, with its attribution).
 */
export function chaosMeshCrdsDirs(): string[] {
  const override = process.env.GAMEDAY_CHAOS_MESH_CRDS;
  return [...(override ? [override] : []), join(projectRoot, 'test', 'fixtures', 'chaos-mesh-crds')];
}

/** What kwok's node-initialize stage and the harness's node selector look for on a fake node. */
export const fakeNodeAnnotation = { key: 'kwok.x-k8s.io/node', value: 'fake' } as const;

/** Service IPs, and the pod IPs kwok writes into pod status: addresses only, nothing routes to them. */
const serviceClusterIpRange = '10.96.0.0/16';
const podCidr = '10.244.0.0/16';

/** The pinned versions, read from the wrapper go.mod files that scripts/build-kube.sh builds from. */
export interface KubeVersions {
  readonly kubernetes: string;
  readonly etcd: string;
  readonly kwok: string;
}

function pinnedVersion(wrapper: string, module: string): string {
  const goMod = readFileSync(join(projectRoot, 'scripts', 'kube', wrapper, 'go.mod'), 'utf8');
  const escaped = module.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const version = new RegExp(`^\\s*${escaped} (v\\S+)`, 'm').exec(goMod)?.[1];
  if (!version) throw new Error(`scripts/kube/${wrapper}/go.mod does not require ${module}`);
  return version;
}

export function kubeVersions(): KubeVersions {
  return {
    kubernetes: pinnedVersion('kubernetes', 'k8s.io/kubernetes'),
    etcd: pinnedVersion('etcd', 'go.etcd.io/etcd/server/v3'),
    kwok: pinnedVersion('kwok', 'sigs.k8s.io/kwok'),
  };
}

export interface KubeBinaries {
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly kubeScheduler: string;
  readonly kwok: string;
  /** kwok's default node and pod stages, copied from its module by the build. */
  readonly kwokStages: string;
  /** kwok's Exec CRD (what an exec in a pod's container runs), copied from its module by the build. */
  readonly kwokExecCrd: string;
  /** kwok's Logs CRD (which files are a container's current and previous logs). */
  readonly kwokLogsCrd: string;
}

/**
 * The build dir of kwok: kwok-<version>, plus -patched-<hash> when scripts/kube/kwok/patches has patches (the
 * hash of their bytes in name order, as scripts/build-kube.sh computes it).
 */
function kwokBuildName(version: string): string {
  const patches = join(projectRoot, 'scripts', 'kube', 'kwok', 'patches');
  const files = existsSync(patches)
    ? readdirSync(patches)
        .filter((file) => file.endsWith('.patch'))
        .sort()
    : [];
  if (files.length === 0) return `kwok-${version}`;
  const hash = createHash('sha256');
  for (const file of files) hash.update(readFileSync(join(patches, file)));
  return `kwok-${version}-patched-${hash.digest('hex').slice(0, 12)}`;
}

/** Where scripts/build-kube.sh puts the binaries of the pinned versions (GAMEDAY_TOOLS_DIR moves the tools dir). */
export function kubeBinaries(versions = kubeVersions()): KubeBinaries {
  const tools = join(process.env.GAMEDAY_TOOLS_DIR ?? join(projectRoot, '.tools'), 'kube');
  const kubernetesBin = join(tools, `kubernetes-${versions.kubernetes}`, 'bin');
  const kwokDir = join(tools, kwokBuildName(versions.kwok));
  return {
    etcd: join(tools, `etcd-${versions.etcd}`, 'bin', 'etcd'),
    kubeApiserver: join(kubernetesBin, 'kube-apiserver'),
    kubeControllerManager: join(kubernetesBin, 'kube-controller-manager'),
    kubeScheduler: join(kubernetesBin, 'kube-scheduler'),
    kwok: join(kwokDir, 'bin', 'kwok'),
    kwokStages: join(kwokDir, 'stages.yaml'),
    kwokExecCrd: join(kwokDir, 'crds', 'kwok.x-k8s.io_execs.yaml'),
    kwokLogsCrd: join(kwokDir, 'crds', 'kwok.x-k8s.io_logs.yaml'),
  };
}

export interface TestKubernetesOptions {
  /** Fake nodes kwok keeps Ready (default 3), named kwok-node-0, kwok-node-1, … */
  readonly nodes?: number;
  /** Apply the Chaos Mesh CRDs before returning (or later with applyChaosMeshCrds). */
  readonly chaosMeshCrds?: boolean;
}

export interface TestKubernetes {
  readonly versions: KubeVersions;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** A kubeconfig file for an admin user (group system:masters), context "gameday-test". */
  readonly kubeconfigPath: string;
  /** The same, loaded. */
  readonly kubeConfig: KubeConfig;
  readonly nodeNames: readonly string[];
  readonly dir: string;
  applyChaosMeshCrds(): Promise<void>;
  /**
   * Declares the containers of a pod (by name) or of pods (by labels) that exec and logs work in, through the
   * apiserver and kwok's kubelet API as in a real cluster: each matching pod container gets its own
   * filesystem (busybox plus the declaration's files and directories; exec'd commands run chrooted there,
   * never on the machine) and its current and previous log. Resolves once the pods that already match are
   * served; a matching pod created later is served before the apiserver stores it (an admission webhook of
   * the harness prepares it), so a Ready pod never answers "not found". The first declaration matching a
   * container wins. Exec and logs of a container that no declaration matches fail at once with kwok's
   * "no exec found" / "no logs found" for it.
   */
  declareContainers(declaration: ContainerDeclaration): Promise<void>;
  /** A declared pod container (default: the pod's first declared one), once kwok serves it. */
  container(namespace: string, pod: string, container?: string): Promise<FakeContainer>;
  /** kwok's kubelet API (exec, logs; what the apiserver dials for every fake node): https://127.0.0.1:<port> */
  readonly kubeletServer: string;
  /** The last lines a component wrote (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok). */
  logTail(component: string, lines?: number): string;
  /** Kills every component and removes the temp dir. */
  stop(): Promise<void>;
}

interface Component {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** What stop() sends first (then SIGKILL after 10 s). */
  readonly stopSignal: NodeJS.Signals;
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '(no output)';
  const text = readFileSync(file, 'utf8').trimEnd();
  return text === '' ? '(no output)' : text.split('\n').slice(-lines).join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A CA, and leaf certificates it signs, made with openssl (node:crypto cannot issue X.509 certificates). */
class TestPki {
  constructor(private readonly dir: string) {}

  get caCert(): string {
    return join(this.dir, 'ca.crt');
  }

  async createCa(): Promise<void> {
    await run('openssl', [
      'req', '-x509', '-new', '-nodes', '-days', '2',
      '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
      '-keyout', join(this.dir, 'ca.key'), '-out', this.caCert,
      '-subj', '/CN=gameday-test-ca',
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    ]); // prettier-ignore
  }

  /** A key and a certificate for `subject`; `altNames` makes it a serving certificate, else a client one. */
  async issue(
    name: string,
    subject: string,
    altNames?: readonly string[],
  ): Promise<{ cert: string; key: string }> {
    const cert = join(this.dir, `${name}.crt`);
    const key = join(this.dir, `${name}.key`);
    const usage = altNames
      ? ['-addext', `subjectAltName=${altNames.join(',')}`, '-addext', 'extendedKeyUsage=serverAuth']
      : ['-addext', 'extendedKeyUsage=clientAuth'];
    await run('openssl', [
      'req', '-x509', '-nodes', '-days', '2',
      '-CA', this.caCert, '-CAkey', join(this.dir, 'ca.key'),
      '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
      '-keyout', key, '-out', cert, '-subj', subject,
      '-addext', 'basicConstraints=critical,CA:FALSE',
      '-addext', 'keyUsage=critical,digitalSignature',
      ...usage,
    ]); // prettier-ignore
    return { cert, key };
  }
}

function writeKubeconfig(
  file: string,
  server: string,
  ca: string,
  user: { cert: string; key: string },
): void {
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'gameday-test', cluster: { server, 'certificate-authority': ca } }],
      users: [{ name: 'user', user: { 'client-certificate': user.cert, 'client-key': user.key } }],
      contexts: [{ name: 'gameday-test', context: { cluster: 'gameday-test', user: 'user' } }],
      'current-context': 'gameday-test',
    }),
    { mode: 0o600 },
  );
}

interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

/** A request over TLS trusting only the test CA; status 0 when nothing answers. */
function tlsRequest(
  url: string,
  ca: string,
  client?: { cert: string; key: string },
  send?: { method: string; contentType: string; body: string },
): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        ca: readFileSync(ca),
        ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
        ...(send ? { method: send.method, headers: { 'content-type': send.contentType } } : {}),
        timeout: 10_000,
      },
      (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end(send?.body);
  });
}

async function probeStatus(url: string, ca: string, client?: { cert: string; key: string }): Promise<number> {
  return (await tlsRequest(url, ca, client)).status;
}

function chaosMeshCrdFiles(): string[] {
  const candidates = chaosMeshCrdsDirs();
  const dir = candidates.find((candidate) => existsSync(candidate));
  if (!dir) throw new Error(`the Chaos Mesh CRDs are in none of ${candidates.join(', ')}`);
  return readdirSync(dir)
    .filter((file) => file.endsWith('.yaml'))
    .sort()
    .map((file) => join(dir, file));
}

/**
 * A real Kubernetes control plane for one suite: etcd, kube-apiserver (RBAC and Node authorization, default
 * admission), kube-controller-manager, kube-scheduler, and kwok playing the kubelets of `nodes` fake nodes, so
 * Deployments create pods that are bound, run and become Ready, and with its kubelet API (exec, logs) for the
 * containers a test declares (`declareContainers`). Every component listens on free loopback ports
 * and keeps its data and certificates under one temp dir. Built by scripts/build-kube.sh (run by
 * scripts/run-tests.js); without the binaries or without root this throws, so a suite never passes by skipping.
 */
export async function startTestKubernetes(options: TestKubernetesOptions = {}): Promise<TestKubernetes> {
  if (process.getuid?.() !== 0) throw new Error('the Kubernetes test control plane needs root');
  const versions = kubeVersions();
  const binaries = kubeBinaries(versions);
  const missing = Object.values<string>({ ...binaries }).filter((file) => !existsSync(file));
  if (missing.length > 0) {
    throw new Error(`Kubernetes test binaries missing (${missing.join(', ')}): run scripts/build-kube.sh`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'gameday-kube-'));
  const components: Component[] = [];
  const logFile = (name: string) => join(dir, `${name}.log`);
  let stopping = false;
  const stopAll = async () => {
    stopping = true;
    process.removeListener('exit', killAllNow);
    await fakeContainers?.stop().catch(() => undefined);
    // Reverse start order: kwok and the controllers go before the apiserver they talk to, etcd last.
    for (const component of [...components].reverse()) {
      const { child } = component;
      if (child.exitCode !== null || child.signalCode !== null) continue;
      // 'close': the output pipes are closed by every process holding them (kwok runs as unshare's child).
      const exited = new Promise((resolve) => child.once('close', resolve));
      child.kill(component.stopSignal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // A test process that dies without stop() must not leave a control plane running.
  const killAllNow = () => components.forEach(({ child }) => child.kill('SIGKILL'));
  process.once('exit', killAllNow);

  let fakeContainers: FakeContainers | undefined;
  const startComponent = (
    name: string,
    binary: string,
    args: readonly string[],
    options: { env?: NodeJS.ProcessEnv; stopSignal?: NodeJS.Signals } = {},
  ): Component => {
    const file = logFile(name);
    const output = createWriteStream(file);
    const child = spawn(binary, args, {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.env ? { env: options.env } : {}),
    });
    child.stdout?.pipe(output, { end: false });
    child.stderr?.pipe(output, { end: false });
    const component = { name, child, logFile: file, stopSignal: options.stopSignal ?? 'SIGTERM' };
    components.push(component);
    return component;
  };
  const waitReady = async (
    component: Component,
    what: string,
    probe: () => Promise<boolean>,
    ms = 90_000,
  ) => {
    const deadline = Date.now() + ms;
    for (;;) {
      // A sibling's failure stopped everything: no need to wait out this one's deadline.
      if (stopping)
        throw new Error(`${component.name}: the control plane was stopped while waiting for ${what}`);
      const { child } = component;
      const exited = child.exitCode !== null || child.signalCode !== null;
      if (exited || Date.now() > deadline) {
        const how = exited
          ? `exited (${child.exitCode ?? child.signalCode})`
          : `was not ready after ${ms / 1000} s`;
        throw new Error(
          `${component.name} ${how} waiting for ${what}; its last log lines:\n${tail(component.logFile, 30)}`,
        );
      }
      if (await probe().catch(() => false)) return;
      await sleep(200);
    }
  };

  try {
    const pki = new TestPki(dir);
    await pki.createCa();
    const [
      apiserverServing,
      admin,
      controllerManager,
      scheduler,
      kwokUser,
      controllerServing,
      schedulerServing,
      kubeletServing,
      apiserverKubeletClient,
      webhookServing,
    ] = await Promise.all([
      pki.issue('kube-apiserver', '/CN=kube-apiserver', [
        'IP:127.0.0.1',
        'IP:10.96.0.1',
        'DNS:localhost',
        'DNS:kubernetes',
        'DNS:kubernetes.default',
        'DNS:kubernetes.default.svc',
        'DNS:kubernetes.default.svc.cluster.local',
      ]),
      // system:masters: the tests' own client, allowed everything (RBAC still decides for every other user).
      pki.issue('admin', '/O=system:masters/CN=gameday-test-admin'),
      // The bootstrap RBAC roles bind these user names: the components run with their real permissions.
      pki.issue('kube-controller-manager', '/CN=system:kube-controller-manager'),
      pki.issue('kube-scheduler', '/CN=system:kube-scheduler'),
      // kwok writes node and pod status, leases and deletions for every fake node, like a cluster admin.
      pki.issue('kwok', '/O=system:masters/CN=kwok'),
      pki.issue('kube-controller-manager-serving', '/CN=kube-controller-manager', ['IP:127.0.0.1']),
      pki.issue('kube-scheduler-serving', '/CN=kube-scheduler', ['IP:127.0.0.1']),
      // kwok's kubelet API, which the apiserver dials (and verifies) for exec and logs on every fake node.
      pki.issue('kwok-kubelet-serving', '/CN=kwok-kubelet', ['IP:127.0.0.1']),
      // The apiserver's client identity there (kwok's server does not check clients; a kubelet would).
      pki.issue('kube-apiserver-kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client'),
      // The harness's admission webhook, which prepares declared containers before their pod is stored.
      pki.issue('containers-webhook-serving', '/CN=gameday-test-containers', ['IP:127.0.0.1']),
    ]);
    // The service-account token signing key pair (the apiserver signs tokens, the controller manager too).
    const serviceAccount = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const serviceAccountKey = join(dir, 'service-account.key');
    const serviceAccountPub = join(dir, 'service-account.pub');
    writeFileSync(serviceAccountKey, serviceAccount.privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
    });
    writeFileSync(serviceAccountPub, serviceAccount.publicKey.export({ type: 'spki', format: 'pem' }));

    const [etcdClientPort, etcdPeerPort, apiserverPort, controllerManagerPort, schedulerPort, kubeletPort] =
      await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = startComponent('etcd', binaries.etcd, [
      '--name=test',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${etcdPeerUrl}`,
      `--initial-advertise-peer-urls=${etcdPeerUrl}`,
      `--initial-cluster=test=${etcdPeerUrl}`,
      // A throwaway store on a shared disk: durability buys nothing here and costs seconds per suite.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await waitReady(etcd, `${etcdUrl}/health`, async () => {
      const response = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2000) });
      return response.ok && ((await response.json()) as { health?: string }).health === 'true';
    });

    const server = `https://127.0.0.1:${apiserverPort}`;
    const apiserver = startComponent('kube-apiserver', binaries.kubeApiserver, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiserverPort}`,
      `--tls-cert-file=${apiserverServing.cert}`,
      `--tls-private-key-file=${apiserverServing.key}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-key-file=${serviceAccountPub}`,
      `--service-account-signing-key-file=${serviceAccountKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-cluster-ip-range=${serviceClusterIpRange}`,
      '--authorization-mode=RBAC,Node',
      '--allow-privileged=true',
      // The `kubernetes` Service's Endpoints would have to name the loopback address, which validation refuses.
      '--endpoint-reconciler-type=none',
      // Exec and logs: the nodes' InternalIP (loopback; their Hostname would need DNS) and kwok's serving cert.
      '--kubelet-preferred-address-types=InternalIP',
      `--kubelet-certificate-authority=${pki.caCert}`,
      `--kubelet-client-certificate=${apiserverKubeletClient.cert}`,
      `--kubelet-client-key=${apiserverKubeletClient.key}`,
      '--profiling=false',
    ]);
    await waitReady(
      apiserver,
      `${server}/readyz`,
      async () => (await probeStatus(`${server}/readyz`, pki.caCert, admin)) === 200,
    );

    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    writeKubeconfig(kubeconfigPath, server, pki.caCert, admin);
    const componentKubeconfig = (name: string, user: { cert: string; key: string }) => {
      const file = join(dir, `${name}.kubeconfig`);
      writeKubeconfig(file, server, pki.caCert, user);
      return file;
    };
    const controllerManagerKubeconfig = componentKubeconfig('kube-controller-manager', controllerManager);
    const schedulerKubeconfig = componentKubeconfig('kube-scheduler', scheduler);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    const core = kubeConfig.makeApiClient(CoreV1Api);

    /** Applies CRD files and waits until the apiserver serves them (Established). */
    const applyCrds = async (files: readonly string[], what: string) => {
      const extensions = kubeConfig.makeApiClient(ApiextensionsV1Api);
      const crds = files.map((file) => {
        const text = readFileSync(file, 'utf8');
        const name = (parseAllDocuments(text)[0]?.toJS() as V1CustomResourceDefinition | null)?.metadata
          ?.name;
        if (!name) throw new Error(`${file} holds no named CustomResourceDefinition`);
        return { file, text, name };
      });
      // Server-side apply of each file's YAML as it is: the typed client would drop the schemas' `enum` and
      // `x-kubernetes-*` keys (its models spell them `_enum`, `xKubernetes…`), leaving fields unvalidated.
      for (const crd of crds) {
        const url = `${server}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.name}`;
        const answer = await tlsRequest(`${url}?fieldManager=gameday-test&force=true`, pki.caCert, admin, {
          method: 'PATCH',
          contentType: 'application/apply-patch+yaml',
          body: crd.text,
        });
        if (answer.status !== 200 && answer.status !== 201) {
          throw new Error(`applying ${crd.file} answered ${answer.status}: ${answer.body.slice(0, 2000)}`);
        }
      }
      await waitReady(apiserver, `the ${what} to be Established`, async () => {
        const established = await Promise.all(
          crds.map(async (crd) => {
            const current = await extensions.readCustomResourceDefinition({ name: crd.name });
            return (
              current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ??
              false
            );
          }),
        );
        return established.every(Boolean);
      });
    };

    const controllerManagerProcess = startComponent(
      'kube-controller-manager',
      binaries.kubeControllerManager,
      [
        `--kubeconfig=${controllerManagerKubeconfig}`,
        `--authentication-kubeconfig=${controllerManagerKubeconfig}`,
        `--authorization-kubeconfig=${controllerManagerKubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${controllerManagerPort}`,
        `--tls-cert-file=${controllerServing.cert}`,
        `--tls-private-key-file=${controllerServing.key}`,
        // One instance: no lease to wait for before the controllers start.
        '--leader-elect=false',
        // Each controller with its own service account, so they act under their real bootstrap RBAC roles.
        '--use-service-account-credentials=true',
        `--service-account-private-key-file=${serviceAccountKey}`,
        `--root-ca-file=${pki.caCert}`,
        `--cluster-signing-cert-file=${pki.caCert}`,
        `--cluster-signing-key-file=${join(dir, 'ca.key')}`,
        `--service-cluster-ip-range=${serviceClusterIpRange}`,
        '--profiling=false',
      ],
    );
    const schedulerProcess = startComponent('kube-scheduler', binaries.kubeScheduler, [
      `--kubeconfig=${schedulerKubeconfig}`,
      `--authentication-kubeconfig=${schedulerKubeconfig}`,
      `--authorization-kubeconfig=${schedulerKubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${schedulerPort}`,
      `--tls-cert-file=${schedulerServing.cert}`,
      `--tls-private-key-file=${schedulerServing.key}`,
      '--leader-elect=false',
      '--profiling=false',
    ]);
    // kwok's server reads what exec runs and where logs are from these objects, which it watches.
    await applyCrds([binaries.kwokExecCrd, binaries.kwokLogsCrd], "kwok's Exec and Logs CRDs");
    // kwok runs chrooted in its own root (see kwokContainers.ts): its files are copied in, named from there.
    const kwokRoot = await KwokRoot.create(join(dir, 'kwok-root'), binaries.kwok);
    const intoKwokRoot = (file: string, name: string) => {
      copyFileSync(file, kwokRoot.hostPath(`/etc/kwok/${name}`));
      return `/etc/kwok/${name}`;
    };
    const kwokKubeconfig = '/etc/kwok/kubeconfig';
    writeKubeconfig(kwokRoot.hostPath(kwokKubeconfig), server, intoKwokRoot(pki.caCert, 'ca.crt'), {
      cert: intoKwokRoot(kwokUser.cert, 'kwok.crt'),
      key: intoKwokRoot(kwokUser.key, 'kwok.key'),
    });
    const kubeletServer = `https://127.0.0.1:${kubeletPort}`;
    const kwokLaunch = kwokRoot.spawnArgs([
      // Only stages in its --config: a KwokConfiguration given there would lose kwok's defaults (parallelism 0).
      `--config=${intoKwokRoot(binaries.kwokStages, 'stages.yaml')}`,
      `--cidr=${podCidr}`,
      // The kubelet address written into node status: loopback, so nothing the apiserver dials leaves the host.
      '--node-ip=127.0.0.1',
      // Every node's kubelet port (node status daemonEndpoints) is kwok's server: the kubelet API for exec, logs.
      `--node-port=${kubeletPort}`,
      `--server-address=127.0.0.1:${kubeletPort}`,
      `--tls-cert-file=${intoKwokRoot(kubeletServing.cert, 'kubelet.crt')}`,
      `--tls-private-key-file=${intoKwokRoot(kubeletServing.key, 'kubelet.key')}`,
      '--enable-crds=Exec,Logs',
      `--kubeconfig=${kwokKubeconfig}`,
      `--manage-nodes-with-annotation-selector=${fakeNodeAnnotation.key}=${fakeNodeAnnotation.value}`,
      // Node leases renewed by kwok: without them node status arrives only every ~50 s, the controller manager
      // marks every node not-Ready after its grace period, and every pod Ready=False for good.
      '--node-lease-duration-seconds=40',
    ]);
    // SIGKILL: unshare ignores SIGTERM while it waits for kwok, and kwok keeps no state of its own.
    const kwok = startComponent('kwok', kwokLaunch.command, kwokLaunch.args, {
      env: kwokLaunch.env,
      stopSignal: 'SIGKILL',
    });
    await Promise.all([
      waitReady(controllerManagerProcess, 'its /healthz', async () => {
        return (await probeStatus(`https://127.0.0.1:${controllerManagerPort}/healthz`, pki.caCert)) === 200;
      }),
      waitReady(schedulerProcess, 'its /healthz', async () => {
        return (await probeStatus(`https://127.0.0.1:${schedulerPort}/healthz`, pki.caCert)) === 200;
      }),
      waitReady(kwok, 'its kubelet API', async () => {
        return (await probeStatus(`${kubeletServer}/healthz`, pki.caCert)) === 200;
      }),
    ]);
    // kwok's kubelet API as the apiserver reaches it (the harness asks it whether a pod is served yet).
    const kubeletKubeConfig = new KubeConfig();
    kubeletKubeConfig.loadFromOptions({
      clusters: [{ name: 'kwok', server: kubeletServer, caFile: pki.caCert, skipTLSVerify: false }],
      users: [
        { name: 'apiserver', certFile: apiserverKubeletClient.cert, keyFile: apiserverKubeletClient.key },
      ],
      contexts: [{ name: 'kwok', cluster: 'kwok', user: 'apiserver' }],
      currentContext: 'kwok',
    });
    fakeContainers = new FakeContainers({
      kubeConfig,
      kwokRoot,
      kubelet: kubeletKubeConfig,
      webhookServing,
      caCert: pki.caCert,
      apply: async (plural, namespace, name, body) => {
        const url = `${server}/apis/kwok.x-k8s.io/v1alpha1/namespaces/${namespace}/${plural}/${name}`;
        const answer = await tlsRequest(`${url}?fieldManager=gameday-test&force=true`, pki.caCert, admin, {
          method: 'PATCH',
          contentType: 'application/apply-patch+yaml',
          body: JSON.stringify(body),
        });
        if (answer.status !== 200 && answer.status !== 201) {
          throw new Error(
            `applying kwok ${plural} ${namespace}/${name} answered ${answer.status}: ${answer.body}`,
          );
        }
      },
    });
    const containers = fakeContainers;
    // Pods need their namespace's default service account (the controller manager's serviceaccount controller).
    await waitReady(controllerManagerProcess, 'the default service account', async () => {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
      return true;
    });

    const nodeNames = Array.from({ length: options.nodes ?? 3 }, (_, index) => `kwok-node-${index}`);
    await Promise.all(
      nodeNames.map((name) =>
        core.createNode({
          body: {
            metadata: {
              name,
              annotations: { [fakeNodeAnnotation.key]: fakeNodeAnnotation.value },
              labels: {
                'kubernetes.io/hostname': name,
                'kubernetes.io/os': 'linux',
                'kubernetes.io/arch': 'amd64',
                type: 'kwok',
              },
            },
          },
        }),
      ),
    );
    const isReady = (node: V1Node) =>
      node.status?.conditions?.some(
        (condition) => condition.type === 'Ready' && condition.status === 'True',
      ) ?? false;
    await waitReady(kwok, `${nodeNames.length} Ready nodes`, async () => {
      const nodes = await core.listNode();
      return nodes.items.filter(isReady).length === nodeNames.length;
    });

    const applyChaosMeshCrds = () => applyCrds(chaosMeshCrdFiles(), 'Chaos Mesh CRDs');
    if (options.chaosMeshCrds) await applyChaosMeshCrds();

    return {
      versions,
      server,
      kubeconfigPath,
      kubeConfig,
      nodeNames,
      dir,
      applyChaosMeshCrds,
      declareContainers: (declaration) => containers.declare(declaration),
      container: (namespace, pod, container) => containers.container(namespace, pod, container),
      kubeletServer,
      logTail: (component, lines = 30) => tail(logFile(component), lines),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
