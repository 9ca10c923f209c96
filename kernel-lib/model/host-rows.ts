/**
 * Row gather and row scatter-add done on the host, with gradients. On wasm, `tf.gather` of 4,096 rows of
 * width 128 takes ~60 ms and its gradient (UnsortedSegmentSum) has no kernel at all, while reading the
 * tensor, copying the rows in JavaScript and uploading the result takes ~9 ms (measured on this project's
 * 2-core machine). The two ops are each other's adjoint, so each one's gradient is the other.
 *
 * Call inside tf.tidy / a gradient tape; the index arrays must not change until the gradient has run.
 */
import * as tf from '@tensorflow/tfjs';

function check(idx: Int32Array, rows: number, what: string): void {
  for (let i = 0; i < idx.length; i++) {
    if (!(idx[i] >= 0 && idx[i] < rows)) throw new Error(`${what}: index ${idx[i]} at ${i} is outside [0, ${rows})`);
  }
}

function gatherHost(src: Float32Array, width: number, idx: Int32Array): Float32Array {
  const out = new Float32Array(idx.length * width);
  for (let r = 0; r < idx.length; r++) out.set(src.subarray(idx[r] * width, (idx[r] + 1) * width), r * width);
  return out;
}

function scatterAddHost(src: Float32Array, width: number, idx: Int32Array, rows: number): Float32Array {
  const out = new Float32Array(rows * width);
  for (let r = 0; r < idx.length; r++) {
    const o = idx[r] * width;
    const s = r * width;
    for (let c = 0; c < width; c++) out[o + c] += src[s + c];
  }
  return out;
}

/** out[r] = t[idx[r]] for t [R, D] → [idx.length, D]; the gradient scatter-adds dy back into [R, D]. */
export function gatherRows(t: tf.Tensor2D, idx: Int32Array): tf.Tensor2D {
  const [R, D] = t.shape;
  check(idx, R, 'gatherRows');
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor2D;
    return {
      value: tf.tensor2d(gatherHost(x.dataSync() as Float32Array, D, idx), [idx.length, D]),
      gradFunc: (dy: tf.Tensor) => tf.tensor2d(scatterAddHost(dy.dataSync() as Float32Array, D, idx, R), [R, D]),
    };
  }) as unknown as (x: tf.Tensor2D) => tf.Tensor2D;
  return op(t);
}

/** out[idx[r]] += t[r] for t [idx.length, D] → [rows, D]; the gradient gathers dy's rows. */
export function scatterAddRows(t: tf.Tensor2D, idx: Int32Array, rows: number): tf.Tensor2D {
  const [n, D] = t.shape;
  if (n !== idx.length) throw new Error(`scatterAddRows: ${n} rows but ${idx.length} indices`);
  check(idx, rows, 'scatterAddRows');
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor2D;
    return {
      value: tf.tensor2d(scatterAddHost(x.dataSync() as Float32Array, D, idx, rows), [rows, D]),
      gradFunc: (dy: tf.Tensor) => tf.tensor2d(gatherHost(dy.dataSync() as Float32Array, D, idx), [n, D]),
    };
  }) as unknown as (x: tf.Tensor2D) => tf.Tensor2D;
  return op(t);
}
