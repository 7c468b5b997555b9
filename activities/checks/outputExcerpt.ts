import { redact } from '../redact';

/** At most this much of a command's output goes into a check's detail (a line of the report). */
const maxExcerpt = 300;

/**
 * The part of a command's output that says why: its last lines (tools print warnings first and the reason
 * last, as etcdctl does), joined with ⏎ and cut from the front to a line's length.
 */
export function outputExcerpt(output: string): string {
  const lines = output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const text = lines.slice(-3).join(' ⏎ ');
  const cut = lines.length > 3 || text.length > maxExcerpt;
  return cut ? `…${text.slice(-maxExcerpt)}` : text;
}

/** At most this many bytes (UTF-8) of a command's output are kept in a result that does not hold. */
export const maxStoredOutputBytes = 4096;

/** Marks output cut at the front: what is kept is the end, where tools say why. */
export const cutMark = '…\n';

/**
 * A command's whole output as the report keeps it (`CheckResult.output`): redacted as everything the worker
 * stores is, then its last `maxStoredOutputBytes` bytes (cut at a line start when one is near, never inside a
 * character). Redacted before it is cut, so a cut never leaves half a secret.
 */
export function storedOutput(output: string): string {
  const text = redact(output);
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxStoredOutputBytes) return text;
  let start = bytes.length - (maxStoredOutputBytes - Buffer.byteLength(cutMark));
  // Not inside a UTF-8 character: continuation bytes are 10xxxxxx.
  while (start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start++;
  const tail = bytes.subarray(start).toString('utf8');
  // A whole first line when one starts within the first 200 bytes kept.
  const newline = tail.indexOf('\n');
  const kept = newline >= 0 && newline < 200 ? tail.slice(newline + 1) : tail;
  return `${cutMark}${kept}`;
}
