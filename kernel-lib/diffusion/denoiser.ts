/**
 * The denoiser ε_θ(z_t, t, c): a DiT (Peebles & Xie 2023, "Scalable Diffusion Models with
 * Transformers", https://arxiv.org/abs/2212.09748) over the latent cells, with cross-attention to a
 * conditioning sequence as in latent diffusion (Rombach et al. 2022, https://arxiv.org/abs/2112.10752).
 *
 *   z_t [B, g, g, C] → patches [B·N, C·p²] · W + 2-D sin-cos position → x [B·N, d]
 *   c_t = fc2(SiLU(fc1(sinusoid(t)))) [+ cond_pool(mean of [null; c])]              [B, d]
 *   per block:  shift₁ scale₁ gate₁ shift₂ scale₂ gate₂ = ada(SiLU(c_t))           (adaLN-Zero)
 *               x += gate₁ · SelfAttn(LN(x)·(1+scale₁) + shift₁)
 *               x += CrossAttn(LN_affine(x), [null; c])                             (c padded → masked)
 *               x += gate₂ · MLP(LN(x)·(1+scale₂) + shift₂)
 *   v̂ = final(LN(x)·(1+scale) + shift)                                             [B, g, g, C]
 *   ε̂ = √(1−ᾱ_t) · z_t + √ᾱ_t · v̂                   (forward's output; `output: 'v'` returns v̂ itself)
 *
 * The network's raw output is the velocity v = √ᾱ ε − √(1−ᾱ) z_0 (Salimans & Ho 2022, "Progressive
 * Distillation", https://arxiv.org/abs/2202.00512, §4), and ε̂ is computed from it, so everything outside
 * (the loss of MiniGPT-5 Eq. 3, the samplers, CFG) still sees ε_θ. Why: with a raw ε output a small DiT must
 * learn to copy z_t to its output through its LayerNorms at high noise, where ε ≈ z_t; measured on a tiny
 * decoder memorising 4 images, its ε-loss at t ≥ 900 stayed above that of the trivial ε̂ = z_t for hundreds
 * of steps and DDIM samples diverged. With v̂ = 0 (the adaLN-Zero start) ε̂ = √(1−ᾱ) z_t is already that
 * trivial predictor, and the ε-loss is ᾱ_t times the v-loss.
 *
 * A learned null token is prepended to every conditioning sequence, so cross-attention always has a
 * key: the null conditioning is the empty sequence (all padding), which is what classifier-free guidance
 * drops the caption to, and a caption's padding changes nothing.
 *
 * With `pooledConditioning` the conditioning also enters every block's adaLN (the DiT route for a class
 * label): the mean of [null; c] over its real tokens, projected to d, is added to c_t before the SiLU. The
 * null conditioning pools to the null token alone, so classifier-free guidance drops both routes at once.
 *
 * The conditioning's keys, values and pooled vector do not depend on z_t or t, so `prepareConditioning`
 * computes them once per sampling run; only the queries are recomputed at each step.
 *
 * `weightOverlay` is the seam for adapters (diffusion/lora.ts): when set, both passes read their weights
 * from overlay(params) instead of params (computed inside the caller's tidy or gradient scope); null (the
 * default) reads the parameters themselves, so the denoiser computes exactly what it did without the seam.
 */
import * as tf from '@tensorflow/tfjs';
import { depthToSpace2, spaceToDepth2 } from '../image/conv';
import type { LatentDiffusionConfig } from './config';
import type { NoiseSchedule } from './schedule';
import { denoiserTokens } from './config';
import { attention, AttentionForm, keyBiasFromMask } from './attention';
import type { Conditioning } from './caption-encoder';
import { dense as denseLayer, gated, layerNorm, layerNormPlain, modulate, param, Params, positionEmbedding2d, silu, timestepFeatures } from './layers';

/** Cross-attention keys/values of a conditioning sequence, per block: [B·(L+1), d] each. */
export interface PreparedConditioning {
  batch: number;
  /** L + 1 (the null token first). */
  length: number;
  keyBias: tf.Tensor2D;
  kv: Array<{ k: tf.Tensor2D; v: tf.Tensor2D }>;
  /** cond_pool(mean of [null; c] over its real tokens) [B, d], added to c_t; null without pooledConditioning. */
  pooled: tf.Tensor2D | null;
}

/** Weights read instead of the parameters (same names and shapes): e.g. W + s·A·B for LoRA targets. */
export type WeightOverlay = (params: Params) => Params;

export class Denoiser {
  private pos: tf.Tensor2D | null = null;
  /** See the file comment; set and cleared by adapters. */
  weightOverlay: WeightOverlay | null = null;

  constructor(
    readonly config: LatentDiffusionConfig,
    private readonly params: Params,
    private readonly schedule: NoiseSchedule,
  ) {}

  /** The fixed position embedding [N, d] (kept; freed by dispose). */
  private position(): tf.Tensor2D {
    if (!this.pos || this.pos.isDisposed) {
      const { side } = denoiserTokens(this.config);
      this.pos = tf.keep(tf.tensor2d(positionEmbedding2d(side, this.config.denoiser.dim), [side * side, this.config.denoiser.dim]));
    }
    return this.pos;
  }

  /** The weights the passes read: the parameters, or the overlay's view of them. */
  private weights(): Params {
    return this.weightOverlay ? this.weightOverlay(this.params) : this.params;
  }

  /** Keys/values of [null; c] for every block (differentiable with respect to c.seq). */
  prepareConditioning(cond: Conditioning): PreparedConditioning {
    const p = this.weights();
    const [B, L, dc] = cond.seq.shape;
    if (dc !== this.config.caption.dim) throw new Error(`conditioning width is ${dc}, the denoiser takes d̂ = ${this.config.caption.dim}`);
    if (cond.mask.shape[0] !== B || cond.mask.shape[1] !== L) {
      throw new Error(`conditioning mask has shape [${cond.mask.shape}], the sequence needs [${B}, ${L}]`);
    }
    const nul = tf.tile(tf.reshape(param(p, 'denoiser.null_cond'), [1, 1, dc]), [B, 1, 1]); // [B, 1, d̂]
    const full = tf.reshape(tf.concat([nul, cond.seq], 1), [B * (L + 1), dc]) as tf.Tensor2D; // [B·(L+1), d̂]
    const keyBias = tf.concat([tf.zeros([B, 1]), keyBiasFromMask(cond.mask)], 1) as tf.Tensor2D; // [B, L+1]
    const kv = [];
    for (let i = 0; i < this.config.denoiser.depth; i++) {
      const [k, v] = tf.split(denseLayer(p, `denoiser.blocks.${i}.cross.kv`, full), 2, 1) as tf.Tensor2D[]; // [B·(L+1), d] each
      kv.push({ k, v });
    }
    let pooled: tf.Tensor2D | null = null;
    if (this.config.pooledConditioning) {
      const w = tf.concat([tf.ones([B, 1]), cond.mask], 1); // [B, L+1]: the null token and the real tokens
      const weights = tf.div(w, tf.sum(w, 1, true)); // rows sum to 1
      const mean = tf.sum(tf.mul(tf.reshape(full, [B, L + 1, dc]), tf.reshape(weights, [B, L + 1, 1])), 1) as tf.Tensor2D; // [B, d̂]
      pooled = denseLayer(p, 'denoiser.cond_pool', mean); // [B, d]
    }
    return { batch: B, length: L + 1, keyBias, kv, pooled };
  }

  /**
   * ε̂ for z_t [B, g, g, C] at timesteps `t` (one per row, or one shared by all rows) given prepared
   * conditioning of batch B.
   */
  forward(zt: tf.Tensor4D, t: readonly number[], cond: PreparedConditioning, o: { form?: AttentionForm; inference?: boolean; output?: 'epsilon' | 'v' } = {}): tf.Tensor4D {
    const p = this.weights();
    const { form, inference = false, output = 'epsilon' } = o;
    const dense = (name: string, x: tf.Tensor2D) => denseLayer(p, name, x, inference);
    const cfg = this.config;
    const { dim: d, depth, heads, patchSize, timeFreqDim } = cfg.denoiser;
    const B = zt.shape[0];
    const { tokens: N, patchDim } = denoiserTokens(cfg);
    if (cond.batch !== B) throw new Error(`denoiser: latents have batch ${B}, the conditioning ${cond.batch}`);
    if (t.length !== 1 && t.length !== B) throw new Error(`denoiser: ${t.length} timesteps for a batch of ${B}`);
    const patches = patchSize === 1 ? zt : spaceToDepth2(zt); // [B, g/p, g/p, C·p²]
    const emb = tf.reshape(dense('denoiser.patch_embed', tf.reshape<tf.Rank.R2>(patches, [B * N, patchDim])), [B, N, d]);
    let x = tf.reshape<tf.Rank.R2>(tf.add(emb, this.position()), [B * N, d]); // [B·N, d]
    const temb: tf.Tensor2D = tf.tensor2d(timestepFeatures(t, timeFreqDim), [t.length, timeFreqDim]); // [B or 1, F]
    const tc = dense('denoiser.t_embed.fc2', silu(dense('denoiser.t_embed.fc1', temb))); // [B or 1, d]
    const c = silu(cond.pooled ? (tf.add(tc, cond.pooled) as tf.Tensor2D) : tc); // [B or 1, d] ([B, d] once pooled)
    for (let i = 0; i < depth; i++) {
      const b = `denoiser.blocks.${i}`;
      const [sh1, sc1, g1, sh2, sc2, g2] = tf.split(dense(`${b}.ada`, c), 6, 1) as tf.Tensor2D[]; // [B or 1, d] each
      const qkv = dense(`${b}.attn.qkv`, modulate(layerNormPlain(x), sh1, sc1, N)); // [B·N, 3d]
      const [q, k, v] = tf.split(qkv, 3, 1) as tf.Tensor2D[];
      x = tf.add(x, gated(dense(`${b}.attn.out`, attention(q, k, v, B, heads, null, form)), g1, N));
      const cq = dense(`${b}.cross.q`, layerNorm(p, `${b}.cross.norm`, x)); // [B·N, d]
      const { k: ck, v: cv } = cond.kv[i];
      x = tf.add(x, dense(`${b}.cross.out`, attention(cq, ck, cv, B, heads, cond.keyBias, form)));
      const h = dense(`${b}.mlp.fc2`, silu(dense(`${b}.mlp.fc1`, modulate(layerNormPlain(x), sh2, sc2, N))));
      x = tf.add(x, gated(h, g2, N));
    }
    const [shf, scf] = tf.split(dense('denoiser.final.ada', c), 2, 1) as tf.Tensor2D[];
    const out = dense('denoiser.final.linear', modulate(layerNormPlain(x), shf, scf, N)); // [B·N, C·p²]
    const side = cfg.latentSize / patchSize;
    const grid = tf.reshape(out, [B, side, side, patchDim]) as tf.Tensor4D;
    const v = patchSize === 1 ? grid : depthToSpace2(grid); // v̂ [B, g, g, C]
    if (output === 'v') return v;
    const coef = (f: (ab: number) => number) => tf.tensor4d(t.map((ti) => f(this.schedule.alphaBar(ti))), [t.length, 1, 1, 1]);
    return tf.add(tf.mul(zt, coef((ab) => Math.sqrt(1 - ab))), tf.mul(v, coef(Math.sqrt))) as tf.Tensor4D; // ε̂ [B, g, g, C]
  }

  dispose(): void {
    this.pos?.dispose();
    this.pos = null;
  }
}
