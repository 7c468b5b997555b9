import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { LineCounter, isMap, isNode, isScalar, type Document } from 'yaml';
import type { z } from 'zod';
import { escapeControlCharacters } from './controlCharacters';
import { closestField, issueWords } from './issueWords';
import { planSchema, type Plan } from './schema';
import { readYamlDocument } from './yamlDocument';

/**
 * The largest plan file. Real plans are a few KiB (the examples are 1–3 KiB); a plan is the workflow's input,
 * kept in its history, and Temporal warns at 256 KiB per payload and refuses 2 MiB. Reading stops here, so no
 * file (or /dev/zero) can take the CLI's memory.
 */
export const maxPlanBytes = 256 * 1024;

/** One thing wrong with a plan, located in its file (no line and column: the file could not be read). */
export interface PlanError {
  readonly file: string;
  readonly line?: number;
  readonly col?: number;
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
  const line =
    e.line === undefined
      ? `cannot read ${e.file}: ${e.message}`
      : `${e.file}:${e.line}:${e.col ?? 1}: ${e.path ? `${e.path}: ` : ''}${e.message}`;
  return escapeControlCharacters(line, { singleLine: true });
}

function size(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

const tooLarge = (bytes: number) =>
  `it is ${size(bytes)}, more than the ${maxPlanBytes / 1024} KiB a plan may have`;

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

function describeIssue(issue: z.core.$ZodIssue, schema: z.ZodType): string {
  if (issue.code === 'unrecognized_keys') {
    const [first] = issue.keys;
    const meant =
      issue.keys.length === 1 && first !== undefined ? closestField(schema, issue.path, first) : undefined;
    return `unknown field${issue.keys.length > 1 ? 's' : ''}: ${someOf(issue.keys)}${meant ? ` (did you mean ${meant}?)` : ''}`;
  }
  return issueWords(issue);
}

const byPosition = (a: PlanError, b: PlanError) =>
  (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0);

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

/**
 * A YAML document validated by a schema; every problem is reported with its line, column and field path. Plans
 * and schedules go through it alike.
 */
export function parseYamlWith<Schema extends z.ZodType>(
  schema: Schema,
  text: string,
  file: string,
):
  | { readonly ok: true; readonly value: z.output<Schema> }
  | { readonly ok: false; readonly errors: readonly PlanError[] } {
  const bytes = Buffer.byteLength(text);
  if (bytes > maxPlanBytes) return { ok: false, errors: [{ file, path: '', message: tooLarge(bytes) }] };
  const lineCounter = new LineCounter();
  const yaml = readYamlDocument(text, lineCounter);
  if (!yaml.ok) {
    const errors = yaml.problems.map(({ offset, message }) => ({
      file,
      ...lineCounter.linePos(offset),
      path: '',
      message,
    }));
    errors.sort(byPosition);
    return { ok: false, errors: shortened(errors) };
  }
  const { doc } = yaml;
  const parsed = schema.safeParse(yaml.value);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((issue) => {
      const path = issue.path;
      // Unknown keys: point at the offending key itself, not at its parent object.
      const position =
        issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined
          ? locateKey(doc, lineCounter, path, issue.keys[0])
          : locate(doc, lineCounter, path);
      return { file, ...position, path: formatPath(path), message: describeIssue(issue, schema) };
    });
    errors.sort(byPosition);
    return { ok: false, errors: shortened(errors) };
  }
  return { ok: true, value: parsed.data };
}

/** The digest a plan is known by (memo, report, schedules): of its text, as written. */
export function planDigestOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** Parses and validates a plan; every problem is reported with its line, column and field path. */
export function parsePlan(text: string, file: string): PlanLoadResult {
  const parsed = parseYamlWith(planSchema, text, file);
  if (!parsed.ok) return parsed;
  return { ok: true, plan: parsed.value, digest: planDigestOf(text) };
}

function notRegular(stats: Stats): string {
  const kind = stats.isDirectory()
    ? 'a directory'
    : stats.isFIFO()
      ? 'a FIFO'
      : stats.isCharacterDevice() || stats.isBlockDevice()
        ? 'a device'
        : stats.isSocket()
          ? 'a socket'
          : 'not a file';
  return `it is ${kind}, not a regular file`;
}

function readFailure(error: unknown): string {
  const reasons: Record<string, string> = {
    ENOENT: 'no such file',
    ENOTDIR: 'no such file',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    ENXIO: 'it is not a regular file',
    ELOOP: 'too many symbolic links',
  };
  const { code, message } = error as NodeJS.ErrnoException;
  return reasons[code ?? ''] ?? message;
}

/** The bytes of a regular file of at most `maxPlanBytes`, or why not. */
async function readPlanBytes(file: string): Promise<Buffer | string> {
  let handle: FileHandle;
  try {
    // Non-blocking: opening a FIFO would otherwise wait for a writer. Only regular files are read below.
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    return readFailure(error);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return notRegular(stats);
    if (stats.size > maxPlanBytes) return tooLarge(stats.size);
    // One byte more than allowed, in case the file grew since fstat.
    const buffer = Buffer.alloc(maxPlanBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return length > maxPlanBytes ? tooLarge(length) : buffer.subarray(0, length);
  } catch (error) {
    return readFailure(error);
  } finally {
    await handle.close();
  }
}

/**
 * The text of a regular file of at most `maxPlanBytes` of UTF-8, or why not (as a one-error result). Plans and
 * schedules are read by it alike.
 */
export async function readYamlFile(
  file: string,
): Promise<
  { readonly ok: true; readonly text: string } | { readonly ok: false; readonly errors: readonly PlanError[] }
> {
  const bytes = await readPlanBytes(file);
  if (typeof bytes === 'string') return { ok: false, errors: [{ file, path: '', message: bytes }] };
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes) };
  } catch {
    const lossy = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
    const before = lossy.slice(0, lossy.indexOf('\uFFFD'));
    const line = before.split('\n').length;
    const col = before.length - before.lastIndexOf('\n');
    return { ok: false, errors: [{ file, line, col, path: '', message: 'not UTF-8 text (a binary file?)' }] };
  }
}

/** Reads a plan file (a regular file of at most `maxPlanBytes` of UTF-8) and validates it. */
export async function loadPlanFile(file: string): Promise<PlanLoadResult> {
  const read = await readYamlFile(file);
  return read.ok ? parsePlan(read.text, file) : read;
}
