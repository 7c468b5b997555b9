import { z } from 'zod';
import dnsChaos from './chaosMeshSchemas/DNSChaos.json';
import httpChaos from './chaosMeshSchemas/HTTPChaos.json';
import ioChaos from './chaosMeshSchemas/IOChaos.json';
import networkChaos from './chaosMeshSchemas/NetworkChaos.json';
import podChaos from './chaosMeshSchemas/PodChaos.json';
import stressChaos from './chaosMeshSchemas/StressChaos.json';
import timeChaos from './chaosMeshSchemas/TimeChaos.json';

// An experiment's `spec` is validated against its CRD's own schema (generated from the Chaos Mesh CRDs by
// scripts/chaos-mesh-schemas.js: unknown fields refused instead of silently pruned, every value bounded), with
// zod's JSON Schema reader, and then against what Chaos Mesh's webhook and gameday's safety rules add.

export const chaosMeshKinds = [
  'PodChaos',
  'NetworkChaos',
  'IOChaos',
  'StressChaos',
  'HTTPChaos',
  'DNSChaos',
  'TimeChaos',
] as const;
export type ChaosMeshKind = (typeof chaosMeshKinds)[number];

type JsonSchema = z.core.JSONSchema.JSONSchema;

/** Where an experiment kind lives in the API, and its spec's schema. */
export interface ChaosMeshResource {
  readonly kind: ChaosMeshKind;
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly spec: JsonSchema;
}

interface GeneratedSchema {
  readonly kind: string;
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly spec: unknown;
}

const generated: readonly GeneratedSchema[] = [
  podChaos,
  networkChaos,
  ioChaos,
  stressChaos,
  httpChaos,
  dnsChaos,
  timeChaos,
];

function resourceOf(kind: ChaosMeshKind): ChaosMeshResource {
  const file = generated.find((resource) => resource.kind === kind);
  if (file === undefined) throw new Error(`no generated schema for ${kind}`);
  const { group, version, plural } = file;
  return { kind, group, version, plural, spec: file.spec as JsonSchema };
}

export const chaosMeshResources = Object.fromEntries(
  chaosMeshKinds.map((kind) => [kind, resourceOf(kind)]),
) as Record<ChaosMeshKind, ChaosMeshResource>;

export const chaosMeshApiVersion = 'chaos-mesh.org/v1alpha1';

/** The finalizer Chaos Mesh holds on an experiment until it has recovered every record. */
export const recordsFinalizer = 'chaos-mesh/records';

// ---- Go durations, as Chaos Mesh parses `duration` -------------------------------------------------------

const goUnitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Milliseconds of a Go duration ("5m", "1h30m", "1.5s"); undefined when it is not one, or not positive. */
export function goDurationMs(text: string): number | undefined {
  if (text.length > 64 || text === '') return undefined;
  const part = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    part.lastIndex = at;
    const match = part.exec(text);
    if (match === null) return undefined;
    total += Number(match[1]) * (goUnitMs[match[2] ?? ''] ?? Number.NaN);
    at = part.lastIndex;
  }
  return total > 0 && Number.isFinite(total) ? total : undefined;
}

/** "6m10s": a whole number of seconds as Go writes a duration. */
export function goDurationText(milliseconds: number): string {
  let seconds = Math.ceil(milliseconds / 1000);
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  return `${hours ? `${hours}h` : ''}${hours || minutes ? `${minutes}m` : ''}${seconds}s`;
}

// ---- the CRD's schema, with messages that name what to do -------------------------------------------------

type Json = unknown;

function valueAt(value: Json, path: readonly PropertyKey[]): Json {
  let at = value;
  for (const key of path) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

/** The part of a JSON Schema that says what a value's children are. */
interface SchemaNode {
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly items?: SchemaNode;
  readonly additionalProperties?: SchemaNode | boolean;
}

/** The schema of the value at `path` (object properties, list items, map values). */
function schemaAt(schema: SchemaNode, path: readonly PropertyKey[]): SchemaNode | undefined {
  let at: SchemaNode | undefined = schema;
  for (const key of path) {
    if (at === undefined) return undefined;
    const node: SchemaNode = at;
    if (typeof key === 'number') at = node.items;
    else
      at =
        node.properties?.[String(key)] ??
        (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined);
  }
  return at;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

/** The field meant, when `key` is a near miss of one ("labelSelector" for "labelSelectors"). */
function nearest(key: string, known: readonly string[]): string | undefined {
  const scored = known
    .map((name) => ({ name, distance: editDistance(key.toLowerCase(), name.toLowerCase()) }))
    .sort((a, b) => a.distance - b.distance);
  const best = scored[0];
  return best !== undefined && best.distance <= Math.max(2, Math.floor(key.length / 4))
    ? best.name
    : undefined;
}

const formatPath = (path: readonly PropertyKey[]) =>
  path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join('');

/** One CRD issue in words a Chaos Mesh user acts on: the field's name, what is allowed, what was meant. */
function crdIssues(
  kind: ChaosMeshKind,
  schema: JsonSchema,
  spec: Json,
  issue: z.core.$ZodIssue,
): { path: PropertyKey[]; message: string }[] {
  const path = [...issue.path];
  if (issue.code === 'unrecognized_keys') {
    const known = Object.keys(schemaAt(schema as SchemaNode, path)?.properties ?? {});
    return issue.keys.map((key) => {
      const meant = nearest(key, known);
      return {
        path: [...path, key],
        message:
          `${kind} has no field spec${formatPath([...path, key])} (the API server would drop it)` +
          (meant === undefined ? `; its fields here: ${known.join(', ')}` : `; did you mean ${meant}?`),
      };
    });
  }
  if (valueAt(spec, path) === undefined) {
    return [{ path, message: `${kind} needs spec${formatPath(path)}` }];
  }
  if (issue.code === 'invalid_value') {
    return [{ path, message: `must be one of: ${issue.values.map(String).join(', ')}` }];
  }
  return [{ path, message: issue.message }];
}

// ---- what Chaos Mesh's webhook checks, and gameday's own rules --------------------------------------------

type AddIssue = (path: readonly PropertyKey[], message: string) => void;

const labelKey =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const objectName = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function checkLabels(map: unknown, at: readonly PropertyKey[], add: AddIssue): void {
  if (!isRecord(map)) return;
  for (const [key, value] of Object.entries(map)) {
    if (key.length > 317 || !labelKey.test(key)) add([...at, key], 'must be a Kubernetes label key');
    if (typeof value === 'string' && (value.length > 63 || !labelValue.test(value)))
      add([...at, key], 'must be a Kubernetes label value (at most 63 letters, digits, "-", "_" and ".")');
  }
}

function checkNames(list: unknown, at: readonly PropertyKey[], what: string, add: AddIssue): void {
  if (!Array.isArray(list)) return;
  list.forEach((name, i) => {
    if (typeof name === 'string' && (name.length > 253 || !objectName.test(name)))
      add([...at, i], `must be a ${what} name`);
  });
}

/** The selector fields that narrow which pods of the namespace are chosen. */
const narrowingFields = [
  'labelSelectors',
  'expressionSelectors',
  'annotationSelectors',
  'fieldSelectors',
  'pods',
  'nodes',
  'nodeSelectors',
] as const;

/** Whether a selector names nothing to narrow by: Chaos Mesh then takes every pod of its namespaces. */
export function selectsWholeNamespace(selector: unknown): boolean {
  if (!isRecord(selector)) return true;
  return narrowingFields.every((field) => {
    const value = selector[field];
    return value === undefined || (Array.isArray(value) ? value : Object.keys(value as object)).length === 0;
  });
}

function checkSelector(selector: unknown, at: readonly PropertyKey[], add: AddIssue): void {
  if (!isRecord(selector)) return;
  checkLabels(selector.labelSelectors, [...at, 'labelSelectors'], add);
  checkLabels(selector.nodeSelectors, [...at, 'nodeSelectors'], add);
  if (isRecord(selector.annotationSelectors)) {
    for (const key of Object.keys(selector.annotationSelectors)) {
      if (key.length > 317 || !labelKey.test(key))
        add([...at, 'annotationSelectors', key], 'must be an annotation key');
    }
  }
  checkNames(selector.namespaces, [...at, 'namespaces'], 'namespace', add);
  checkNames(selector.nodes, [...at, 'nodes'], 'node', add);
  if (isRecord(selector.pods)) {
    for (const [namespace, pods] of Object.entries(selector.pods)) {
      if (!objectName.test(namespace)) add([...at, 'pods', namespace], 'must be a namespace name');
      checkNames(pods, [...at, 'pods', namespace], 'pod', add);
    }
  }
  const phases = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'];
  if (Array.isArray(selector.podPhaseSelectors)) {
    selector.podPhaseSelectors.forEach((phase, i) => {
      if (!phases.includes(phase as string))
        add([...at, 'podPhaseSelectors', i], `must be one of: ${phases.join(', ')}`);
    });
  }
  if (Array.isArray(selector.expressionSelectors)) {
    selector.expressionSelectors.forEach((expression: unknown, i) => {
      if (!isRecord(expression)) return;
      const here = [...at, 'expressionSelectors', i];
      const { key, operator, values } = expression;
      if (typeof key === 'string' && !labelKey.test(key))
        add([...here, 'key'], 'must be a Kubernetes label key');
      const operators = ['In', 'NotIn', 'Exists', 'DoesNotExist'];
      if (typeof operator === 'string' && !operators.includes(operator))
        add([...here, 'operator'], `must be one of: ${operators.join(', ')}`);
      const count = Array.isArray(values) ? values.length : 0;
      if ((operator === 'In' || operator === 'NotIn') && count === 0)
        add([...here, 'values'], `${operator} needs at least one value`);
      if ((operator === 'Exists' || operator === 'DoesNotExist') && count > 0)
        add([...here, 'values'], `${operator} takes no values`);
      if (Array.isArray(values)) {
        values.forEach((value, j) => {
          if (typeof value === 'string' && (value.length > 63 || !labelValue.test(value)))
            add([...here, 'values', j], 'must be a Kubernetes label value');
        });
      }
    });
  }
}

/** The selectors of a spec: its own, and a NetworkChaos's `target` (the other end of the traffic). */
export function selectorsOf(spec: unknown): { path: string[]; selector: unknown; mode: unknown }[] {
  if (!isRecord(spec)) return [];
  const found = [{ path: ['selector'], selector: spec.selector, mode: spec.mode }];
  if (isRecord(spec.target)) {
    found.push({ path: ['target', 'selector'], selector: spec.target.selector, mode: spec.target.mode });
  }
  return found.filter((entry) => entry.selector !== undefined);
}

const valueModes = ['fixed', 'fixed-percent', 'random-max-percent'];

function checkSpec(spec: Record<string, unknown>, add: AddIssue): void {
  if (spec.remoteCluster !== undefined) {
    add(
      ['remoteCluster'],
      "gameday acts only in the target group's own context: leave remoteCluster out and name the " +
        'cluster by its context',
    );
  }
  if (typeof spec.duration === 'string' && goDurationMs(spec.duration) === undefined) {
    add(['duration'], 'must be a positive Go duration, such as "30s", "5m" or "1h30m"');
  }
  const modes = [{ at: [] as string[], of: spec }];
  if (isRecord(spec.target)) modes.push({ at: ['target'], of: spec.target });
  for (const { at, of } of modes) {
    const { mode, value } = of;
    if (typeof mode !== 'string' || !valueModes.includes(mode)) continue;
    if (value === undefined) {
      add([...at, 'value'], `mode ${mode} needs value (${mode === 'fixed' ? 'a count' : 'a percentage'})`);
      continue;
    }
    const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (mode === 'fixed' ? !(number >= 1) : !(number >= 0 && number <= 100)) {
      add(
        [...at, 'value'],
        mode === 'fixed' ? 'must be a count of pods, such as "2"' : 'must be a percentage from "0" to "100"',
      );
    }
  }
  for (const { path, selector, mode } of selectorsOf(spec)) {
    checkSelector(selector, path, add);
    if (mode !== 'all' && selectsWholeNamespace(selector)) {
      add(
        path,
        `selects every pod of the namespace (it names none of ${narrowingFields.join(', ')}); narrow it, ` +
          'or say mode: all if the whole namespace is meant',
      );
    }
  }
}

/**
 * An experiment's spec as users write it for Chaos Mesh: checked against the kind's CRD schema (and what
 * Chaos Mesh itself refuses), passed on verbatim. Its JSON Schema is the CRD's.
 */
export function chaosMeshSpec(kind: ChaosMeshKind) {
  const schema = chaosMeshResources[kind].spec;
  const crd = z.fromJSONSchema(schema);
  return z
    .unknown()
    .superRefine((spec, ctx) => {
      const add: AddIssue = (path, message) => ctx.addIssue({ code: 'custom', path: [...path], message });
      if (!isRecord(spec)) {
        ctx.addIssue({
          code: 'custom',
          message: `must be the ${kind}'s spec, as in its YAML (a map: action, mode, selector, …)`,
          continue: false, // nothing after this (the plan's own rules) may look into it
        });
        return;
      }
      const parsed = crd.safeParse(spec);
      for (const issue of parsed.error?.issues ?? []) {
        for (const { path, message } of crdIssues(kind, schema, spec, issue)) add(path, message);
      }
      checkSpec(spec, add);
    })
    .meta(schema as Record<string, unknown>);
}
