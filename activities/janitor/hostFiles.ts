import { taggedPath } from '../../workflows/definitions';
import { runChecked, type Executor } from '../executors/executor';
import { TrustedScript } from '../executors/shellQuote';
import { gamedayHandle } from '../faults/trafficControl';

/** One `/tmp/.gameday-<tag>-<name>` file on a host. */
export interface TaggedFile {
  readonly path: string;
  readonly tag: string;
  /** Last modification (epoch ms): a lease's last renewal. */
  readonly modifiedMs: number;
}

// Run tags are short lower-case hex (CLI) or alphanumerics (a scheduled run's own): never a "-".
const taggedName = /^\/tmp\/\.gameday-([a-z0-9]+)-[^/]+$/;

// A fixed script: lists the files every fault kind names `.gameday-<tag>-…` under /tmp, with their mtimes.
const listScript = new TrustedScript(
  'gameday-janitor-list',
  "find /tmp -maxdepth 1 -name '.gameday-*' -printf '%T@ %p\\n' 2>/dev/null; exit 0",
);

/** Every tagged file in the host's /tmp (where dead-man switches and most artifacts live). */
export async function taggedFiles(exec: Executor): Promise<TaggedFile[]> {
  const result = await exec.runScript(listScript, [], { timeoutMs: 15_000 });
  if (result.exitCode !== 0) throw new Error(`listing /tmp/.gameday-* on ${exec.host}: ${result.stderr}`);
  return result.stdout
    .split('\n')
    .map((line) => /^(\d+(?:\.\d+)?) (.+)$/.exec(line.trim()))
    .flatMap((match) => {
      const tag = match ? taggedName.exec(match[2] ?? '')?.[1] : undefined;
      if (!match || tag === undefined) return [];
      return [{ path: match[2] ?? '', tag, modifiedMs: Math.round(Number(match[1]) * 1000) }];
    });
}

/** The base path of the dead-man switch a file belongs to (`…-deadman-<n>`), if it belongs to one. */
export function deadManBaseOf(path: string): string | undefined {
  return /^(\/tmp\/\.gameday-[a-z0-9]+-deadman-\d+)\.(lease|lease\.fired|revert|watch|pid|log)$/.exec(
    path,
  )?.[1];
}

/** Whether a base path is the tag's n-th switch path, as the workflow names them (deadManSwitchFor). */
export const isDeadManBase = (base: string, tag: string): boolean =>
  base.startsWith(taggedPath(tag, 'deadman-')) && /-deadman-\d+$/.test(base);

const switchSuffixes = ['.lease', '.lease.fired', '.revert', '.watch', '.pid', '.log'];

// Fires a switch as its watcher would: renaming the lease claims it atomically (a watcher still running loses
// the race and exits), then the switch's own recorded revert runs. A switch that had fired already is not
// fired twice. Its argument is the switch's base path, checked by the executor like any other.
const fireScript = new TrustedScript(
  'gameday-janitor-fire',
  `base=$1
if mv -f "$base.lease" "$base.lease.fired" 2>/dev/null; then
  if [ -e "$base.revert" ]; then sh "$base.revert"; echo "reverted by the janitor"; else echo "no revert recorded"; fi
elif [ -e "$base.lease.fired" ]; then echo "the host had already reverted it"
else echo "disarmed already"; fi`,
);

/**
 * Removes a dead-man switch whose run no history explains: fired as its watcher would, then verified (its
 * watcher gone) and its files removed. Returns what the switch did.
 */
export async function fireAndRemoveDeadMan(exec: Executor, base: string): Promise<string> {
  if (deadManBaseOf(`${base}.lease`) !== base) throw new Error(`${base} is not a dead-man switch path`);
  const log = ((await exec.readFile(`${base}.log`)) ?? '').trim();
  const fired = await exec.runScript(fireScript, [base], { timeoutMs: 60_000 });
  if (fired.exitCode !== 0)
    throw new Error(`firing ${base} on ${exec.host}: ${fired.stderr || fired.stdout}`);
  // The watcher checks its lease every second and exits once it is gone.
  const pid = Number.parseInt((await exec.readFile(`${base}.pid`)) ?? '', 10);
  for (let waited = 0; Number.isInteger(pid) && waited < 5000; waited += 250) {
    const cmdline = await exec.readFile(`/proc/${pid}/cmdline`);
    if (!cmdline?.includes(`${base}.watch`)) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await runChecked(exec, ['rm', '-f', '--', ...switchSuffixes.map((suffix) => base + suffix)], {
    what: `rm ${base}.*`,
  });
  const left = (await taggedFiles(exec)).filter((file) => deadManBaseOf(file.path) === base);
  if (left.length > 0) throw new Error(`still there after removal: ${left.map((f) => f.path).join(', ')}`);
  const said = fired.stdout.trim();
  return log.includes('reverted') ? `${said}; its log: ${log}` : said;
}

/** The tag of the armed switch whose revert deletes gameday's root qdisc on this interface, if one names it. */
export async function ownerOfRoot(
  exec: Executor,
  files: readonly TaggedFile[],
  iface: string,
): Promise<string | undefined> {
  const leases = new Set(files.map((file) => file.path).filter((path) => path.endsWith('.lease')));
  for (const file of files) {
    const base = deadManBaseOf(file.path);
    // A switch that fired or was disarmed has no lease: its revert ran, it owns nothing any more.
    if (!file.path.endsWith('.revert') || base === undefined || !leases.has(`${base}.lease`)) continue;
    const revert = ((await exec.readFile(file.path)) ?? '').replace(/'/g, '');
    if (revert.includes(`tc qdisc del dev ${iface} root handle ${gamedayHandle}`)) return file.tag;
  }
  return undefined;
}
