import { RE2JS } from 're2js';

// Every regular expression a plan gives (check output, HTTP body, process command lines) is compiled and run by
// RE2 (the re2js port): matching takes time linear in the input, so no pattern can stall a worker the way
// `^(a+)+$` stalls V8's backtracking engine (tens of seconds for 30 characters). RE2 refuses what it cannot run
// in linear time — backreferences, lookaround — and that refusal is the plan's validation error.

/** The longest pattern a plan may give. */
export const maxPatternLength = 1000;

const compiled = new Map<string, RE2JS>();
const cacheLimit = 500;

/** Why RE2 cannot take the pattern, or undefined when it can. */
export function patternProblem(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern, RE2JS.MULTILINE);
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return message.replace(/^error parsing regexp: /, '');
  }
}

/** The pattern compiled once (multi-line: `^` and `$` match at line ends, as grep does), cached per text. */
export function compilePattern(pattern: string): RE2JS {
  let regex = compiled.get(pattern);
  if (regex === undefined) {
    regex = RE2JS.compile(pattern, RE2JS.MULTILINE);
    if (compiled.size >= cacheLimit) compiled.clear();
    compiled.set(pattern, regex);
  }
  return regex;
}

/** Whether the pattern matches anywhere in the text. */
export function matches(pattern: string, text: string): boolean {
  return compilePattern(pattern).matcher(text).find();
}

/** The number of capture groups of a pattern. */
export function groupCount(pattern: string): number {
  return compilePattern(pattern).groupCount();
}

/** The text of the first capture group of the first match, or undefined when nothing matches. */
export function firstGroup(pattern: string, text: string): string | undefined {
  const matcher = compilePattern(pattern).matcher(text);
  return matcher.find() ? (matcher.group(1) ?? undefined) : undefined;
}
