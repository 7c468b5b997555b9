import type { Executor } from '../executors/executor';
import { cgroupOf, findHierarchy } from '../faults/cgroups';
import { inspectContainer, shortId } from '../faults/containers';
import type { IoFocus } from './evidence';

/** A diagnosis the user cannot get as asked (no such process or container): the message says what to do. */
export class DiagnosisUserError extends Error {
  override readonly name = 'DiagnosisUserError';
}

export async function focusOnPid(exec: Executor, pid: number): Promise<IoFocus> {
  if (!Number.isInteger(pid) || pid <= 0)
    throw new DiagnosisUserError(`--pid must be a process id, not ${pid}`);
  if ((await exec.readFile(`/proc/${pid}/stat`)) === undefined) {
    throw new DiagnosisUserError(`no process ${pid} on host ${exec.host}`);
  }
  return { kind: 'pid', value: String(pid), pids: [pid] };
}

/**
 * The processes of a Docker container: `docker inspect` gives its first process, /proc/PID/cgroup its cgroup
 * (the `pids` hierarchy, or cgroup v2's unified one), whose cgroup.procs lists every process in it.
 */
export async function focusOnContainer(exec: Executor, name: string): Promise<IoFocus> {
  const container = await inspectContainer(exec, name);
  if (container === undefined) throw new DiagnosisUserError(`no container ${name} on host ${exec.host}`);
  if (!container.running || container.pid <= 0) {
    throw new DiagnosisUserError(
      `container ${name} (${shortId(container.id)}) on host ${exec.host} is ${container.status}: it has no processes`,
    );
  }
  const hierarchy = await findHierarchy(exec, 'pids', 'pids');
  const path = cgroupOf((await exec.readFile(`/proc/${container.pid}/cgroup`)) ?? '', hierarchy, 'pids');
  const procs =
    path === undefined ? undefined : await exec.readFile(`${hierarchy.mount}${path}/cgroup.procs`);
  const pids = (procs ?? '')
    .split('\n')
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 0);
  // Without a readable cgroup the first process is still the container's.
  return { kind: 'container', value: name, pids: pids.length > 0 ? pids : [container.pid] };
}
