/** Fixtures for the diffusion tests: a tiny decoder on the shipped VQ-VAE and tokenizer, a few real images. */
import * as tf from '@tensorflow/tfjs';
import { VQVAE } from '../../kernel-lib/image/model';
import { loadTextTokenizer } from '../../kernel-lib/data/text-tokenizer';
import { DataStore, ensureData } from '../../kernel-lib/data/store';
import type { RGBImage } from '../../kernel-lib/image/types';
import { LatentDiffusion } from '../../kernel-lib/diffusion/model';
import { defaultDiffusionConfig, LatentDiffusionConfig } from '../../kernel-lib/diffusion/config';
import { LatentSpace, LatentStats } from '../../kernel-lib/diffusion/latent-space';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';

export const VQVAE_DIR = 'data/checkpoints/vqvae-emoji';

let store: DataStore | null = null;
export async function data(): Promise<DataStore> {
  return (store ??= await ensureData());
}

/** n train emoji, every 750th (far apart in the catalogue, so they look different), with canonical captions. */
export async function emojiImages(n: number): Promise<{ images: RGBImage[]; captions: string[] }> {
  const s = await data();
  const rows = s.emoji.filter((e) => e.split === 'train').filter((_, i) => i % 750 === 0).slice(0, n);
  return { images: rows.map((e) => s.emojiImage(e.index)), captions: rows.map((e) => e.captions[0]) };
}

export function tinyConfig(overrides: Partial<LatentDiffusionConfig> = {}): LatentDiffusionConfig {
  return defaultDiffusionConfig('tiny', overrides);
}

/** A tiny decoder; latent stats measured on `statImages` (default: unit scale, zero shift). */
export function tinyLdm(o: { seed?: number; config?: LatentDiffusionConfig; statImages?: RGBImage[] } = {}): LatentDiffusion {
  const vq = VQVAE.load(VQVAE_DIR);
  const stats: LatentStats = o.statImages ? LatentSpace.measureStats(vq, o.statImages) : { shift: new Float32Array(32), scale: new Float32Array(32).fill(1) };
  return LatentDiffusion.create(o.config ?? tinyConfig(), { vq, stats, tokenizer: loadTextTokenizer(), seed: o.seed ?? 0 });
}

/**
 * A stand-in for the trained decoder (ldm-emoji), small enough for the paper tests that train into a decoder
 * (MiniGPT-5, MUMU) to run in seconds: the `tiny` preset, its weights randomised so it reads its conditioning, saved to `dir`
 * with a real decoder's layout (config.json, model.safetensors, tokenizer.json, vqvae/). Returns `dir`.
 */
export function standInDecoder(dir: string, seed = 1): string {
  const ldm = tinyLdm({ seed });
  try {
    randomize(ldm, 0.2, seed);
    ldm.save(dir);
  } finally {
    ldm.dispose();
  }
  return dir;
}

/**
 * Every parameter replaced by N(0, std²) noise (norm gains 1 + noise): the adaLN-Zero initialisation
 * makes ε̂ ≡ 0, which would make several properties hold trivially.
 */
export function randomize(m: LatentDiffusion, std = 0.2, seed = 1): void {
  const rand = mulberry32(seed);
  tf.tidy(() => {
    for (const [name, v] of m.params) {
      const noise = normalArray(v.size, std, rand);
      if (/norm\d?\.weight$/.test(name)) noise.forEach((x, i) => (noise[i] = 1 + x));
      v.assign(tf.tensor(noise, v.shape));
    }
  });
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
