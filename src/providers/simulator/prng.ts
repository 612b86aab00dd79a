/**
 * Deterministic randomness: answers must be reproducible from (seed, prompt)
 * so quality benchmarks and tests can rely on them, hence no Math.random.
 */

/** A generator of floats in [0, 1). */
export type Rng = () => number;

/** mulberry32: tiny, fast and good enough for picking plausible answers. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over UTF-16 code units; mulberry32 does the mixing afterwards. */
export function hashString(s: string, basis = 0x811c9dc5): number {
  let h = basis >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Generator for one request: the same seed and prompt always give the same stream. */
export function rngFor(seed: number, prompt: string): Rng {
  return mulberry32(hashString(prompt, hashString(String(seed))));
}

/** Uniform integer in [min, max] (inclusive). */
export function intBetween(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

/** Picks by weight; callers guarantee at least one positive weight. */
export function pickWeighted<T extends { weight: number }>(rng: Rng, items: readonly T[]): T {
  let total = 0;
  for (const it of items) total += it.weight;
  let r = rng() * total;
  for (const it of items) {
    if (it.weight <= 0) continue;
    r -= it.weight;
    if (r < 0) return it;
  }
  // Floating-point rounding can leave r at ~0; the last positive item is the right answer then.
  for (let i = items.length - 1; i >= 0; i--) {
    const it = items[i];
    if (it !== undefined && it.weight > 0) return it;
  }
  return items[0] as T;
}
