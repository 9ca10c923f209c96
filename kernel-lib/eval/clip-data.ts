/**
 * CLIP training and evaluation pairs from the data sets: emoji images with their caption variants, and
 * scenes with their captions. Held-out sets use each image's canonical caption (captions[0]).
 */
import { DataStore } from '../data/store';
import { Split } from '../data/emoji';
import type { RGBImage } from '../image/types';
import type { CaptionedImage } from './retrieval';

/** The fixed sample whose retrieval metrics.json records and tests re-measure: the first images of each test split. */
export const CHECK_SAMPLE = { emoji: 128, scenes: 128 } as const;

export type ClipSource = 'emoji' | 'scenes';

export interface ClipExample {
  image: RGBImage;
  /** Caption variants; [0] is the canonical one. */
  captions: readonly string[];
  source: ClipSource;
}

/** The examples of one source and split, in stored order (the first `limit` when given). */
export function clipExamples(store: DataStore, source: ClipSource, split: Split, limit = Infinity): ClipExample[] {
  const out: ClipExample[] = [];
  if (source === 'emoji') {
    for (const e of store.emoji) {
      if (out.length >= limit) break;
      if (e.split === split) out.push({ image: store.emojiImage(e.index), captions: e.captions, source });
    }
  } else {
    const specs = store.scenes(split);
    for (let i = 0; i < Math.min(limit, specs.length); i++) out.push({ image: store.sceneImage(split, i), captions: [specs[i].caption], source });
  }
  return out;
}

/** Images with their canonical captions, for retrieval. */
export function canonicalCaptions(examples: readonly ClipExample[]): CaptionedImage[] {
  return examples.map((e) => ({ image: e.image, caption: e.captions[0] }));
}
