import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { searchAttributes, type PauseScheduleInput, type StartBlockersInput } from '../workflows/definitions';

/**
 * One kind of reason a scheduled game day must not start, each a sentence naming what is unclean. Sources are
 * asked one after another and all their reasons are reported. The janitor adds its own (janitor/startBlocker.ts:
 * leftovers of finished runs on this plan's targets), bound to the worker's executors in activities/index.ts.
 */
export type StartBlockerSource = (input: StartBlockersInput, client: Client) => Promise<readonly string[]>;

/** Running game days of the same plan whose rollback needs a person: more chaos would pile on their faults. */
export const rollbackStuckRuns: StartBlockerSource = async (input, client) => {
  // Plan names are identifiers (lower-case letters, digits, "-"): nothing to escape in the query.
  const query =
    `${searchAttributes.plan.name} = '${input.plan}' AND ${searchAttributes.phase.name} = 'rollback-stuck' ` +
    `AND ExecutionStatus = 'Running'`;
  const stuck: string[] = [];
  for await (const execution of client.workflow.list({ query, pageSize: 20 })) {
    if (execution.workflowId !== input.workflowId) stuck.push(execution.workflowId);
    if (stuck.length >= 5) break;
  }
  return stuck.map((id) => `earlier run ${id} of ${input.plan} is still rollback-stuck`);
};

export const startBlockerSources: readonly StartBlockerSource[] = [rollbackStuckRuns];

/**
 * Every reason not to start, asked of Temporal's visibility with the worker's own client. A question that cannot
 * be answered is itself a reason: an unattended run does not gamble on a clean system.
 */
export async function findStartBlockers(
  input: StartBlockersInput,
  sources: readonly StartBlockerSource[] = startBlockerSources,
): Promise<string[]> {
  const client = Context.current().client;
  const reasons: string[] = [];
  for (const source of sources) {
    try {
      reasons.push(...(await source(input, client)));
    } catch (error) {
      reasons.push(`could not ask whether the system is clean: ${(error as Error).message}`);
    }
  }
  return reasons;
}

/** Pauses the schedule that started a run that did not pass (its pauseOnFailure), with the worker's client. */
export async function pauseSchedule(input: PauseScheduleInput): Promise<void> {
  await Context.current().client.schedule.getHandle(input.scheduleId).pause(input.note);
}
