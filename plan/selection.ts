import type { Selection } from './schema';

/** mulberry32: a tiny, well-known PRNG, so the same seed picks the same targets on every worker. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How many of `available` targets a selection takes (at least one when percent > 0). */
export function selectionSize(selection: Selection, available: number): number {
  switch (selection.mode) {
    case 'all':
      return available;
    case 'one':
      return Math.min(1, available);
    case 'fixed':
      return selection.count;
    case 'percent':
      return Math.min(available, Math.max(1, Math.ceil((available * selection.percent) / 100)));
  }
}

/** Picks targets for one fault: a seeded shuffle of the names, sorted first so that input order does not matter. */
export function selectTargets<T extends { readonly name: string }>(
  candidates: readonly T[],
  selection: Selection,
  seed: number,
): T[] {
  const sorted = [...candidates].sort((a, b) => a.name.localeCompare(b.name));
  const size = selectionSize(selection, sorted.length);
  if (size > sorted.length) {
    throw new RangeError(`asks for ${size} target(s) but only ${sorted.length} exist`);
  }
  if (size === sorted.length) return sorted;
  const next = random(seed);
  for (let i = sorted.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [sorted[i], sorted[j]] = [sorted[j] as T, sorted[i] as T];
  }
  return sorted.slice(0, size);
}
