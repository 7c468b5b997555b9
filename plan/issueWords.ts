import { z } from 'zod';

// Validation problems in a person's words. Zod's own phrases ("Invalid input: expected array, received
// undefined") are rewritten; the messages our schemas give themselves ("must be a host name") are kept.

const kinds: Record<string, string> = {
  array: 'a list',
  object: 'a mapping (key: value)',
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  null: 'nothing',
  undefined: 'nothing',
};

const kindWords = (kind: string): string => kinds[kind] ?? kind;

/** What the value was, from zod's own message ("… received string"). */
const receivedOf = (message: string): string | undefined => /received (\w+)/.exec(message)?.[1];

function sizeWords(origin: string, bound: number | bigint, at: 'least' | 'most'): string {
  const n = Number(bound);
  if (origin === 'string') {
    return at === 'least' && n === 1
      ? 'must not be empty'
      : `must be at ${at} ${n} character${n === 1 ? '' : 's'}`;
  }
  if (origin === 'array' || origin === 'set') {
    return at === 'least' && n === 1
      ? 'needs at least one item'
      : `needs at ${at} ${n} item${n === 1 ? '' : 's'}`;
  }
  return `must be at ${at} ${n}`;
}

/** One issue in plain words; custom messages of our schemas pass through unchanged. */
export function issueWords(issue: z.core.$ZodIssue): string {
  // A map's key that breaks its rule: the rule's own words, about the key.
  if (issue.code === 'invalid_key') {
    const [inner] = issue.issues;
    return `the key ${inner ? issueWords(inner) : 'is not allowed'}`;
  }
  const zodsOwn = /^(Invalid input|Invalid option|Too small|Too big)\b/.test(issue.message);
  if (!zodsOwn) return issue.message;
  switch (issue.code) {
    case 'invalid_type': {
      const received = receivedOf(issue.message);
      if (received === 'undefined') return `is missing: give ${kindWords(issue.expected)}`;
      return `must be ${kindWords(issue.expected)}${received ? `, not ${kindWords(received)}` : ''}`;
    }
    case 'invalid_value':
      return `must be one of ${issue.values.map((value) => String(value)).join(', ')}`;
    case 'too_small':
      return sizeWords(issue.origin, issue.minimum, 'least');
    case 'too_big':
      return sizeWords(issue.origin, issue.maximum, 'most');
    case 'invalid_union':
      return 'matches none of the forms this field takes (see `gameday schema`)';
    default:
      return phraseWords(issue.message);
  }
}

/** Zod's phrase carried on in another issue's message (a nested schema's issues re-reported). */
function phraseWords(message: string): string {
  const typed = /^Invalid input: expected (\w+), received (\w+)$/.exec(message);
  if (typed?.[1] === undefined || typed[2] === undefined) return message;
  return typed[2] === 'undefined'
    ? `is missing: give ${kindWords(typed[1])}`
    : `must be ${kindWords(typed[1])}, not ${kindWords(typed[2])}`;
}

type JsonSchema = {
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
};

const jsonSchemas = new WeakMap<z.ZodType, JsonSchema>();

function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  let json = jsonSchemas.get(schema);
  if (json === undefined) {
    json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
    jsonSchemas.set(schema, json);
  }
  return json;
}

/** The schemas a value at `path` may have to match (every branch of a union). */
function schemasAt(root: JsonSchema, path: readonly PropertyKey[]): JsonSchema[] {
  const resolve = (node: JsonSchema): JsonSchema[] => {
    const ref = node.$ref?.startsWith('#/$defs/')
      ? root.$defs?.[node.$ref.slice('#/$defs/'.length)]
      : undefined;
    const branches = [...(node.anyOf ?? []), ...(node.oneOf ?? []), ...(node.allOf ?? [])];
    return [...(ref ? resolve(ref) : []), ...branches.flatMap(resolve), node];
  };
  let nodes = resolve(root);
  for (const segment of path) {
    nodes = nodes.flatMap((node) => {
      const next =
        typeof segment === 'number'
          ? node.items
          : (node.properties?.[String(segment)] ??
            (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined));
      return next ? resolve(next) : [];
    });
  }
  return nodes;
}

/** Edit distance, for "did you mean": small strings, so the plain dynamic programme (no library needed). */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(
        Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The known field an unknown one was probably meant to be, if one is close (case, a letter or two). */
export function closestField(
  schema: z.ZodType,
  path: readonly PropertyKey[],
  unknown: string,
): string | undefined {
  const known = new Set(
    schemasAt(jsonSchemaOf(schema), path).flatMap((node) => Object.keys(node.properties ?? {})),
  );
  let best: { name: string; score: number } | undefined;
  for (const name of known) {
    const score = name.toLowerCase() === unknown.toLowerCase() ? 0 : distance(unknown, name);
    if (score <= Math.max(1, Math.floor(name.length / 4)) && (best === undefined || score < best.score)) {
      best = { name, score };
    }
  }
  return best?.name;
}
