/** The kinds of thing a target group can name. */
export type TargetKind = 'local' | 'ssh' | 'kubernetes';

/** A machine a fault acts on through an executor: the worker's own, or a host of its SSH inventory. */
export interface HostTarget {
  /** The plan's target group this target came from. */
  readonly group: string;
  readonly kind: 'local' | 'ssh';
  /** Human-readable and unique within the game day: "local", "kafka-1". */
  readonly name: string;
  /** The task queue of the workers that reach it (its group's `via`); absent: the main queue. */
  readonly via?: string;
}

/** Kubernetes objects a group selects, by the names `kubectl get` uses. */
export const kubernetesResources = ['pod', 'node', 'deployment', 'statefulset'] as const;
export type KubernetesResource = (typeof kubernetesResources)[number];

/** One Kubernetes object a fault acts on, or (for kinds that act on a namespace) the namespace itself. */
export interface KubernetesTarget {
  readonly group: string;
  readonly kind: 'kubernetes';
  /** Unique within the game day: "kafka/broker-0", a node's name, or a namespace for namespace-scoped kinds. */
  readonly name: string;
  /** The worker's context name (worker configuration `kubernetes.contexts`). */
  readonly context: string;
  /** Absent for nodes. */
  readonly namespace?: string;
  readonly resource: KubernetesResource | 'namespace';
  /** The object's name (absent for a namespace target). */
  readonly object?: string;
  /** The object's UID when it was resolved: a re-created object with the same name is another one. */
  readonly uid?: string;
  /** The task queue of the workers that reach its cluster (its group's `via`); absent: the main queue. */
  readonly via?: string;
}

/** One concrete thing a fault acts on, produced by the resolve phase. */
export type Target = HostTarget | KubernetesTarget;

export const isHostTarget = (target: Target): target is HostTarget => target.kind !== 'kubernetes';

/** How long an activity on a zone's task queue waits for a worker there, unless the plan says otherwise. */
export const defaultZoneStartWithin = 180_000;

/** A plan's target groups, as far as zones go. */
interface ZonedGroups {
  readonly targets: Readonly<
    Record<string, { readonly via?: string; readonly ssh?: { readonly hosts: readonly string[] } }>
  >;
}

/** The `via` of the groups naming an SSH host (the schema lets them name only one). */
export function viaOfHost(plan: ZonedGroups, host: string): string | undefined {
  return Object.values(plan.targets).find((group) => group.ssh?.hosts.includes(host))?.via;
}

/** The distinct `via` queues of a plan's groups, in the order the groups are written. */
export function zoneQueuesOf(plan: ZonedGroups): string[] {
  const queues = Object.values(plan.targets).flatMap((group) => (group.via === undefined ? [] : [group.via]));
  return [...new Set(queues)];
}
