// What a game day can leave behind, read from outside the product (never through gameday's own code): each
// namespace host's iptables rules and qdiscs, the tagged /tmp/.gameday-<tag>-* files and the fill directories,
// the processes that carry a soak run's tag or run stress-ng in a soak namespace (dead-man watchers,
// stress-ng and its workers), and the state of every service the faults act on. Only what this soak owns is
// looked at: its namespaces, its runs' tags, its services; other runs' leftovers on the shared /tmp are not ours.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { pidFrom } from '../../client/demoService';
import type { TestHost } from '../support/hosts';
import { healthy } from '../support/services';

const run = promisify(execFile);

/** Sections of lines; two snapshots are compared section by section, as multisets of lines. */
export type Snapshot = Record<string, string[]>;

export interface LocalService {
  readonly name: string;
  readonly pidfile: string;
  readonly port: number;
}

export interface HostSleeper {
  readonly name: string;
  readonly host: TestHost;
  readonly pidfile: string;
  /** Its whole command line, e.g. ["sleep", "3601"]: how its processes are told from any other. */
  readonly argv: readonly string[];
}

export interface SnapshotScope {
  readonly hosts: readonly TestHost[];
  /** Every tag a soak run has had so far. */
  readonly tags: ReadonlySet<string>;
  /** Directories the disk-fill faults fill (everything in them is the soak's). */
  readonly fillDirs: readonly string[];
  readonly services: readonly LocalService[];
  readonly sleepers: readonly HostSleeper[];
}

const taggedName = /\.gameday-([0-9a-z]+)-/;

function ours(text: string, tags: ReadonlySet<string>): boolean {
  const match = taggedName.exec(text);
  return match !== null && tags.has(match[1] as string);
}

/** iptables-save without its counters and comment lines: what rules and chains there are. */
function rulesOnly(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => line.replace(/ \[\d+:\d+\]$/, ''));
}

async function hostNetwork(host: TestHost): Promise<{ iptables: string[]; tc: string[] }> {
  const { stdout } = await run('ip', [
    'netns',
    'exec',
    host.namespace,
    'sh',
    '-c',
    'iptables-save; echo ---tc---; tc qdisc show',
  ]);
  const [rules = '', qdiscs = ''] = stdout.split('---tc---\n');
  return {
    iptables: rulesOnly(rules),
    tc: qdiscs
      .split('\n')
      .filter((line) => line.trim() !== '')
      .sort(),
  };
}

interface ProcessInfo {
  readonly pid: number;
  readonly comm: string;
  readonly state: string;
  readonly cmdline: string[];
  readonly netns: string | undefined;
}

function processes(): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '?';
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').slice(0, -1);
      let netns: string | undefined;
      try {
        netns = readlinkSync(`/proc/${entry}/ns/net`);
      } catch {
        netns = undefined;
      }
      found.push({ pid: Number(entry), comm, state, cmdline, netns });
    } catch {
      // gone while we looked
    }
  }
  return found;
}

/** R, S, D, I are running as far as a fault is concerned; T stopped (paused); Z a zombie. */
const stateWord = (state: string) =>
  state === 'T' || state === 't' ? 'stopped' : state === 'Z' ? 'zombie' : 'running';

function namespaceLinks(hosts: readonly TestHost[]): Map<string, string> {
  const links = new Map<string, string>();
  for (const host of hosts) {
    try {
      links.set(`net:[${statSync(`/run/netns/${host.namespace}`).ino}]`, host.name);
    } catch {
      // a namespace that is gone has nothing running in it
    }
  }
  return links;
}

export async function takeSnapshot(scope: SnapshotScope): Promise<Snapshot> {
  const snapshot: Snapshot = {};
  const networks = await Promise.all(scope.hosts.map(hostNetwork));
  scope.hosts.forEach((host, i) => {
    snapshot[`${host.name} iptables-save`] = networks[i]?.iptables ?? [];
    snapshot[`${host.name} tc qdisc show`] = networks[i]?.tc ?? [];
  });

  const files: string[] = [];
  for (const name of readdirSync('/tmp')) if (ours(name, scope.tags)) files.push(`/tmp/${name}`);
  for (const dir of scope.fillDirs) {
    for (const name of readdirSync(dir)) files.push(`${dir}/${name}`);
  }
  snapshot['files'] = files.sort();

  const links = namespaceLinks(scope.hosts);
  const all = processes();
  snapshot['processes'] = all
    .filter((p) => {
      const text = p.cmdline.join(' ');
      const inSoakNamespace = p.netns !== undefined && links.has(p.netns);
      return ours(text, scope.tags) || (inSoakNamespace && p.comm.startsWith('stress-ng'));
    })
    .map((p) => {
      const where = (p.netns !== undefined && links.get(p.netns)) || 'local';
      return `${where} ${p.comm} [${stateWord(p.state)}]: ${p.cmdline.join(' ')}`;
    })
    .sort();

  const services: string[] = [];
  for (const service of scope.services) {
    const mine = all.filter((p) => p.cmdline.includes(service.pidfile));
    const states = mine.map((p) => stateWord(p.state)).sort();
    const pid = pidFrom(service.pidfile);
    const listed = mine.find((p) => p.pid === pid);
    services.push(
      `local ${service.name}: ${mine.length} process(es) [${states.join(', ')}]; pidfile names ` +
        `${listed ? `one of them (${stateWord(listed.state)})` : 'none of them'}; ` +
        `${(await healthy(service.port)) ? 'healthy' : 'NOT healthy'}`,
    );
  }
  for (const sleeper of scope.sleepers) {
    const inHost = [...links.entries()].find(([, name]) => name === sleeper.host.name)?.[0];
    // A process-kill rollback restarts it as /usr/bin/sleep (the recorded executable): same program, same args.
    const sameCommand = (argv: readonly string[]) =>
      argv.length === sleeper.argv.length &&
      basename(argv[0] ?? '') === basename(sleeper.argv[0] ?? '') &&
      argv.slice(1).join('\0') === sleeper.argv.slice(1).join('\0');
    const mine = all.filter((p) => p.netns === inHost && sameCommand(p.cmdline) && p.state !== 'Z');
    const pid = pidFrom(sleeper.pidfile);
    const listed = mine.find((p) => p.pid === pid);
    services.push(
      `${sleeper.host.name} ${sleeper.name}: ${mine.length} process(es) [${mine
        .map((p) => stateWord(p.state))
        .sort()
        .join(', ')}]; pidfile names ${listed ? `one of them (${stateWord(listed.state)})` : 'none of them'}`,
    );
  }
  snapshot['services'] = services;
  return snapshot;
}

export interface SectionDiff {
  readonly section: string;
  readonly added: string[];
  readonly removed: string[];
}

function multisetMinus(a: readonly string[], b: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const line of b) counts.set(line, (counts.get(line) ?? 0) + 1);
  const left: string[] = [];
  for (const line of a) {
    const n = counts.get(line) ?? 0;
    if (n > 0) counts.set(line, n - 1);
    else left.push(line);
  }
  return left;
}

/** What differs between two snapshots, section by section (empty: the same). */
export function diffSnapshots(before: Snapshot, after: Snapshot): SectionDiff[] {
  const sections = new Set([...Object.keys(before), ...Object.keys(after)]);
  const diffs: SectionDiff[] = [];
  for (const section of sections) {
    const a = before[section] ?? [];
    const b = after[section] ?? [];
    const added = multisetMinus(b, a);
    const removed = multisetMinus(a, b);
    if (added.length + removed.length > 0) diffs.push({ section, added, removed });
  }
  return diffs;
}

export function describeDiff(diffs: readonly SectionDiff[]): string {
  return diffs
    .map(
      (d) =>
        `${d.section}:${d.added.map((l) => `\n    + ${l}`).join('')}${d.removed.map((l) => `\n    - ${l}`).join('')}`,
    )
    .join('\n  ');
}
