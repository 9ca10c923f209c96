/**
 * Gradient module for the workbench CLIP (run inside data-parallel workers, train/parallel/pool.ts).
 *
 * The contrastive loss couples a batch's rows: every image is scored against every caption, so a
 * worker cannot compute a loss of its own rows alone. The towers, though, are row-wise (clip-towers.ts),
 * and they are nearly all of the work. So each worker embeds only its rows (images and captions), the
 * workers all-gather the embeddings (an all-reduce of a [2B, d] array in which each wrote its rows and
 * zeros elsewhere: exact, as x + 0 = x), and each computes the whole batch's loss from the gathered
 * embeddings with ITS OWN rows as the taped tensors and everyone else's as constants. The loss L is then
 * the single-thread loss in every worker, and the gradient each gets is ∂L/∂θ through its own rows'
 * embeddings; the sum over workers is ∂L/∂θ. `logit_scale` reaches L directly, not through rows, so only
 * rank 0 takes its gradient (and reports L; the others report 0): the sums are the batch's, once.
 * The [B, B] similarity matrix and its softmaxes are computed in every worker: small beside the towers.
 */
import * as tf from '@tensorflow/tfjs';
import type { RGBImage } from '../image/types';
import type { Collective } from '../train/parallel/collective';
import type { GradFn, ShareResult } from '../train/parallel/protocol';
import { splitRows } from '../train/parallel/split-rows';
import { ClipConfig, clipParamShapes, patchGrid } from './clip-config';
import { imagePatches, textBags } from './clip-inputs';
import { captionTargets, clipLoss } from './clip-loss';
import { imageTower, textTower } from './clip-towers';

export interface ClipGradInit {
  config: ClipConfig;
}

/** Worker r's rows [from, to) of a batch of `captions.length` pairs (from = to: none, but it still joins the all-gather). */
export interface ClipShare {
  from: number;
  to: number;
  /** Its rows' images, shifts (2 per row: x, y) and caption token ids. */
  images: RGBImage[];
  shifts: Int8Array;
  tokens: number[][];
  /** Every caption of the batch: the soft targets need them all. */
  captions: string[];
}

/** The batch cut into one share per worker (splitRows: contiguous rows, the first workers one longer). */
export function clipShares(images: readonly RGBImage[], shifts: Int8Array, tokens: readonly number[][], captions: string[], workers: number): ClipShare[] {
  return splitRows(captions.length, workers).map(([from, to]) => ({ from, to, images: images.slice(from, to), shifts: shifts.slice(2 * from, 2 * to), tokens: tokens.slice(from, to), captions }));
}

/** Floats each worker all-reduces per step (pool reduceCapacity). */
export function clipReduceLength(c: ClipConfig, batchSize: number): number {
  return 2 * batchSize * c.embedDim;
}

export function createGradFn(init: ClipGradInit): GradFn<ClipShare> {
  const c = init.config;
  // values are overwritten from shared memory before every step
  const params = new Map([...clipParamShapes(c)].map(([name, shape]) => [name, tf.tidy(() => tf.variable(tf.zeros(shape), true))] as const));
  const G2 = patchGrid(c) ** 2;
  const rowLen = c.patchSize * c.patchSize * 3;
  const d = c.embedDim;
  return {
    params,
    grad(share: ClipShare | null, collective: Collective): ShareResult {
      if (!share) throw new Error('clip grads: every worker needs a share (an empty one: from = to), to join the all-gather');
      const { from, to } = share;
      const B = share.captions.length;
      const rows = to - from;
      const names = [...params.keys()].filter((n) => collective.rank === 0 || n !== 'logit_scale');
      const { value, grads } = tf.engine().gradients(
        () => {
          const img = rows > 0 ? imageTower(params, c, tf.tensor2d(imagePatches(share.images, c, share.shifts), [rows * G2, rowLen]), rows) : null; // [rows, d]
          const txt = rows > 0 ? textTower(params, c, tf.tensor2d(textBags(share.tokens, c.vocabSize), [2 * rows, c.vocabSize]), rows) : null; // [rows, d]
          const local = new Float64Array(2 * B * d);
          if (img && txt) {
            local.set(img.dataSync(), from * d);
            local.set(txt.dataSync(), (B + from) * d);
          }
          const all = collective.allReduceSum(local); // [2B, d]: every worker's rows
          /** The batch's [B, d] embeddings: the gathered rows, this worker's own taped ones in place. */
          const whole = (mine: tf.Tensor2D | null, base: number): tf.Tensor2D => {
            const before = from > 0 ? [tf.tensor2d(Float32Array.from(all.subarray(base, base + from * d)), [from, d])] : [];
            const after = to < B ? [tf.tensor2d(Float32Array.from(all.subarray(base + to * d, base + B * d)), [B - to, d])] : [];
            return tf.concat([...before, ...(mine ? [mine] : []), ...after]) as tf.Tensor2D;
          };
          const targets = tf.tensor2d(captionTargets(share.captions), [B, B]);
          return clipLoss(whole(img, 0), whole(txt, B * d), params.get('logit_scale') as tf.Variable, c.maxLogitScale, targets);
        },
        names.map((n) => params.get(n) as tf.Variable),
        undefined,
        true,
      );
      const out = new Map<string, tf.Tensor>();
      names.forEach((n, i) => {
        if (grads[i]) out.set(n, grads[i]);
      });
      return { loss: collective.rank === 0 ? value.dataSync()[0] : 0, grads: out };
    },
  };
}
