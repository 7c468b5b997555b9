import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { ApplicationFailure } from '@temporalio/common';
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { resolvePlan } from '../activities/resolve';
import type { Plan } from '../plan/schema';
import { resolveConnection, type TemporalTarget } from '../worker/connectionOptions';
import {
  abortUpdate,
  gameDayWorkflowType,
  searchAttributes,
  stateQuery,
  type GameDayInput,
  type GameDayReport,
  type ResolvedPlan,
} from '../workflows/definitions';
import type { gameDay } from '../workflows/gameDay';
import { CliError, exitCodes } from './exitCodes';
import { renderDryRun } from './render';

export interface Temporal {
  readonly client: Client;
  readonly connection: Connection;
  readonly namespace: string;
  readonly address: string;
  close(): Promise<void>;
}

export async function connect(target: TemporalTarget): Promise<Temporal> {
  const resolved = resolveConnection(target);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...resolved.options, connectTimeout: 5000 });
  } catch (error) {
    throw new CliError(
      `cannot reach Temporal at ${resolved.address}: ${(error as Error).message}. ` +
        'Start one with `gameday dev`, or pass --address / set TEMPORAL_ADDRESS.',
    );
  }
  const client = new Client({ connection, namespace: resolved.namespace });
  return {
    client,
    connection,
    namespace: resolved.namespace,
    address: resolved.address,
    close: () => connection.close(),
  };
}

/** Connects, runs the body, and closes the connection whatever happens. */
export async function withTemporal<T>(
  target: TemporalTarget,
  body: (temporal: Temporal) => Promise<T>,
): Promise<T> {
  const temporal = await connect(target);
  try {
    return await body(temporal);
  } finally {
    await temporal.close();
  }
}

/** `gameday-<plan>-<UTC timestamp>`, e.g. gameday-demo-pause-20261122T021222Z. */
export function workflowIdFor(plan: Plan, at = new Date()): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `gameday-${plan.metadata.name}-${stamp}`;
}

export function newTag(): string {
  return randomBytes(4).toString('hex');
}

/**
 * Plain-words plan for the UI, computed as the dry run would (the worker still enforces its allow-lists). A plan
 * that resolving refuses is a usage error in one line, as an invalid plan is.
 */
export function describePlan(plan: Plan, seed = 0): string {
  let resolved: ResolvedPlan;
  try {
    resolved = resolvePlan({ allowLocalTargets: true }, { plan, seed, tag: 'dry-run' });
  } catch (error) {
    if (error instanceof ApplicationFailure && error.type === 'PlanRefused') {
      throw new CliError(`plan ${plan.metadata.name} cannot be resolved: ${error.message}`, exitCodes.usage);
    }
    throw error;
  }
  return renderDryRun(plan, resolved, seed);
}

export interface StartOptions {
  readonly taskQueue: string;
  readonly seed?: number;
}

export async function startGameDay(
  temporal: Temporal,
  plan: Plan,
  planDigest: string,
  options: StartOptions,
): Promise<WorkflowHandle<typeof gameDay>> {
  const input: GameDayInput = {
    plan,
    planDigest,
    tag: newTag(),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
  };
  const faults = plan.faults.map((f) => f.name).join(', ');
  const base = workflowIdFor(plan);
  for (let attempt = 0; ; attempt++) {
    // Two runs of one plan in the same second get a short suffix instead of a conflict.
    const workflowId = attempt === 0 ? base : `${base}-${randomBytes(2).toString('hex')}`;
    try {
      return await temporal.client.workflow.start<typeof gameDay>(gameDayWorkflowType, {
        taskQueue: options.taskQueue,
        workflowId,
        args: [input],
        typedSearchAttributes: [
          { key: searchAttributes.plan, value: plan.metadata.name },
          { key: searchAttributes.phase, value: 'resolve' },
        ],
        memo: { planDigest, owner: plan.metadata.owner, tag: input.tag, startedBy: userInfo().username },
        // A workflow task takes milliseconds; if the worker dies in the middle of one, the standby should not
        // wait the default 10 s to take over (worker SIGKILL → rolled back went from ~10.4 s to ~3.5 s).
        workflowTaskTimeout: '3s',
        staticSummary: `${plan.metadata.name}: ${faults} (owner ${plan.metadata.owner})`,
        staticDetails: describePlan(plan, options.seed),
      });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError && attempt < 3) continue;
      if (error instanceof Error && /search attribute .* (is not defined|not found)/i.test(error.message)) {
        throw new CliError(
          `${error.message}: register gameday's search attributes with \`gameday setup\` (or start \`gameday dev\`).`,
        );
      }
      throw error;
    }
  }
}

export function handleFor(temporal: Temporal, workflowId: string): WorkflowHandle<typeof gameDay> {
  return temporal.client.workflow.getHandle<typeof gameDay>(workflowId);
}

/** The report of a finished game day, or the live state of a running one (needs a worker to answer). */
export async function currentReport(handle: WorkflowHandle<typeof gameDay>): Promise<GameDayReport> {
  const description = await handle.describe();
  if (description.status.name === 'COMPLETED') return handle.result();
  if (description.status.name !== 'RUNNING') {
    throw new CliError(`game day ${handle.workflowId} ended as ${description.status.name}`);
  }
  return handle.query(stateQuery);
}

export async function abortGameDay(temporal: Temporal, workflowId: string, reason: string): Promise<string> {
  try {
    const { phase } = await handleFor(temporal, workflowId).executeUpdate(abortUpdate, {
      args: [{ reason, by: userInfo().username }],
    });
    return phase;
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) {
      throw new CliError(`abort refused: ${error.cause?.message ?? error.message}`, exitCodes.failed);
    }
    throw error;
  }
}
