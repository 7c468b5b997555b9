import { execFile } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, request as httpsRequest, type Server } from 'node:https';
import { join, posix } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  KubeConfig,
  Exec,
  type V1Pod,
  type V1Status,
} from '@kubernetes/client-node';

const run = promisify(execFile);

/**
 * kwok runs what an exec asks for as a local process, in the working directory and with the env of the pod's
 * `Exec` object; it has no notion of a container's filesystem. So that a command in a fake container can
 * neither see nor change the machine, kwok itself runs chrooted into a directory of the control plane's temp
 * dir ("kwok's root"), in its own user namespace (uid 0 mapped to 0: it owns the files it is given, but has no
 * capability over the machine), PID, mount, UTS and IPC namespaces; the network stays the machine's, where
 * the apiserver reaches kwok's server on loopback. In kwok's root every command path is a link to one launcher script, which chroots into
 * the container's own filesystem (a directory per pod container, with busybox) and runs the same path there.
 */
const launcher = '/.gameday/exec-in-container';
const busyboxInKwokRoot = '/.gameday/busybox';
const hostBusybox = '/bin/busybox';
/** The PATH of kwok and of every exec'd command: a container image's usual one. */
export const containerPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** kwok's own files in its root: a container's command may not be declared over them. */
const kwokOwnPaths = ['/kwok', '/.gameday', '/etc/kwok', '/pods', '/dev'];

const launcherScript = `#!${busyboxInKwokRoot} sh
# Every command path in kwok's root links here: kwok execs that path (as the exec asked for it, or as its PATH
# lookup found it), and this runs the same path in the container's filesystem, named by the pod's Exec object.
root=$GAMEDAY_CONTAINER_ROOT
if [ -z "$root" ]; then
  echo "gameday: this exec names no container filesystem (GAMEDAY_CONTAINER_ROOT)" >&2
  exit 126
fi
unset GAMEDAY_CONTAINER_ROOT
export PATH=${containerPath}
# A path that another container has but this one lacks ends here with chroot's "can't execute" and 127.
exec ${busyboxInKwokRoot} chroot "$root" "$0" "$@"
`;

/** An absolute, normalized path inside a container (or kwok's root): no `..` climbs above `/`. */
function containerPathOf(path: string): string {
  if (!path.startsWith('/')) throw new Error(`a path in a container is absolute: ${JSON.stringify(path)}`);
  return posix.normalize(path);
}

/** A hard link where it can be (same filesystem), else a copy with the same mode. */
function linkOrCopy(source: string, target: string): void {
  try {
    linkSync(source, target);
  } catch {
    copyFileSync(source, target);
    chmodSync(target, statSync(source).mode & 0o7777);
  }
}

/** The directory kwok runs chrooted into, and how to start kwok there. */
export class KwokRoot {
  private constructor(
    /** Host path of kwok's root. */
    readonly dir: string,
    /** Every command busybox provides, by the path it has in an image (`/bin/ls`, `/usr/bin/awk`, …). */
    readonly busyboxCommands: readonly string[],
  ) {}

  static async create(dir: string, kwokBinary: string): Promise<KwokRoot> {
    if (!existsSync(hostBusybox)) {
      throw new Error(`${hostBusybox} is missing (Debian's busybox-static, scripts/install-test-deps.sh)`);
    }
    const { stdout } = await run(hostBusybox, ['--list-full']);
    const commands = stdout
      .split('\n')
      .filter((line) => line.includes('/'))
      .map((line) => `/${line.trim()}`);
    const root = new KwokRoot(dir, commands);
    for (const sub of ['.gameday', 'dev', 'etc/kwok', 'pods']) mkdirSync(join(dir, sub), { recursive: true });
    // Only kwok itself can reach its binary; a hard link spares a copy of 64 MB.
    linkOrCopy(kwokBinary, join(dir, 'kwok'));
    // A copy, never a link to the machine's: every container's /bin/busybox is a hard link to it, writable
    // by the commands run there.
    copyFileSync(hostBusybox, root.hostPath(busyboxInKwokRoot));
    chmodSync(root.hostPath(busyboxInKwokRoot), 0o755);
    // Go opens /dev/null for a command's unused stdin; node:fs cannot make a device node.
    await run('mknod', ['-m', '666', join(dir, 'dev', 'null'), 'c', '1', '3']);
    writeFileSync(root.hostPath(launcher), launcherScript, { mode: 0o755 });
    for (const command of commands) root.ensureCommand(command);
    return root;
  }

  /** The host path of a path in kwok's root. */
  hostPath(path: string): string {
    return join(this.dir, containerPathOf(path));
  }

  /** Makes `path` a command kwok can exec (by that path, or by name when it is on the PATH). */
  ensureCommand(path: string): void {
    const normalized = containerPathOf(path);
    if (kwokOwnPaths.some((own) => normalized === own || normalized.startsWith(`${own}/`))) {
      throw new Error(
        `${normalized} is kwok's own file in its root: a container command cannot be declared there`,
      );
    }
    const host = this.hostPath(normalized);
    if (existsSync(host) || isSymlink(host)) {
      if (isSymlink(host) && readlinkSync(host) === launcher) return;
      throw new Error(`${normalized} in kwok's root is not a container command link`);
    }
    mkdirSync(posix.dirname(host), { recursive: true });
    symlinkSync(launcher, host);
  }

  /** The command line that starts kwok (its binary at /kwok) with `args`, chrooted here in its namespaces. */
  spawnArgs(args: readonly string[]): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
    return {
      command: 'unshare',
      args: [
        '--user',
        '--map-root-user',
        '--mount',
        '--uts',
        '--ipc',
        '--pid',
        '--fork',
        // Killing unshare kills kwok, and with it (PID 1 of its namespace) every command still running.
        '--kill-child',
        `--root=${this.dir}`,
        '--wd=/',
        '/kwok',
        ...args,
      ],
      // Exec'd commands inherit kwok's environment: only what a container's would have.
      env: { PATH: containerPath, HOME: '/root' },
    };
  }
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** What a declared container holds: its filesystem's contents, its exec env, its logs. */
export interface ContainerImage {
  /**
   * Files by absolute path: a string is the content (mode 0644); `{ content, mode }` gives the mode, and a mode
   * with an execute bit makes the file a command that exec runs, by path or by name when on the PATH.
   */
  readonly files?: Readonly<Record<string, string | { readonly content: string; readonly mode: number }>>;
  /** Directories to create (with their parents), e.g. `/var/lib/milvus/data`. */
  readonly directories?: readonly string[];
  /** The environment of exec'd commands, beyond PATH, HOME, HOSTNAME and the literal env of the pod spec. */
  readonly env?: Readonly<Record<string, string>>;
  /** Lines already in the current container's log (stdout, timestamped when the pod is prepared). */
  readonly logs?: readonly string[];
  /**
   * Lines of the previous container's log. Without them (nor `restartLogs()`) `previous: true` fails, as for a
   * container that never restarted.
   */
  readonly previousLogs?: readonly string[];
}

/**
 * Which pods' containers get a filesystem for exec and logs, and what is in them. Each matching pod container
 * gets its own copy when the pod appears (a replacement pod starts from the image again, as a real one would).
 */
export interface ContainerDeclaration extends ContainerImage {
  readonly namespace: string;
  /** The pod by name (a StatefulSet's `db-0`), or */
  readonly name?: string;
  /** the pods that carry all these labels (a Deployment's `matchLabels`). */
  readonly labels?: Readonly<Record<string, string>>;
  /** The containers declared (default: every container of the pod spec; init containers never). */
  readonly containers?: readonly string[];
}

export interface LogOptions {
  /** Append to the previous container's log (what `kubectl logs -p` shows). */
  readonly previous?: boolean;
  readonly stream?: 'stdout' | 'stderr';
  /** The lines' timestamp (default now): what `sinceTime`, `sinceSeconds` and `timestamps` see. */
  readonly at?: Date;
}

/** One pod container's filesystem and logs, as kwok serves them to exec and logs through the apiserver. */
export interface FakeContainer {
  readonly namespace: string;
  readonly pod: string;
  readonly podUid: string;
  readonly container: string;
  /** The host directory that exec'd commands see as `/` (under the control plane's temp dir). */
  readonly root: string;
  /**
   * The host path of a path in the container, e.g. `hostPath('/var/lib/milvus')`. Links in the container
   * point at container paths: do not follow them from the host.
   */
  hostPath(path: string): string;
  /** Writes a file in the container; a mode with an execute bit makes it a command exec can run. */
  writeFile(path: string, content: string, mode?: number): void;
  /** Creates a directory (with its parents) in the container. */
  mkdir(path: string): void;
  /** Appends lines to the current container's log, or with `previous` to the previous container's. */
  log(lines: string | readonly string[], options?: LogOptions): void;
  /** A restart, for the logs: the current log becomes the previous one, and the new current log is empty. */
  restartLogs(): void;
}

class ContainerFiles implements FakeContainer {
  readonly root: string;
  readonly currentLog: string;
  readonly previousLog: string;

  constructor(
    private readonly kwokRoot: KwokRoot,
    readonly namespace: string,
    readonly pod: string,
    readonly podUid: string,
    readonly container: string,
    /** This container's directory in kwok's root (its filesystem is `root/` there, its logs beside it). */
    readonly dirInKwokRoot: string,
  ) {
    this.root = kwokRoot.hostPath(`${dirInKwokRoot}/root`);
    this.currentLog = kwokRoot.hostPath(`${dirInKwokRoot}/current.log`);
    this.previousLog = kwokRoot.hostPath(`${dirInKwokRoot}/previous.log`);
  }

  get rootInKwokRoot(): string {
    return `${this.dirInKwokRoot}/root`;
  }

  hostPath(path: string): string {
    return join(this.root, containerPathOf(path));
  }

  writeFile(path: string, content: string, mode = 0o644): void {
    const host = this.hostPath(path);
    mkdirSync(posix.dirname(host), { recursive: true });
    // A link (busybox's `/bin/ls`, say) is replaced, not written through: its target is a path in the
    // container, which the harness would resolve on the machine.
    if (isSymlink(host)) unlinkSync(host);
    writeFileSync(host, content);
    chmodSync(host, mode);
    if (mode & 0o111) this.kwokRoot.ensureCommand(path);
  }

  mkdir(path: string): void {
    mkdirSync(this.hostPath(path), { recursive: true });
  }

  log(lines: string | readonly string[], options: LogOptions = {}): void {
    const stamp = (options.at ?? new Date()).toISOString();
    const all = (typeof lines === 'string' ? [lines] : lines).flatMap((line) => line.split('\n'));
    // The CRI log format the kubelet's log files have, which kwok's log reader parses: time, stream, tag, text.
    const text = all.map((line) => `${stamp} ${options.stream ?? 'stdout'} F ${line}\n`).join('');
    appendFileSync(options.previous ? this.previousLog : this.currentLog, text);
  }

  restartLogs(): void {
    renameSync(this.currentLog, this.previousLog);
    writeFileSync(this.currentLog, '');
  }

  /** The container's filesystem from the image: busybox's commands, a few /etc files, the declared contents. */
  create(image: ContainerImage): void {
    for (const sub of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'usr/local/bin', 'dev', 'etc', 'root', 'var']) {
      mkdirSync(join(this.root, sub), { recursive: true });
    }
    mkdirSync(join(this.root, 'tmp'), { mode: 0o1777 });
    chmodSync(join(this.root, 'tmp'), 0o1777);
    linkOrCopy(this.kwokRoot.hostPath(busyboxInKwokRoot), join(this.root, 'bin', 'busybox'));
    for (const command of this.kwokRoot.busyboxCommands) {
      if (command !== '/bin/busybox') symlinkSync('/bin/busybox', this.hostPath(command));
    }
    linkSync(this.kwokRoot.hostPath('/dev/null'), join(this.root, 'dev', 'null'));
    writeFileSync(join(this.root, 'etc', 'hostname'), `${this.pod}\n`);
    writeFileSync(join(this.root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(this.root, 'etc', 'group'), 'root:x:0:\n');
    for (const directory of image.directories ?? []) this.mkdir(directory);
    for (const [path, file] of Object.entries(image.files ?? {})) {
      if (typeof file === 'string') this.writeFile(path, file);
      else this.writeFile(path, file.content, file.mode);
    }
    writeFileSync(this.currentLog, '');
    if (image.logs?.length) this.log(image.logs);
    if (image.previousLogs?.length) this.log(image.previousLogs, { previous: true });
  }
}

/** What FakeContainers works with. */
export interface FakeContainersOptions {
  /** An admin client of the apiserver. */
  readonly kubeConfig: KubeConfig;
  readonly kwokRoot: KwokRoot;
  /** Server-side apply of a namespaced kwok.x-k8s.io/v1alpha1 object (`plural`: execs, logs). */
  readonly apply: (plural: string, namespace: string, name: string, body: object) => Promise<void>;
  /** kwok's kubelet API, with the apiserver's client identity there. */
  readonly kubelet: KubeConfig;
  /** The admission webhook's serving certificate (for 127.0.0.1), and the CA the apiserver checks it with. */
  readonly webhookServing: { readonly cert: string; readonly key: string };
  readonly caCert: string;
}

interface PodContainers {
  readonly uid: string;
  readonly containers: Map<string, ContainerFiles>;
  /** Set once kwok serves exec and logs for every one of them. */
  served: boolean;
}

interface AdmissionReview {
  readonly request?: {
    readonly uid: string;
    readonly namespace?: string;
    readonly operation?: string;
    readonly dryRun?: boolean;
    readonly object?: V1Pod;
  };
}

const webhookName = 'gameday-test-containers';
const probeLabel = 'gameday.test/webhook-probe';

function matches(declaration: ContainerDeclaration, pod: V1Pod, container: string): boolean {
  const metadata = pod.metadata ?? {};
  if (metadata.namespace !== declaration.namespace) return false;
  if (declaration.containers && !declaration.containers.includes(container)) return false;
  if (declaration.name !== undefined) return metadata.name === declaration.name;
  const labels = metadata.labels ?? {};
  return Object.entries(declaration.labels ?? {}).every(([key, value]) => labels[key] === value);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Gives declared pod containers a filesystem and logs that kwok serves exec and logs from: their directories
 * under kwok's root, and the pod's kwok `Exec` and `Logs` objects (named like the pod, as kwok looks them up).
 *
 * A kubelet knows a pod's containers before it reports the pod Ready; kwok reports it Ready at once. So that a
 * test (or gameday) never execs into a Ready pod that kwok cannot serve yet, the harness prepares each new
 * declared pod in a validating admission webhook, after the apiserver has named the pod and before it stores
 * it: once a pod exists, its declared containers work. The webhook is registered with the first declaration.
 */
export class FakeContainers {
  private readonly declarations: ContainerDeclaration[] = [];
  private readonly pods = new Map<string, PodContainers>();
  /** Preparations under way, by pod UID: the webhook and a declaration's scan may meet on one pod. */
  private readonly preparing = new Map<string, Promise<void>>();
  private readonly probesSeen = new Set<string>();
  private webhook: Promise<void> | undefined;
  private server: Server | undefined;
  private lastError: string | undefined;
  private stopped = false;

  constructor(private readonly options: FakeContainersOptions) {}

  /**
   * Adds a declaration and prepares the pods it matches that already exist; pods created afterwards are
   * prepared as they are created. (A pod whose creation races with its declaration may be missed: declare
   * before creating the pods.)
   */
  async declare(declaration: ContainerDeclaration): Promise<void> {
    if ((declaration.name === undefined) === (declaration.labels === undefined)) {
      throw new Error(
        'a container declaration names either a pod (name) or pods by labels, not both or neither',
      );
    }
    for (const [path, file] of Object.entries(declaration.files ?? {})) {
      if (typeof file !== 'string' && file.mode & 0o111) this.options.kwokRoot.ensureCommand(path);
    }
    this.webhook ??= this.startWebhook();
    await this.webhook;
    this.declarations.push(declaration);
    const core = this.options.kubeConfig.makeApiClient(CoreV1Api);
    const existing = await core.listNamespacedPod({ namespace: declaration.namespace });
    await Promise.all(existing.items.map((pod) => this.prepare(pod)));
  }

  /** A declared container of a pod (default: its first declared one) once kwok serves it. */
  async container(
    namespace: string,
    pod: string,
    container?: string,
    timeoutMs = 30_000,
  ): Promise<FakeContainer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const entry = this.pods.get(`${namespace}/${pod}`);
      if (entry?.served) {
        const found =
          container === undefined ? [...entry.containers.values()][0] : entry.containers.get(container);
        if (found) return found;
      }
      if (Date.now() > deadline) {
        const declared = entry ? [...entry.containers.keys()].join(', ') || 'none' : 'none';
        throw new Error(
          `no declared container ${container ?? '(any)'} in pod ${namespace}/${pod} after ${timeoutMs / 1000} s ` +
            `(its declared containers: ${declared})${this.lastError ? `; last error: ${this.lastError}` : ''}`,
        );
      }
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  /** Starts the webhook's server, registers it, and waits until the apiserver calls it. */
  private async startWebhook(): Promise<void> {
    const { cert, key } = this.options.webhookServing;
    const server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        void this.review(body).then((answer) => {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify(answer));
        });
      });
    });
    this.server = server;
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        if (typeof address === 'object' && address) resolve(address.port);
        else reject(new Error('the webhook server has no port'));
      });
    });
    const admission = this.options.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    await admission.createValidatingWebhookConfiguration({
      body: {
        metadata: { name: webhookName },
        webhooks: [
          {
            name: 'containers.gameday.test',
            clientConfig: {
              url: `https://127.0.0.1:${port}/pods`,
              caBundle: readFileSync(this.options.caCert).toString('base64'),
            },
            rules: [
              {
                apiGroups: [''],
                apiVersions: ['v1'],
                operations: ['CREATE'],
                resources: ['pods'],
                scope: 'Namespaced',
              },
            ],
            // A pod that could not be prepared is refused with the reason, rather than created unserved.
            failurePolicy: 'Fail',
            sideEffects: 'NoneOnDryRun',
            admissionReviewVersions: ['v1'],
            timeoutSeconds: 15,
          },
        ],
      },
    });
    // The apiserver picks webhook configurations up asynchronously: dry-run pods until one reaches the webhook.
    const core = this.options.kubeConfig.makeApiClient(CoreV1Api);
    const deadline = Date.now() + 30_000;
    for (let attempt = 0; ; attempt++) {
      const probe = `${attempt}`;
      await core.createNamespacedPod({
        namespace: 'default',
        dryRun: 'All',
        body: {
          metadata: { name: `gameday-webhook-probe-${attempt}`, labels: { [probeLabel]: probe } },
          spec: { containers: [{ name: 'probe', image: 'registry.invalid/probe' }] },
        },
      });
      if (this.probesSeen.has(probe)) return;
      if (Date.now() > deadline)
        throw new Error('the apiserver did not call the containers webhook within 30 s');
      await sleep(100);
    }
  }

  private async review(body: string): Promise<object> {
    let request: AdmissionReview['request'];
    try {
      request = (JSON.parse(body) as AdmissionReview).request;
    } catch {
      request = undefined;
    }
    const answer = (allowed: boolean, message?: string) => ({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: request?.uid ?? '', allowed, ...(message ? { status: { code: 500, message } } : {}) },
    });
    const pod = request?.object;
    if (!request || !pod || request.operation !== 'CREATE') return answer(true);
    if (request.dryRun) {
      const probe = pod.metadata?.labels?.[probeLabel];
      if (probe !== undefined) this.probesSeen.add(probe);
      return answer(true);
    }
    const named: V1Pod = {
      ...pod,
      metadata: { ...pod.metadata, namespace: pod.metadata?.namespace ?? request.namespace },
    };
    try {
      await this.prepare(named);
      return answer(true);
    } catch (error) {
      const message = `gameday test harness: the declared containers of pod ${request.namespace}/${pod.metadata?.name} could not be prepared: ${errorMessage(error)}`;
      this.lastError = message;
      return answer(false, message);
    }
  }

  private prepare(pod: V1Pod): Promise<void> {
    const uid = pod.metadata?.uid;
    if (!uid || this.stopped) return Promise.resolve();
    let preparing = this.preparing.get(uid);
    if (!preparing) {
      preparing = this.prepareOnce(pod).finally(() => this.preparing.delete(uid));
      this.preparing.set(uid, preparing);
    }
    return preparing;
  }

  private async prepareOnce(pod: V1Pod): Promise<void> {
    const { namespace, name, uid } = pod.metadata ?? {};
    if (!namespace || !name || !uid || pod.metadata?.deletionTimestamp) return;
    const key = `${namespace}/${name}`;
    let entry = this.pods.get(key);
    // The same name with another UID: a pod made again (a StatefulSet's); its objects are written anew.
    if (entry && entry.uid !== uid) entry = undefined;
    const added = (pod.spec?.containers ?? [])
      .map((container) => container.name)
      .filter(
        (container) =>
          !entry?.containers.has(container) &&
          this.declarations.some((declaration) => matches(declaration, pod, container)),
      );
    if (added.length === 0 && (entry === undefined || entry.served)) return;
    entry ??= { uid, containers: new Map(), served: false };
    entry.served = false;
    this.pods.set(key, entry);
    const { kwokRoot } = this.options;
    for (const container of added) {
      const declaration = this.declarations.find((candidate) => matches(candidate, pod, container));
      // The kubelet's /var/log/pods/<namespace>_<name>_<uid>/<container>/ layout, for the logs.
      const files = new ContainerFiles(
        kwokRoot,
        namespace,
        name,
        uid,
        container,
        `/pods/${namespace}_${name}_${uid}/${container}`,
      );
      files.create(declaration ?? {});
      entry.containers.set(container, files);
    }
    const specEnv = new Map(
      (pod.spec?.containers ?? []).map((container) => [
        container.name,
        (container.env ?? []).flatMap((variable) =>
          variable.value === undefined ? [] : [{ name: variable.name, value: variable.value }],
        ),
      ]),
    );
    const containers = [...entry.containers.values()];
    const metadata = { name, namespace, labels: { 'gameday.test/pod-uid': uid } };
    await this.options.apply('execs', namespace, name, {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'Exec',
      metadata,
      spec: {
        execs: containers.map((files) => {
          const declaration = this.declarations.find((candidate) => matches(candidate, pod, files.container));
          const env = [
            { name: 'HOSTNAME', value: name },
            ...(specEnv.get(files.container) ?? []),
            ...Object.entries(declaration?.env ?? {}).map(([variable, value]) => ({ name: variable, value })),
            { name: 'GAMEDAY_CONTAINER_ROOT', value: files.rootInKwokRoot },
          ];
          return { containers: [files.container], local: { workDir: files.rootInKwokRoot, envs: env } };
        }),
      },
    });
    await this.options.apply('logs', namespace, name, {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'Logs',
      metadata,
      spec: {
        logs: containers.map((files) => ({
          containers: [files.container],
          logsFile: `${files.dirInKwokRoot}/current.log`,
          previousLogsFile: `${files.dirInKwokRoot}/previous.log`,
        })),
      },
    });
    // kwok reads these objects through its own watches: ask its server until both serve every container.
    const deadline = Date.now() + 10_000;
    for (const files of containers) {
      while (!(await this.kwokServes(namespace, name, files.container))) {
        if (Date.now() > deadline || this.stopped) {
          throw new Error(
            `kwok does not serve exec and logs of ${key} container ${files.container} after 10 s`,
          );
        }
        await sleep(20);
      }
    }
    entry.served = true;
  }

  /** Whether kwok's server has the pod container's logs and runs `/bin/true` in it. */
  private async kwokServes(namespace: string, pod: string, container: string): Promise<boolean> {
    const where = [namespace, pod, container].map(encodeURIComponent).join('/');
    if ((await tlsStatus(this.options.kubelet, `/containerLogs/${where}?limitBytes=1`)) !== 200) return false;
    const status = await new Promise<V1Status | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 5000);
      const done = (status?: V1Status) => {
        clearTimeout(timer);
        resolve(status);
      };
      kubeletExec(this.options.kubelet)
        .exec(
          namespace,
          pod,
          container,
          ['/bin/true'],
          new PassThrough(),
          new PassThrough(),
          null,
          false,
          done,
        )
        // The status arrives on its channel before the socket closes; a failed connection has none.
        .catch(() => done());
    });
    return status?.status === 'Success';
  }
}

/**
 * client-node's Exec, straight to a kubelet API (kwok's): the apiserver's exec path and parameters
 * (`/api/v1/namespaces/<ns>/pods/<pod>/exec?container=…&stdout=true`) become the kubelet's
 * (`/exec/<ns>/<pod>/<container>?output=1`), as the apiserver itself rewrites them when it proxies.
 */
function kubeletExec(kubelet: KubeConfig): Exec {
  const exec = new Exec(kubelet);
  const apiserverPaths = exec.handler;
  exec.handler = {
    connect: (path, textHandler, binaryHandler) => {
      const url = new URL(path, 'https://kubelet.invalid');
      const [, namespace, pod] =
        /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname) ?? [];
      const container = url.searchParams.get('container');
      if (!namespace || !pod || !container) throw new Error(`not an exec path: ${path}`);
      const query = new URLSearchParams();
      for (const argument of url.searchParams.getAll('command')) query.append('command', argument);
      const streams = { stdin: 'input', stdout: 'output', stderr: 'error', tty: 'tty' } as const;
      for (const [apiserver, kubeletName] of Object.entries(streams)) {
        if (url.searchParams.get(apiserver) === 'true') query.set(kubeletName, '1');
      }
      return apiserverPaths.connect(
        `/exec/${namespace}/${pod}/${container}?${query.toString()}`,
        textHandler,
        binaryHandler,
      );
    },
  };
  return exec;
}

/** The HTTP status of a GET on the server of `kubeConfig` (0 when nothing answers). */
function tlsStatus(kubeConfig: KubeConfig, path: string): Promise<number> {
  return new Promise((resolve) => {
    const server = kubeConfig.getCurrentCluster()?.server ?? '';
    const ca = kubeConfig.getCurrentCluster()?.caFile;
    const request = httpsRequest(
      `${server}${path}`,
      { ca: ca ? readFileSync(ca) : undefined, timeout: 5000 },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(0));
    request.end();
  });
}
