import type { HostFaultLeftover } from '../../workflows/janitorDefinitions';
import type { Executor } from '../executors/executor';
import { TrustedScript } from '../executors/shellQuote';
import { faultHash } from '../faults/context';
import { stressLeftover } from '../faults/stress';
import { gamedayHandle, interfaceName, type Qdisc } from '../faults/trafficControl';

/** A fault found in place on a host by its gameday name, before anything decides whether it is a leftover. */
export interface FoundHostFault {
  /** The run tag its name carries; a tc root carries none (whose it is comes from the switches' reverts). */
  readonly tag?: string;
  /** Plain words: "iptables chain GD-… (fault partition, INPUT) with 3 rule(s)". */
  readonly what: string;
  /** How its kind removes it; absent when its name does not say enough (then a person looks). */
  readonly leftover?: HostFaultLeftover;
}

export interface HostFaultScan {
  readonly found: readonly FoundHostFault[];
  /** What could not be asked (a tool that failed, not one that is absent): never taken as "clean". */
  readonly errors: readonly string[];
}

// One round trip, a fixed script. A tool that is not installed cannot hold a gameday fault (every kind needs
// its tool to inject): its section is left out. A tool that is there and fails is reported, never "clean".
const scanScript = new TrustedScript(
  'gameday-janitor-scan',
  `if command -v iptables >/dev/null 2>&1; then
  echo '@@ iptables'; iptables -w -S 2>&1 || echo "@@ failed iptables $?"
fi
if command -v tc >/dev/null 2>&1; then
  echo '@@ tc'; tc -j qdisc show 2>&1 || echo "@@ failed tc $?"
fi
echo '@@ stress-ng'; pgrep -a -f '^stress-ng --temp-path '; rc=$?
[ $rc -le 1 ] || echo "@@ failed pgrep $rc"
exit 0`,
);

const chainPattern = /^-N (GD-([a-z0-9]+)-([0-9a-f]{6})-([IO]))$/;
const commentPattern = /--comment "?gameday:([a-z0-9]+):([a-z0-9][-a-z0-9]*)"?/;

/** gameday's chains in `iptables -S` output, each named back to its run and fault through its comment. */
export function gamedayChains(listing: string): FoundHostFault[] {
  const lines = listing.split('\n').map((line) => line.trim());
  const faultsOfTag = new Map<string, Set<string>>();
  for (const line of lines) {
    const [, tag, fault] = commentPattern.exec(line) ?? [];
    if (tag !== undefined && fault !== undefined) {
      faultsOfTag.set(tag, (faultsOfTag.get(tag) ?? new Set()).add(fault));
    }
  }
  return lines.flatMap((line): FoundHostFault[] => {
    const [, chain, tag, hash, direction] = chainPattern.exec(line) ?? [];
    if (chain === undefined || tag === undefined || hash === undefined) return [];
    const hook = direction === 'I' ? 'INPUT' : 'OUTPUT';
    const rules = lines.filter((other) => other.startsWith(`-A ${chain} `)).length;
    const fault = [...(faultsOfTag.get(tag) ?? [])].find((name) => faultHash(name) === hash);
    if (fault === undefined) {
      // Only an empty chain with no jump has no comment left to name its fault: nothing passes through it.
      return [{ tag, what: `iptables chain ${chain} (${hook}) with ${rules} rule(s) and no jump to it` }];
    }
    return [
      {
        tag,
        what: `iptables chain ${chain} (fault ${fault}, ${hook}) with ${rules} rule(s)`,
        leftover: { type: 'iptables-chain', tag, fault, hook },
      },
    ];
  });
}

/** Root qdiscs with gameday's fixed handle in `tc -j qdisc show` output (every interface). */
export function gamedayRoots(tcJson: string): FoundHostFault[] {
  const qdiscs = JSON.parse(tcJson) as (Qdisc & { dev?: string })[];
  return qdiscs.flatMap((qdisc): FoundHostFault[] => {
    if (qdisc.root !== true || qdisc.handle !== gamedayHandle || typeof qdisc.dev !== 'string') return [];
    const what = `root qdisc ${qdisc.kind} ${gamedayHandle} on ${qdisc.dev}`;
    // The same rule as a plan's interface: a name outside it is listed, never sent back to the host.
    if (!interfaceName.safeParse(qdisc.dev).success) return [{ what }];
    return [{ what, leftover: { type: 'tc-root', iface: qdisc.dev } }];
  });
}

/** stress-ng processes a gameday stress fault started (`pgrep -a` lines), one per fault directory. */
export function gamedayStress(pgrepLines: string): FoundHostFault[] {
  const byDir = new Map<string, FoundHostFault>();
  for (const line of pgrepLines.split('\n')) {
    const [pid, ...argv] = line.trim().split(/\s+/);
    const saved = argv[2] === undefined ? undefined : stressLeftover(argv[2], argv);
    const tag = saved && /\/\.gameday-([a-z0-9]+)-stress-/.exec(saved.dir)?.[1];
    if (saved === undefined || tag === undefined || byDir.has(saved.dir)) continue;
    byDir.set(saved.dir, {
      tag,
      what: `stress-ng pid ${pid} (${argv.slice(3).join(' ')})`,
      leftover: { type: 'stress', tag, dir: saved.dir, argv: saved.argv },
    });
  }
  return [...byDir.values()];
}

const parsers: Record<string, (text: string) => FoundHostFault[]> = {
  iptables: gamedayChains,
  tc: gamedayRoots,
  'stress-ng': gamedayStress,
};

/** Looks for gameday's faults on a host by their names: iptables chains, the tc handle, stress-ng. */
export async function scanHostFaults(exec: Executor): Promise<HostFaultScan> {
  const result = await exec.runScript(scanScript, [], { timeoutMs: 30_000 });
  if (result.exitCode !== 0) {
    return {
      found: [],
      errors: [`scanning ${exec.host} exited ${result.exitCode}: ${result.stderr.trim()}`],
    };
  }
  const sections = result.stdout
    .split(/^@@ /m)
    .slice(1)
    .map((section) => {
      const [head = '', ...rest] = section.split('\n');
      return { head: head.trim(), text: rest.join('\n') };
    });
  const found: FoundHostFault[] = [];
  const errors: string[] = [];
  sections.forEach(({ head, text }, i) => {
    const failed = /^failed (\S+) (\d+)$/.exec(sections[i + 1]?.head ?? '');
    const parse = parsers[head];
    if (parse === undefined) return;
    if (failed) {
      // The tool's own words (its section's text) say why: a person can act on them.
      errors.push(`${head} on ${exec.host} exited ${failed[2]}: ${text.trim().replace(/\s+/g, ' ')}`);
      return;
    }
    try {
      found.push(...parse(text));
    } catch (error) {
      errors.push(`${head} on ${exec.host} printed what gameday cannot read: ${String(error)}`);
    }
  });
  return { found, errors: errors.map((error) => error.slice(0, 300)) };
}
