/**
 * Linear algebra with wasm-friendly gradients. TF.js's stock matMul gradient uses the transposeA/B
 * forms, which are 5–30x slower than an explicit transpose + plain matMul on the wasm backend; these
 * ops give the same math with explicit transposes. They are the only matMuls the model uses for
 * 2-D activations, so training and decoding share them.
 */
import * as tf from '@tensorflow/tfjs';

/** y = x · W for x [N, in], W [in, out] → [N, out]; gradient via explicit transposes. */
export const linear = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x2, w2, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x2, w2]);
  return {
    value: tf.matMul(x2, w2), // [N, out]
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as tf.Tensor2D[];
      const dx = tf.matMul(dy as tf.Tensor2D, tf.transpose(ws)); // [N, in]
      const dw = tf.matMul(tf.transpose(xs), dy as tf.Tensor2D); // [in, out]
      return [dx, dw];
    },
  };
}) as unknown as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

/**
 * Batched matMul a [B, M, K] · b [B, K, N] → [B, M, N] with a gradient that uses explicit transposes
 * (used by attention, where the batch is B·heads).
 */
export const batchMatMul = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a3, b3, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
  save([a3, b3]);
  return {
    value: tf.matMul(a3, b3),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [as, bs] = saved as tf.Tensor3D[];
      const da = tf.matMul(dy as tf.Tensor3D, tf.transpose(bs, [0, 2, 1])); // [B, M, K]
      const db = tf.matMul(tf.transpose(as, [0, 2, 1]), dy as tf.Tensor3D); // [B, K, N]
      return [da, db];
    },
  };
}) as unknown as (a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D;

/**
 * Row lookup `table[ids]` as a one-hot matMul, because the gradient of gather (UnsortedSegmentSum) is
 * missing on the wasm backend. Forward uses gather (cheap); the gradient is oneHotᵀ · dy.
 */
export const embeddingLookup = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [ids1, t2, save] = args as [tf.Tensor1D, tf.Tensor2D, tf.GradSaveFunc];
  save([ids1]);
  const vocab = t2.shape[0];
  return {
    value: tf.gather(t2, ids1), // [N, H]
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      // oneHot is made as int32 and cast: the wasm OneHot kernel ignores a float32 dtype argument and
      // writes int32 bits into a float32 tensor (found by tests/backend against the cpu backend).
      const oh = tf.cast(tf.oneHot(saved[0] as tf.Tensor1D, vocab), 'float32'); // [N, V]
      const dTable = tf.matMul(tf.transpose(oh), dy as tf.Tensor2D); // [V, H]
      return [tf.zerosLike(saved[0]), dTable];
    },
  };
}) as unknown as (ids: tf.Tensor1D, table: tf.Tensor2D) => tf.Tensor2D;
