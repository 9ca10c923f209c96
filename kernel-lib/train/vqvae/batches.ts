/**
 * Training batches as pure functions of (seed, step): the images an EpochSampler (util/random.ts) picks,
 * with seeded horizontal flips, so a resumed run sees exactly the batches the uninterrupted run would have.
 */

/** The batch of one size for a step: bytes [B, S, S, 3], with seeded horizontal flips. */
export function makeBatch(table: Uint8Array, size: number, idx: number[], flipRand: (() => number) | null): Uint8Array {
  const per = size * size * 3;
  const out = new Uint8Array(idx.length * per);
  idx.forEach((i, b) => {
    const src = table.subarray(i * per, (i + 1) * per);
    if (flipRand === null || flipRand() < 0.5) {
      out.set(src, b * per);
      return;
    }
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const s = (y * size + x) * 3;
        const d = b * per + (y * size + (size - 1 - x)) * 3;
        out[d] = src[s];
        out[d + 1] = src[s + 1];
        out[d + 2] = src[s + 2];
      }
    }
  });
  return out;
}
