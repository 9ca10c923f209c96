/**
 * Training batches as pure functions of (seed, step): epoch-shuffled sampling without replacement and
 * seeded horizontal flips, so a resumed run sees exactly the batches the uninterrupted run would have.
 */
import { mulberry32 } from '../../util/random';

/** A seeded stream per purpose and index, so batch i never depends on batches before it. */
export const rngAt = (seed: number, purpose: number, i: number): (() => number) =>
  mulberry32((Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(purpose + 1, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35)) >>> 0);

/** Epoch-shuffled sampling without replacement: image indices for (step, slot). */
export class Sampler {
  private perm: Int32Array | null = null;
  private permEpoch = -1;
  constructor(private readonly n: number, private readonly seed: number, private readonly purpose: number) {}

  indices(step: number, count: number): number[] {
    const out: number[] = [];
    for (let k = 0; k < count; k++) {
      const pos = step * count + k;
      const epoch = Math.floor(pos / this.n);
      if (epoch !== this.permEpoch) {
        const rand = rngAt(this.seed, this.purpose, epoch);
        const p = Int32Array.from({ length: this.n }, (_, i) => i);
        for (let i = this.n - 1; i > 0; i--) {
          const j = Math.floor(rand() * (i + 1));
          [p[i], p[j]] = [p[j], p[i]];
        }
        this.perm = p;
        this.permEpoch = epoch;
      }
      out.push((this.perm as Int32Array)[pos % this.n]);
    }
    return out;
  }
}

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
