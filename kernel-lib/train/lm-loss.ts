/**
 * The language-model loss both training paths use (one thread in trainer.ts, each data-parallel worker in
 * parallel/lm-grads.ts): per-token negative log-likelihood of the targets, weighted, divided by the total
 * weight of the whole batch (a worker's share divides by the batch's total, so the shares sum to the loss).
 * A one-hot product rather than gather: gather has no gradient on wasm.
 */
import * as tf from '@tensorflow/tfjs';

export function weightedNll(logits: tf.Tensor2D, targets: Int32Array, weights: Float32Array | number[], weightTotal: number, vocabSize: number): tf.Scalar {
  const logp = tf.logSoftmax(logits); // [N, V]
  const oh = tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), vocabSize), 'float32'); // [N, V]
  const nll = tf.neg(tf.sum(tf.mul(logp, oh), -1)); // [N]
  return tf.div(tf.sum(tf.mul(nll, tf.tensor1d(weights))), Math.max(1e-8, weightTotal)) as tf.Scalar;
}
