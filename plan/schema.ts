import { z } from 'zod';
import { describedOutcomes } from '../activities/checks/contract';
import { checkKeys, checkKinds, type CheckKey } from '../activities/checks/registry';
import { isKubernetesKind, type AnyFaultKind } from '../activities/faults/contract';
import { faultKinds } from '../activities/faults/registry';
import { duration } from './duration';
import { kubernetesSelection } from './kubernetes';
import { maxRecoveryActions, recoveryActionSchema } from './recoveryActions';
import { defaultZoneStartWithin } from './targets';
import { boundedRecord, containerName, freeText, hostName, identifier, taskQueueName } from './safeValues';

export const planApiVersion = 'gameday.dev/v1alpha1';

/** Hosts in one target group: also the largest fixed count a selection can ask for. */
export const maxGroupHosts = 1000;
const maxChecks = 100;
const maxFaults = 100;
const maxTargetGroups = 100;

type ProbeFields = { [K in CheckKey]: z.ZodOptional<(typeof checkKinds)[K]['spec']> };

/** One optional field per registered check kind (`http:`, `tcp:`, …), described with its outcomes. */
function probeFields(): ProbeFields {
  return Object.fromEntries(
    checkKeys.map((key) => [
      key,
      checkKinds[key].spec.optional().describe(describedOutcomes(checkKinds[key])),
    ]),
  ) as ProbeFields;
}

const checkCommon = {
  name: identifier,
  description: freeText(500, { multiLine: true }).optional(),
  expect: z
    .enum(['pass', 'fail'])
    .default('pass')
    .describe('"fail" when the plan expects this probe to fail (e.g. while a service is paused)'),
  ...probeFields(),
  on: hostName
    .optional()
    .describe("run a command or tcp probe on this host of the worker's SSH inventory (default: the worker)"),
};

const exactlyOneProbe = [
  (check: Partial<Record<string, unknown>>) =>
    checkKeys.filter((key) => check[key] !== undefined).length === 1,
  { message: `give exactly one probe: ${checkKeys.join(', ')}` },
] as const;

const httpFromTheWorker = [
  (check: { on?: string | undefined; http?: unknown; prometheus?: unknown; kubernetes?: unknown }) =>
    check.on === undefined ||
    (check.http === undefined && check.prometheus === undefined && check.kubernetes === undefined),
  {
    message:
      'http, prometheus and kubernetes probes run from the worker; on a host, use a command probe (curl) instead',
    path: ['on'] as string[],
  },
] as const;

/** A range over "window" only means something while the window runs. */
const windowRangeDuringOnly = [
  (check: { when: readonly string[]; prometheus?: { range?: { over: unknown } | undefined } | undefined }) =>
    check.prometheus?.range?.over !== 'window' || check.when.every((when) => when === 'during'),
  {
    message: 'range over "window" is only known during the window: use when: [during], or a duration',
    path: ['prometheus', 'range', 'over'] as string[],
  },
] as const;

const checkSchema = z
  .strictObject({
    ...checkCommon,
    when: z
      .array(z.enum(['before', 'during', 'after']))
      .min(1)
      .max(3)
      .describe('before: preflight; during: sampled in the observation window; after: recovery'),
  })
  .refine(...exactlyOneProbe)
  .refine(...httpFromTheWorker)
  .refine(...windowRangeDuringOnly);

const guardrailSchema = z
  .strictObject({
    ...checkCommon,
    breachAfter: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(1)
      .describe('consecutive failing samples that abort the game day'),
  })
  .refine(...exactlyOneProbe)
  .refine(...httpFromTheWorker);

const targetGroupSchema = z
  .strictObject({
    local: z.strictObject({}).optional().describe("the worker's own machine"),
    ssh: z
      .strictObject({
        hosts: z
          .array(hostName)
          .min(1)
          .max(maxGroupHosts, `must name at most ${maxGroupHosts} hosts`)
          .superRefine((hosts, ctx) => {
            // A host named twice would get each fault twice, the second recording the first as "before".
            const seen = new Set<string>();
            hosts.forEach((host, i) => {
              if (seen.has(host))
                ctx.addIssue({ code: 'custom', path: [i], message: `${host} is named twice` });
              seen.add(host);
            });
          })
          .describe("names from the worker's SSH inventory"),
      })
      .optional()
      .describe('hosts reached over SSH; the worker holds their addresses, keys and credentials'),
    kubernetes: kubernetesSelection
      .optional()
      .describe(
        'Kubernetes objects in a context of the worker; its credentials stay in the worker configuration',
      ),
    via: taskQueueName
      .optional()
      .describe(
        'task queue of the workers that can reach this group (a network zone): every activity on its ' +
          'targets runs there; the workflow and everything else stay on the main queue',
      ),
  })
  .refine(
    (group) => [group.local, group.ssh, group.kubernetes].filter((kind) => kind !== undefined).length === 1,
    { message: 'give exactly one target kind: local, ssh or kubernetes' },
  );

const selectionSchema = z
  .discriminatedUnion('mode', [
    z.strictObject({ mode: z.literal('all') }),
    z.strictObject({ mode: z.literal('one') }),
    z.strictObject({ mode: z.literal('fixed'), count: z.number().int().min(1).max(maxGroupHosts) }),
    z.strictObject({ mode: z.literal('percent'), percent: z.number().gt(0).max(100) }),
  ])
  .default({ mode: 'all' })
  .describe("blast radius: which of the group's targets the fault acts on (random choices are seeded)");

const faultCommon = {
  name: identifier,
  target: identifier.describe('name of a target group'),
  select: selectionSchema,
  container: containerName
    .optional()
    .describe(
      'a Docker container on each target host: the (network) fault acts inside its network namespace',
    ),
};

type SelectionOutput = z.output<typeof selectionSchema>;
interface FaultSpecOutput {
  name: string;
  kind: string;
  target: string;
  select: SelectionOutput;
  container?: string;
  /** Validated by the kind's own schema; typed where the kind is known (the fault module). */
  params: unknown;
}

// One branch per registered fault kind, so `params` is checked (and documented) by that kind's schema.
const faultSchema = z.discriminatedUnion(
  'kind',
  Object.values(faultKinds).map((fault) =>
    z
      .strictObject({ ...faultCommon, kind: z.literal(fault.kind), params: fault.params })
      .describe(fault.description),
  ) as unknown as [z.ZodObject, ...z.ZodObject[]],
) as unknown as z.ZodType<FaultSpecOutput, unknown>;

export const planSchema = z
  .strictObject({
    apiVersion: z.literal(planApiVersion),
    kind: z.literal('GameDay'),
    metadata: z.strictObject({
      name: identifier,
      owner: freeText(100).min(1),
      description: freeText(2000, { multiLine: true }).optional(),
    }),
    targets: boundedRecord(identifier, targetGroupSchema, maxTargetGroups),
    notify: z
      .array(identifier)
      .min(1)
      .max(8)
      .optional()
      .describe(
        "webhooks of the worker's configuration (notifications.webhooks), by name: told when the game day " +
          'does not pass or a rollback is stuck',
      ),
    checks: z.array(checkSchema).max(maxChecks).default([]),
    faults: z.array(faultSchema).min(1).max(maxFaults),
    observation: z.strictObject({
      window: duration({ min: '1s', max: '24h' }),
      sampleInterval: duration({ min: '200ms', max: '10m' }).default(5000),
      guardrails: z.array(guardrailSchema).max(maxChecks).default([]),
      minSamples: z
        .number()
        .int()
        .min(1)
        .max(100_000)
        .default(1)
        .describe(
          'samples each during check and guardrail must have taken for the window to count as evidence; ' +
            'with fewer (a worker stalled, the window passed unobserved) the game day fails',
        ),
    }),
    zoneWorkers: z
      .strictObject({
        startWithin: duration({ min: '1s', max: '1h' })
          .default(defaultZoneStartWithin)
          .describe(
            "how long an activity on a group's `via` queue may wait for a worker there to take it; then " +
              'that step fails (a rollback is then set aside as stuck, retried and waited for without end)',
          ),
      })
      .optional()
      .describe('target groups with `via`: how long their workers are waited for (default 3m)'),
    deadManSwitch: z
      .strictObject({
        lease: duration({ min: '3s', max: '1h' })
          .default(60_000)
          .describe('a host cut off from gameday for this long reverts its faults by itself'),
      })
      .default({ lease: 60_000 })
      .describe("every fault's host-side revert, armed before it is injected"),
    recovery: z
      .strictObject({
        within: duration({ min: '1s', max: '24h' }).default(60_000),
        interval: duration({ min: '200ms', max: '10m' }).default(1000),
        actions: z
          .array(recoveryActionSchema)
          .min(1)
          .max(maxRecoveryActions)
          .optional()
          .describe(
            'steps run in order after rollback when the recovery checks still fail within `within`; then ' +
              'the checks are given `within` again. None runs unless named here',
          ),
      })
      .default({ within: 60_000, interval: 1000 }),
  })
  .superRefine((plan, ctx) => {
    const seen = new Set<string>();
    const checkNames = [...plan.checks, ...plan.observation.guardrails].map((c) => c.name);
    checkNames.forEach((name, i) => {
      if (seen.has(name)) {
        const inChecks = i < plan.checks.length;
        ctx.addIssue({
          code: 'custom',
          path: inChecks
            ? ['checks', i, 'name']
            : ['observation', 'guardrails', i - plan.checks.length, 'name'],
          message: `check name "${name}" is used twice`,
        });
      }
      seen.add(name);
    });
    const allChecks = [...plan.checks, ...plan.observation.guardrails];
    zoneProblems(plan, ctx);
    plan.recovery.actions?.forEach((action, i) => {
      const failing = action.deletePods?.failing;
      if (failing === undefined) return;
      const check = allChecks.find((c) => c.name === failing);
      if (check?.kubernetes?.ready === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['recovery', 'actions', i, 'deletePods', 'failing'],
          message:
            check === undefined
              ? `check "${failing}" is not defined (defined: ${allChecks.map((c) => c.name).join(', ') || 'none'})`
              : `check "${failing}" is not a kubernetes ready check, so it finds no pods not Ready`,
        });
      }
    });
    const faultNames = new Set<string>();
    plan.faults.forEach((fault, i) => {
      const f = fault;
      if (faultNames.has(f.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['faults', i, 'name'],
          message: `fault name "${f.name}" is used twice`,
        });
      }
      faultNames.add(f.name);
      const faultKind = (faultKinds as Record<string, AnyFaultKind>)[f.kind];
      const facts = {
        windowMs: plan.observation.window,
        namespace: plan.targets[f.target]?.kubernetes?.namespace,
      };
      for (const problem of faultKind?.planProblems?.(f.params, facts) ?? []) {
        ctx.addIssue({
          code: 'custom',
          path: ['faults', i, 'params', ...problem.path],
          message: problem.message,
        });
      }
      const group = plan.targets[f.target];
      if (group === undefined) {
        const known = Object.keys(plan.targets).join(', ') || 'none';
        ctx.addIssue({
          code: 'custom',
          path: ['faults', i, 'target'],
          message: `target group "${f.target}" is not defined under targets (defined: ${known})`,
        });
        return;
      }
      // What resolve would refuse, refused here, so that a valid plan always resolves (and dry-runs).
      // (A Kubernetes group's size is known only when the worker lists its objects.)
      const groupSize = group.ssh?.hosts.length ?? 1;
      if (f.select.mode === 'fixed' && group.kubernetes === undefined && f.select.count > groupSize) {
        ctx.addIssue({
          code: 'custom',
          path: ['faults', i, 'select', 'count'],
          message:
            `asks for ${f.select.count} targets, but group "${f.target}" has ${groupSize}` +
            (group.local !== undefined ? " (local: the worker's own machine)" : ''),
        });
      }
      const onNetworkNamespace =
        faultKind !== undefined && !isKubernetesKind(faultKind) && faultKind.networkNamespace === true;
      if (f.container !== undefined && !onNetworkNamespace) {
        const network = Object.values(faultKinds as Record<string, AnyFaultKind>)
          .filter((kind) => !isKubernetesKind(kind) && kind.networkNamespace === true)
          .map((kind) => kind.kind);
        ctx.addIssue({
          code: 'custom',
          path: ['faults', i, 'container'],
          message: `fault kind ${f.kind} does not act on a network namespace, so it cannot take "container" (network kinds can: ${network.join(', ')}); container kinds name theirs in params`,
        });
      }
      const resources =
        faultKind !== undefined && isKubernetesKind(faultKind) ? faultKind.kubernetes : undefined;
      if (
        group.kubernetes !== undefined &&
        resources?.scope === 'objects' &&
        !resources.resources.includes(group.kubernetes.kind)
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['faults', i, 'target'],
          message: `fault kind ${f.kind} acts on ${resources.resources.join(' or ')}s, and group "${f.target}" selects ${group.kubernetes.kind}s`,
        });
      }
      if (
        group.kubernetes !== undefined &&
        resources?.scope === 'namespace' &&
        group.kubernetes.namespace === undefined
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['faults', i, 'target'],
          message: `fault kind ${f.kind} acts in a namespace, and group "${f.target}" has none`,
        });
      }
      const kinds: readonly string[] = faultKind?.targetKinds ?? [];
      const groupKind = Object.keys(group).find(
        (key) => (group as Record<string, unknown>)[key] !== undefined,
      );
      if (groupKind !== undefined && !kinds.includes(groupKind)) {
        ctx.addIssue({
          code: 'custom',
          path: ['faults', i, 'target'],
          message: `fault kind ${f.kind} cannot act on a ${groupKind} target (it supports: ${kinds.join(', ')})`,
        });
      }
    });
  });

/**
 * A host is reached through one queue: named by groups with different `via`, which workers reach it would be
 * ambiguous. The window's checks and guardrails are sampled together in one activity on the main queue, so
 * none of them may run `on` a host only a zone's workers reach (`before`/`after` checks may).
 */
function zoneProblems(
  plan: {
    targets: Record<string, { ssh?: { hosts: string[] } | undefined; via?: string | undefined }>;
    checks: readonly { name: string; on?: string | undefined; when: readonly string[] }[];
    observation: { guardrails: readonly { name: string; on?: string | undefined }[] };
  },
  ctx: z.core.$RefinementCtx,
): void {
  const queueOfHost = new Map<string, { group: string; via: string | undefined }>();
  for (const [group, definition] of Object.entries(plan.targets)) {
    definition.ssh?.hosts.forEach((host, i) => {
      const seen = queueOfHost.get(host);
      if (seen !== undefined && seen.via !== definition.via) {
        const where = (via: string | undefined) => (via === undefined ? 'the main queue' : `via ${via}`);
        ctx.addIssue({
          code: 'custom',
          path: ['targets', group, 'ssh', 'hosts', i],
          message:
            `${host} is reached ${where(definition.via)} here and ${where(seen.via)} in group ` +
            `"${seen.group}": a host has one zone, give both groups the same via`,
        });
      }
      if (seen === undefined) queueOfHost.set(host, { group, via: definition.via });
    });
  }
  const sampled = [
    ...plan.checks.map((check, i) => ({
      check,
      path: ['checks', i, 'on'],
      during: check.when.includes('during'),
    })),
    ...plan.observation.guardrails.map((check, i) => ({
      check,
      path: ['observation', 'guardrails', i, 'on'],
      during: true,
    })),
  ];
  for (const { check, path, during } of sampled) {
    const zone = check.on === undefined ? undefined : queueOfHost.get(check.on)?.via;
    if (during && zone !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path,
        message:
          `${check.name} is sampled during the window on ${check.on ?? ''}, which only workers of queue ` +
          `${zone} reach: the window is observed from the main queue, so run it before/after only`,
      });
    }
  }
}

export type PlanInput = z.input<typeof planSchema>;
export type Plan = z.output<typeof planSchema>;
export type CheckSpec = Plan['checks'][number];
export type GuardrailSpec = Plan['observation']['guardrails'][number];
export type ProbeSpec = Omit<CheckSpec, 'when'> | GuardrailSpec;
export type FaultSpec = FaultSpecOutput;
export type { RecoveryAction } from './recoveryActions';
export type Selection = SelectionOutput;

/** The JSON Schema of a plan file, as written (durations are strings). */
export function planJsonSchema(): unknown {
  return z.toJSONSchema(planSchema, { io: 'input', unrepresentable: 'any' });
}
