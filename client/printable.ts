import { escapeControlCharacters } from '../plan/controlCharacters';

/**
 * A copy of data from outside (a plan, a report, a host's output in a check's detail, the timeline) with every
 * control character in its strings written as `\xNN`, so that printing it cannot move the cursor, set the
 * terminal's title or overwrite lines. Every text rendering starts from it; JSON output needs nothing, since
 * JSON.stringify escapes control characters itself.
 */
export function printable<T>(value: T): T {
  if (typeof value === 'string') return escapeControlCharacters(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => printable(item)) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [escapeControlCharacters(key), printable(item)]),
    ) as T;
  }
  return value;
}
