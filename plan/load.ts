import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { LineCounter, isMap, isNode, isScalar, type Document } from 'yaml';
import type { z } from 'zod';
import { escapeControlCharacters } from './controlCharacters';
import { planSchema, type Plan } from './schema';
import { readYamlDocument } from './yamlDocument';

/** One thing wrong with a plan, located in its file. */
export interface PlanError {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** The field path, e.g. `faults[0].params.pidfile`. */
  readonly path: string;
  readonly message: string;
}

export type PlanLoadResult =
  | { readonly ok: true; readonly plan: Plan; readonly digest: string }
  | { readonly ok: false; readonly errors: readonly PlanError[] };

/** Errors shown for one plan; the rest are counted. */
const maxShownErrors = 50;

/** One line, whatever the plan holds: control characters and line breaks are escaped. */
export function formatPlanError(e: PlanError): string {
  return escapeControlCharacters(`${e.file}:${e.line}:${e.col}: ${e.path ? `${e.path}: ` : ''}${e.message}`, {
    singleLine: true,
  });
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
    .join('');
}

/** The position of the deepest node along the path that exists (a missing field points at its parent). */
function locate(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
): { line: number; col: number } {
  for (let depth = path.length; depth >= 0; depth--) {
    const node: unknown = doc.getIn(path.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]);
  }
  return { line: 1, col: 1 };
}

function locateKey(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
  key: string,
): { line: number; col: number } {
  const parent: unknown = doc.getIn(path as unknown[], true);
  if (isMap(parent)) {
    const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === key);
    if (pair && isNode(pair.key) && pair.key.range) return lineCounter.linePos(pair.key.range[0]);
  }
  return locate(doc, lineCounter, path);
}

/** A few of many names: "a, b, c, … and 99,997 more", each name cut short. */
function someOf(names: readonly string[]): string {
  const shown = names.slice(0, 3).map((name) => (name.length > 40 ? `${name.slice(0, 40)}…` : name));
  const more = names.length - shown.length;
  return more > 0 ? `${shown.join(', ')}, … and ${more.toLocaleString('en-US')} more` : shown.join(', ');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown field${issue.keys.length > 1 ? 's' : ''}: ${someOf(issue.keys)}`;
  if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
    return `${issue.message}`;
  }
  return issue.message;
}

/** The first errors, and one more line (at the next one) counting the rest. */
function shortened(errors: readonly PlanError[]): readonly PlanError[] {
  const next = errors[maxShownErrors];
  if (next === undefined) return errors;
  const more = (errors.length - maxShownErrors).toLocaleString('en-US');
  return [
    ...errors.slice(0, maxShownErrors),
    { ...next, path: '', message: `… and ${more} more errors from here on` },
  ];
}

/** Parses and validates a plan; every problem is reported with its line, column and field path. */
export function parsePlan(text: string, file: string): PlanLoadResult {
  const lineCounter = new LineCounter();
  const yaml = readYamlDocument(text, lineCounter);
  if (!yaml.ok) {
    const errors = yaml.problems.map(({ offset, message }) => ({
      file,
      ...lineCounter.linePos(offset),
      path: '',
      message,
    }));
    errors.sort((a, b) => a.line - b.line || a.col - b.col);
    return { ok: false, errors: shortened(errors) };
  }
  const { doc } = yaml;
  const parsed = planSchema.safeParse(yaml.value);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((issue) => {
      const path = issue.path;
      // Unknown keys: point at the offending key itself, not at its parent object.
      const position =
        issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined
          ? locateKey(doc, lineCounter, path, issue.keys[0])
          : locate(doc, lineCounter, path);
      return { file, ...position, path: formatPath(path), message: describeIssue(issue) };
    });
    errors.sort((a, b) => a.line - b.line || a.col - b.col);
    return { ok: false, errors: shortened(errors) };
  }
  const digest = createHash('sha256').update(text).digest('hex').slice(0, 16);
  return { ok: true, plan: parsed.data, digest };
}

export async function loadPlanFile(file: string): Promise<PlanLoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(error);
    return {
      ok: false,
      errors: [{ file, line: 0, col: 0, path: '', message: `cannot read plan: ${reason}` }],
    };
  }
  return parsePlan(text, file);
}
