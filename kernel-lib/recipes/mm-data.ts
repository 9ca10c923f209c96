/**
 * Multimodal training rows for the shipped mm-moe-small: captioned images as caption → image
 * (`<bos> caption <boi> codes <eoi> <eos>`) and image → caption (`<bos> <boi> codes <eoi> caption <eos>`),
 * packed with Brown text into fixed-length rows. Every row depends only on (seed, step).
 */
import type { MultimodalTokenizer, ImageCodes } from '../tokenizer';
import { openDataset, textOf, imagesOf } from '../data';
import { downscale2x } from '../image';
import type { RGBImage } from '../image';
import type { VQVAE } from '../image';
import type { TrainBatch } from '../train/trainer';
import { mulberry32 } from '../util/random';

export interface CaptionedCodes {
  caption: string;
  codes: ImageCodes;
}

/** Token ids of one captioned image in one direction. */
export function captionedSequence(tok: MultimodalTokenizer, ex: CaptionedCodes, imageFirst: boolean): number[] {
  const parts = imageFirst ? [{ image: ex.codes }, { text: ex.caption }] : [{ text: ex.caption }, { image: ex.codes }];
  return [...tok.encodePrompt(parts).ids, tok.eos];
}

export interface MixOptions {
  batchSize: number;
  seqLen: number;
  seed: number;
  /** Fraction of rows that are Brown text (the rest are captioned images). */
  textFraction: number;
  /** Fraction of captioned images drawn caption → image (the rest image → caption). Default 0.5. */
  captionFirstFraction?: number;
}

/**
 * Rows of seqLen + 1 ids. Image rows concatenate whole captioned-image sequences (direction drawn per
 * sequence) and cut at the row length; text rows are random windows of the text stream.
 */
export function mixedSampler(tok: MultimodalTokenizer, images: CaptionedCodes[], text: Int32Array, o: MixOptions): (step: number) => TrainBatch {
  const L = o.seqLen + 1;
  if (images.length === 0) throw new Error('mixedSampler: no captioned images');
  const captionFirst = o.captionFirstFraction ?? 0.5;
  return (step) => {
    const rand = mulberry32((o.seed * 7919 + step * 104729) >>> 0);
    const ids: number[][] = [];
    for (let b = 0; b < o.batchSize; b++) {
      if (rand() < o.textFraction) {
        const s = Math.floor(rand() * (text.length - L + 1));
        ids.push(Array.from(text.subarray(s, s + L)));
        continue;
      }
      const row: number[] = [];
      while (row.length < L) {
        const ex = images[Math.floor(rand() * images.length)];
        row.push(...captionedSequence(tok, ex, rand() < 1 - captionFirst));
      }
      ids.push(row.slice(0, L));
    }
    return { ids };
  };
}

/**
 * Captioned images of a dataset split with their VQ codes (32×32 → 8×8; with `lowRes`, the 16×16
 * downscaled copy → 4×4). `imgs` are the images that were encoded.
 */
export async function captioned(
  vq: VQVAE,
  name: 'emoji' | 'scenes',
  split: 'train' | 'val' | 'test',
  limit = Infinity,
  o: { lowRes?: boolean } = {},
): Promise<{ caps: string[]; imgs: RGBImage[]; codes: ImageCodes[] }> {
  const ds = await openDataset(name, { split });
  const caps: string[] = [];
  const imgs: RGBImage[] = [];
  for (const ex of ds) {
    if (caps.length >= limit) break;
    const [img] = imagesOf(ex.parts);
    if (!img) continue;
    caps.push(textOf(ex.parts));
    imgs.push(o.lowRes ? downscale2x(img) : img);
  }
  const codes: ImageCodes[] = [];
  for (let i = 0; i < imgs.length; i += 256) codes.push(...vq.encodeImages(imgs.slice(i, i + 256)));
  return { caps, imgs, codes };
}

/** Pairs of caption and codes from `captioned`. */
export const pairs = (c: { caps: string[]; codes: ImageCodes[] }): CaptionedCodes[] => c.caps.map((caption, i) => ({ caption, codes: c.codes[i] }));
