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
