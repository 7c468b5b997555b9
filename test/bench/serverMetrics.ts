// Where the dev server spent its time during a bench: its own Prometheus histograms (`--metrics-port`),
// scraped before and after, per operation. Long polls are left out (a waiting poll is not work).

/** Histograms that time the server's work, by operation. */
const timed = ['service_latency', 'persistence_latency', 'task_latency_queue', 'task_latency_processing'];

interface SumAndCount {
  sum: number;
  count: number;
}

export type ServerSample = Map<string, SumAndCount>;

/** Sums and counts of the timed histograms, keyed `metric operation (service)`. */
export async function scrapeServer(port: number): Promise<ServerSample> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const sample: ServerSample = new Map();
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)_(sum|count)\{([^}]*)\} (\S+)$/.exec(line);
    if (match === null) continue;
    const [, metric = '', part, labels = '', value = ''] = match;
    if (!timed.includes(metric)) continue;
    const operation = /operation="([^"]*)"/.exec(labels)?.[1] ?? '?';
    if (operation.startsWith('Poll')) continue;
    const service = /service_name="([^"]*)"/.exec(labels)?.[1] ?? '?';
    const key = `${metric} ${operation} (${service})`;
    const entry = sample.get(key) ?? { sum: 0, count: 0 };
    if (part === 'sum') entry.sum += Number(value);
    else entry.count += Number(value);
    sample.set(key, entry);
  }
  return sample;
}

/** The operations that took the most server time between two samples, with their count and mean. */
export function busiestBetween(
  before: ServerSample,
  after: ServerSample,
  top = 12,
): { what: string; count: number; totalMs: number; meanMs: number }[] {
  return [...after.entries()]
    .map(([what, { sum, count }]) => {
      const earlier = before.get(what) ?? { sum: 0, count: 0 };
      const n = count - earlier.count;
      const totalMs = (sum - earlier.sum) * 1000;
      return {
        what,
        count: n,
        totalMs: Math.round(totalMs),
        meanMs: n > 0 ? Math.round((10 * totalMs) / n) / 10 : 0,
      };
    })
    .filter((row) => row.count > 0)
    .sort((a, b) => b.totalMs - a.totalMs)
    .slice(0, top);
}
