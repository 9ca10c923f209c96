/**
 * MiniGPT-5's losses on one batch, computed from the parameters (under the training loop's gradient tape):
 *
 *   L_text (Eq. 1)  next-token NLL over the targets (text and vokens; train/lm-loss.ts: the head on those rows only)
 *   h_voken         the final-norm states at the voken input positions, read off the same forward
 *   CFG dropout     h_voken → 0 for the rows the batch marks (10 %, §3.3), so the mapper learns ĥ_0 = mapper(0)
 *   L_LDM (Eq. 3)   the FROZEN decoder's noise-prediction loss conditioned on ĥ = mapper(h_voken); its gradient
 *                   reaches the mapper and, through h_voken, the voken rows (and LoRA), not the decoder
 *   L_CAP (Eq. 4)   MSE(ĥ, τ(caption)) against the decoder's own caption encoder, over every value of the
 *                   L × d̂ sequence (τ's padded positions are 0), on the rows whose vokens were kept
 *
 *   L = λ_text · L_text + λ_LDM · L_LDM + λ_CAP · L_CAP       (the paper: 0.01, 1, 0.1 in stage 1; no L_CAP in stage 2)
 *
 * A loss with weight 0 is not computed (no-L_LDM and no-L_CAP arms, stage 2's L_CAP), nor are the image
 * losses of a batch without an image row.
 */
import * as tf from '@tensorflow/tfjs';
import type { MoEModel } from '../../model/model';
import type { PositionMeta } from '../../model/positions';
import { statesNll } from '../../train/lm-loss';
import type { LatentDiffusion } from '../../diffusion/model';
import type { FeatureMapper } from './mapper';
import type { PaddedRows } from './items';
import { selectRows } from '../../model/linear';

/** λ of each loss (0 switches a loss off). */
export interface LossWeights {
  text: number;
  ldm: number;
  cap: number;
}

/** The paper's λs (§3.3): stage 1 0.01 · L_text + 1 · L_LDM + 0.1 · L_CAP; stage 2 the same without L_CAP. */
export const PAPER_WEIGHTS: Readonly<Record<1 | 2, LossWeights>> = { 1: { text: 0.01, ldm: 1, cap: 0.1 }, 2: { text: 0.01, ldm: 1, cap: 0 } };

/** A training batch: padded rows and, per image row, the decoder's latents of its image, the dropout decision and τ(caption). */
export interface VokenBatch extends PaddedRows {
  /** Position metadata of the input rows (for adapters that need it). */
  positions?: PositionMeta;
  /** Normalised decoder latents of the image rows' images [R, g, g, C]. */
  latents: Float32Array;
  /** Per image row: 1 keeps h_voken, 0 replaces it by zeros (classifier-free guidance dropout). */
  keep: Float32Array;
  /** τ(caption) of each image row [R, L, d̂] (host; null without L_CAP). */
  capTarget: Float32Array | null;
  /** Seeds the decoder loss's timesteps and noise. */
  noiseSeed: number;
}

export interface LossParts {
  total: tf.Scalar;
  text: tf.Scalar;
  ldm: tf.Scalar | null;
  cap: tf.Scalar | null;
}

/** h [R, n, H] with row r multiplied by keep[r] (0 = the zero voken states of CFG training). */
export function vokenDropout(h: tf.Tensor3D, keep: Float32Array): tf.Tensor3D {
  if (keep.length !== h.shape[0]) throw new Error(`vokenDropout: ${keep.length} keep flags for ${h.shape[0]} rows`);
  if (keep.every((k) => k === 1)) return h;
  return tf.mul(h, tf.tensor3d(keep, [keep.length, 1, 1]));
}

/** MSE over every value of the rows with keep 1 (0 when none is kept): L_CAP (Eq. 4). */
export function captionLoss(hat: tf.Tensor3D, target: tf.Tensor3D, keep?: Float32Array): tf.Scalar {
  const [R, L, d] = hat.shape;
  if (target.shape.join(',') !== hat.shape.join(',')) throw new Error(`captionLoss: ĥ has shape [${hat.shape}], τ(caption) [${target.shape}]`);
  const k = keep ?? new Float32Array(R).fill(1);
  const kept = k.reduce((a, b) => a + b, 0);
  if (kept === 0) return tf.scalar(0);
  const sq = tf.sum(tf.square(tf.sub(hat, target)), [1, 2]); // [R]
  return tf.div(tf.sum(tf.mul(sq, tf.tensor1d(k))), kept * L * d) as tf.Scalar;
}

/** The loss parts of one batch (see the file comment); call inside a gradient scope or tf.tidy. */
export function vokenLosses(parts: { model: MoEModel; mapper: FeatureMapper | null; ldm: LatentDiffusion }, b: VokenBatch, w: LossWeights): LossParts {
  const { model, mapper, ldm } = parts;
  const { B, T, rows } = b;
  const V = model.config.vocabSize;
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  rows.forEach((r, i) => {
    for (let j = 0; j < T; j++) {
      inputs[i * T + j] = r[j];
      targets[i * T + j] = r[j + 1];
    }
  });
  const out = model.forwardStates(tf.tensor2d(inputs, [B, T], 'int32'), { capture: 'none', training: true, ...(b.positions ? { positions: b.positions } : {}) });
  const final = out.states; // [B·T, H]
  const text = statesNll(final, (x) => model.head(x, true), targets, b.weights, b.weights.reduce((a, x) => a + x, 0), V); // the head on target rows only
  let total: tf.Scalar = tf.mul(text, w.text);
  const R = b.imageRows.length;
  if (R === 0 || (w.ldm === 0 && w.cap === 0)) return { total, text, ldm: null, cap: null };
  if (!mapper) throw new Error('minigpt5: a batch with image rows needs the feature mapper');
  const n = mapper.config.numVokens;
  if (b.vokenPositions.length !== R * n) throw new Error(`minigpt5: ${b.vokenPositions.length} voken positions for ${R} image rows of ${n} vokens`);
  const h = tf.reshape(selectRows(final, b.vokenPositions), [R, n, model.config.hiddenSize]) as tf.Tensor3D; // [R, n, H]
  const cond = mapper.forward(vokenDropout(h, b.keep)); // ĥ: seq [R, L, d̂], mask [R, L]
  let ldmLoss: tf.Scalar | null = null;
  let cap: tf.Scalar | null = null;
  if (w.ldm > 0) {
    ldmLoss = ldm.loss(b.latents, cond, { seed: b.noiseSeed });
    total = tf.add(total, tf.mul(ldmLoss, w.ldm));
  }
  if (w.cap > 0) {
    if (!b.capTarget) throw new Error('minigpt5: L_CAP is on but the batch has no τ(caption) targets');
    const { length: L, dim } = mapper.config;
    cap = captionLoss(cond.seq, tf.tensor3d(b.capTarget, [R, L, dim]), b.keep);
    total = tf.add(total, tf.mul(cap, w.cap));
  }
  return { total, text, ldm: ldmLoss, cap };
}

/** The losses of a batch as host numbers (no gradient; every tensor freed): probes and tests. */
export function hostLosses(parts: { model: MoEModel; mapper: FeatureMapper | null; ldm: LatentDiffusion }, b: VokenBatch, w: LossWeights): { total: number; text: number; ldm: number | null; cap: number | null } {
  let out = { total: NaN, text: NaN, ldm: null as number | null, cap: null as number | null };
  tf.tidy(() => {
    const l = vokenLosses(parts, b, w);
    const v = (t: tf.Scalar | null) => (t ? t.dataSync()[0] : null);
    out = { total: v(l.total) as number, text: v(l.text) as number, ldm: v(l.ldm), cap: v(l.cap) };
  });
  return out;
}
