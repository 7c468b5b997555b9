import { ExecutorError, runOrNotFound } from '../executors/executor';
import { runStep, type CommandStep } from '../executors/hostCommand';
import { TrustedScript } from '../executors/shellQuote';
import { faultHash } from './context';
import { FaultUserError, type FaultContext, type RevertCommand } from './contract';

/** What names a fault's chains: the run's tag and the fault's name in the plan. */
type ChainOwner = Pick<FaultContext, 'tag' | 'fault'>;

/** The hooks a gameday chain is jumped to from; one chain per hook keeps directions apart. */
export type Hook = 'INPUT' | 'OUTPUT';

/**
 * `GD-<tag>-<fault hash>-<I|O>`: unique per run, fault and direction, within iptables' 28-character limit,
 * and found from the run's tag alone.
 */
export function chainName(ctx: ChainOwner, hook: Hook): string {
  return `GD-${ctx.tag}-${faultHash(ctx.fault)}-${hook === 'INPUT' ? 'I' : 'O'}`;
}

export function comment(ctx: ChainOwner): string[] {
  return ['-m', 'comment', '--comment', `gameday:${ctx.tag}:${ctx.fault}`];
}

export async function requireIptables(ctx: FaultContext): Promise<void> {
  // A host that could not be asked fails with that line and is retried: only its own answer says "not usable".
  const result = await runOrNotFound(ctx.exec, ['iptables', '-w', '-S', 'INPUT']);
  if (result.exitCode !== 0) {
    const reason = result.stderr.trim();
    throw new FaultUserError(
      `iptables is not usable on ${ctx.target.name}: ${reason} (needs root and iptables)`,
    );
  }
}

/** One hook's chain and its rules, as a fault installs it. */
export interface ChainRules {
  readonly hook: Hook;
  readonly rules: readonly (readonly string[])[];
}

/**
 * One token of iptables-restore's input: its lines are split at whitespace and read quotes, so a token may
 * hold neither. Every token comes from validated plan values and fixed words; this is the last line of defence.
 */
const restoreToken = /^[A-Za-z0-9_.,/:=@+%!-]+$/;

function restoreLine(words: readonly string[]): string {
  const bad = words.find((word) => !restoreToken.test(word));
  if (bad !== undefined) throw new ExecutorError(`refusing iptables-restore token ${JSON.stringify(bad)}`);
  return words.join(' ');
}

/**
 * Installs a fault's chains and their jumps in one round trip and one atomic commit: the chains (created, or
 * emptied when a retried inject finds them) and their rules come on standard input, and the script adds a jump
 * only for the hooks that have none yet, then hands the whole to `iptables-restore --noflush`, which applies it
 * all at once or not at all. So every rule of the fault becomes active at the same instant (spread 0).
 * Arguments: HOOK CHAIN COMMENT, for each chain.
 */
const installChainsScript = new TrustedScript(
  'gameday-install-chains',
  `body=$(cat) || exit 1
jumps=
while [ $# -ge 3 ]; do
  iptables -w -C "$1" -j "$2" -m comment --comment "$3" 2>/dev/null ||
    jumps="$jumps
-I $1 -j $2 -m comment --comment $3"
  shift 3
done
printf '*filter\n%s\n%s\nCOMMIT\n' "$body" "$jumps" | iptables-restore -w --noflush
`,
);

/**
 * Removes every jump to each chain, then each chain, in one round trip; a chain already gone is fine. Prints
 * `present CHAIN` for a chain still there afterwards. Arguments: HOOK CHAIN COMMENT, for each chain.
 */
const removeChainsScript = new TrustedScript(
  'gameday-remove-chains',
  `while [ $# -ge 3 ]; do
  i=0
  while [ $i -lt 100 ] && iptables -w -C "$1" -j "$2" -m comment --comment "$3" 2>/dev/null; do
    iptables -w -D "$1" -j "$2" -m comment --comment "$3"
    i=$((i + 1))
  done
  iptables -w -F "$2" 2>/dev/null
  iptables -w -X "$2" 2>/dev/null
  if iptables -w -S "$2" >/dev/null 2>&1; then echo "present $2"; fi
  shift 3
done
`,
);

const chainArguments = (ctx: ChainOwner, hooks: readonly Hook[]): string[] =>
  hooks.flatMap((hook) => [hook, chainName(ctx, hook), `gameday:${ctx.tag}:${ctx.fault}`]);

/** Where a fault's chains are: its run's tag and name, and the host's name for what is said. */
type ChainPlace = ChainOwner & { readonly target: { readonly name: string } };

/** Creates (or empties) each chain, fills it with its rules, and makes sure exactly one jump leads to it. */
export function installChainsStep(place: ChainPlace, chains: readonly ChainRules[]): CommandStep<void> {
  const body = chains.flatMap(({ hook, rules }) => {
    const chain = chainName(place, hook);
    return [
      `${restoreLine([`:${chain}`, '-'])} [0:0]`, // a chain with policy "-" and zeroed counters
      ...rules.map((rule) => restoreLine(['-A', chain, ...rule, ...comment(place)])),
    ];
  });
  const hooks = chains.map((chain) => chain.hook);
  return {
    command: {
      script: installChainsScript,
      args: chainArguments(place, hooks),
      input: `${body.join('\n')}\n`,
    },
    judge(result) {
      if (result.exitCode !== 0) {
        throw new ExecutorError(
          `iptables-restore on ${place.target.name} exited ${result.exitCode}: ${result.stderr.trim()}`,
        );
      }
    },
  };
}

/** Removes every jump to the chains and the chains themselves; chains that are already gone are fine. */
export function removeChainsStep(place: ChainPlace, hooks: readonly Hook[]): CommandStep<void> {
  return {
    command: { script: removeChainsScript, args: chainArguments(place, hooks) },
    judge(result) {
      const present = result.stdout
        .split('\n')
        .filter((line) => line.startsWith('present '))
        .map((line) => line.slice('present '.length));
      if (result.exitCode !== 0) {
        throw new ExecutorError(
          `removing chains on ${place.target.name} exited ${result.exitCode}: ${result.stderr.trim()}`,
        );
      }
      if (present.length > 0) {
        throw new ExecutorError(`chain(s) ${present.join(', ')} still present on ${place.target.name}`);
      }
    },
  };
}

export function removeChains(ctx: FaultContext, hooks: readonly Hook[]): Promise<void> {
  return runStep(ctx.exec, removeChainsStep(ctx, hooks));
}

/** Removes every jump to the chain and the chain itself; a chain that is already gone is fine. */
export function removeChain(ctx: FaultContext, hook: Hook): Promise<void> {
  return removeChains(ctx, [hook]);
}

/** The host-side revert of `removeChain`: drop the jump, flush and delete the chain (each harmless when gone). */
export function chainRevertCommands(ctx: ChainOwner, hook: Hook): RevertCommand[] {
  const chain = chainName(ctx, hook);
  return [
    ['iptables', '-w', '-D', hook, '-j', chain, ...comment(ctx)],
    ['iptables', '-w', '-F', chain],
    ['iptables', '-w', '-X', chain],
  ];
}

/**
 * Prints `rules CHAIN N` (N rules of the chain's own) when the chain exists and its jump is in place, else
 * `none CHAIN`; one round trip for every chain. Arguments: HOOK CHAIN COMMENT, for each chain.
 */
const countRulesScript = new TrustedScript(
  'gameday-count-chain-rules',
  `while [ $# -ge 3 ]; do
  if iptables -w -C "$1" -j "$2" -m comment --comment "$3" 2>/dev/null && listed=$(iptables -w -S "$2" 2>/dev/null); then
    echo "rules $2 $(printf '%s\\n' "$listed" | grep -c '^-A ')"
  else
    echo "none $2"
  fi
  shift 3
done
`,
);

/** Per hook, how many rules its chain holds, or undefined when there is no such chain or no jump to it. */
export function chainRulesRead(
  place: ChainPlace,
  hooks: readonly Hook[],
): CommandStep<(number | undefined)[]> {
  return {
    command: { script: countRulesScript, args: chainArguments(place, hooks) },
    judge(result) {
      if (result.exitCode !== 0) {
        throw new ExecutorError(
          `reading chains on ${place.target.name} exited ${result.exitCode}: ${result.stderr.trim()}`,
        );
      }
      const counts = new Map(
        result.stdout
          .split('\n')
          .map((line) => /^rules (\S+) (\d+)$/.exec(line))
          .flatMap((match) => (match ? [[match[1], Number(match[2])] as const] : [])),
      );
      return hooks.map((hook) => counts.get(chainName(place, hook)));
    },
  };
}
