import { diagnoseIo } from '../../activities/diagnosis/collect';
import { DiagnosisUserError, focusOnContainer, focusOnPid } from '../../activities/diagnosis/focus';
import type { Executor } from '../../activities/executors/executor';
import { LocalExecutor } from '../../activities/executors/local';
import { FaultUserError } from '../../activities/faults/contract';
import { duration } from '../../plan/duration';
import { containerName } from '../../plan/safeValues';
import { SshInventory } from '../../worker/sshInventory';
import { createLogger } from '../../worker/activityDeps';
import { CliError, exitCodes } from '../exitCodes';
import type { GlobalFlags } from '../options';
import { renderIoEvidence } from '../renderIo';
import { workerConfigFor } from './servers';

export interface DiagnoseIoFlags extends GlobalFlags {
  readonly host: string;
  readonly container?: string;
  readonly pid?: string;
  readonly interval?: string;
  readonly json?: boolean;
  readonly config?: string;
}

const intervalField = duration({ min: '200ms', max: '60s' });

function usage(message: string): CliError {
  return new CliError(message, exitCodes.usage);
}

/**
 * `gameday diagnose io --host H`: the iotop → iostat → /proc/PID/fd → df walk on one host, run directly from
 * this machine (the worker configuration's SSH inventory, or `local`), not through Temporal.
 */
export async function diagnoseIoCommand(flags: DiagnoseIoFlags): Promise<number> {
  if (flags.container !== undefined && flags.pid !== undefined) {
    throw usage('give either --container or --pid, not both');
  }
  const interval = intervalField.safeParse(flags.interval ?? '2s');
  if (!interval.success) throw usage(`--interval ${interval.error.issues[0]?.message ?? 'is invalid'}`);
  const pid = flags.pid === undefined ? undefined : Number(flags.pid);
  if (pid !== undefined && !(Number.isInteger(pid) && pid > 0)) {
    throw usage(`--pid must be a process id (a positive whole number), not ${flags.pid}`);
  }
  if (flags.container !== undefined && !containerName.safeParse(flags.container).success) {
    throw usage(`--container ${flags.container} is not a Docker container name or id`);
  }

  const config = await workerConfigFor(flags).catch((error: Error) => {
    throw usage(error.message);
  });
  let inventory: SshInventory | undefined;
  let exec: Executor;
  if (flags.host === 'local') {
    exec = new LocalExecutor();
  } else {
    inventory = new SshInventory(config.ssh, createLogger(config.logLevel));
    if (!inventory.hostNames.includes(flags.host)) {
      const known = inventory.hostNames.join(', ') || 'none';
      throw usage(
        `host ${flags.host} is not in the SSH inventory of the worker configuration (hosts: ${known}); ` +
          'pass --config FILE (or GAMEDAY_WORKER_CONFIG), or --host local for this machine',
      );
    }
    exec = inventory.executor(flags.host);
  }
  try {
    const focus =
      pid !== undefined
        ? await focusOnPid(exec, pid)
        : flags.container !== undefined
          ? await focusOnContainer(exec, flags.container)
          : undefined;
    const evidence = await diagnoseIo(exec, { intervalMs: interval.data, ...(focus ? { focus } : {}) });
    console.log(flags.json ? JSON.stringify(evidence, null, 2) : renderIoEvidence(evidence, '#'));
    return exitCodes.passed;
  } catch (error) {
    if (error instanceof DiagnosisUserError) throw usage(error.message);
    // No docker on the host, no cgroup hierarchy to read a container's processes from.
    if (error instanceof FaultUserError) throw usage(error.message);
    throw new CliError(`cannot diagnose IO on ${flags.host}: ${(error as Error).message}`, exitCodes.error);
  } finally {
    await inventory?.close();
  }
}
