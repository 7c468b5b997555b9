import {
  Composer,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  Parser,
  type CST,
  type Document,
} from 'yaml';
import { firstControlCharacter } from './controlCharacters';

// A plan's YAML is read in the yaml library's own steps (CST, then document, then JS), with what the library
// does not bound checked in between, each in time linear in the text and each at its position:
// nesting (the composer recurses, so a deep `[[[[…` overflows the stack or exhausts memory), aliases (a
// "billion laughs" expands exponentially; an undefined one throws), duplicate keys (the library's own check is
// quadratic: 100,000 keys took about 3 minutes) and control characters.

/** Collections inside collections. A plan needs about 8 (faults → params → restart → argv). */
export const maxNesting = 32;

/** Values that aliases may add to a plan once expanded: reusing a check is fine, a billion laughs is not. */
export const maxAliasValues = 10_000;

/** Something wrong with the YAML itself, at an offset in the text. */
export interface YamlProblem {
  readonly offset: number;
  readonly message: string;
}

export type YamlReading =
  | { readonly ok: true; readonly doc: Document.Parsed; readonly value: unknown }
  | { readonly ok: false; readonly problems: readonly YamlProblem[] };

const quote = (text: string) => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);

/** Whether a quoted scalar's source ends with its closing quote (the lexer runs an unclosed one to the end). */
function quotedScalarIsClosed(source: string): boolean {
  const mark = source[0];
  for (let i = 1; i < source.length; i++) {
    const character = source[i];
    if (mark === '"' && character === '\\') i++;
    else if (mark === "'" && character === "'" && source[i + 1] === "'") i++;
    else if (character === mark) return i === source.length - 1;
  }
  return false;
}

/**
 * Nesting deeper than `maxNesting` (only the first place, since everything below it is as deep), and flow
 * collections and quoted strings that are never closed, at their opening: the library notices those later,
 * wherever the next line begins. Iterative, so no depth of input can overflow the stack here.
 */
function structureProblems(tokens: readonly CST.Token[]): {
  readonly tooDeep?: YamlProblem;
  readonly unclosed: YamlProblem[];
} {
  const unclosed: YamlProblem[] = [];
  const pending = tokens.map((token) => ({ token, depth: 0 }));
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { token, depth } = next;
    if (token.type === 'document') {
      if (token.value) pending.push({ token: token.value, depth });
    } else if (token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection') {
      if (depth >= maxNesting) {
        return {
          tooDeep: { offset: token.offset, message: `nested more than ${maxNesting} levels deep` },
          unclosed,
        };
      }
      if (token.type === 'flow-collection') {
        const closer = token.start.source === '[' ? ']' : '}';
        if (!token.end.some((end) => end.source === closer)) {
          unclosed.push({
            offset: token.offset,
            message: `this ${token.start.source} is never closed with ${closer}`,
          });
        }
      }
      for (const item of token.items) {
        if (item.key) pending.push({ token: item.key, depth: depth + 1 });
        if (item.value) pending.push({ token: item.value, depth: depth + 1 });
      }
    } else if (token.type === 'single-quoted-scalar' || token.type === 'double-quoted-scalar') {
      if (!quotedScalarIsClosed(token.source)) {
        unclosed.push({ offset: token.offset, message: `this ${token.source[0]} string is never closed` });
      }
    }
  }
  return { unclosed: unclosed.sort((a, b) => a.offset - b.offset) };
}

/** A scalar key as the JS object key it becomes (a date or binary key would be text too). */
function keyName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

interface Extent {
  /** Scalars and collections, once aliases are expanded. */
  readonly values: number;
  readonly depth: number;
}

/**
 * Duplicate keys (at the second one), keys that are not plain scalars, aliases without an anchor before them or
 * inside what they name, and aliases that expand to more than `maxAliasValues` values or nest too deep. Linear:
 * each node is measured once (an alias reuses its anchor's measure) and each map keeps a set of its keys.
 */
function nodeProblems(doc: Document.Parsed, lineCounter: LineCounter): YamlProblem[] {
  const problems: YamlProblem[] = [];
  const anchors = new Map<string, unknown>();
  const measured = new Map<unknown, Extent>();
  let aliasValues = 0;
  let tooDeep = false;
  const at = (node: unknown) => (isNode(node) ? (node.range?.[0] ?? 0) : 0);

  const tooDeepAt = (node: unknown, level: number, extent: Extent) => {
    // Counted from the top, as for the text itself: an alias adds its anchor's depth where it stands.
    if (level + extent.depth > maxNesting + 1 && !tooDeep) {
      tooDeep = true;
      problems.push({
        offset: at(node),
        message: `nested more than ${maxNesting} levels deep once aliases are expanded`,
      });
    }
  };

  /** `level`: the collections around the node. */
  const measure = (node: unknown, level: number): Extent => {
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      const extent = target === undefined ? undefined : measured.get(target);
      if (extent === undefined) {
        problems.push({
          offset: at(node),
          message:
            target === undefined
              ? `alias *${node.source} has no anchor &${node.source} before it`
              : `alias *${node.source} is inside the value it names`,
        });
        return { values: 1, depth: 1 };
      }
      aliasValues += extent.values;
      if (aliasValues > maxAliasValues && aliasValues - extent.values <= maxAliasValues) {
        problems.push({
          offset: at(node),
          message: `aliases expand to more than ${maxAliasValues.toLocaleString('en-US')} values here: write the plan out instead`,
        });
      }
      tooDeepAt(node, level, extent);
      return extent;
    }
    // Recorded before the children are measured, so that an alias inside its own anchor is found (no measure yet).
    if (isNode(node) && node.anchor) anchors.set(node.anchor, node);
    const children: Extent[] = [];
    if (isMap(node)) {
      const keys = new Map<string, unknown>();
      for (const pair of node.items) {
        if (pair.key !== null && !isScalar(pair.key)) {
          problems.push({
            offset: at(pair.key),
            message: 'a key must be a plain name, not a collection or alias',
          });
        } else {
          const name = keyName(pair.key?.value);
          const first = keys.get(name);
          if (first === undefined) keys.set(name, pair.key);
          else {
            const { line, col } = lineCounter.linePos(at(first));
            problems.push({
              offset: at(pair.key),
              message: `key ${quote(name)} is given twice (first at ${line}:${col})`,
            });
          }
        }
        children.push(measure(pair.key, level + 1), measure(pair.value, level + 1));
      }
    } else if (isSeq(node)) {
      for (const item of node.items) children.push(measure(item, level + 1));
    }
    const extent = {
      values: children.reduce((sum, child) => sum + child.values, 1),
      depth: 1 + children.reduce((deepest, child) => Math.max(deepest, child.depth), 0),
    };
    tooDeepAt(node, level, extent);
    measured.set(node, extent);
    return extent;
  };
  measure(doc.contents, 0);
  return problems;
}

/** Reads one YAML document into a JS value, or says what is wrong with it and where. */
export function readYamlDocument(text: string, lineCounter: LineCounter): YamlReading {
  const tokens = Array.from(new Parser(lineCounter.addNewLine).parse(text));
  const control = firstControlCharacter(text);
  if (control >= 0) {
    const code = text.charCodeAt(control).toString(16).padStart(4, '0').toUpperCase();
    return {
      ok: false,
      problems: [
        { offset: control, message: `control character U+${code} is not allowed in a plan (a binary file?)` },
      ],
    };
  }
  const { tooDeep, unclosed } = structureProblems(tokens);
  if (tooDeep) return { ok: false, problems: [tooDeep] };

  const composer = new Composer({ uniqueKeys: false, logLevel: 'error', prettyErrors: false });
  const [doc, second] = composer.compose(tokens, true, text.length);
  if (doc === undefined)
    return { ok: false, problems: [{ offset: 0, message: 'the file holds no YAML document' }] };
  // The library often reports one mistake several times: after an unclosed bracket or quote, and on the same
  // line (a tab used as indentation is also "Nested mappings are not allowed…"). The first of each is shown.
  const firstUnclosed = unclosed[0]?.offset ?? Number.POSITIVE_INFINITY;
  const linesSeen = new Set<number>();
  const reported = [...doc.errors, ...doc.warnings]
    .filter((e) => e.pos[0] < firstUnclosed)
    .sort((a, b) => a.pos[0] - b.pos[0])
    .filter((e) => {
      const { line } = lineCounter.linePos(e.pos[0]);
      return !linesSeen.has(line) && linesSeen.add(line);
    })
    .map((e) => ({ offset: e.pos[0], message: e.message.split('\n')[0] ?? e.code }));
  const problems = [...unclosed, ...reported];
  if (second !== undefined) {
    problems.push({
      offset: second.range[0],
      message: 'a plan is one YAML document, and a second one starts here',
    });
  }
  if (problems.length > 0) return { ok: false, problems };
  const nodes = nodeProblems(doc, lineCounter);
  if (nodes.length > 0) return { ok: false, problems: nodes };
  // Aliases are bounded above, so the library's own count (which refuses some plain reuse) is not needed.
  return { ok: true, doc, value: doc.toJS({ maxAliasCount: -1 }) };
}
