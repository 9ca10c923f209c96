/** Shared test data for the image tokenizer tests. */

/** Deterministic values in [−0.5, 0.5) (an LCG; independent of the library's RNG). */
export function seeded(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  });
}
