/**
 * The fused form of an adapter's low-rank products, shared by every kind. Per projection call the adapters
 * compute, for their targets t (q, k, v of the fused q|k|v projection, or o):
 *
 *   low = x · [A_q | A_k | A_v]              [N, in]·[in, c] → [N, c], c = targets · r (target-major columns)
 *   Δ   = s · low · blockdiag(B_q, B_k, B_v)  [N, c]·[c, out] → [N, out], out the projection's whole width
 *
 * which is s · (x·A_t)·B_t placed in t's column block — what the per-target products concatenated into the
 * fused q|k|v columns gave — in two matMuls. The per-target form cost three products a side and a concat of
 * three [N, out_t] outputs, whose gradient is a SplitV that wasm runs at ~15 ms per [3096, 128] column
 * block; here the pieces cut and pasted are the weights, a few thousand values each (README, "MoSS training
 * step"). A target without an adapter gets zero columns. The values are the per-target form's bits: a matMul
 * sums each output over the inner dimension in order, and the zero blocks only add exact zeros
 * (bench/adapter-legacy.ts keeps the old form; tests/adapters/fused-form.test.ts compares the two).
 */
import * as tf from '@tensorflow/tfjs';

/** Side-by-side columns [in, Σ c_i] of weights with a common number of rows (one weight: itself). */
export function concatColumns(ws: readonly tf.Tensor2D[]): tf.Tensor2D {
  return ws.length === 1 ? ws[0] : tf.concat(ws as tf.Tensor2D[], 1);
}

/** One target's up-weight and where its columns go in the projection's output. */
export interface UpBlock {
  /** [r, width] */
  B: tf.Tensor2D;
  /** First output column of this target (0 for q and o; q's width for k; q + k for v). */
  offset: number;
}

/**
 * blockdiag of the blocks' B: [Σ r, out], rows of block i non-zero only in its columns
 * [offset_i, offset_i + width_i). `groups` stacks several such (the text branch's, then the image branch's)
 * along the rows: [Σ_g Σ r, out].
 */
export function upWeights(groups: readonly (readonly UpBlock[])[], out: number): tf.Tensor2D {
  const rows: tf.Tensor2D[] = [];
  for (const g of groups) {
    for (const { B, offset } of g) {
      const w = B.shape[1];
      rows.push(offset === 0 && w === out ? B : tf.pad(B, [[0, 0], [offset, out - offset - w]]));
    }
  }
  return rows.length === 1 ? rows[0] : (tf.concat(rows, 0) as tf.Tensor2D);
}
