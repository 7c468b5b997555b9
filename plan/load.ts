import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, isMap, isNode, isScalar, type Document } from 'yaml';
import type { z } from 'zod';
import { planSchema, type Plan } from './schema';

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

export function formatPlanError(e: PlanError): string {
  return `${e.file}:${e.line}:${e.col}: ${e.path ? `${e.path}: ` : ''}${e.message}`;
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

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}`;
  if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
    return `${issue.message}`;
  }
  return issue.message;
}

/** Parses and validates a plan; every problem is reported with its line, column and field path. */
export function parsePlan(text: string, file: string): PlanLoadResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? { line: 1, col: 1 };
        return { file, line: pos.line, col: pos.col, path: '', message: e.message.split('\n')[0] ?? e.code };
      }),
    };
  }
  const parsed = planSchema.safeParse(doc.toJS());
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
    return { ok: false, errors };
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
