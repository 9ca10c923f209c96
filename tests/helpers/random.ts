/**
 * Deterministic test inputs from an LCG (glibc's constants), deliberately independent of the library's
 * own generator (kernel-lib/util/random.ts), so a test of seeded library code never shares its stream.
 */
function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s;
  };
}

/** n values in [−0.5, 0.5). */
export function seeded(n: number, seed: number): Float32Array {
  const next = lcg(seed);
  return Float32Array.from({ length: n }, () => next() / 2147483648 - 0.5);
}

/** n token ids in [0, vocab). */
export function randomIds(n: number, vocab: number, seed: number): number[] {
  const next = lcg(seed);
  return Array.from({ length: n }, () => next() % vocab);
}
