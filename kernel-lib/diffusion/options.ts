/**
 * Sampling options checked in one place before any compute (messages name the option), and the two
 * conditioning reshapes sampling needs: repeat one conditioning over a batch, and stack the conditional
 * and negative batches into one (padding the shorter sequence, which the mask makes harmless).
 */
import * as tf from '@tensorflow/tfjs';
import type { Conditioning } from './caption-encoder';
import type { LatentDiffusionConfig } from './config';
import type { DiffusionStep, SamplerName } from './sample';

/** A conditioning: caption(s) (encoded by τ; '' is the null conditioning) or a sequence with its mask. */
export type CondInput = string | readonly string[] | Conditioning;

export interface SampleOptions {
  cond: CondInput;
  /** The negative conditioning of CFG: 'null' (default, the empty sequence), captions, or a sequence (MiniGPT-5's ĥ_0). */
  negCond?: 'null' | CondInput;
  /** Denoiser calls (default 25 for DDIM, T for DDPM). */
  steps?: number;
  /** CFG scale γ (default 4); 1 is the conditional model alone (no unconditional pass). */
  cfgScale?: number;
  sampler?: SamplerName;
  /** DDIM's η (default 0, deterministic). */
  eta?: number;
  /** Image i starts from the noise of seed + i (default 0). */
  seed?: number;
  /** Images per conditioning when one conditioning is given (default 1). */
  numImages?: number;
  /** Clamp x̂_0 to ±config.latentClip at every step (default true when the config has a bound). */
  clip?: boolean;
  /** Start from these latents [B, g, g, C] instead of the seed's noise (e.g. from `invert`). */
  initialLatents?: Float32Array;
  onStep?: (e: DiffusionStep) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Default DDIM steps and CFG scale γ. */
export const DEFAULT_STEPS = 25;
export const DEFAULT_CFG_SCALE = 4;

export interface CheckedSampleOptions {
  cond: CondInput;
  negCond: 'null' | CondInput;
  sampler: SamplerName;
  steps: number;
  eta: number;
  cfgScale: number;
  paired: boolean;
  seed: number;
  numImages: number;
  clip: number | null;
}

function isConditioning(c: unknown): c is Conditioning {
  return typeof c === 'object' && c !== null && (c as Conditioning).seq instanceof tf.Tensor && (c as Conditioning).mask instanceof tf.Tensor;
}

function checkCond(c: unknown, name: string, dim: number): void {
  if (typeof c === 'string') return;
  if (Array.isArray(c)) {
    if (c.length === 0 || c.some((x) => typeof x !== 'string')) throw new Error(`sample: ${name} must be a caption, a non-empty list of captions, or {seq, mask}`);
    return;
  }
  if (!isConditioning(c)) throw new Error(`sample: ${name} must be a caption, a non-empty list of captions, or {seq, mask}`);
  if (c.seq.rank !== 3 || c.seq.shape[2] !== dim) throw new Error(`sample: ${name}.seq must have shape [B, L, ${dim}], got [${c.seq.shape}]`);
  if (c.mask.rank !== 2 || c.mask.shape[0] !== c.seq.shape[0] || c.mask.shape[1] !== c.seq.shape[1]) {
    throw new Error(`sample: ${name}.mask must have shape [${c.seq.shape[0]}, ${c.seq.shape[1]}], got [${c.mask.shape}]`);
  }
}

export function checkSampleOptions(o: SampleOptions, cfg: LatentDiffusionConfig): CheckedSampleOptions {
  if (typeof o !== 'object' || o === null) throw new Error('sample: options must be an object');
  if (o.cond === undefined) throw new Error("sample: cond is required (a caption, a list of captions, or {seq, mask}; '' is the null conditioning)");
  const dim = cfg.caption.dim;
  checkCond(o.cond, 'cond', dim);
  const negCond = o.negCond ?? 'null';
  if (negCond !== 'null') checkCond(negCond, 'negCond', dim);
  const sampler = o.sampler ?? 'ddim';
  if (sampler !== 'ddim' && sampler !== 'ddpm') throw new Error(`sample: sampler must be 'ddim' or 'ddpm', got ${JSON.stringify(sampler)}`);
  const T = cfg.timesteps;
  const steps = o.steps ?? (sampler === 'ddim' ? DEFAULT_STEPS : T);
  if (!Number.isInteger(steps) || steps < 1 || steps > T) throw new Error(`sample: steps must be an integer in [1, ${T}], got ${JSON.stringify(o.steps)}`);
  if (sampler === 'ddpm' && o.eta !== undefined) throw new Error('sample: eta is an option of the ddim sampler (ddpm is η = 1)');
  const eta = sampler === 'ddpm' ? 1 : (o.eta ?? 0);
  if (!(typeof eta === 'number' && eta >= 0 && eta <= 1)) throw new Error(`sample: eta must be a number in [0, 1], got ${JSON.stringify(o.eta)}`);
  const cfgScale = o.cfgScale ?? DEFAULT_CFG_SCALE;
  if (!(typeof cfgScale === 'number' && Number.isFinite(cfgScale))) throw new Error(`sample: cfgScale must be a finite number, got ${String(o.cfgScale)}`);
  const seed = o.seed ?? 0;
  if (!(Number.isInteger(seed) && seed >= 0)) throw new Error(`sample: seed must be a non-negative integer, got ${JSON.stringify(o.seed)}`);
  const numImages = o.numImages ?? 1;
  if (!(Number.isInteger(numImages) && numImages >= 1)) throw new Error(`sample: numImages must be a positive integer, got ${JSON.stringify(o.numImages)}`);
  if (o.onStep !== undefined && typeof o.onStep !== 'function') throw new Error('sample: onStep must be a function');
  if (o.clip !== undefined && typeof o.clip !== 'boolean') throw new Error(`sample: clip must be true or false, got ${JSON.stringify(o.clip)}`);
  const clip = o.clip === false ? null : cfg.latentClip;
  return { cond: o.cond, negCond, sampler, steps, eta, cfgScale, paired: cfgScale !== 1, seed, numImages, clip };
}

/** One conditioning [1, L, d̂] repeated to batch B (new tensors). */
export function repeatConditioning(c: Conditioning, B: number): Conditioning {
  if (c.seq.shape[0] !== 1) throw new Error(`repeatConditioning: needs batch 1, got ${c.seq.shape[0]}`);
  return { seq: tf.tile(c.seq, [B, 1, 1]), mask: tf.tile(c.mask, [B, 1]) };
}

/** a then b along the batch, the shorter sequence padded (mask 0) to the longer one's length (new tensors). */
export function concatConditioning(a: Conditioning, b: Conditioning): Conditioning {
  return tf.tidy(() => {
    const L = Math.max(a.seq.shape[1], b.seq.shape[1]);
    const pad = (c: Conditioning): Conditioning => {
      const extra = L - c.seq.shape[1];
      if (extra === 0) return c;
      return { seq: tf.pad(c.seq, [[0, 0], [0, extra], [0, 0]]), mask: tf.pad(c.mask, [[0, 0], [0, extra]]) };
    };
    const pa = pad(a);
    const pb = pad(b);
    return { seq: tf.concat([pa.seq, pb.seq], 0), mask: tf.concat([pa.mask, pb.mask], 0) } as unknown as tf.TensorContainerObject;
  }) as unknown as Conditioning;
}
