import type { Client } from '@temporalio/client';
import type { HostTarget } from '../../plan/targets';
import type { JanitorFinding, JanitorScope, LeftoverRun } from '../../workflows/janitorDefinitions';
import type { ActivityDeps } from '../deps';
import type { Executor } from '../executors/executor';
import { inspectFault, rolledBack } from '../faultSteps';
import { deadManBaseOf, taggedFiles, type TaggedFile } from './hostFiles';
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
  return scope.targets.includes(target.name) || scope.targets.includes(target.group);
}

interface HostListing {
  readonly files: readonly TaggedFile[];
  readonly error?: string;
}

async function listHost(deps: ActivityDeps, host: string): Promise<HostListing> {
  try {
    return { files: await taggedFiles(deps.executorFor(hostTarget(host))) };
  } catch (error) {
    return { files: [], error: errorText(error) };
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
    if (lease !== undefined) {
      const age = now - lease.modifiedMs;
      // Renewed a moment ago: someone's run is alive. Watched and not yet expired: its own watcher fires it
      // if nobody renews it; the janitor does not race a switch that is still doing its job.
      if (age < liveLeaseMs) continue;
      const watchedFor = await watcherLeaseMs(exec, base);
      if (watchedFor !== undefined && age < watchedFor) continue;
    }
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

/**
 * Everything finished game days left on the worker's hosts, found from both ends: the histories of closed runs
 * (what each step changed and saved, so its own rollback can remove it) and the hosts' tagged files (what no
 * history explains any more). Nothing carrying the tag of a running game day is ever listed.
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
    const byTag = new Map<string, TaggedFile[]>();
    for (const file of listing.files) {
      if (records.openTags.has(file.tag) || explained.has(file.tag)) continue;
      if (scope.tags !== undefined && !scope.tags.includes(file.tag)) continue;
      byTag.set(file.tag, [...(byTag.get(file.tag) ?? []), file]);
    }
    for (const [tag, files] of byTag) {
      const exec = deps.executorFor(hostTarget(host));
      findings.push(...(await hostFindings(exec, host, tag, files, records.byTag.get(tag), now)));
    }
  }
  // Only a whole host's sweep replaces its gauges: one run's (tags) or one plan's leftovers are a part of them.
  if (scope.tags === undefined && scope.plan === undefined) deps.metrics.janitorSwept(swept, findings);
  return findings;
}
