/**
 * The latent diffusion decoder's captioned images of a split: the recipe trains on them (ldm-emoji.ts) and
 * the evaluation probes on them (ldm-eval.ts), so they live below both.
 */
import type { RGBImage } from '../image/types';
import { ensureData } from '../data/store';

export interface CaptionedImages {
  images: RGBImage[];
  /** Caption variants per image (emoji have several, scenes one). */
  captions: string[][];
}

/** Captioned emoji and scenes of a split (emoji first, stored order). */
export async function ldmData(split: 'train' | 'val' | 'test', limit = Infinity): Promise<{ emoji: CaptionedImages; scenes: CaptionedImages }> {
  const store = await ensureData();
  const rows = store.emoji.filter((e) => e.split === split).slice(0, limit);
  const specs = store.scenes(split).slice(0, limit);
  return {
    emoji: { images: rows.map((e) => store.emojiImage(e.index)), captions: rows.map((e) => [...e.captions]) },
    scenes: { images: specs.map((_, i) => store.sceneImage(split, i)), captions: specs.map((s) => [s.caption]) },
  };
}

