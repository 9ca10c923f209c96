/**
 * Dropout on an adapter's input (PEFT's lora_dropout), in training forwards only. The mask of one
 * projection call is seeded by (the forward's dropoutSeed, adapter, layer, projection), so a training run
 * draws the same masks in any process and after a resume from its run directory: with tf.dropout's
 * default (unseeded) masks, two processes trained the same adapter differently from the first step on.
 */
import * as tf from '@tensorflow/tfjs';
import type { AdapterContext, ProjectionTarget } from '../model/adapter-seam';
import { fnv1a } from '../util/random';

export function adapterDropout(x: tf.Tensor2D, rate: number, ctx: AdapterContext, who: { adapter: string; layer: number; target: ProjectionTarget }): tf.Tensor2D {
  if (!ctx.training || !(rate > 0)) return x;
  const seed = ctx.dropoutSeed === undefined ? undefined : fnv1a(`${ctx.dropoutSeed}|${who.adapter}|${who.layer}|${who.target}`);
  return tf.dropout(x, rate, undefined, seed) as tf.Tensor2D;
}
