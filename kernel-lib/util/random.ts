/**
 * Every seeded random number in the project: the mulberry32 generator (weight initialisation, sampling,
 * batches, tests), normal samples, and the helpers the data sets build with. A data set draws from a
 * stream seeded by a *name* (`rngFor('scenes/train/17', seed)`), never from a shared stream, so example i
 * does not depend on how many examples were built before it: a small build is a prefix of a large one,
 * and changing one generator cannot shift another's output.
 */

export type Rng = () => number;

/** Mulberry32: a small seeded PRNG (deterministic initialisation and sampling). */
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

/** Seeded normal samples (Box–Muller). */
export function normalArray(n: number, std: number, rand: Rng): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** FNV-1a, 32-bit, over the UTF-16 code units of `s` (stable across platforms and Node versions). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // One round of avalanche so that keys differing only in their last characters spread over [0, 2^32).
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}

/** A number in [0, 1) fixed by the string: used to assign splits by hash. */
export function unitHash(s: string): number {
  return fnv1a(s) / 4294967296;
}

/** A fresh generator for the named purpose. */
export function rngFor(key: string, seed = 0): Rng {
  return mulberry32(fnv1a(`${seed}|${key}`));
}

/** Integer in [lo, hi] inclusive. */
export function randInt(rand: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

export function pick<T>(rand: Rng, items: readonly T[]): T {
  if (items.length === 0) throw new Error('pick: no items to choose from');
  return items[Math.floor(rand() * items.length)];
}

/** Fisher–Yates shuffle of 0..n-1. */
export function permutation(n: number, rand: Rng): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** A seeded stream per (seed, purpose, index), so batch i of a training run never depends on batches before it. */
export const rngAt = (seed: number, purpose: number, i: number): Rng =>
  mulberry32((Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(purpose + 1, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35)) >>> 0);

/**
 * Epoch-shuffled sampling without replacement over n items: indices for (step, slot) as a pure function of
 * (seed, purpose, step), so a resumed run draws what the uninterrupted run would have.
 */
export class EpochSampler {
  private perm: Int32Array | null = null;
  private permEpoch = -1;
  constructor(private readonly n: number, private readonly seed: number, private readonly purpose: number) {}

  indices(step: number, count: number): number[] {
    const out: number[] = [];
    for (let k = 0; k < count; k++) {
      const pos = step * count + k;
      const epoch = Math.floor(pos / this.n);
      if (epoch !== this.permEpoch) {
        this.perm = permutation(this.n, rngAt(this.seed, this.purpose, epoch));
        this.permEpoch = epoch;
      }
      out.push((this.perm as Int32Array)[pos % this.n]);
    }
    return out;
  }
}
