/**
 * Gradient module for the latent diffusion decoder (run inside data-parallel workers, train/parallel/pool.ts):
 * the noise-prediction loss (loss.ts) of a worker's contiguous rows of a step's batch.
 *
 * The main thread draws what is random about a row before the split — the image, its caption variant and
 * the caption dropout (train.ts: diffusionBatch) — and tokenizes the captions; a row's timestep and noise
 * come from (noise seed, row index), so a worker draws for its rows what one thread would. Its loss is
 * its mean × rows/B: the workers' losses and gradients add up to the whole batch's. A worker needs no
 * VQ-VAE and no tokenizer: only the denoiser and the caption encoder, whose weights the pool writes in.
 */
import * as tf from '@tensorflow/tfjs';
import type { GradFn, ShareResult } from '../train/parallel/protocol';
import { splitRows } from '../train/parallel/split-rows';
import type { CaptionTokens } from './caption-encoder';
import type { LatentDiffusionConfig } from './config';
import { Denoiser } from './denoiser';
import { batchPart, DenoiserParts, DiffusionPart, partLoss } from './loss';
import { initDiffusionParams } from './params';
import { NoiseSchedule } from './schedule';

export interface DiffusionGradInit {
  config: LatentDiffusionConfig;
  /** Parameters to return gradients for (diffusionParamShapes names). */
  names: string[];
}

/** Worker r's share of a batch: rows splitRows(B, workers)[r] (null when it has none). */
export function diffusionShares(latents: Float32Array, tokens: CaptionTokens, noiseSeed: number, workers: number): Array<DiffusionPart | null> {
  return splitRows(tokens.batch, workers).map(([from, to]) => batchPart(latents, tokens, noiseSeed, from, to));
}

export function createGradFn(init: DiffusionGradInit): GradFn<DiffusionPart> {
  // values are overwritten from shared memory before every step
  const params = new Map([...initDiffusionParams(init.config, 0)].map(([n, h]) => [n, tf.variable(tf.tensor(h.data, h.shape))] as const));
  const schedule = new NoiseSchedule(init.config.timesteps);
  const parts: DenoiserParts = { config: init.config, params, schedule, denoiser: new Denoiser(init.config, params, schedule) };
  const vars = init.names.map((n) => {
    const v = params.get(n);
    if (!v) throw new Error(`diffusion grads: the decoder has no parameter '${n}'`);
    return v;
  });
  return {
    params,
    grad(share: DiffusionPart | null): ShareResult {
      if (!share) return { loss: 0, grads: new Map() };
      const { value, grads } = tf.engine().gradients(() => partLoss(parts, share), vars, undefined, true);
      const out = new Map<string, tf.Tensor>();
      init.names.forEach((n, i) => {
        if (grads[i]) out.set(n, grads[i]);
      });
      return { loss: value.dataSync()[0], grads: out };
    },
  };
}
