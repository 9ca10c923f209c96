/**
 * Shared by the MUMU paper tests: the tiny LM (4×4 image codes, 32 codes) and tiny random decoder of the
 * MiniGPT-5 tests (fast stand-ins for mm-moe-small and ldm-emoji), a stand-in crop encoder (each crop's 4×4
 * area average, each cell's colour quantised to one of the 32 codes), and the multimodal prompts of a small
 * data build.
 */
import type { ImageCodes } from '../../kernel-lib/tokenizer';
import type { RGBImage } from '../../kernel-lib/image/types';
import { resizeArea } from '../../kernel-lib/image/rgb';
import { DataStore, ensureData } from '../../kernel-lib/data/store';
import { quiet, SMALL } from '../data/helpers';
import { mumu } from '../../kernel-lib';
export { tinyParts } from './minigpt5-helpers';

/** Crops → 4×4 codes in [0, 32): a deterministic function of the crop's colours. */
export function tinyCropEncoder(images: readonly RGBImage[]): ImageCodes[] {
  return images.map((img) => {
    const small = resizeArea(img, 4, 4);
    const codes = Array.from({ length: 16 }, (_, i) => {
      const [r, g, b] = small.pixels.subarray(i * 3, i * 3 + 3);
      return ((r >> 6) * 8 + (g >> 6) * 2 + (b >> 7)) % 32;
    });
    return { height: 4, width: 4, codes };
  });
}

/** A small data build (300 train scenes) in `dir`. */
export function smallStore(dir: string): Promise<DataStore> {
  return ensureData({ ...SMALL, cacheDir: dir, onProgress: quiet });
}

/** A metrics.json as a run writes it (only what the builder reads matters). */
export function runMetrics(arm: mumu.Arm, tokensPerCrop: number | null, seed: number): mumu.RunMetrics {
  return {
    name: mumu.runName(arm, tokensPerCrop, seed), paper: 'MUMU', arm, tokensPerCrop, seed, base: 'mm-moe-small', decoder: 'ldm-emoji',
    encoder: arm === 'caption-only' ? 'caption' : 'prompt', augmentRate: arm === 'mumu' ? 0.2 : 0, decoderMode: 'lora',
    trainable: { connector: 1, pooler: 0, decoder: 1 }, condDrop: 0.1, data: { description: 'x', split: 'train', items: 10 },
    optimizer: { name: 'AdamW', lr: 1e-3, minLr: 1e-4, schedule: 'warmup + cosine', warmupSteps: 10, weightDecay: 0.1, batchSize: 16, clipNorm: 1, decoderLrScale: 0.5 },
    steps: 300, resumedFrom: 0, stopped: 'done', lossCurve: [[1, 0.5]], stepTime: { steps: 300, firstMs: 5000, meanMs: 2000 + seed, medianMs: 1900 + seed, meanCpuMs: 1800, meanTokens: 1000 },
    probes: [], files: {}, backend: { backend: 'wasm', tfBackend: 'wasm', threads: 1 }, date: '2026-01-01T00:00:00.000Z', train_wall_time_s: 600, recipe_wall_time_s: 650,
  };
}
