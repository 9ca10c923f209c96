/**
 * The workbench CLIP's two towers (architecture: clip-config.ts) as functions of a parameter map, so
 * the model (clip.ts) and a data-parallel worker holding only the weights (clip-grads.ts) run the same
 * code. Both are row-wise: an image's or a caption's embedding depends on its own row only.
 */
import * as tf from '@tensorflow/tfjs';
import { linear } from '../model/linear';
import { ClipConfig, patchGrid } from './clip-config';

type Params = ReadonlyMap<string, tf.Tensor>;

/** x / ‖x‖ per row (eps keeps an all-zero row finite). */
export function l2normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.sqrt(tf.add(tf.sum(tf.square(x), 1, true), 1e-12)));
}

const param = (p: Params, name: string): tf.Tensor2D => p.get(name) as tf.Tensor2D;

/** Image tower on patches from imagePatches: [B·64, P²·3] → [B, d], L2-normalised. Call inside tidy. */
export function imageTower(p: Params, c: ClipConfig, patches: tf.Tensor2D, B: number): tf.Tensor2D {
  const [w0, w1, w2] = c.visionWidths;
  const G = patchGrid(c);
  const layer = (x: tf.Tensor2D, name: string): tf.Tensor2D => tf.relu(tf.add(linear(x, param(p, `${name}.weight`)), param(p, `${name}.bias`))) as tf.Tensor2D;
  let h = layer(patches, 'vision.patch'); // [B·G², w0]
  h = layer(tf.reshape(h, [(B * G * G) / 4, 4 * w0]), 'vision.merge1'); // [B·G²/4, w1]: Morton order makes 2×2 blocks contiguous
  h = layer(tf.reshape(h, [(B * G * G) / 16, 4 * w1]), 'vision.merge2'); // [B·4, w2]
  h = layer(tf.reshape(h, [B, 4 * w2]), 'vision.fc'); // [B, hidden]
  return l2normalize(linear(h, param(p, 'vision.proj.weight'))); // [B, d]
}

/** Text tower on bags from textBags: [2B, V] → [B, d], L2-normalised. Call inside tidy. */
export function textTower(p: Params, c: ClipConfig, bags: tf.Tensor2D, B: number): tf.Tensor2D {
  const pooled = tf.reshape(linear(bags, param(p, 'text.embed.weight')), [B, 2 * c.textEmbed]) as tf.Tensor2D; // [B, 2e]
  const h = tf.relu(tf.add(linear(pooled, param(p, 'text.fc.weight')), param(p, 'text.fc.bias'))) as tf.Tensor2D; // [B, hidden]
  return l2normalize(linear(h, param(p, 'text.proj.weight'))); // [B, d]
}
