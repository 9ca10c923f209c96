/**
 * LatentDiffusion: the text-conditioned latent diffusion decoder (the Stable Diffusion stand-in of
 * MiniGPT-5, Zheng, He & Wang 2023, https://arxiv.org/abs/2310.02239, §3.2, and MUMU, Berman &
 * Peysakhovich 2024, https://arxiv.org/abs/2406.18790, §3): a VQ-VAE latent space, a DiT denoiser with
 * cross-attention to any conditioning sequence, a caption encoder τ, the cosine schedule, DDIM/DDPM.
 *
 *   const ldm = LatentDiffusion.load('data/checkpoints/ldm-emoji');
 *   const r = await ldm.sample({ cond: 'a cat to the left of a tree', cfgScale: 4, seed: 1 });
 *   r.images[0]                                            // RGB 32×32
 *   const c = ldm.encodeCaption(['a tiger face']);         // {seq [1, 24, d̂], mask [1, 24]}: any L × d̂ works
 *   const loss = ldm.loss(images, mapperOutput);           // differentiable w.r.t. the conditioning
 */
import * as tf from '@tensorflow/tfjs';
import type { RGBImage } from '../image/types';
import { VQVAE } from '../image/model';
import { ByteLevelBPE } from '../tokenizer/bpe';
import { copyToHost, variablesFromHost } from '../model/params';
import type { HostTensor } from '../model/params';
import { normalArray } from '../util/random';
import { LatentDiffusionConfig, validateDiffusionConfig, diffusionParamShapes, countDiffusionParams } from './config';
import { NoiseSchedule } from './schedule';
import { LatentSpace, LatentStats } from './latent-space';
import { Denoiser } from './denoiser';
import { Conditioning, encodeCaptionTokens, tokenizeCaptions } from './caption-encoder';
import { initDiffusionParams } from './params';
import { lossRng, noisePredictionLoss } from './loss';
import { readDiffusionCheckpoint, SaveDiffusionOptions, VQVAE_SUBDIR, writeDiffusionCheckpoint } from './checkpoint';
import { sampleLoop } from './sample';
import { ddimInvertStep } from './sampler';
import { samplingTimesteps } from './schedule';
import { checkSampleOptions, concatConditioning, repeatConditioning, CondInput, SampleOptions } from './options';
export type { CondInput, SampleOptions } from './options';
import * as path from 'path';

export { DEFAULT_STEPS, DEFAULT_CFG_SCALE } from './options';

export interface SampleResult {
  images: RGBImage[];
  /** Final normalised latents [B, g, g, C]. */
  latents: Float32Array;
  timesteps: number[];
  stepsRun: number;
  stopped: 'done' | 'aborted';
  elapsedMs: number;
}

export interface LossOptions {
  /** Seeds the timesteps and noise (default 0). */
  seed?: number;
  /** Timesteps per row (default uniform on 1…T). */
  t?: readonly number[];
}

export class LatentDiffusion {
  readonly params: Map<string, tf.Variable>;
  readonly schedule: NoiseSchedule;
  readonly denoiser: Denoiser;

  private constructor(
    readonly config: LatentDiffusionConfig,
    host: Map<string, HostTensor>,
    readonly latent: LatentSpace,
    readonly tokenizer: ByteLevelBPE,
  ) {
    validateDiffusionConfig(config);
    if (latent.channels !== config.latentChannels || latent.size !== config.latentSize) {
      throw new Error(`LatentDiffusion: the VQ-VAE gives ${latent.size}×${latent.size}×${latent.channels} latents, the config needs ${config.latentSize}×${config.latentSize}×${config.latentChannels}`);
    }
    if (tokenizer.vocabSize > config.caption.vocabSize) {
      throw new Error(`LatentDiffusion: the tokenizer has ${tokenizer.vocabSize} tokens, the caption encoder ${config.caption.vocabSize}`);
    }
    this.params = variablesFromHost(diffusionParamShapes(config), host, 'LatentDiffusion');
    this.schedule = new NoiseSchedule(config.timesteps);
    this.denoiser = new Denoiser(config, this.params, this.schedule);
  }

  /** A fresh model on a VQ-VAE latent space (stats measured with LatentSpace.measureStats). */
  static create(config: LatentDiffusionConfig, parts: { vq: VQVAE; stats: LatentStats; tokenizer: ByteLevelBPE; seed?: number }): LatentDiffusion {
    return new LatentDiffusion(config, initDiffusionParams(config, parts.seed ?? 0), new LatentSpace(parts.vq, parts.stats, config.imageSize), parts.tokenizer);
  }

  /** Loads a checkpoint directory written by `save` (validated; errors name the file and tensor). */
  static load(dir: string): LatentDiffusion {
    const { config, params, stats, tokenizerJson } = readDiffusionCheckpoint(dir);
    const vq = VQVAE.load(path.join(dir, VQVAE_SUBDIR));
    try {
      return new LatentDiffusion(config, params, new LatentSpace(vq, stats, config.imageSize), ByteLevelBPE.fromHF(tokenizerJson));
    } catch (e) {
      vq.dispose();
      throw e;
    }
  }

  /** Saves to a checkpoint directory atomically (float16 weights by default). */
  save(dir: string, options: SaveDiffusionOptions = {}): void {
    const vq = this.latent.vq;
    writeDiffusionCheckpoint(dir, {
      config: this.config,
      params: this.hostParams(),
      stats: this.latent.stats,
      tokenizerJson: this.tokenizer.toHF(),
      vqvae: { config: vq.config, tensors: vq.hostTensors() },
    }, options);
  }

  hostParams(): Map<string, HostTensor> {
    return copyToHost(this.params);
  }

  get numParams(): { denoiser: number; caption: number; total: number } {
    return countDiffusionParams(this.config);
  }

  /** τ(captions) → {seq [B, L, d̂], mask [B, L]}; the caller owns the tensors ('' is the null conditioning). */
  encodeCaption(text: string | readonly string[]): Conditioning {
    const texts = typeof text === 'string' ? [text] : text;
    if (!Array.isArray(texts) || texts.length === 0) throw new Error('encodeCaption: give a caption or a non-empty list of captions');
    const tokens = tokenizeCaptions(this.tokenizer, texts, this.config.caption);
    return tf.tidy(() => encodeCaptionTokens(this.params, this.config.caption, tokens) as unknown as tf.TensorContainerObject) as unknown as Conditioning;
  }

  /** The null conditioning (one padded position, nothing to attend to but the learned null token). */
  nullConditioning(batch = 1): Conditioning {
    return { seq: tf.zeros([batch, 1, this.config.caption.dim]), mask: tf.zeros([batch, 1]) };
  }

  private toConditioning(c: CondInput): { cond: Conditioning; owned: boolean } {
    if (typeof c === 'string' || Array.isArray(c)) return { cond: this.encodeCaption(c as string | string[]), owned: true };
    return { cond: c as Conditioning, owned: false };
  }

  /** Draws images (see SampleOptions); bad options are refused before any compute. */
  async sample(opts: SampleOptions): Promise<SampleResult> {
    const o = checkSampleOptions(opts, this.config);
    const owned: Conditioning[] = [];
    const take = (c: CondInput): Conditioning => {
      const r = this.toConditioning(c);
      if (r.owned) owned.push(r.cond);
      return r.cond;
    };
    try {
      let cond = take(o.cond);
      const nc = cond.seq.shape[0];
      if (o.numImages > 1 && nc > 1) throw new Error(`sample: numImages repeats a single conditioning; cond already has ${nc}`);
      const B = nc * o.numImages;
      const per = this.config.latentSize ** 2 * this.config.latentChannels;
      if (opts.initialLatents !== undefined && (!(opts.initialLatents instanceof Float32Array) || opts.initialLatents.length !== B * per)) {
        throw new Error(`sample: initialLatents must be a Float32Array of ${B} × ${per} values, got ${opts.initialLatents instanceof Float32Array ? opts.initialLatents.length : typeof opts.initialLatents}`);
      }
      if (B > nc) owned.push((cond = repeatConditioning(cond, B)));
      let both = cond;
      if (o.paired) {
        let neg = o.negCond === 'null' ? this.nullConditioning(1) : take(o.negCond);
        if (o.negCond === 'null') owned.push(neg);
        if (neg.seq.shape[0] !== B) {
          if (neg.seq.shape[0] !== 1) throw new Error(`sample: negCond has batch ${neg.seq.shape[0]}, cond has ${B} (give one negative per conditional, or one for all)`);
          owned.push((neg = repeatConditioning(neg, B)));
        }
        owned.push((both = concatConditioning(cond, neg)));
      }
      const prepared = tf.tidy(() => this.denoiser.prepareConditioning(both) as unknown as tf.TensorContainerObject) as unknown as ReturnType<Denoiser['prepareConditioning']>;
      try {
        const r = await sampleLoop(this.denoiser, this.schedule, prepared, B, (l) => this.latent.decode(l, this.config.decodeQuantised), {
          sampler: o.sampler, steps: o.steps, eta: o.eta, seed: o.seed, scale: o.cfgScale, paired: o.paired, clip: o.clip, onStep: opts.onStep, signal: opts.signal, initial: opts.initialLatents,
        });
        return { ...r, images: this.latent.decode(r.latents, this.config.decodeQuantised) };
      } finally {
        tf.dispose(prepared as unknown as tf.TensorContainerObject);
      }
    } finally {
      for (const c of owned) tf.dispose([c.seq, c.mask]);
    }
  }

  /** Normalised latents of images [n, g, g, C] (host). */
  encodeImages(images: readonly RGBImage[]): Float32Array {
    return this.latent.encode(images);
  }

  /** Images of normalised latents (host [n·g·g·C] or a tensor). */
  decodeLatents(latents: Float32Array | tf.Tensor4D): RGBImage[] {
    return this.latent.decode(latents, this.config.decodeQuantised);
  }

  /**
   * The noise-prediction loss (MiniGPT-5 Eq. 3) ‖ε − ε_θ(√ᾱ_t z_0 + √(1−ᾱ_t) ε, t, c)‖² averaged over
   * every value, for images (or their normalised latents) and a conditioning of the same batch.
   * Differentiable with respect to the parameters and to `cond.seq`; call it inside a gradient scope.
   */
  loss(x: readonly RGBImage[] | Float32Array, cond: Conditioning, o: LossOptions = {}): tf.Scalar {
    const { latentSize: g, latentChannels: C, timesteps: T } = this.config;
    const z0 = x instanceof Float32Array ? x : this.latent.encode(x);
    const B = z0.length / (g * g * C);
    if (!Number.isInteger(B) || B < 1) throw new Error(`loss: ${z0.length} latent values are not whole ${g}×${g}×${C} grids`);
    if (cond.seq.shape[0] !== B) throw new Error(`loss: ${B} images but a conditioning of batch ${cond.seq.shape[0]}`);
    const rand = lossRng(o.seed ?? 0);
    const ts = o.t ? [...o.t] : Array.from({ length: B }, () => 1 + Math.floor(rand() * T));
    if (ts.length !== B || ts.some((t) => !Number.isInteger(t) || t < 1 || t > T)) throw new Error(`loss: t must hold ${B} integer timesteps in [1, ${T}], got ${JSON.stringify(o.t)}`);
    return noisePredictionLoss(this, z0, cond, ts, normalArray(z0.length, 1, rand));
  }

  /**
   * DDIM inversion: the deterministic path from clean latents up to the first timestep `steps` DDIM
   * steps would start from (no guidance). Sampling from it with the same steps and conditioning
   * returns the latents (up to the discretisation error, small at fine step counts).
   */
  invert(latents: Float32Array, cond: Conditioning, steps: number): Float32Array {
    const { latentSize: g, latentChannels: C } = this.config;
    const B = latents.length / (g * g * C);
    const ts = samplingTimesteps(steps, this.schedule.timesteps).reverse(); // ascending
    const prepared = tf.tidy(() => this.denoiser.prepareConditioning(cond) as unknown as tf.TensorContainerObject) as unknown as ReturnType<Denoiser['prepareConditioning']>;
    let z = tf.tensor4d(latents, [B, g, g, C]);
    try {
      // z_0 → z_{t_0}: the first sampler timestep is reached with ε̂ evaluated at t_0 on z_0 (one extra
      // call, as the usual inversion does), then each step up uses ε̂ at its lower end.
      for (let i = 0; i < ts.length; i++) {
        const t = i === 0 ? 0 : ts[i - 1];
        const u = ts[i];
        const next = tf.tidy(() => {
          const eps = this.denoiser.forward(z, [Math.max(t, ts[0])], prepared);
          if (t === 0) return tf.add(tf.mul(z, Math.sqrt(this.schedule.alphaBar(u))), tf.mul(eps, Math.sqrt(1 - this.schedule.alphaBar(u)))) as tf.Tensor4D;
          return ddimInvertStep(this.schedule, z, eps, t, u);
        });
        z.dispose();
        z = next;
      }
      return z.dataSync() as Float32Array;
    } finally {
      z.dispose();
      tf.dispose(prepared as unknown as tf.TensorContainerObject);
    }
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.denoiser.dispose();
    this.latent.vq.dispose();
  }
}
