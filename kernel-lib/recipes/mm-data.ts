/**
 * Multimodal training rows for the shipped mm-moe-small: captioned images as caption → image
 * (`<bos> caption <boi> codes <eoi> <eos>`) and image → caption (`<bos> <boi> codes <eoi> caption <eos>`),
 * packed with Brown text into fixed-length rows. Every row depends only on (seed, step).
 */
import type { MultimodalTokenizer, ImageCodes } from '../tokenizer';
import type { TrainBatch } from '../train/trainer';
import { mulberry32 } from '../model/params';

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
}

/**
 * Rows of seqLen + 1 ids. Image rows concatenate whole captioned-image sequences (direction drawn per
 * sequence) and cut at the row length; text rows are random windows of the text stream.
 */
export function mixedSampler(tok: MultimodalTokenizer, images: CaptionedCodes[], text: Int32Array, o: MixOptions): (step: number) => TrainBatch {
  const L = o.seqLen + 1;
  if (images.length === 0) throw new Error('mixedSampler: no captioned images');
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
        row.push(...captionedSequence(tok, ex, rand() < 0.5));
      }
      ids.push(row.slice(0, L));
    }
    return { ids };
  };
}
