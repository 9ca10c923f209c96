/**
 * Linear algebra with wasm-friendly gradients. TF.js's stock matMul gradient uses the transposeA/B
 * forms, which are 5–30x slower than an explicit transpose + plain matMul on the wasm backend; these
 * ops give the same math with explicit transposes (2-D ones in the fast 3-D form, util/transpose.ts).
 * They are the only matMuls the model uses for 2-D activations, so training and decoding share them.
 * Each computes an input's gradient only when the tape asks for it (util/lazy-grad.ts), so the frozen
 * weights of adapter training cost no gradient work.
 */
import * as tf from '@tensorflow/tfjs';
import { lazyCustomGrad } from '../util/lazy-grad';
import { transpose2d } from '../util/transpose';
import { heapCopies } from '../backend/host-copy';

/**
 * y = x · W for x [N, in], W [in, out] → [N, out]; gradient via explicit transposes, each input's only when
 * the tape needs it (util/lazy-grad.ts: a frozen W's dW is not computed).
 */
export const linear = lazyCustomGrad<[x: tf.Tensor2D, w: tf.Tensor2D], tf.Tensor2D>(([x2, w2], save) => {
  save([x2, w2]);
  return {
    value: tf.matMul(x2, w2), // [N, out]
    gradFunc: (dy, saved) => {
      const [xs, ws] = saved as tf.Tensor2D[];
      return [
        () => tf.matMul(dy, transpose2d(ws)), // dx [N, in]
        () => tf.matMul(transpose2d(xs), dy), // dW [in, out]
      ];
    },
  };
});

/** Output entries per batch entry from which the per-batch form is used. */
const PER_BATCH_MIN_OUTPUT = 64 * 64;

/**
 * a [B, M, K] · b [B, K, N] → [B, M, N] as B separate 2-D matMuls. wasm runs BatchMatMul with a batch
 * dimension as plain loops (~2 GFLOP/s) but its 2-D product through XNNPACK; its Slice kernel is slow
 * too, so the operands are cut apart and the products joined by plain copies: on wasm inside the
 * module's heap (backend/host-copy.ts heapCopies: no host arrays, which at attention's training shapes
 * cost more than the products, README "MoSS training step"), elsewhere through the host. At attention's
 * training shapes ([32, 128, 32]·[32, 32, 128]) this measured 3× less CPU than one BatchMatMul
 * (README, "Training kernels"). Only for use inside a custom gradient: the copies are not on the tape.
 */
function perBatchMatMul(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  const [nb, m, k] = a.shape;
  const n = b.shape[2];
  // Small products (prefill of a few tokens) are dispatch-bound and the host round trip gained nothing
  // there (16-token prefill: 11.8 ms CPU batched, 14.5 per-batch; 256 tokens: 190 → 172, 153 → 122).
  if (nb === 1 || m * n < PER_BATCH_MIN_OUTPUT) return tf.matMul(a, b);
  const heap = a.dtype === 'float32' && b.dtype === 'float32' ? heapCopies() : null;
  if (heap) {
    const out = heap.empty([nb, m, n]) as tf.Tensor3D; // every value written below, before anything reads it
    for (let i = 0; i < nb; i++) {
      const ai = heap.empty([m, k]) as tf.Tensor2D;
      const bi = heap.empty([k, n]) as tf.Tensor2D;
      heap.copy(a, i * m * k, ai, 0, m * k);
      heap.copy(b, i * k * n, bi, 0, k * n);
      const ci = tf.matMul(ai, bi);
      heap.copy(ci, 0, out, i * m * n, m * n);
      tf.dispose([ai, bi, ci]);
    }
    return out;
  }
  const ad = a.dataSync() as Float32Array;
  const bd = b.dataSync() as Float32Array;
  const out = new Float32Array(nb * m * n);
  for (let i = 0; i < nb; i++) {
    const ai = tf.tensor2d(ad.subarray(i * m * k, (i + 1) * m * k), [m, k]);
    const bi = tf.tensor2d(bd.subarray(i * k * n, (i + 1) * k * n), [k, n]);
    const ci = tf.matMul(ai, bi);
    out.set(ci.dataSync() as Float32Array, i * m * n);
    tf.dispose([ai, bi, ci]);
  }
  return tf.tensor3d(out, [nb, m, n]);
}

/**
 * Batched matMul a [B, M, K] · b [B, K, N] → [B, M, N] with a gradient that uses explicit transposes
 * (used by attention, where the batch is B·heads); forward and gradient products run per batch entry.
 */
export const batchMatMul = lazyCustomGrad<[a: tf.Tensor3D, b: tf.Tensor3D], tf.Tensor3D>(([a3, b3], save) => {
  save([a3, b3]);
  return {
    value: perBatchMatMul(a3, b3),
    gradFunc: (dy, saved) => {
      const [as, bs] = saved as tf.Tensor3D[];
      return [
        () => perBatchMatMul(dy, tf.transpose(bs, [0, 2, 1])), // da [B, M, K]
        () => perBatchMatMul(tf.transpose(as, [0, 2, 1]), dy), // db [B, K, N]
      ];
    },
  };
});

/**
 * Row lookup `table[ids]`, because the gradient of gather (UnsortedSegmentSum) is missing on the wasm
 * backend. Forward uses gather; the gradient (oneHotᵀ · dy) is a scatter-add of dy's rows done on the
 * host: the one-hot [N, V] product and its 2-D transpose cost ~100–300 ms a training step on wasm,
 * the scatter-add N·H additions (README, "Training kernels").
 */
export const embeddingLookup = lazyCustomGrad<[ids: tf.Tensor1D, table: tf.Tensor2D], tf.Tensor2D>(([ids1, t2], save) => {
  save([ids1]);
  const [vocab, hidden] = t2.shape;
  return {
    value: tf.gather(t2, ids1), // [N, H]
    gradFunc: (dy, saved) => [
      () => tf.zerosLike(saved[0]), // ids: integers, never on a path from a trained weight
      () => {
        const ids = saved[0].dataSync();
        const d = dy.dataSync() as Float32Array; // [N, H]
        const dTable = new Float32Array(vocab * hidden); // [V, H]
        for (let r = 0; r < ids.length; r++) {
          const dst = ids[r] * hidden; // in range: the forward gather rejects ids outside [0, V)
          const src = r * hidden;
          for (let j = 0; j < hidden; j++) dTable[dst + j] += d[src + j];
        }
        return tf.tensor2d(dTable, [vocab, hidden]);
      },
    ],
  };
});

/**
 * Rows `rows` of x [N, H] → [rows.length, H] with a gradient into x: embeddingLookup with x as the table
 * (forward tf.gather; backward the host scatter-add of dy's rows into zeros, N·H values, where a one-hot
 * [rows, N] product costs rows·N·H and gather's own gradient is missing on wasm). Both are exact: the
 * forward copies rows, and the backward adds each dy row to a zero row (rows repeated: their dy rows
 * summed in order). Losses use it to run the LM head on the rows they read (train/lm-loss.ts).
 */
export function selectRows(x: tf.Tensor2D, rows: readonly number[] | Int32Array): tf.Tensor2D {
  if (x.rank !== 2) throw new Error(`selectRows: x must be 2-D [N, H], got shape [${x.shape}]`);
  const N = x.shape[0];
  for (const r of rows) if (!Number.isInteger(r) || r < 0 || r >= N) throw new Error(`selectRows: row ${r} is outside [0, ${N})`);
  return embeddingLookup(tf.tensor1d(Int32Array.from(rows), 'int32'), x); // [rows, H]
}
