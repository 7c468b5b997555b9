import type { Client } from '@temporalio/client';
import type { HostTarget } from '../../plan/targets';
import type { JanitorFinding, JanitorScope, LeftoverRun } from '../../workflows/janitorDefinitions';
import type { ActivityDeps } from '../deps';
import type { Executor } from '../executors/executor';
import { inspectFault, rolledBack } from '../faultSteps';
import { stressLeftover } from '../faults/stress';
import { deadManBaseOf, ownerOfRoot, taggedFiles, type TaggedFile } from './hostFiles';
import { scanCluster, type ClusterScan } from './clusterFaults';
import { scanHostFaults, type HostFaultScan } from './hostFaults';
import type { UnrolledStep } from './recordedSteps';
import { runsOfRecord, type RunsOfRecord } from './runs';

/**
 * A switch whose lease was renewed this recently belongs to a live run, whatever visibility says (a run
 * started a moment ago, or by another namespace sharing the host): a host-only finding waits this long.
 */
const liveLeaseMs = 120_000;

const janitorGroup = 'janitor';

const hostTarget = (name: string): HostTarget => ({
  group: janitorGroup,
  kind: name === 'local' ? 'local' : 'ssh',
  name,
});

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The worker's hosts in scope: its own machine when plans may act on it, and its SSH inventory. */
function hostsInScope(deps: ActivityDeps, scope: JanitorScope): string[] {
  const hosts = [...(deps.allowLocalTargets ? ['local'] : []), ...deps.sshHosts];
  return scope.targets === undefined ? hosts : hosts.filter((host) => scope.targets?.includes(host));
}

function stepInScope(step: UnrolledStep, run: LeftoverRun, scope: JanitorScope): boolean {
  const { target } = step.fault.step;
  if (scope.tags !== undefined && !scope.tags.includes(step.fault.tag)) return false;
  if (scope.plan !== undefined && run.plan === scope.plan) return true;
  if (scope.targets === undefined) return scope.plan === undefined;
  return (
    scope.targets.includes(target.name) ||
    scope.targets.includes(target.group) ||
    // A Kubernetes context named in the targets is looked at whole, its recorded steps too.
    (target.kind === 'kubernetes' && scope.targets.includes(target.context))
  );
}

interface HostListing {
  readonly files: readonly TaggedFile[];
  /** gameday's faults found by their names (chains, the tc handle, stress-ng), and what could not be asked. */
  readonly faults: HostFaultScan;
  readonly error?: string;
}

async function listHost(deps: ActivityDeps, host: string): Promise<HostListing> {
  const exec = deps.executorFor(hostTarget(host));
  try {
    const [files, faults] = await Promise.all([taggedFiles(exec), scanHostFaults(exec)]);
    return { files, faults };
  } catch (error) {
    return { files: [], faults: { found: [], errors: [] }, error: errorText(error) };
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The lease length a switch's running watcher counts with (its argv: … WATCH LEASE SECONDS REVERT), if running. */
async function watcherLeaseMs(exec: Executor, base: string): Promise<number | undefined> {
  const pid = Number.parseInt((await exec.readFile(`${base}.pid`)) ?? '', 10);
  if (!Number.isInteger(pid)) return undefined;
  const argv = ((await exec.readFile(`/proc/${pid}/cmdline`)) ?? '').split('\0');
  const watch = argv.indexOf(`${base}.watch`);
  if (watch < 0) return undefined;
  const seconds = Number(argv[watch + 2]);
  return Number.isFinite(seconds) ? seconds * 1000 : undefined;
}

/** A recorded step still in place (or its switch still on the host): removed by its kind's rollback. */
async function recordedFinding(
  deps: ActivityDeps,
  step: UnrolledStep,
  run: LeftoverRun,
  listings: ReadonlyMap<string, HostListing>,
): Promise<JanitorFinding | undefined> {
  const { fault } = step;
  const files = (listings.get(fault.step.target.name)?.files ?? [])
    .filter((file) => deadManBaseOf(file.path) === fault.deadMan.base)
    .map((file) => file.path);
  let state: string | undefined;
  try {
    const read = await inspectFault(deps, fault);
    if (!rolledBack(read)) state = `still in place (${read.detail})`;
  } catch (error) {
    state = `could not ask whether it is in place: ${errorText(error)}`;
  }
  if (state === undefined && files.length === 0) return undefined;
  return {
    host: fault.step.target.name,
    tag: fault.tag,
    what: `${fault.step.inject}: ${state ?? `its dead-man switch is still there (${files.length} files)`}`,
    ...(step.injectScheduledAt === undefined ? {} : { since: step.injectScheduledAt }),
    run,
    files,
    removal: { kind: 'rollback', fault },
  };
}

/**
 * Whether a switch is still doing its job: renewed a moment ago (someone's run is alive), or watched and not yet
 * expired (its own watcher fires it if nobody renews it). The janitor does not race such a switch.
 */
async function stillWatching(exec: Executor, base: string, lease: TaggedFile, now: number): Promise<boolean> {
  const age = now - lease.modifiedMs;
  if (age < liveLeaseMs) return true;
  const watchedFor = await watcherLeaseMs(exec, base);
  return watchedFor !== undefined && age < watchedFor;
}

/** Tags with a switch on the host that is still doing its job: their faults are watched, not left over. */
async function watchedTags(exec: Executor, files: readonly TaggedFile[], now: number): Promise<Set<string>> {
  const tags = new Set<string>();
  for (const lease of files) {
    const base = deadManBaseOf(lease.path);
    if (
      base !== undefined &&
      lease.path === `${base}.lease` &&
      (await stillWatching(exec, base, lease, now))
    ) {
      tags.add(lease.tag);
    }
  }
  return tags;
}

/** Whether one of these recorded steps acts on the interface (the tc kinds' `interface` parameter). */
function recordsInterface(recorded: readonly JanitorFinding[], iface: string): boolean {
  return recorded.some((finding) => {
    if (finding.removal.kind !== 'rollback') return false;
    const { params } = finding.removal.fault.step;
    return (
      typeof params === 'object' && params !== null && (params as { interface?: unknown }).interface === iface
    );
  });
}

/**
 * Faults found in place by their names that no history and no live switch explains. A name with a tag belongs
 * to that run: skipped while it is open, recorded in a history (its rollback removes it) or watched by its
 * switch. A root qdisc with gameday's handle carries no tag: it belongs to the run whose switch would delete it.
 */
async function faultFindings(
  exec: Executor,
  host: string,
  listing: HostListing,
  skipTag: (tag: string) => boolean,
  recordedHere: readonly JanitorFinding[],
  scope: JanitorScope,
  records: RunsOfRecord,
  now: number,
): Promise<JanitorFinding[]> {
  const findings: JanitorFinding[] = listing.faults.errors.map((error) => ({
    host,
    tag: '-',
    what: `could not look for faults in place: ${error}`,
    removal: { kind: 'none', why: 'the host could not be asked' },
  }));
  if (listing.faults.found.length === 0) return findings;
  const watched = await watchedTags(exec, listing.files, now);
  for (const found of listing.faults.found) {
    const tag =
      found.tag ??
      (found.leftover?.type === 'tc-root'
        ? await ownerOfRoot(exec, listing.files, found.leftover.iface)
        : undefined);
    if (tag !== undefined && (skipTag(tag) || watched.has(tag))) continue;
    if (tag === undefined && scope.tags !== undefined) continue; // not the named runs' to remove
    // A recorded tc step still in place on this interface is the same qdisc: its rollback removes it.
    if (
      tag === undefined &&
      found.leftover?.type === 'tc-root' &&
      recordsInterface(recordedHere, found.leftover.iface)
    ) {
      continue;
    }
    const run = tag === undefined ? undefined : records.byTag.get(tag);
    // A stress fault's directory, pidfile and log are its own: removed with it, not listed apart.
    const own =
      found.leftover?.type === 'stress' ? stressLeftover(found.leftover.dir, found.leftover.argv) : undefined;
    const files = own
      ? listing.files
          .map((file) => file.path)
          .filter((path) => [own.dir, own.pidfile, own.log].includes(path))
      : [];
    findings.push({
      host,
      tag: tag ?? '-',
      what: `${found.what}: in place, and no history or live dead-man switch explains it`,
      ...(run === undefined ? {} : { run }),
      ...(files.length === 0 ? {} : { files }),
      removal: found.leftover
        ? { kind: 'fault-revert', target: hostTarget(host), leftover: found.leftover }
        : {
            kind: 'none',
            why: 'its name does not say which fault made it: look at it and remove it by hand',
          },
    });
  }
  return findings;
}

/** Files of one tag on one host that no recorded step explains: dead-man switches are fired, the rest listed. */
async function hostFindings(
  exec: Executor,
  host: string,
  tag: string,
  files: readonly TaggedFile[],
  run: LeftoverRun | undefined,
  now: number,
): Promise<JanitorFinding[]> {
  const findings: JanitorFinding[] = [];
  const bySwitch = new Map<string, TaggedFile[]>();
  const others: TaggedFile[] = [];
  for (const file of files) {
    const base = deadManBaseOf(file.path);
    if (base === undefined) others.push(file);
    else bySwitch.set(base, [...(bySwitch.get(base) ?? []), file]);
  }
  for (const [base, switchFiles] of bySwitch) {
    const lease = switchFiles.find((file) => file.path === `${base}.lease`);
    if (lease !== undefined && (await stillWatching(exec, base, lease, now))) continue;
    const since = Math.min(...switchFiles.map((file) => file.modifiedMs));
    findings.push({
      host,
      tag,
      what: lease
        ? `a dead-man switch whose lease is no longer renewed and whose watcher is gone or late (${base})`
        : `the files of a dead-man switch that has fired or was disarmed (${base})`,
      // Without a lease nothing of it is in place any more: its files are left, nothing else.
      ...(lease ? {} : { inert: true }),
      since: iso(lease?.modifiedMs ?? since),
      ...(run === undefined ? {} : { run }),
      files: switchFiles.map((file) => file.path),
      removal: { kind: 'host-revert', target: hostTarget(host), base },
    });
  }
  if (others.length > 0) {
    findings.push({
      host,
      tag,
      what: `${others.length} file(s) of run ${tag} that no recorded fault explains`,
      since: iso(Math.min(...others.map((file) => file.modifiedMs))),
      ...(run === undefined ? {} : { run }),
      files: others.map((file) => file.path),
      inert: true,
      removal: {
        kind: 'none',
        why: 'no history records the fault that made them: look at them and remove them by hand',
      },
    });
  }
  return findings;
}

/** Whether a scope's targets name something a failed list in this context (and namespace) could hold. */
function errorInScope(scope: JanitorScope, context: string, namespace: string | undefined): boolean {
  const { targets } = scope;
  if (targets === undefined || targets.includes(context)) return true;
  return (
    namespace !== undefined && targets.some((name) => name === namespace || name.startsWith(`${namespace}/`))
  );
}

/**
 * What gameday's Kubernetes kinds left in the worker's contexts that only their label or annotations explain:
 * the same rules as a host's faults by their names (a running run's tag, a tag a recorded step explains, a tag
 * outside the scope: skipped). A context named in the scope's targets is looked at whole; otherwise only what
 * a named target is (a namespace, a node, `ns/deployment/name`). A list that failed is a finding, never clean.
 */
async function clusterFindings(
  deps: ActivityDeps,
  scope: JanitorScope,
  skipTag: (tag: string) => boolean,
  records: RunsOfRecord,
): Promise<JanitorFinding[]> {
  const clusters = deps.kubernetes;
  // A plan with no host targets starts with an empty list: nothing of a cluster is its to look at by name.
  if (clusters === undefined || scope.targets?.length === 0) return [];
  const perContext = await Promise.all(
    clusters.contexts.map(async (context): Promise<JanitorFinding[]> => {
      const policy = clusters.policy(context);
      if (policy === undefined) return [];
      let scan: ClusterScan;
      try {
        scan = await scanCluster(context, clusters.client(context), policy);
      } catch (error) {
        scan = { found: [], errors: [{ error: errorText(error) }] };
      }
      const whole = scope.targets === undefined || scope.targets.includes(context);
      // One finding per context: an unreachable API server fails every list the same way.
      const failed = scan.errors
        .filter((error) => errorInScope(scope, context, error.namespace))
        .sort((a, b) => (a.namespace ?? '').localeCompare(b.namespace ?? ''))
        .map(
          (error) =>
            `${error.namespace === undefined ? 'nodes' : `namespace ${error.namespace}`}: ${error.error}`,
        );
      const errors: JanitorFinding[] =
        failed.length === 0
          ? []
          : [
              {
                host: context,
                tag: '-',
                what:
                  `could not look for gameday's objects in context ${context}: ${failed.slice(0, 2).join('; ')}` +
                  (failed.length > 2 ? ` (and ${failed.length - 2} more lists)` : ''),
                removal: { kind: 'none', why: 'the cluster could not be asked' },
              },
            ];
      const found = scan.found
        .filter((item) => !skipTag(item.tag) && (whole || scope.targets?.includes(item.target) === true))
        .map((item): JanitorFinding => {
          const run = records.byTag.get(item.tag);
          return {
            host: item.target,
            tag: item.tag,
            what: `${item.what}: in place, and no history explains it`,
            ...(item.since === undefined ? {} : { since: item.since }),
            ...(run === undefined ? {} : { run }),
            removal: item.leftover
              ? { kind: 'cluster-revert', context, leftover: item.leftover }
              : { kind: 'none', why: item.why ?? 'its labels do not say how to remove it: look at it' },
          };
        });
      return [...errors, ...found];
    }),
  );
  return perContext.flat();
}

/**
 * Everything finished game days left on the worker's hosts and clusters, found from both ends: the histories of
 * closed runs (what each step changed and saved, so its own rollback can remove it) and what the hosts and
 * clusters show by gameday's names and labels (what no history explains any more). Nothing carrying the tag of a running game day is ever listed.
 */
export async function findLeftovers(
  deps: ActivityDeps,
  client: Client,
  scope: JanitorScope,
  onProgress: () => void = () => undefined,
): Promise<JanitorFinding[]> {
  const records: RunsOfRecord = await runsOfRecord(client, onProgress);
  const recorded = records.closed.flatMap(({ run, steps }) =>
    steps.filter((step) => stepInScope(step, run, scope)).map((step) => ({ run, step })),
  );
  const swept = hostsInScope(deps, scope);
  const hosts = new Set(swept);
  for (const { step } of recorded) {
    if (step.fault.step.target.kind !== 'kubernetes') hosts.add(step.fault.step.target.name);
  }
  const listings = new Map<string, HostListing>();
  await Promise.all([...hosts].map(async (host) => listings.set(host, await listHost(deps, host))));
  onProgress();

  const findings: JanitorFinding[] = [];
  for (const { run, step } of recorded) {
    const finding = await recordedFinding(deps, step, run, listings);
    if (finding) findings.push(finding);
    onProgress();
  }
  // A tag with a step still in place is explained by its history: that step's rollback removes its files.
  const explained = new Set(findings.map((finding) => finding.tag));
  const skipTag = (tag: string): boolean =>
    records.openTags.has(tag) ||
    explained.has(tag) ||
    (scope.tags !== undefined && !scope.tags.includes(tag));
  const now = Date.now();
  for (const [host, listing] of listings) {
    if (listing.error !== undefined) {
      findings.push({
        host,
        tag: '-',
        what: `could not look for leftovers: ${listing.error}`,
        removal: { kind: 'none', why: 'the host could not be listed' },
      });
      continue;
    }
    const exec = deps.executorFor(hostTarget(host));
    const recordedHere = findings.filter(
      (finding) => finding.host === host && finding.removal.kind === 'rollback',
    );
    const inPlace = await faultFindings(exec, host, listing, skipTag, recordedHere, scope, records, now);
    findings.push(...inPlace);
    const claimed = new Set(inPlace.flatMap((finding) => finding.files ?? []));
    const byTag = new Map<string, TaggedFile[]>();
    for (const file of listing.files) {
      if (skipTag(file.tag) || claimed.has(file.path)) continue;
      byTag.set(file.tag, [...(byTag.get(file.tag) ?? []), file]);
    }
    for (const [tag, files] of byTag) {
      findings.push(...(await hostFindings(exec, host, tag, files, records.byTag.get(tag), now)));
    }
  }
  findings.push(...(await clusterFindings(deps, scope, skipTag, records)));
  onProgress();
  // Only a whole host's sweep replaces its gauges: one run's (tags) or one plan's leftovers are a part of them.
  if (scope.tags === undefined && scope.plan === undefined) deps.metrics.janitorSwept(swept, findings);
  return findings;
}
