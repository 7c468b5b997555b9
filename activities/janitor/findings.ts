import type { Client } from '@temporalio/client';
import type { HostTarget } from '../../plan/targets';
import type { JanitorFinding, JanitorScope, LeftoverRun } from '../../workflows/janitorDefinitions';
import type { ActivityDeps } from '../deps';
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
function hostFindings(
  host: string,
  tag: string,
  files: readonly TaggedFile[],
  run: LeftoverRun | undefined,
  now: number,
): JanitorFinding[] {
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
    if (lease !== undefined && now - lease.modifiedMs < liveLeaseMs) continue;
    const since = Math.min(...switchFiles.map((file) => file.modifiedMs));
    findings.push({
      host,
      tag,
      what: lease
        ? `a dead-man switch whose lease is no longer renewed (${base})`
        : `the files of a dead-man switch (${base})`,
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
  const hosts = new Set(hostsInScope(deps, scope));
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
      byTag.set(file.tag, [...(byTag.get(file.tag) ?? []), file]);
    }
    for (const [tag, files] of byTag) {
      findings.push(...hostFindings(host, tag, files, records.byTag.get(tag), now));
    }
  }
  deps.metrics.janitorSwept([...listings.keys()], findings);
  return findings;
}
