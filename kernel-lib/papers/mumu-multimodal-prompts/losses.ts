/**
 * MUMU's one loss: the diffusion decoder's noise-prediction MSE (its `.loss`, MiniGPT-5 Eq. 3 / MUMU §2.1)
 * of the target scenes, conditioned on
 *
 *   prompt arms     connector(LM states of the multimodal prompt)   (its gradient reaches the connector, the
 *                   pooling through the frozen LM, and the decoder's LoRA or, fully trained, its weights)
 *   caption-only    τ(the prompt's words), the decoder's own caption encoder (frozen)
 *
 * For classifier-free guidance (MUMU samples with CFG, §2.1) a share of the rows is trained with the null
 * conditioning: prompt arms zero those rows' mask (the denoiser then attends to its null token alone,
 * exactly as to the all-padding null conditioning); caption-only gives them the empty caption.
 */
import * as tf from '@tensorflow/tfjs';
import type { MoEModel } from '../../model/model';
import type { LatentDiffusion } from '../../diffusion/model';
import type { Conditioning } from '../../diffusion/caption-encoder';
import type { Connector } from './connector';
import type { PromptBatch } from './items';
import { encoderStates } from './encoder';

/** A training (or probe) batch. */
export interface MumuBatch {
  /** The prompts as LM rows (prompt arms); null for caption-only. */
  prompts: PromptBatch | null;
  /** The prompts' words, '' where dropped (caption-only); null for prompt arms. */
  captions: string[] | null;
  /** Normalised decoder latents of the target scenes [B, g, g, C]. */
  latents: Float32Array;
  /** Per row: 1 keeps the conditioning, 0 drops it to the null conditioning. */
  keep: Float32Array;
  /** Seeds the decoder loss's timesteps and noise. */
  noiseSeed: number;
}

export interface LossParts {
  model: MoEModel | null;
  connector: Connector | null;
  ldm: LatentDiffusion;
}

/**
 * The conditioning a batch's loss reads (see the file comment), in the caller's scope (tidy or a gradient
 * tape): connector(LM states) with dropped rows' mask zeroed, or τ(the captions, '' where dropped).
 */
export function mumuConditioning(parts: LossParts, b: MumuBatch): Conditioning {
  const { ldm } = parts;
  if (b.prompts === null) {
    if (!b.captions) throw new Error('mumu: a caption-only batch needs its captions');
    return ldm.encodeCaption(b.captions);
  }
  const { model, connector } = parts;
  if (!model || !connector) throw new Error('mumu: a prompt batch needs the LM and the connector');
  const p = b.prompts;
  if (b.keep.length !== p.B) throw new Error(`mumu: ${b.keep.length} keep flags for ${p.B} prompts`);
  const states = encoderStates(model, p, connector, { training: p.crops.length > 0 }); // [B, T, H]
  const mask = tf.tensor2d(p.mask, [p.B, p.T]);
  const cond = connector.forward(states, mask); // seq [B, T, d̂]
  const kept = b.keep.every((k) => k === 1) ? mask : (tf.mul(mask, tf.tensor2d(b.keep, [p.B, 1])) as tf.Tensor2D);
  return { seq: cond.seq, mask: kept };
}

/** The loss of a batch (see the file comment); call inside a gradient scope or tf.tidy. */
export function mumuLoss(parts: LossParts, b: MumuBatch): tf.Scalar {
  return parts.ldm.loss(b.latents, mumuConditioning(parts, b), { seed: b.noiseSeed });
}

/** The loss of a batch as a host number (no gradient; every tensor freed): probes and tests. */
export function hostLoss(parts: LossParts, b: MumuBatch): number {
  return tf.tidy(() => mumuLoss(parts, b).dataSync()[0]);
}
