/**
 * The paper-specific material its analyses run on: held-out scene captions with their codes and Brown
 * paragraphs, and the routing traces of a model over them (the Fig. 3 / Fig. 4 inputs). The analyses
 * themselves (co-activation, routing by modality, the text suite) are generic and live in analysis/.
 */
import type { RoutingTrace, Session } from '../../session';
import { openDataset, textOf } from '../../data';
import type { VQVAE } from '../../image';
import { captioned, pairs, CaptionedCodes } from '../../recipes/mm-data';

/** Held-out material: scene captions with their 8×8 codes, Brown paragraphs. */
export interface HeldOut {
  t2i: CaptionedCodes[];
  passages: string[];
}

/** The first `captions` held-out scenes (test split) and `passages` Brown test paragraphs of ≥ 6 words. */
export async function heldOut(vq: VQVAE, o: { captions: number; passages: number }): Promise<HeldOut> {
  const t2i = pairs(await captioned(vq, 'scenes', 'test', o.captions));
  const passages: string[] = [];
  for (const ex of await openDataset('brown', { split: 'test', unit: 'paragraph' })) {
    if (passages.length >= o.passages) break;
    const text = textOf(ex.parts);
    if (text.split(/\s+/).filter(Boolean).length >= 6) passages.push(text);
  }
  return { t2i, passages };
}

export interface TracesOptions {
  /** Text passages are cut to `<bos>` + this many tokens (default 128). */
  maxTextTokens?: number;
  /** Called after each sequence with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Routing traces over held-out material: each caption → image sequence (`<bos> caption <boi> codes
 * <eoi>`), when the session has images, and each passage (`<bos>` + up to `maxTextTokens` tokens).
 */
export function traces(s: Session, held: HeldOut, o: TracesOptions = {}): RoutingTrace[] {
  const out: RoutingTrace[] = [];
  const t2i = s.tokenizer.hasImages ? held.t2i : [];
  const total = t2i.length + held.passages.length;
  for (const ex of t2i) {
    out.push(s.trace([{ text: ex.caption }, { image: ex.codes }]));
    o.onProgress?.(out.length, total);
  }
  for (const p of held.passages) {
    out.push(s.trace({ ids: [s.tokenizer.bos, ...s.tokenizer.bpe.encode(p)].slice(0, (o.maxTextTokens ?? 128) + 1) }));
    o.onProgress?.(out.length, total);
  }
  return out;
}
