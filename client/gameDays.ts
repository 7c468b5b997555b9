import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { ApplicationFailure } from '@temporalio/common';
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
  type WorkflowStartOptions,
} from '@temporalio/client';
import { resolvePlan } from '../activities/resolve';
import type { Plan } from '../plan/schema';
import { TemporalUnreachable, temporalUnreachable } from '../worker/connectionFailure';
import { resolveConnection, type ResolvedConnection, type TemporalTarget } from '../worker/connectionOptions';
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
import { dryRunMarkdown, renderDryRun } from './render';
import { requireWorker } from './workerPresence';

export interface Temporal {
  readonly client: Client;
  readonly connection: Connection;
  readonly namespace: string;
  readonly address: string;
  close(): Promise<void>;
}

/** Connects as flags, TEMPORAL_* variables and the Temporal profile say; failing that, exit 6 with one line. */
export async function connect(target: TemporalTarget): Promise<Temporal> {
  let resolved: ResolvedConnection;
  try {
    resolved = resolveConnection(target);
  } catch (error) {
    throw error instanceof TemporalUnreachable ? new CliError(error.message) : error;
  }
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...resolved.options, connectTimeout: 5000 });
  } catch (error) {
    throw new CliError((await temporalUnreachable(resolved, error)).message);
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

/** Runs `body` with a connection to Temporal, closed afterwards whatever happens. */
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

/**
 * What the UI shows of a game day, the same whether `gameday run` or a schedule starts it: the plan and phase
 * search attributes, the memo (digest, owner, who started it) and the plain-words summary and details.
 */
export function gameDayStartOptions(
  plan: Plan,
  planDigest: string,
  startedBy: { readonly tag?: string; readonly by: string; readonly seed?: number },
): Pick<
  WorkflowStartOptions,
  'typedSearchAttributes' | 'memo' | 'workflowTaskTimeout' | 'staticSummary' | 'staticDetails'
> {
  const faults = plan.faults.map((f) => f.name).join(', ');
  return {
    typedSearchAttributes: [
      { key: searchAttributes.plan, value: plan.metadata.name },
      { key: searchAttributes.phase, value: 'resolve' },
    ],
    memo: {
      planDigest,
      owner: plan.metadata.owner,
      ...(startedBy.tag === undefined ? {} : { tag: startedBy.tag }),
      startedBy: startedBy.by,
    },
    // A workflow task takes milliseconds; if the worker dies in the middle of one, the standby should not
    // wait the default 10 s to take over (worker SIGKILL → rolled back went from ~10.4 s to ~3.5 s).
    workflowTaskTimeout: '3s',
    staticSummary: `${plan.metadata.name}: ${faults} (owner ${plan.metadata.owner})`,
    // The UI renders the details as Markdown: the dry run's lines as lists, not one run-on paragraph.
    staticDetails: dryRunMarkdown(describePlan(plan, startedBy.seed)),
  };
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
  const shown = gameDayStartOptions(plan, planDigest, {
    tag: input.tag,
    by: userInfo().username,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
  });
  const base = workflowIdFor(plan);
  for (let attempt = 0; ; attempt++) {
    // Two runs of one plan in the same second get a short suffix instead of a conflict.
    const workflowId = attempt === 0 ? base : `${base}-${randomBytes(2).toString('hex')}`;
    try {
      return await temporal.client.workflow.start<typeof gameDay>(gameDayWorkflowType, {
        taskQueue: options.taskQueue,
        workflowId,
        args: [input],
        ...shown,
      });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError && attempt < 3) continue;
      throw unregisteredSearchAttributes(error) ?? error;
    }
  }
}

/** A clearer error when the cluster lacks gameday's search attributes; undefined for any other error. */
export function unregisteredSearchAttributes(error: unknown): CliError | undefined {
  if (error instanceof Error && /search attribute .* (is not defined|not found)/i.test(error.message)) {
    return new CliError(
      `${error.message}: register gameday's search attributes with \`gameday setup\` (or start \`gameday dev\`).`,
    );
  }
  return undefined;
}

export function handleFor(temporal: Temporal, workflowId: string): WorkflowHandle<typeof gameDay> {
  return temporal.client.workflow.getHandle<typeof gameDay>(workflowId);
}

/** A query no worker answers within this long is given up (Temporal would keep it waiting). */
const queryTimeoutMs = 15_000;

/**
 * The report of a finished game day, or the live state of a running one. A running one's state needs a worker
 * to answer: with none polling its task queue, or none answering in time, this says so instead of waiting.
 */
export async function currentReport(
  temporal: Temporal,
  handle: WorkflowHandle<typeof gameDay>,
): Promise<GameDayReport> {
  const description = await handle.describe();
  if (description.status.name === 'COMPLETED') return handle.result();
  if (description.status.name !== 'RUNNING') {
    throw new CliError(
      `game day ${handle.workflowId} ended as ${description.status.name.toLowerCase()}: it has no report ` +
        `(see its history in the Temporal UI; \`gameday janitor\` finds what it may have left)`,
    );
  }
  await requireWorker(temporal, description.taskQueue, handle.workflowId, 'its live state cannot be asked');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new CliError(
            `no gameday worker answered for game day ${handle.workflowId} within ${queryTimeoutMs / 1000} s ` +
              `(task queue ${description.taskQueue}); try again, or look at it in the Temporal UI`,
          ),
        ),
      queryTimeoutMs,
    );
  });
  try {
    return await Promise.race([handle.query(stateQuery), late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function abortGameDay(temporal: Temporal, workflowId: string, reason: string): Promise<string> {
  const handle = handleFor(temporal, workflowId);
  const description = await handle.describe();
  if (description.status.name !== 'RUNNING') {
    const outcome = description.typedSearchAttributes.get(searchAttributes.outcome);
    throw new CliError(
      `game day ${workflowId} has already ended (${description.status.name.toLowerCase()}` +
        `${outcome ? `, outcome ${outcome}` : ''}): there is nothing to abort`,
      exitCodes.usage,
    );
  }
  await requireWorker(
    temporal,
    description.taskQueue,
    workflowId,
    'nothing can take the abort and roll back',
  );
  try {
    const { phase } = await handle.executeUpdate(abortUpdate, {
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
