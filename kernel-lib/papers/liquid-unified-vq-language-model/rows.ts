/**
 * Liquid's training rows as token ids, with caption dropout. Liquid (Wu et al. 2024, arXiv:2412.04332;
 * citation.ts) trains caption → image rows with the caption replaced by an `<unconditional>` token 10 % of
 * the time, so the same model gives the unconditional logits that classifier-free guidance needs
 * (decode/cfg.ts, mode 'unconditional-token').
 *
 * Dropout is a pure function of (seed, visit, example id): `visit` (e.g. the epoch, or the step) lets the
 * same row be dropped on one visit and kept on another, as a per-visit coin flip does, while a resumed run
 * draws the same coins. Only t2i rows are ever dropped; the other pools' rows are encoded as they are.
 */
import type { Example } from '../../data/example-list';
import { toPrompt } from '../../data/dataset';
import type { LiquidMeta } from '../../data/liquid-pools';
import type { RGBImage } from '../../image/types';
import type { ImageCodes, MultimodalTokenizer } from '../../tokenizer';
import { rngFor } from '../../util/random';

/** Liquid's rate: 10 % of caption → image rows lose their caption. */
export const CAPTION_DROPOUT_RATE = 0.1;

export interface CaptionDropout {
  /** In [0, 1]; default CAPTION_DROPOUT_RATE. */
  rate?: number;
  seed?: number;
  /** Which visit of the row this is (epoch or step); default 0. */
  visit?: number;
}

function checkDropout(o: CaptionDropout): Required<CaptionDropout> {
  const rate = o.rate ?? CAPTION_DROPOUT_RATE;
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw new Error(`caption dropout: rate must be in [0, 1], got ${JSON.stringify(o.rate)}`);
  const seed = o.seed ?? 0;
  const visit = o.visit ?? 0;
  for (const [k, v] of [['seed', seed], ['visit', visit]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`caption dropout: ${k} must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return { rate, seed, visit };
}

/** Whether this visit of a t2i row replaces its caption by <unconditional> (false for every other pool). */
export function dropsCaption(example: Example<LiquidMeta>, o: CaptionDropout = {}): boolean {
  const { rate, seed, visit } = checkDropout(o);
  if (example.meta.task !== 't2i') return false;
  return rngFor(`liquid-caption-dropout/${visit}/${example.id}`, seed)() < rate;
}

export interface LiquidRowIds {
  ids: number[];
  /** Index of the first id that carries the loss: the first token of part `meta.lossFrom`. */
  lossStart: number;
  /** True when the caption was replaced by <unconditional>. */
  unconditional: boolean;
}

/**
 * A row's ids: <bos>, then each part as the tokenizer encodes it (text by BPE, an image as <boi> codes
 * <eoi>), the caption of a dropped t2i row as the single <unconditional> id. `encodeImage` turns pixels
 * into codes (the VQ-VAE). Without `dropout` no caption is dropped (evaluation rows).
 */
export function liquidRowIds(
  tokenizer: MultimodalTokenizer,
  example: Example<LiquidMeta>,
  encodeImage: (image: RGBImage) => ImageCodes,
  dropout?: CaptionDropout,
): LiquidRowIds {
  const { lossFrom } = example.meta;
  if (!Number.isInteger(lossFrom) || lossFrom < 0 || lossFrom >= example.parts.length) {
    throw new Error(`liquidRowIds: ${example.id} has lossFrom ${lossFrom}, not a part index in [0, ${example.parts.length})`);
  }
  const unconditional = dropout !== undefined && dropsCaption(example, dropout);
  const parts = toPrompt(example.parts, encodeImage);
  const ids = [tokenizer.bos];
  let lossStart = -1;
  parts.forEach((part, i) => {
    if (i === lossFrom) lossStart = ids.length;
    // In a t2i row the caption is part 0 and the image part 1 (data/liquid-pools.ts).
    if (unconditional && i === 0) ids.push(tokenizer.unconditional);
    else ids.push(...tokenizer.encodePrompt([part], { addBos: false }).ids);
  });
  return { ids, lossStart, unconditional };
}
