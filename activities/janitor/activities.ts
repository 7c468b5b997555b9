import type { HostTarget } from '../../plan/targets';
import type { JanitorFinding, JanitorScope } from '../../workflows/janitorDefinitions';
import type { ActivityDeps } from '../deps';
import { heartbeat, withHeartbeats } from '../heartbeat';
import { findLeftovers } from './findings';
import { fireAndRemoveDeadMan } from './hostFiles';

/** The janitor's look: what finished runs left, asked of Temporal with the worker's own client. */
export function findJanitorFindings(deps: ActivityDeps, scope: JanitorScope): Promise<JanitorFinding[]> {
  return withHeartbeats((ctx) => findLeftovers(deps, ctx.client, scope, () => heartbeat(ctx)));
}

export interface HostRevertInput {
  readonly target: HostTarget;
  readonly base: string;
}

/** Fires a dead-man switch no history explains, verifies it is gone, removes its files; what it did. */
export function revertDeadManSwitch(deps: ActivityDeps, input: HostRevertInput): Promise<string> {
  return withHeartbeats(() => fireAndRemoveDeadMan(deps.executorFor(input.target), input.base));
}
