import { z } from 'zod';
import { containerName } from '../../plan/safeValues';
import { ExecutorError, runOrNotFound, type Executor } from '../executors/executor';
import { FaultUserError, type FaultContext, type FaultKind } from './contract';

// What the container fault kinds share: finding a container with `docker inspect` (JSON, parsed here: no Go
// templates, whose braces an SSH executor would refuse to send) and recording its state before a fault.
// Every kind calls plain `docker`, so it talks to the host's default daemon socket, as an operator would.

export const containerField = containerName.describe('name (or id) of a Docker container on the host');

/** The state of one container as `docker inspect` reports it. */
export interface ContainerState {
  /** The full container id: what the fault acts on once prepare has found it. */
  readonly id: string;
  readonly name: string;
  /** created, running, paused, restarting, removing, exited or dead. */
  readonly status: string;
  readonly running: boolean;
  readonly paused: boolean;
  /** The pid of its first process on the host (0 when it is not running). */
  readonly pid: number;
  readonly startedAt: string;
}

/** What a container fault records before it changes anything: the container, by id, and its state then. */
export type SavedContainer = ContainerState;

interface InspectOutput {
  readonly Id?: string;
  readonly Name?: string;
  readonly State?: {
    readonly Status?: string;
    readonly Running?: boolean;
    readonly Paused?: boolean;
    readonly Pid?: number;
    readonly StartedAt?: string;
  };
}

/** The state in `docker inspect --type container X` output (an array of one object). */
export function parseInspect(json: string): ContainerState | undefined {
  const [found] = JSON.parse(json) as InspectOutput[];
  if (found?.Id === undefined || found.State === undefined) return undefined;
  return {
    id: found.Id,
    name: (found.Name ?? '').replace(/^\//, ''),
    status: found.State.Status ?? 'unknown',
    running: found.State.Running === true,
    paused: found.State.Paused === true,
    pid: found.State.Pid ?? 0,
    startedAt: found.State.StartedAt ?? '',
  };
}

/** The short id Docker shows, for messages. */
export const shortId = (id: string) => id.slice(0, 12);

function dockerMissing(host: string, evidence: string): FaultUserError {
  return new FaultUserError(`docker is not installed on host ${host} (${evidence.trim()})`);
}

/**
 * Runs `docker …` and returns its result. A missing docker command is the plan author's problem
 * (FaultUserError); a daemon that does not answer is not (ExecutorError: retried, so a rollback waits for a
 * restarting dockerd instead of giving up).
 */
export async function docker(
  exec: Executor,
  args: readonly string[],
  timeoutMs?: number,
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const result = await runOrNotFound(exec, ['docker', ...args], timeoutMs === undefined ? {} : { timeoutMs });
  // Not installed, read the same way on every executor (the shell's 127).
  if (result.exitCode === 127) throw dockerMissing(exec.host, result.stderr);
  if (
    result.exitCode !== 0 &&
    /Cannot connect to the Docker daemon|docker daemon running/i.test(result.stderr)
  ) {
    throw new ExecutorError(`the Docker daemon on ${exec.host} does not answer: ${result.stderr.trim()}`);
  }
  return result;
}

/** The container's state, or undefined when no container has that name or id. */
export async function inspectContainer(
  exec: Executor,
  nameOrId: string,
): Promise<ContainerState | undefined> {
  const result = await docker(exec, ['inspect', '--type', 'container', nameOrId]);
  if (result.exitCode !== 0) {
    if (/No such container/i.test(result.stderr)) return undefined;
    throw new ExecutorError(`docker inspect ${nameOrId} on ${exec.host}: ${result.stderr.trim()}`);
  }
  return parseInspect(result.stdout);
}

/** The container a plan names, which must exist; its state is what rollback restores. */
export async function recordContainer(ctx: FaultContext, name: string): Promise<SavedContainer> {
  const found = await inspectContainer(ctx.exec, name);
  if (found === undefined) {
    throw new FaultUserError(
      `no container ${name} on host ${ctx.target.name}: docker inspect found none (is it named differently?)`,
    );
  }
  return found;
}

/** The recorded container now, by id: undefined when it was removed (a new one with its name is not it). */
export function currentState(ctx: FaultContext, saved: SavedContainer): Promise<ContainerState | undefined> {
  return inspectContainer(ctx.exec, saved.id);
}

/** The container as found when a fault must act on it; gone since prepare is an error the plan must see. */
export async function requireCurrent(ctx: FaultContext, saved: SavedContainer): Promise<ContainerState> {
  const now = await currentState(ctx, saved);
  if (now === undefined) {
    throw new FaultUserError(
      `container ${saved.name} (${shortId(saved.id)}) on host ${ctx.target.name} was removed after its state was recorded`,
    );
  }
  return now;
}

/** Runs a docker command that changes the container; its failure is an error with docker's own words. */
export async function dockerChecked(
  ctx: FaultContext,
  args: readonly string[],
  timeoutMs?: number,
): Promise<void> {
  await ctx.run(['docker', ...args], {
    what: `docker ${args.join(' ')}`,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
}

/** "web (3f2a…): running", for verify details. */
export function describeState(saved: SavedContainer, now: ContainerState | undefined): string {
  const which = `${saved.name} (${shortId(saved.id)})`;
  return now === undefined ? `${which}: removed` : `${which}: ${now.status}`;
}

/** A container fault must find the container running (not paused) to have anything to do. */
export function requireRunning(ctx: FaultContext, saved: SavedContainer, what: string): void {
  if (!saved.running || saved.paused) {
    throw new FaultUserError(
      `container ${saved.name} on host ${ctx.target.name} was ${saved.status} before the fault: ` +
        `there is nothing to ${what}; it is left ${saved.status}`,
    );
  }
}

/** Seconds docker stop/restart wait after SIGTERM before SIGKILL. */
export const stopTimeout = z
  .number()
  .int()
  .min(0)
  .max(300)
  .default(10)
  .describe('seconds to wait after SIGTERM before docker sends SIGKILL');

/** How long a docker command that waits `seconds` for a container may take, with margin. */
export const waitingTimeoutMs = (seconds: number) => (seconds + 30) * 1000;

/**
 * Verify, rollback and host revert of a fault that leaves the container not running (stop, kill): active while
 * it does not run; rollback starts it again if it ran when recorded. Removed since: nothing to start. Stopped
 * before the game day: left stopped, as recorded.
 */
export const startedAgain: Pick<FaultKind<unknown, SavedContainer>, 'verify' | 'rollback' | 'hostRevert'> = {
  async verify(ctx, _p, saved) {
    const now = await currentState(ctx, saved);
    return {
      active: saved.running && now !== undefined && !now.running,
      detail: describeState(saved, now),
    };
  },

  async rollback(ctx, _p, saved) {
    const now = await currentState(ctx, saved);
    if (now === undefined || now.running || !saved.running) return;
    await dockerChecked(ctx, ['start', saved.id]);
  },

  // `docker start` of a running container succeeds and does nothing.
  hostRevert: (_p, saved) => (saved.running ? [['docker', 'start', saved.id]] : []),
};
