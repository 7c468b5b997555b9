import { WorkflowNotFoundError, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { gameDayWorkflowType, searchAttributes } from '../../workflows/definitions';
import type { LeftoverRun } from '../../workflows/janitorDefinitions';
import { unrolledSteps, type UnrolledStep } from './recordedSteps';

/** Enough for months of nightly runs; the newest are read first. */
const maxRunsRead = 500;

/** A closed game day with the steps its history says may still be in place. */
export interface ClosedRunSteps {
  readonly run: LeftoverRun;
  readonly steps: readonly UnrolledStep[];
}

/** What Temporal knows about game days: whose tags are still open, and what closed ones left unrolled. */
export interface RunsOfRecord {
  /** Tags of running game days: nothing carrying one of them is ever touched. */
  readonly openTags: ReadonlySet<string>;
  readonly closed: readonly ClosedRunSteps[];
  /** The run behind a tag, for files whose steps history does not explain. */
  readonly byTag: ReadonlyMap<string, LeftoverRun>;
}

const tagOf = (execution: WorkflowExecutionInfo): string | undefined => {
  const tag = execution.memo?.tag;
  return typeof tag === 'string' ? tag : undefined;
};

const statusWord = (execution: WorkflowExecutionInfo): string =>
  execution.status.name.toLowerCase().replace(/_/g, '-');

function leftoverRun(execution: WorkflowExecutionInfo): LeftoverRun {
  const plan = execution.typedSearchAttributes.get(searchAttributes.plan);
  return {
    workflowId: execution.workflowId,
    runId: execution.runId,
    status: statusWord(execution),
    ...(plan === undefined ? {} : { plan }),
    ...(execution.closeTime ? { closedAt: execution.closeTime.toISOString() } : {}),
  };
}

/**
 * Asks visibility for every game day and reads the histories of those that closed without finishing their
 * workflow code (terminated, timed out, failed, cancelled): those are the runs whose rollback may never have
 * run. A completed game day rolled back everything (its rollback retries until it succeeds), so its history is
 * not read; its tag still tells a host's files whose they are.
 */
export async function runsOfRecord(client: Client, onProgress: () => void): Promise<RunsOfRecord> {
  const openTags = new Set<string>();
  const byTag = new Map<string, LeftoverRun>();
  const closed: ClosedRunSteps[] = [];
  const converter = client.options.loadedDataConverter.payloadConverter;
  let read = 0;
  const query = `WorkflowType = '${gameDayWorkflowType}'`;
  for await (const execution of client.workflow.list({ query, pageSize: 100 })) {
    onProgress();
    const tag = tagOf(execution);
    if (execution.status.name === 'RUNNING') {
      if (tag !== undefined) openTags.add(tag);
      continue;
    }
    if (++read > maxRunsRead) continue;
    const run = leftoverRun(execution);
    if (tag !== undefined && !byTag.has(tag)) byTag.set(tag, run);
    if (execution.status.name === 'COMPLETED' || execution.status.name === 'CONTINUED_AS_NEW') continue;
    const history = await client.workflow
      .getHandle(execution.workflowId, execution.runId)
      .fetchHistory()
      .catch((error: unknown) => {
        // Deleted since visibility listed it (retention, `temporal workflow delete`): what it left is found on
        // the hosts by its names, like any run whose history is gone.
        if (error instanceof WorkflowNotFoundError) return undefined;
        throw error;
      });
    if (history === undefined) continue;
    const steps = unrolledSteps(history.events ?? [], converter);
    if (steps.length > 0) closed.push({ run, steps });
  }
  return { openTags, closed, byTag };
}
