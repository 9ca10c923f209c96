/**
 * The noise-prediction loss of the latent diffusion decoder (MiniGPT-5 Eq. 3), shared by
 * `LatentDiffusion.loss`, the one-thread trainer (train.ts) and the data-parallel workers (grads.ts):
 *
 *   L = mean over every value of ‖ε − ε_θ(√ᾱ_t z_0 + √(1−ᾱ_t) ε, t, τ(caption))‖²
 *
 * In training, each row's timestep and noise are a pure function of (step's noise seed, row index in the
 * batch) — `rowDraws` — rather than one stream over the whole batch, so a worker that holds rows
 * [from, to) draws exactly what one thread draws for them, and a resumed run draws what the uninterrupted
 * one would have. A part of a batch scales its mean by rows / batchRows, so the parts' losses and
 * gradients add up to the whole batch's; a whole batch is scaled by nothing.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32, normalArray, rngAt } from '../util/random';
import type { LatentDiffusionConfig } from './config';
import type { NoiseSchedule } from './schedule';
import type { Denoiser } from './denoiser';
import { CaptionTokens, Conditioning, encodeCaptionTokens } from './caption-encoder';

/** What the loss needs of a decoder: a LatentDiffusion has it, and so does a worker's bare copy (grads.ts). */
export interface DenoiserParts {
  readonly config: LatentDiffusionConfig;
  readonly params: Map<string, tf.Variable>;
  readonly denoiser: Denoiser;
  readonly schedule: NoiseSchedule;
}

/**
 * What the training loss compares, per value:
 *  - 'epsilon': ‖ε − ε̂‖², MiniGPT-5 Eq. 3 (and LDM's). Per row it is ᾱ_t · ‖v − v̂‖² = ᾱ_t / (1 − ᾱ_t) ·
 *    ‖z_0 − x̂_0‖²: at high noise (ᾱ_t → 0), where the caption is all the model has to say what the image
 *    holds, a wrong guess of the image costs almost nothing (t = 900: 1/40 of its x̂_0 error).
 *  - 'v': ‖v − v̂‖² with v = √ᾱ_t ε − √(1−ᾱ_t) z_0 (Salimans & Ho 2022, §4; Stable Diffusion 2), = ‖z_0 −
 *    x̂_0‖² / (1 − ᾱ_t): every noise level weighs about equally, and at high noise the loss is the error of
 *    the model's guess of the image. The network's raw output is v̂ already (denoiser.ts), so nothing is
 *    divided by a vanishing √ᾱ_t.
 * The first ldm-emoji runs (ε) learned to ignore their captions; the recipe trains on 'v' (README).
 */
export type LossTarget = 'epsilon' | 'v';
export const LOSS_TARGETS: readonly LossTarget[] = ['epsilon', 'v'];

/** The random stream of `LatentDiffusion.loss` for a seed: its timesteps (when not given), then its noise. */
export function lossRng(seed: number): () => number {
  return mulberry32((seed * 0x9e3779b1) >>> 0);
}

/** z_t = √ᾱ_t z_0 + √(1−ᾱ_t) ε for each row, and the denoiser's output on it (ε̂, or v̂ for `output` 'v'). */
export function noisedPrediction(m: DenoiserParts, z0: Float32Array, cond: Conditioning, ts: readonly number[], eps: Float32Array, output: LossTarget = 'epsilon'): { z: tf.Tensor4D; e: tf.Tensor4D; zt: tf.Tensor4D; pred: tf.Tensor4D; a: tf.Tensor4D; s: tf.Tensor4D } {
  const { latentSize: g, latentChannels: C } = m.config;
  const B = ts.length;
  if (z0.length !== B * g * g * C || eps.length !== z0.length) throw new Error(`noisePredictionLoss: ${z0.length} latent and ${eps.length} noise values for ${B} rows of ${g}×${g}×${C}`);
  const a = tf.tensor4d(ts.map((t) => m.schedule.forwardCoefs(t).a), [B, 1, 1, 1]);
  const s = tf.tensor4d(ts.map((t) => m.schedule.forwardCoefs(t).s), [B, 1, 1, 1]);
  const e = tf.tensor4d(eps, [B, g, g, C]);
  const z = tf.tensor4d(z0, [B, g, g, C]);
  const zt = tf.add(tf.mul(z, a), tf.mul(e, s)) as tf.Tensor4D; // [B, g, g, C]
  const pred = m.denoiser.forward(zt, ts, m.denoiser.prepareConditioning(cond), { output }); // ε̂ or v̂ [B, g, g, C]
  return { z, e, zt, pred, a, s };
}

/**
 * The loss (`target`, default ε) averaged over every value, for normalised latents z0 [B·g·g·C], a
 * conditioning of batch B, one timestep per row and the noise ε [B·g·g·C]. Call it under a gradient tape and tidy.
 */
export function noisePredictionLoss(m: DenoiserParts, z0: Float32Array, cond: Conditioning, ts: readonly number[], eps: Float32Array, target: LossTarget = 'epsilon'): tf.Scalar {
  const { z, e, pred, a, s } = noisedPrediction(m, z0, cond, ts, eps, target);
  const want = target === 'v' ? tf.sub(tf.mul(e, a), tf.mul(z, s)) : e; // v = √ᾱ ε − √(1−ᾱ) z_0
  return tf.mean(tf.square(tf.sub(pred, want))) as tf.Scalar;
}

/** A training step's noise seed (DiffusionBatch.noiseSeed): rows draw their timesteps and noise from it (rowDraws). */
export function stepNoiseSeed(seed: number, step: number): number {
  return (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b)) >>> 0;
}

/** rngAt purpose of the per-row timestep and noise draws. */
const ROW_DRAWS = 11;

/** Row `row`'s timestep (uniform on 1…T) and noise (`values` standard normals) for a step's noise seed. */
export function rowDraws(noiseSeed: number, row: number, timesteps: number, values: number): { t: number; eps: Float32Array } {
  const rand = rngAt(noiseSeed, ROW_DRAWS, row);
  const t = 1 + Math.floor(rand() * timesteps);
  return { t, eps: normalArray(values, 1, rand) };
}

/** Some rows of a training batch: everything the loss needs, plain arrays (a worker's share travels as this). */
export interface DiffusionPart {
  /** Normalised latents [rows·g·g·C]. */
  latents: Float32Array;
  /** The rows' captions, tokenized ('' = the null conditioning: all padding). */
  tokens: CaptionTokens;
  /** The step's noise seed (DiffusionBatch.noiseSeed). */
  noiseSeed: number;
  /** Index in the batch of this part's first row. */
  firstRow: number;
  rows: number;
  /** Rows of the whole batch. */
  batchRows: number;
  /** What the loss compares (default 'epsilon'). */
  target?: LossTarget;
}

/** Rows [from, to) of a batch's latents and tokens as a part (null when empty). */
export function batchPart(latents: Float32Array, tokens: CaptionTokens, noiseSeed: number, from: number, to: number): DiffusionPart | null {
  const B = tokens.batch;
  if (to <= from) return null;
  if (from < 0 || to > B) throw new Error(`batchPart: rows [${from}, ${to}) outside a batch of ${B}`);
  const per = latents.length / B;
  const L = tokens.ids.length / B;
  return {
    latents: latents.slice(from * per, to * per),
    tokens: { ids: tokens.ids.slice(from * L, to * L), mask: tokens.mask.slice(from * L, to * L), lengths: tokens.lengths.slice(from, to), batch: to - from },
    noiseSeed,
    firstRow: from,
    rows: to - from,
    batchRows: B,
  };
}

/** The part's share of its batch's loss (the caption encoder runs under the same tape: τ trains jointly). */
export function partLoss(m: DenoiserParts, part: DiffusionPart): tf.Scalar {
  const { latentSize: g, latentChannels: C, timesteps: T } = m.config;
  const per = g * g * C;
  if (part.latents.length !== part.rows * per || part.tokens.batch !== part.rows) {
    throw new Error(`partLoss: ${part.latents.length} latent values and ${part.tokens.batch} captions for ${part.rows} rows of ${per}`);
  }
  const ts: number[] = [];
  const eps = new Float32Array(part.rows * per);
  for (let r = 0; r < part.rows; r++) {
    const d = rowDraws(part.noiseSeed, part.firstRow + r, T, per);
    ts.push(d.t);
    eps.set(d.eps, r * per);
  }
  const loss = noisePredictionLoss(m, part.latents, encodeCaptionTokens(m.params, m.config.caption, part.tokens), ts, eps, part.target);
  return part.rows === part.batchRows ? loss : (tf.mul(loss, part.rows / part.batchRows) as tf.Scalar);
}
