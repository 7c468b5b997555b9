import { ApplicationFailure } from '@temporalio/common';
import { selectionPlaceholder } from '../plan/kubernetes';
import type { FaultSpec, Plan } from '../plan/schema';
import { selectTargets } from '../plan/selection';
import { viaOfHost, type KubernetesTarget, type Target } from '../plan/targets';
import type {
  FaultStep,
  ResolvedPlan,
  ZoneGroup,
  ZoneResolveInput,
  ZoneResolved,
  ZonesResolved,
} from '../workflows/definitions';
import { actionScope, describeRecoveryAction } from '../plan/recoveryActions';
import { describeProbe, takeBaselines } from './checks/probe';
import type { ActivityDeps } from './deps';
import { isKubernetesKind, type AnyFaultKind } from './faults/contract';
import { describeStep, faultKindFor } from './faults/inContainer';
import { KubernetesError } from './kubernetes/client';
import {
  allowedClient,
  allowedContext,
  resolveKubernetesGroups,
  type KubernetesGroup,
  type KubernetesGroups,
} from './kubernetes/resolveGroups';

/**
 * Resolving reads only the allow-lists, so a dry run can use it without a worker; a dry run passes no SSH
 * inventory (`sshHosts` undefined) and so does not check host names.
 */
export type ResolveDeps = Pick<ActivityDeps, 'allowLocalTargets'> &
  Partial<Pick<ActivityDeps, 'sshHosts' | 'unverifiedSshHosts' | 'prometheus' | 'kubernetes' | 'webhooks'>>;

export interface ResolveInput {
  readonly plan: Plan;
  readonly seed: number;
  readonly tag: string;
  /**
   * The groups with `via`, as their zones' workers resolved them (this worker cannot reach them); absent in a
   * plan without `via`, and in a dry run, which resolves every group alike.
   */
  readonly zones?: ZonesResolved;
}

export function refuse(message: string): never {
  throw ApplicationFailure.create({ type: 'PlanRefused', message, nonRetryable: true });
}

/**
 * Turns target groups into concrete targets, enforcing the worker's allow-lists. Nothing is changed. Kubernetes
 * groups come listed (`kubernetes`, by the worker); without that (a dry run) each stands for its selection.
 */
function resolveGroup(
  deps: ResolveDeps,
  name: string,
  group: Plan['targets'][string],
  kubernetes: KubernetesGroups | undefined,
  zones?: ZonesResolved,
): Target[] {
  const fromZone = group.via === undefined ? undefined : zones?.groups[name];
  if (fromZone !== undefined) return [...fromZone.targets];
  if (group.kubernetes !== undefined) {
    const listed = kubernetes?.get(name);
    if (listed !== undefined) return [...listed.targets];
    const selection = group.kubernetes;
    return [
      {
        group: name,
        kind: 'kubernetes',
        name: selectionPlaceholder(selection),
        context: selection.context,
        ...(selection.namespace === undefined ? {} : { namespace: selection.namespace }),
        resource: selection.kind,
      },
    ];
  }
  if (group.local !== undefined) {
    if (!deps.allowLocalTargets) {
      refuse(
        `target group "${name}" acts on the worker's own machine, which this worker does not allow ` +
          '(set local.enabled: true in the worker configuration)',
      );
    }
    return [{ group: name, kind: 'local', name: 'local' }];
  }
  if (group.ssh !== undefined) {
    const inventory = deps.sshHosts;
    const unknown =
      inventory === undefined ? [] : group.ssh.hosts.filter((host) => !inventory.includes(host));
    if (unknown.length > 0) {
      refuse(
        `target group "${name}" names ${unknown.join(', ')}, not in this worker's SSH inventory ` +
          `(known: ${inventory?.join(', ') || 'none'}); add ${unknown.length === 1 ? 'it' : 'them'} to ssh.hosts ` +
          'in the worker configuration',
      );
    }
    return group.ssh.hosts.map((host) => ({ group: name, kind: 'ssh' as const, name: host }));
  }
  return refuse(`target group "${name}" has no target kind this worker knows`);
}

/**
 * A group's targets as a dry run sees them, checked against no worker: its SSH hosts, its local target, or its
 * Kubernetes selection as one placeholder.
 */
export function uncheckedTargets(name: string, group: Plan['targets'][string]): Target[] {
  return resolveGroup({ allowLocalTargets: true }, name, group, undefined);
}

/** Whether some fault on the group acts on its objects (not only on its namespace). */
export function groupNeedsObjects(plan: Plan, group: string): boolean {
  return plan.faults.some((fault) => {
    const kind = faultKindFor(fault);
    return fault.target === group && !(isKubernetesKind(kind) && kind.kubernetes.scope === 'namespace');
  });
}

/**
 * Kubernetes checks and recovery actions name contexts and namespaces too: held to the same allow-lists as
 * target groups. Actions change objects, so their namespaces must also have opted in where the context says so.
 */
async function enforceKubernetesUses(deps: ResolveDeps, plan: Plan): Promise<void> {
  for (const check of [...plan.checks, ...plan.observation.guardrails]) {
    const selection = check.kubernetes;
    if (selection === undefined) continue;
    allowedContext(deps.kubernetes, { who: `check ${check.name}`, verb: 'reads' }, selection, refuse);
  }
  for (const [i, action] of (plan.recovery.actions ?? []).entries()) {
    const user = { who: `recovery action ${i + 1}`, verb: 'acts in' } as const;
    await allowedClient(deps.kubernetes, user, actionScope(action), refuse);
  }
}

/**
 * The worker's resolution: Kubernetes groups listed from their clusters, then `resolvePlan`; and the
 * baselines checks compare with later (restart counts), read now, before anything is injected.
 */
export async function resolvePlanOnWorker(deps: ResolveDeps, input: ResolveInput): Promise<ResolvedPlan> {
  const { zones } = input;
  // Groups with `via` were listed by their zones' workers: only the others are listed here.
  const here = zones === undefined ? input.plan : groupsOf(input.plan, (via) => via === undefined);
  const kubernetes = new Map(await listKubernetesGroups(deps, here, input.plan));
  for (const [name, listed] of Object.entries(zones?.groups ?? {})) {
    if (input.plan.targets[name]?.kubernetes !== undefined) kubernetes.set(name, kubernetesGroupOf(listed));
  }
  await enforceKubernetesUses(deps, input.plan);
  for (const name of input.plan.notify ?? []) {
    if (deps.webhooks?.webhook(name) === undefined) {
      const has = deps.webhooks?.names ?? [];
      refuse(
        `notify names webhook "${name}", which this worker does not have ` +
          (has.length > 0 ? `(it has: ${has.join(', ')})` : '(it has none: see notifications.webhooks)'),
      );
    }
  }
  const resolved = resolvePlan(deps, input, kubernetes);
  const { plan } = input;
  const baselines = await takeBaselines({ ...(deps.kubernetes ? { kubernetes: deps.kubernetes } : {}) }, [
    ...plan.checks,
    ...plan.observation.guardrails,
  ]);
  return { ...resolved, ...(Object.keys(baselines).length > 0 ? { baselines } : {}) };
}

/** The plan with only the target groups whose `via` passes `keep`. */
function groupsOf(plan: Plan, keep: (via: string | undefined) => boolean): Plan {
  return {
    ...plan,
    targets: Object.fromEntries(Object.entries(plan.targets).filter(([, g]) => keep(g.via))),
  };
}

/** Kubernetes groups of `listed` (a part of `plan`), listed from this worker's clusters. */
async function listKubernetesGroups(deps: ResolveDeps, listed: Plan, plan: Plan): Promise<KubernetesGroups> {
  try {
    return await resolveKubernetesGroups(
      deps.kubernetes,
      listed,
      (group) => groupNeedsObjects(plan, group),
      refuse,
    );
  } catch (error) {
    // A permission the worker lacks (or a selector the API rejects) is said once, not retried.
    if (error instanceof KubernetesError && error.refused) refuse(error.message);
    throw error;
  }
}

function kubernetesGroupOf(listed: ZoneGroup): KubernetesGroup {
  const isKubernetes = (target: Target | undefined): target is KubernetesTarget =>
    target?.kind === 'kubernetes';
  return {
    targets: listed.targets.filter(isKubernetes),
    wholeNamespace: listed.wholeNamespace === true,
    ...(isKubernetes(listed.namespace) ? { namespace: listed.namespace } : {}),
  };
}

/**
 * A zone's worker resolves the groups whose `via` is its queue, against its own inventory and clusters, and
 * checks that the checks run on their hosts are in its inventory. Nothing is chosen here: the blast-radius
 * choice is made once, for the whole plan, by the main queue's resolution.
 */
export async function resolveZoneGroups(deps: ResolveDeps, input: ZoneResolveInput): Promise<ZoneResolved> {
  const { plan, queue } = input;
  try {
    const zone = groupsOf(plan, (via) => via === queue);
    const kubernetes = await listKubernetesGroups(deps, zone, plan);
    const groups: Record<string, ZoneGroup> = {};
    for (const [name, group] of Object.entries(zone.targets)) {
      const listed = kubernetes.get(name);
      groups[name] = {
        targets: resolveGroup(deps, name, group, kubernetes),
        ...(listed === undefined
          ? {}
          : {
              wholeNamespace: listed.wholeNamespace,
              ...(listed.namespace ? { namespace: listed.namespace } : {}),
            }),
      };
    }
    const inventory = deps.sshHosts;
    for (const check of [...plan.checks, ...plan.observation.guardrails]) {
      if (check.on === undefined || viaOfHost(plan, check.on) !== queue) continue;
      if (inventory !== undefined && !inventory.includes(check.on)) {
        refuse(
          `check ${check.name} runs on ${check.on}, not in this worker's SSH inventory ` +
            `(known: ${inventory.join(', ') || 'none'}); add it to ssh.hosts in the worker configuration`,
        );
      }
    }
    const hosts = Object.values(zone.targets).flatMap((group) => group.ssh?.hosts ?? []);
    const unverifiedHosts = hosts.filter((host) => deps.unverifiedSshHosts?.includes(host));
    return { groups, ...(unverifiedHosts.length > 0 ? { unverifiedHosts } : {}) };
  } catch (error) {
    // Which zone refused: its workers' configuration is the one to change.
    if (error instanceof ApplicationFailure && error.type === 'PlanRefused') {
      refuse(`a worker of task queue ${queue} refused: ${error.message}`);
    }
    throw error;
  }
}

/** One fault on one target, in plain words; a target of a group with `via` is marked with its queue. */
function stepOf(plan: Plan, fault: FaultSpec, kind: AnyFaultKind, given: Target): FaultStep {
  const via = plan.targets[given.group]?.via;
  const target = via === undefined ? given : { ...given, via };
  const words = describeStep(kind, fault.params, target);
  return {
    id: `${fault.name}@${target.name}`,
    fault: fault.name,
    kind: fault.kind,
    target,
    ...(fault.container !== undefined ? { container: fault.container } : {}),
    params: fault.params,
    inject: words.inject,
    rollback: words.rollback,
    windowMs: plan.observation.window,
  };
}

export function resolvePlan(
  deps: ResolveDeps,
  { plan, seed, zones }: ResolveInput,
  kubernetes?: KubernetesGroups,
): ResolvedPlan {
  const groups = new Map(
    Object.entries(plan.targets).map(([name, group]) => [
      name,
      resolveGroup(deps, name, group, kubernetes, zones),
    ]),
  );
  const steps: FaultStep[] = [];
  plan.faults.forEach((fault, index) => {
    const kind = faultKindFor(fault);
    const listed = kubernetes?.get(fault.target);
    if (isKubernetesKind(kind) && kind.kubernetes.scope === 'namespace') {
      const namespace = listed?.namespace ?? groups.get(fault.target)?.[0];
      if (namespace === undefined) return refuse(`fault ${fault.name}: no target group "${fault.target}"`);
      steps.push(stepOf(plan, fault, kind, namespace));
      return;
    }
    if (listed?.wholeNamespace && fault.select.mode !== 'all') {
      refuse(
        `fault ${fault.name}: group ${fault.target} selects every pod of its namespace; narrow its labels, or ` +
          'say select: { mode: all } if the whole namespace is meant',
      );
    }
    const candidates =
      groups.get(fault.target) ?? refuse(`fault ${fault.name}: no target group "${fault.target}"`);
    let chosen: Target[];
    try {
      chosen = selectTargets(candidates, fault.select, seed + index);
    } catch (error) {
      return refuse(`fault ${fault.name} on group ${fault.target}: ${(error as Error).message}`);
    }
    for (const target of chosen) steps.push(stepOf(plan, fault, kind, target));
  });
  const allChecks = [...plan.checks, ...plan.observation.guardrails];
  for (const check of allChecks) {
    const inventory = deps.sshHosts;
    // A host of a group with `via` is in its zone's inventory, checked there.
    const inZone = zones !== undefined && check.on !== undefined && viaOfHost(plan, check.on) !== undefined;
    if (check.on !== undefined && !inZone && inventory !== undefined && !inventory.includes(check.on)) {
      refuse(
        `check ${check.name} runs on ${check.on}, not in this worker's SSH inventory ` +
          `(known: ${inventory.join(', ') || 'none'}); add it to ssh.hosts in the worker configuration`,
      );
    }
    const endpoints = deps.prometheus?.names;
    const endpoint = check.prometheus?.endpoint;
    if (endpoint !== undefined && endpoints !== undefined && !endpoints.includes(endpoint)) {
      refuse(
        `check ${check.name} queries Prometheus endpoint "${endpoint}", which this worker does not know ` +
          `(known: ${endpoints.join(', ') || 'none'}); add it under prometheus.endpoints in the worker ` +
          'configuration (GAMEDAY_PROMETHEUS_URL sets "default")',
      );
    }
  }
  const checks = Object.fromEntries(
    allChecks.map((check) => [
      check.name,
      check.on === undefined ? describeProbe(check) : `on ${check.on}: ${describeProbe(check)}`,
    ]),
  );
  const actions = plan.recovery.actions?.map(describeRecoveryAction);
  const targets = [...new Set(steps.map((step) => step.target.name))];
  const unverified = [...(deps.unverifiedSshHosts ?? []), ...(zones?.unverifiedHosts ?? [])];
  const warnings = targets
    .filter((target) => unverified.includes(target))
    .map(
      (host) =>
        `WARNING: the host key of ${host} is not verified (insecureSkipVerify in the worker configuration)`,
    );
  return {
    steps,
    targets,
    checks,
    ...(actions === undefined ? {} : { actions }),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}
