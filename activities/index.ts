import type { ProbeSpec } from '../plan/schema';
import type { GameDayCheckContext } from '../workflows/definitions';
import { evaluate, probeEnvironment } from './checks/probe';
import type { ActivityDeps } from './deps';
import { collectIoEvidence } from './diagnosis/activity';
import {
  injectFault,
  injectFaultOnTargets,
  prepareFault,
  prepareFaultOnTargets,
  rollBackFaultsInOrder,
  rollbackFault,
  verifyFault,
} from './faultSteps';
import { keepLeases } from './leases';
import { awaitRecovery, observe } from './observe';
import { runRecoveryAction } from './recoveryActions';
import { resolvePlanOnWorker, resolveZoneGroups } from './resolve';
import { withHeartbeats } from './heartbeat';
import { notify } from './notify';
import { findStartBlockers, pauseSchedule, startBlockerSources } from './startBlockers';
import {
  findJanitorFindings,
  revertDeadManSwitch,
  revertClusterLeftover,
  revertHostFault,
  type ClusterRevertInput,
  type HostFaultRevertInput,
  type HostRevertInput,
} from './janitor/activities';
import { janitorLeftovers } from './janitor/startBlocker';
import type { JanitorScope } from '../workflows/janitorDefinitions';

export type { ActivityDeps } from './deps';

/** All activities, bound to injected clients: the worker passes its configured ones, tests pass real servers. */
export function createActivities(deps: ActivityDeps) {
  return {
    resolvePlan: (input: Parameters<typeof resolvePlanOnWorker>[1]) => resolvePlanOnWorker(deps, input),
    resolveZoneGroups: (input: Parameters<typeof resolveZoneGroups>[1]) => resolveZoneGroups(deps, input),
    runCheck: (check: ProbeSpec, gameDay?: GameDayCheckContext) =>
      withHeartbeats((ctx) =>
        evaluate(
          probeEnvironment(deps, { signal: ctx.cancellationSignal, ...(gameDay ? { gameDay } : {}) }),
          check,
        ),
      ),
    observe: (input: Parameters<typeof observe>[1]) => observe(deps, input),
    awaitRecovery: (input: Parameters<typeof awaitRecovery>[1]) => awaitRecovery(deps, input),
    prepareFault: (input: Parameters<typeof prepareFault>[1]) => prepareFault(deps, input),
    injectFault: (input: Parameters<typeof injectFault>[1]) => injectFault(deps, input),
    verifyFault: (input: Parameters<typeof verifyFault>[1]) => verifyFault(deps, input),
    prepareFaultOnTargets: (input: Parameters<typeof prepareFaultOnTargets>[1]) =>
      prepareFaultOnTargets(deps, input),
    injectFaultOnTargets: (input: Parameters<typeof injectFaultOnTargets>[1]) =>
      injectFaultOnTargets(deps, input),
    rollbackFault: (input: Parameters<typeof rollbackFault>[1]) => rollbackFault(deps, input),
    rollBackFaultsInOrder: (input: Parameters<typeof rollBackFaultsInOrder>[1]) =>
      rollBackFaultsInOrder(deps, input),
    keepLeases: (input: Parameters<typeof keepLeases>[1]) => keepLeases(deps, input),
    collectIoEvidence: (input: Parameters<typeof collectIoEvidence>[1]) => collectIoEvidence(deps, input),
    runRecoveryAction: (input: Parameters<typeof runRecoveryAction>[1]) => runRecoveryAction(deps, input),
    findStartBlockers: (input: Parameters<typeof findStartBlockers>[0]) =>
      findStartBlockers(input, [...startBlockerSources, janitorLeftovers(deps)]),
    findJanitorFindings: (scope: JanitorScope) => findJanitorFindings(deps, scope),
    revertDeadManSwitch: (input: HostRevertInput) => revertDeadManSwitch(deps, input),
    revertHostFault: (input: HostFaultRevertInput) => revertHostFault(deps, input),
    revertClusterLeftover: (input: ClusterRevertInput) => revertClusterLeftover(deps, input),
    pauseSchedule: (input: Parameters<typeof pauseSchedule>[0]) => pauseSchedule(input),
    notify: (input: Parameters<typeof notify>[1]) => notify(deps, input),
  };
}
