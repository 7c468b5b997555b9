import type { DeadManSwitch } from '../workflows/definitions';
import { runChecked, type Executor } from './executors/executor';
import { shellCommand } from './executors/shellQuote';
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

async function watcherRunning(exec: Executor, sw: DeadManSwitch): Promise<boolean> {
  const pid = Number.parseInt((await exec.readFile(`${sw.base}.pid`)) ?? '', 10);
  if (!Number.isInteger(pid)) return false;
  const cmdline = await exec.readFile(`/proc/${pid}/cmdline`);
  return cmdline?.includes(`${sw.base}.watch`) ?? false;
}

/**
 * Arms the switch before the fault is injected: writes the revert, renews the lease and starts the watcher
 * unless one is already watching (a retried inject arms once).
 */
export async function armDeadMan(
  exec: Executor,
  sw: DeadManSwitch,
  commands: readonly RevertCommand[],
): Promise<void> {
  const renewed = `${new Date().toISOString()} armed\n`;
  // A running watcher's script is left alone: rewriting it while its shell is still starting would truncate
  // what the shell is about to read, and the watcher would exit at once.
  if (await watcherRunning(exec, sw)) {
    await exec.writeFile(leaseOf(sw), renewed);
    return;
  }
  await exec.writeFile(`${sw.base}.revert`, revertScript(commands));
  await exec.writeFile(`${sw.base}.watch`, watcher);
  await exec.writeFile(leaseOf(sw), renewed);
  const pid = await exec.startDetached(
    ['sh', `${sw.base}.watch`, leaseOf(sw), leaseSeconds(sw), `${sw.base}.revert`],
    { cwd: '/', logPath: `${sw.base}.log` },
  );
  await exec.writeFile(`${sw.base}.pid`, `${pid}\n`);
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

export interface Disarmed {
  /** Set when the host had already reverted the fault itself: what its watcher logged. */
  readonly firedLog?: string;
}

/** Disarms the switch after a verified rollback and removes its files; idempotent. */
export async function disarmDeadMan(exec: Executor, sw: DeadManSwitch): Promise<Disarmed> {
  const fired = (await exec.readFile(`${leaseOf(sw)}.fired`)) !== undefined;
  const log = fired ? ((await exec.readFile(`${sw.base}.log`)) ?? '').trim() : undefined;
  // The watcher exits within a second of its lease disappearing.
  const files = ['.lease', '.lease.fired', '.revert', '.watch', '.pid', '.log'].map((s) => sw.base + s);
  await runChecked(exec, ['rm', '-f', '--', ...files], { what: `rm ${sw.base}.*` });
  return fired ? { firedLog: log } : {};
}
