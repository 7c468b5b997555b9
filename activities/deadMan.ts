import { EventEmitter } from 'node:events';
import type { DeadManSwitch } from '../workflows/definitions';
import { ExecutorError, runChecked, type Executor } from './executors/executor';
import { runStep, type CommandStep } from './executors/hostCommand';
import { shellCommand, TrustedScript } from './executors/shellQuote';
import type { RevertCommand } from './faults/contract';

/**
 * The host-side dead-man switch (README, "What is guaranteed"). With every fault, the host gets a lease file and a small watcher
 * that runs the fault's revert commands when the lease has not been renewed for its length: a host cut off
 * from the orchestrator (or outliving every worker) heals itself. Workers renew leases while faults are in
 * place; a verified rollback disarms the switch by deleting the lease.
 *
 * Files, all starting with the fault step's base path (`/tmp/.gameday-<tag>-deadman-<step>`), so they are
 * found by the run's tag: `.lease` (its mtime is the last renewal), `.revert` (the commands), `.watch` (the watcher), `.pid`,
 * `.log`, and `.lease.fired` once the switch has fired.
 */
// A fixed script (no plan value is ever part of it); its arguments are the lease, its length and the revert.
// Renaming the lease claims it atomically, so a disarm racing with the expiry leaves exactly one winner.
const watcher = `#!/bin/sh
# gameday dead-man switch: reverts a fault when its lease ($1) is older than $2 seconds.
lease=$1 seconds=$2 revert=$3
while [ -e "$lease" ]; do
  touched=$(stat -c %Y "$lease" 2>/dev/null) || exit 0
  if [ $(( $(date +%s) - touched )) -ge "$seconds" ]; then
    mv -f "$lease" "$lease.fired" 2>/dev/null || exit 0
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) lease not renewed for $seconds s: reverting"
    sh "$revert"
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) reverted"
    exit 0
  fi
  sleep 1
done
`;

/** The revert as a script: every command runs whatever the ones before it did. */
export function revertScript(commands: readonly RevertCommand[]): string {
  const lines = commands.map(
    (argv, i) => `${shellCommand(argv)} || echo "revert command ${i + 1} exited $?"`,
  );
  return `#!/bin/sh\n# gameday host-side revert\n${lines.join('\n')}\n`;
}

const leaseOf = (sw: DeadManSwitch) => `${sw.base}.lease`;

/** Lease length in whole seconds as the watcher counts it (never below 1). */
const leaseSeconds = (sw: DeadManSwitch) => String(Math.max(1, Math.ceil(sw.leaseMs / 1000)));

/**
 * Arms a switch in one round trip: a fixed script (the watcher is part of its text) that takes the step's base
 * path and the lease length, and reads the revert script on its standard input. A watcher already running for
 * the base is left alone and only its lease renewed (a retried inject arms once): rewriting its script while
 * its shell is still starting would truncate what the shell is about to read, and the watcher would exit.
 */
const armScript = new TrustedScript(
  'gameday-arm-deadman',
  `base=$1 seconds=$2
stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }
pid=$(cat "$base.pid" 2>/dev/null)
if [ -n "$pid" ] && grep -qF "$base.watch" "/proc/$pid/cmdline" 2>/dev/null; then
  cat >/dev/null
  echo "$(stamp) armed" >"$base.lease" || exit 1
  echo renewed
  exit 0
fi
cat >"$base.revert" || exit 1
cat >"$base.watch" <<'GAMEDAY_WATCHER' || exit 1
${watcher}GAMEDAY_WATCHER
echo "$(stamp) armed" >"$base.lease" || exit 1
cd / || exit 1
setsid sh "$base.watch" "$base.lease" "$seconds" "$base.revert" </dev/null >>"$base.log" 2>&1 &
echo $! >"$base.pid" || exit 1
echo started $!
`,
);

/**
 * Arming the switch as a step (`runInOrder` sends it with the inject): writes the revert, renews the lease and
 * starts the watcher unless one is already watching (issue 14: a fault's set-up takes the fewest round trips).
 */
export function armStep(
  sw: DeadManSwitch,
  commands: readonly RevertCommand[],
  host: string,
): CommandStep<void> {
  return {
    command: { script: armScript, args: [sw.base, leaseSeconds(sw)], input: revertScript(commands) },
    judge(result) {
      if (result.exitCode === 0 && /^(renewed|started \d+)$/m.test(result.stdout)) return;
      const said = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-3).join(' ⏎ ');
      throw new ExecutorError(
        `could not arm the dead-man switch ${sw.base} on ${host} (exit ${result.exitCode}): ${said}`,
      );
    },
  };
}

/** Arms the switch on its own, in one round trip, before the fault is injected. */
export function armDeadMan(
  exec: Executor,
  sw: DeadManSwitch,
  commands: readonly RevertCommand[],
): Promise<void> {
  return runStep(exec, armStep(sw, commands, exec.host));
}

/** Renews the leases on one host: `touch -c` never re-creates a lease that a rollback has removed. */
export async function renewLeases(
  exec: Executor,
  switches: readonly DeadManSwitch[],
  timeoutMs: number,
): Promise<void> {
  if (switches.length === 0) return;
  await runChecked(exec, ['touch', '-c', '--', ...switches.map(leaseOf)], { timeoutMs });
}

/**
 * Says, within this worker process, which switches a verified rollback has disarmed (by base path): the lease
 * keeper of those switches stops by itself once none of its own is left, instead of waiting for its cancel to
 * arrive with a heartbeat (up to a second later). A keeper on another worker still stops when cancelled.
 */
export const disarmedSwitches = new EventEmitter<{ disarmed: [base: string] }>();
disarmedSwitches.setMaxListeners(0); // one listener per running lease keeper, however many game days run

export interface Disarmed {
  /** Set when the host had already reverted the fault itself: what its watcher logged. */
  readonly firedLog?: string;
}

const disarmScript = new TrustedScript(
  'gameday-disarm-deadman',
  `base=$1
if [ -e "$base.lease.fired" ]; then echo fired; cat "$base.log" 2>/dev/null; echo; fi
rm -f -- "$base.lease" "$base.lease.fired" "$base.revert" "$base.watch" "$base.pid" "$base.log" || exit 1
echo disarmed
`,
);

/**
 * Disarms the switch after a verified rollback and removes its files, saying what the watcher logged if it
 * had fired; idempotent, one round trip. The watcher exits within a second of its lease disappearing.
 */
export async function disarmDeadMan(exec: Executor, sw: DeadManSwitch): Promise<Disarmed> {
  const result = await exec.runScript(disarmScript, [sw.base]);
  if (result.exitCode !== 0 || !/(^|\n)disarmed\n?$/.test(result.stdout)) {
    const said = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-3).join(' ⏎ ');
    throw new ExecutorError(
      `could not disarm the dead-man switch ${sw.base} on ${exec.host} (exit ${result.exitCode}): ${said}`,
    );
  }
  disarmedSwitches.emit('disarmed', sw.base);
  if (!result.stdout.startsWith('fired\n')) return {};
  return {
    firedLog: result.stdout
      .slice('fired\n'.length)
      .replace(/disarmed\n?$/, '')
      .trim(),
  };
}
