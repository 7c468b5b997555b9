import { Context } from '@temporalio/activity';
import type { HostTarget, KubernetesTarget } from '../../plan/targets';
import type {
  ClusterLeftover,
  HostFaultLeftover,
  JanitorFinding,
  JanitorScope,
} from '../../workflows/janitorDefinitions';
import type { ActivityDeps } from '../deps';
import { heartbeat, withHeartbeats } from '../heartbeat';
import { defaultDeleteTimeoutMs, removeExperiment } from '../faults/chaosMesh';
import { faultContext, kubernetesFaultContext, resumedProgress, withProgress } from '../faults/context';
import { uncordon } from '../faults/nodeCordon';
import { scaleBack } from '../faults/scale';
import { chaosMeshKinds } from '../kubernetes/chaosMeshSpec';
import { podExec } from '../kubernetes/podExec';
import { stillThere } from './clusterFaults';
import { removeChain } from '../faults/iptablesChains';
import { stopStress, stressLeftover } from '../faults/stress';
import { gamedayHandle, readRootQdisc, removeGamedayRoot } from '../faults/trafficControl';
import { findLeftovers } from './findings';
import { fireAndRemoveDeadMan, ownerOfRoot, taggedFiles } from './hostFiles';
import { scanHostFaults } from './hostFaults';

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

export interface HostFaultRevertInput {
  readonly target: HostTarget;
  readonly leftover: HostFaultLeftover;
}

const sameLeftover = (a: HostFaultLeftover, b: HostFaultLeftover): boolean =>
  JSON.stringify(a) === JSON.stringify(b);

/**
 * Removes a fault found in place by its name alone, with its kind's own rollback helper (the one its rollback
 * runs), then looks again: what is still there is an error, and the next sweep lists it again. Removing what
 * is already gone succeeds.
 */
export function revertHostFault(deps: ActivityDeps, input: HostFaultRevertInput): Promise<string> {
  return withHeartbeats(async (activity) => {
    const { target, leftover } = input;
    const exec = deps.executorFor(target);
    const ctx = faultContext({
      fault: leftover.type === 'iptables-chain' ? leftover.fault : 'janitor',
      tag: leftover.type === 'tc-root' ? 'janitor' : leftover.tag,
      heartbeat: (details?: unknown) => heartbeat(activity, details),
      sleep: (ms: number) => activity.sleep(ms),
      exec,
      target,
      protectedPids: target.kind === 'local' ? deps.protectedPids : [],
    });
    let done: string;
    if (leftover.type === 'iptables-chain') {
      await removeChain(ctx, leftover.hook);
      done = `removed the iptables chain of fault ${leftover.fault} (${leftover.hook}) and its jump`;
    } else if (leftover.type === 'tc-root') {
      // A run may have taken the interface since the sweep looked: its armed switch names it, and it is that run's.
      const owner = await ownerOfRoot(exec, await taggedFiles(exec), leftover.iface);
      if (owner !== undefined) {
        throw new Error(
          `the root qdisc on ${leftover.iface} now belongs to run ${owner} (its armed switch): left alone`,
        );
      }
      await removeGamedayRoot(ctx, leftover.iface);
      const root = await readRootQdisc(ctx, leftover.iface).catch(() => undefined);
      done = `deleted the root qdisc ${gamedayHandle} on ${leftover.iface}; now ${root ? `${root.kind} ${root.handle}` : 'none'}`;
    } else {
      const saved = stressLeftover(leftover.dir, leftover.argv);
      if (saved === undefined) throw new Error(`${leftover.dir} is not a gameday stress directory`);
      await stopStress(ctx, saved);
      done = `stopped stress-ng in ${leftover.dir} and its workers`;
    }
    const scan = await scanHostFaults(exec);
    if (scan.errors.length > 0) throw new Error(`could not look again: ${scan.errors.join('; ')}`);
    const still = scan.found.find((found) => found.leftover && sameLeftover(found.leftover, leftover));
    if (still) throw new Error(`still there after removal: ${still.what}`);
    return done;
  });
}

export interface ClusterRevertInput {
  readonly context: string;
  readonly leftover: ClusterLeftover;
}

/** How long a workload scaled back by the janitor may take to have its replicas Ready (the kind's is the plan's). */
const scaleBackReadyMs = 120_000;

/** The target a kind's helper would have been handed for this leftover (the janitor's group: no plan has it). */
function clusterTarget(context: string, leftover: ClusterLeftover): KubernetesTarget {
  const base = { group: 'janitor', kind: 'kubernetes', context } as const;
  if (leftover.type === 'chaos-mesh') {
    return { ...base, name: leftover.namespace, namespace: leftover.namespace, resource: 'namespace' };
  }
  if (leftover.type === 'cordon') {
    return { ...base, name: leftover.node, resource: 'node', object: leftover.node, uid: leftover.uid };
  }
  const { namespace, name, resource, uid } = leftover;
  return { ...base, name: `${namespace}/${resource}/${name}`, namespace, resource, object: name, uid };
}

/**
 * Removes what a Kubernetes kind left in a cluster, found by its label or annotations alone, with the kind's own
 * rollback helper (the one its rollback runs), as the run with that tag: the Chaos Mesh experiment deleted and
 * waited on until gone, the node uncordoned, the workload scaled back. Then reads the object again: still there
 * is an error, and the next sweep lists it again. Removing what is already gone succeeds.
 */
export function revertClusterLeftover(deps: ActivityDeps, input: ClusterRevertInput): Promise<string> {
  // The progress (notes, an experiment's injected pods) goes with every heartbeat, the background ones too.
  const progress = resumedProgress(Context.current().info.heartbeatDetails);
  return withHeartbeats(
    async (activity) => {
      const { context, leftover } = input;
      const clusters = deps.kubernetes;
      const policy = clusters?.policy(context);
      if (clusters === undefined || policy === undefined) {
        throw new Error(`this worker has no Kubernetes context "${context}"`);
      }
      const kube = clusters.client(context);
      const ctx = kubernetesFaultContext({
        fault: 'janitor',
        tag: leftover.tag,
        heartbeat: () => heartbeat(activity, progress),
        sleep: (ms: number) => activity.sleep(ms),
        kube,
        target: clusterTarget(context, leftover),
        policy,
        windowMs: undefined,
        execInPod: podExec(kube),
        progress,
      });
      let done: string;
      if (leftover.type === 'chaos-mesh') {
        const kind = chaosMeshKinds.find((known) => known === leftover.kind);
        if (kind === undefined) throw new Error(`${leftover.kind} is not a Chaos Mesh kind gameday creates`);
        await removeExperiment(
          ctx,
          { kind, namespace: leftover.namespace, name: leftover.name },
          {
            deleteTimeoutMs: defaultDeleteTimeoutMs,
            ...(leftover.volumePath === undefined ? {} : { volumePath: leftover.volumePath }),
            // The janitor restarts no pod: a leftover __chaosfs__ directory is a note for a person.
            restartPodsWithLeftovers: false,
          },
        );
        done = `deleted Chaos Mesh ${kind} ${leftover.namespace}/${leftover.name} and saw it gone`;
      } else if (leftover.type === 'cordon') {
        await uncordon(ctx, { node: leftover.node, uid: leftover.uid, wasUnschedulable: false });
        done = `uncordoned node ${leftover.node} and removed gameday's annotations`;
      } else {
        const { resource, namespace, name, uid, replicas } = leftover;
        await scaleBack(ctx, { resource, namespace, name, uid, replicas }, scaleBackReadyMs);
        done = `scaled ${resource} ${namespace}/${name} back to ${replicas} replicas (Ready) and removed gameday's annotations`;
      }
      const still = await stillThere(context, kube, leftover);
      if (still) throw new Error(`still there after removal: ${still.what}`);
      return withProgress(`${done} (context ${context})`, progress);
    },
    () => progress,
  );
}
