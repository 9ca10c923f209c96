/**
 * LatentDiffusionConfig: the latent denoiser ε_θ(z_t, t, c), the caption encoder τ and the noise
 * schedule of the latent diffusion decoder, validated in one place with messages that name the field.
 *
 * The latent grid is the shipped VQ-VAE's encoder output (8×8×32 for a 32×32 image); the denoiser is a
 * DiT (Peebles & Xie 2023) over its cells with cross-attention to a conditioning sequence of L × d̂
 * (Rombach et al. 2022), which is what MiniGPT-5's feature mapper and MUMU's connector produce.
 */
export interface DenoiserConfig {
  /** Width d of the denoiser's tokens. */
  dim: number;
  /** DiT blocks. */
  depth: number;
  /** Attention heads (dim must divide by it). */
  heads: number;
  /** MLP hidden width = mlpRatio · dim. */
  mlpRatio: number;
  /** Latent cells per token along each side: 1 (64 tokens for an 8×8 grid) or 2 (16 tokens). */
  patchSize: number;
  /** Sinusoidal features of the timestep before its MLP. */
  timeFreqDim: number;
}

export interface CaptionEncoderConfig {
  /** Width d̂ of the conditioning sequence (the denoiser's cross-attention takes any sequence of this width). */
  dim: number;
  layers: number;
  heads: number;
  mlpRatio: number;
  /** Caption tokens kept (L); shorter captions are padded and masked, longer ones cut. */
  maxTokens: number;
  /** BPE vocabulary size (the project's text tokenizer). */
  vocabSize: number;
}

export interface LatentDiffusionConfig {
  /** Latent grid side (image side / 4) and channels (the VQ-VAE's codeDim). */
  latentSize: number;
  latentChannels: number;
  /** Image side the latents decode to. */
  imageSize: number;
  denoiser: DenoiserConfig;
  caption: CaptionEncoderConfig;
  /** Diffusion steps T of the cosine schedule (Nichol & Dhariwal 2021). */
  timesteps: number;
  /** Decode through the VQ-VAE codebook (nearest code first) or feed the continuous latent to its decoder. */
  decodeQuantised: boolean;
  /** |x̂_0| bound (normalised latent units) used when samplers clip their x̂_0 estimate; null: no clipping. */
  latentClip: number | null;
  /** Probability of training with the null conditioning (classifier-free guidance). */
  condDropProb: number;
  /**
   * Also condition through adaLN: the masked mean of [null; c] projected to d (`denoiser.cond_pool`) is added
   * to the timestep embedding, as DiT's class label is (Peebles & Xie 2023) and as Imagen / SD-XL add a pooled
   * text embedding, besides the cross-attention. Absent = false (decoders saved before it existed).
   * Why: the first ldm-emoji run, cross-attention only, learned to ignore its captions (README).
   */
  pooledConditioning?: boolean;
}

export type DiffusionPreset = 'tiny' | 'small';

/**
 * Named sizes: `tiny` for tests, `small` the shipped decoder (~3.2M: denoiser 2.3M, caption encoder 0.9M
 * of which 0.5M is the BPE embedding). `small` uses 2×2 latent patches (16 tokens): on one wasm core a
 * training step at batch 32 is ~6× cheaper than with 64 tokens and a 25-step CFG sample fits in ~1 s.
 */
export const DIFFUSION_PRESETS: Record<DiffusionPreset, { denoiser: DenoiserConfig; caption: Omit<CaptionEncoderConfig, 'vocabSize' | 'maxTokens'> }> = {
  tiny: {
    denoiser: { dim: 48, depth: 2, heads: 2, mlpRatio: 2, patchSize: 1, timeFreqDim: 32 },
    caption: { dim: 16, layers: 1, heads: 2, mlpRatio: 2 },
  },
  small: {
    denoiser: { dim: 160, depth: 5, heads: 5, mlpRatio: 4, patchSize: 2, timeFreqDim: 128 },
    caption: { dim: 128, layers: 2, heads: 4, mlpRatio: 4 },
  },
};

export function defaultDiffusionConfig(preset: DiffusionPreset = 'small', overrides: Partial<LatentDiffusionConfig> = {}): LatentDiffusionConfig {
  const p = DIFFUSION_PRESETS[preset];
  if (!p) throw new Error(`unknown diffusion preset '${preset}'; expected one of ${Object.keys(DIFFUSION_PRESETS).join(', ')}`);
  return {
    latentSize: 8,
    latentChannels: 32,
    imageSize: 32,
    denoiser: { ...p.denoiser },
    caption: { ...p.caption, maxTokens: 24, vocabSize: 4096 },
    timesteps: 1000,
    decodeQuantised: false,
    latentClip: null,
    condDropProb: 0.1,
    pooledConditioning: true,
    ...overrides,
  };
}

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

function posInts<T extends object>(obj: T, keys: (keyof T)[], where: string): void {
  for (const k of keys) {
    if (!isPosInt(obj[k])) throw new Error(`${where}.${String(k)} must be a positive integer, got ${JSON.stringify(obj[k])}`);
  }
}

/** Throws an Error naming the first bad field. */
export function validateDiffusionConfig(c: LatentDiffusionConfig): void {
  if (typeof c !== 'object' || c === null) throw new Error('LatentDiffusionConfig must be an object');
  posInts(c, ['latentSize', 'latentChannels', 'imageSize', 'timesteps'], 'LatentDiffusionConfig');
  if (c.imageSize !== 4 * c.latentSize) {
    throw new Error(`LatentDiffusionConfig.imageSize must be 4 × latentSize (the VQ-VAE downsamples by 4), got ${c.imageSize} for latentSize ${c.latentSize}`);
  }
  if (typeof c.denoiser !== 'object' || c.denoiser === null) throw new Error('LatentDiffusionConfig.denoiser must be an object');
  if (typeof c.caption !== 'object' || c.caption === null) throw new Error('LatentDiffusionConfig.caption must be an object');
  const d = c.denoiser;
  posInts(d, ['dim', 'depth', 'heads', 'mlpRatio', 'patchSize', 'timeFreqDim'], 'LatentDiffusionConfig.denoiser');
  if (d.dim % d.heads !== 0) throw new Error(`LatentDiffusionConfig.denoiser.dim (${d.dim}) must be divisible by heads (${d.heads})`);
  if (d.patchSize !== 1 && d.patchSize !== 2) throw new Error(`LatentDiffusionConfig.denoiser.patchSize must be 1 or 2, got ${d.patchSize}`);
  if (c.latentSize % d.patchSize !== 0) throw new Error(`LatentDiffusionConfig.latentSize (${c.latentSize}) must be divisible by denoiser.patchSize (${d.patchSize})`);
  if (d.timeFreqDim % 2 !== 0) throw new Error(`LatentDiffusionConfig.denoiser.timeFreqDim must be even, got ${d.timeFreqDim}`);
  const e = c.caption;
  posInts(e, ['dim', 'layers', 'heads', 'mlpRatio', 'maxTokens', 'vocabSize'], 'LatentDiffusionConfig.caption');
  if (e.dim % e.heads !== 0) throw new Error(`LatentDiffusionConfig.caption.dim (${e.dim}) must be divisible by heads (${e.heads})`);
  if (typeof c.decodeQuantised !== 'boolean') throw new Error(`LatentDiffusionConfig.decodeQuantised must be true or false, got ${JSON.stringify(c.decodeQuantised)}`);
  if (c.latentClip !== null && !(typeof c.latentClip === 'number' && c.latentClip > 0 && Number.isFinite(c.latentClip))) {
    throw new Error(`LatentDiffusionConfig.latentClip must be a positive number or null, got ${JSON.stringify(c.latentClip)}`);
  }
  if (!(typeof c.condDropProb === 'number' && c.condDropProb >= 0 && c.condDropProb < 1)) {
    throw new Error(`LatentDiffusionConfig.condDropProb must be a number in [0, 1), got ${JSON.stringify(c.condDropProb)}`);
  }
  if (c.pooledConditioning !== undefined && typeof c.pooledConditioning !== 'boolean') {
    throw new Error(`LatentDiffusionConfig.pooledConditioning must be true, false or absent, got ${JSON.stringify(c.pooledConditioning)}`);
  }
}

/** Tokens the denoiser sees for one latent grid, and the values per token. */
export function denoiserTokens(c: LatentDiffusionConfig): { tokens: number; side: number; patchDim: number } {
  const p = c.denoiser.patchSize;
  const side = c.latentSize / p;
  return { tokens: side * side, side, patchDim: c.latentChannels * p * p };
}

/** Parameter names and shapes, in checkpoint order. Linear weights are [in, out]. */
export function diffusionParamShapes(c: LatentDiffusionConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const lin = (name: string, i: number, o: number): void => {
    m.set(`${name}.weight`, [i, o]);
    m.set(`${name}.bias`, [o]);
  };
  const norm = (name: string, n: number): void => {
    m.set(`${name}.weight`, [n]);
    m.set(`${name}.bias`, [n]);
  };
  const { dim: d, depth, mlpRatio, timeFreqDim } = c.denoiser;
  const { patchDim } = denoiserTokens(c);
  const dc = c.caption.dim;
  lin('denoiser.patch_embed', patchDim, d);
  lin('denoiser.t_embed.fc1', timeFreqDim, d);
  lin('denoiser.t_embed.fc2', d, d);
  m.set('denoiser.null_cond', [dc]);
  if (c.pooledConditioning) lin('denoiser.cond_pool', dc, d);
  for (let i = 0; i < depth; i++) {
    const b = `denoiser.blocks.${i}`;
    lin(`${b}.ada`, d, 6 * d);
    lin(`${b}.attn.qkv`, d, 3 * d);
    lin(`${b}.attn.out`, d, d);
    norm(`${b}.cross.norm`, d);
    lin(`${b}.cross.q`, d, d);
    lin(`${b}.cross.kv`, dc, 2 * d);
    lin(`${b}.cross.out`, d, d);
    lin(`${b}.mlp.fc1`, d, mlpRatio * d);
    lin(`${b}.mlp.fc2`, mlpRatio * d, d);
  }
  lin('denoiser.final.ada', d, 2 * d);
  lin('denoiser.final.linear', d, patchDim);
  const e = c.caption;
  m.set('caption.embed', [e.vocabSize, dc]);
  m.set('caption.pos', [e.maxTokens, dc]);
  for (let i = 0; i < e.layers; i++) {
    const l = `caption.layers.${i}`;
    norm(`${l}.norm1`, dc);
    lin(`${l}.attn.qkv`, dc, 3 * dc);
    lin(`${l}.attn.out`, dc, dc);
    norm(`${l}.norm2`, dc);
    lin(`${l}.mlp.fc1`, dc, e.mlpRatio * dc);
    lin(`${l}.mlp.fc2`, e.mlpRatio * dc, dc);
  }
  norm('caption.norm', dc);
  return m;
}

/** Parameter count of a config (denoiser and caption encoder). */
export function countDiffusionParams(c: LatentDiffusionConfig): { denoiser: number; caption: number; total: number } {
  let denoiser = 0;
  let caption = 0;
  for (const [name, shape] of diffusionParamShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (name.startsWith('denoiser.')) denoiser += n;
    else caption += n;
  }
  return { denoiser, caption, total: denoiser + caption };
}
