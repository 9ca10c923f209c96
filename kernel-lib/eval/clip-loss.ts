/**
 * CLIP's contrastive loss: the symmetric InfoNCE over a batch's image–caption similarity matrix, with
 * soft targets where captions repeat. The trainer (train-clip.ts) and its data-parallel gradient module
 * (clip-grads.ts) share it.
 */
import * as tf from '@tensorflow/tfjs';
import { linear } from '../model/linear';

/** Row-normalised "same caption" matrix [B, B]: the soft targets of the contrastive loss. */
export function captionTargets(captions: readonly string[]): Float32Array {
  const B = captions.length;
  const y = new Float32Array(B * B);
  for (let i = 0; i < B; i++) {
    let n = 0;
    for (let j = 0; j < B; j++) if (captions[j] === captions[i]) n++;
    for (let j = 0; j < B; j++) if (captions[j] === captions[i]) y[i * B + j] = 1 / n;
  }
  return y;
}

/**
 * Symmetric InfoNCE over normalised image and text embeddings [B, d] with soft targets [B, B]
 * (symmetric, rows summing to 1). Returns a scalar; call inside tidy / variableGrads.
 */
export function clipLoss(img: tf.Tensor2D, txt: tf.Tensor2D, logitScale: tf.Tensor, maxLogitScale: number, targets: tf.Tensor2D): tf.Scalar {
  const B = img.shape[0];
  const scale = tf.exp(tf.minimum(logitScale, maxLogitScale)); // [1]
  const logits = tf.mul(linear(img, tf.transpose(txt)), scale) as tf.Tensor2D; // [B, B]: row i = image i against every caption
  const i2t = tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits, 1))));
  const t2i = tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(tf.transpose(logits), 1))));
  return tf.div(tf.add(i2t, t2i), 2 * B) as tf.Scalar;
}
