/**
 * The language-model loss the trainers use (one thread in trainer.ts, each data-parallel worker in
 * parallel/lm-grads.ts, MiniGPT-5's L_text): per-token negative log-likelihood of the targets, weighted,
 * divided by the total weight of the whole batch (a worker's share divides by the batch's total, so the
 * shares sum to the loss). A one-hot product rather than gather: gather has no gradient on wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { selectRows } from '../model/linear';

export function weightedNll(logits: tf.Tensor2D, targets: Int32Array, weights: Float32Array | number[], weightTotal: number, vocabSize: number): tf.Scalar {
  const logp = tf.logSoftmax(logits); // [N, V]
  const oh = tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), vocabSize), 'float32'); // [N, V]
  const nll = tf.neg(tf.sum(tf.mul(logp, oh), -1)); // [N]
  return tf.div(tf.sum(tf.mul(nll, tf.tensor1d(weights))), Math.max(1e-8, weightTotal)) as tf.Scalar;
}

/**
 * weightedNll(head(states), …) with the head run only on the rows whose weight is not 0: a row of weight 0
 * adds exactly 0 to the weighted sum (and nothing to any gradient), so the loss is the same weighted mean
 * over the rows that count, while the head ([N, H]·[H, V], as dear per token as mm-moe-small's four layers,
 * its backward twice that) and the log-softmax skip the prompt and padding rows. The rows are picked with
 * selectRows (exact; its gradient reaches the states). When every row counts, or none does, it is exactly
 * weightedNll of the whole head.
 */
export function statesNll(states: tf.Tensor2D, head: (x: tf.Tensor2D) => tf.Tensor2D, targets: Int32Array, weights: Float32Array | number[], weightTotal: number, vocabSize: number): tf.Scalar {
  const N = states.shape[0];
  if (targets.length !== N || weights.length !== N) throw new Error(`statesNll: ${targets.length} targets and ${weights.length} weights for ${N} rows of states`);
  const rows: number[] = [];
  for (let i = 0; i < N; i++) if (weights[i] !== 0) rows.push(i);
  if (rows.length === N || rows.length === 0) return weightedNll(head(states), targets, weights, weightTotal, vocabSize);
  const keptTargets = Int32Array.from(rows, (i) => targets[i]);
  const keptWeights = Float32Array.from(rows, (i) => weights[i]);
  return weightedNll(head(selectRows(states, rows)), keptTargets, keptWeights, weightTotal, vocabSize); // head [kept, V]
}
