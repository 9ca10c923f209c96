/**
 * Does a caption → image model listen to its caption? The mean negative log-likelihood of the image
 * codes of held-out captioned images, teacher-forced after their own caption and after another
 * example's caption. A model that ignores the text scores both the same; the gap (shuffled − own, in
 * nats per image token) is how much the caption tells it. Cheaper and less noisy than sampling images
 * and scoring them with CLIP, so training recipes log it as they go.
 */
import type { Session } from '../session';
import type { ImageCodes } from '../tokenizer';
import { modalityCodes } from '../model/adapter-seam';
import { rowLogSumExp } from '../util/stats';

export interface CaptionedCodeExample {
  caption: string;
  codes: ImageCodes;
}

export interface ConditioningProbe {
  /** Mean NLL (nats) of image-code targets after the example's own caption. */
  own: number;
  /** The same after a different example's caption (a derangement: caption i+⌊n/2⌋ mod n). */
  shuffled: number;
  /** shuffled − own: > 0 when the caption helps predict the image. */
  gap: number;
  /** Fraction of examples whose own caption gives the lower NLL. */
  ownBetterFraction: number;
  examples: number;
  imageTokens: number;
}

/** `<bos> caption <boi> codes <eoi>` ids (the direction a text-to-image model is asked for). */
function t2iIds(s: Session, caption: string, codes: ImageCodes): number[] {
  return s.tokenizer.encodePrompt([{ text: caption }, { image: codes }]).ids;
}

/** Mean NLL of the image-code targets of one sequence (a batch of one: captions differ in length). */
function imageCodeNll(s: Session, ids: number[]): { sum: number; n: number } {
  const tok = s.tokenizer;
  const input = ids.slice(0, -1);
  const at: number[] = []; // positions whose target is an image code: the LM head runs on those rows only
  for (let t = 0; t + 1 < ids.length; t++) if (tok.isImageCode(ids[t + 1])) at.push(t);
  const r = s.model.forwardRows([input], at, { capture: 'none', modalities: modalityCodes(input, (id) => tok.modalityOf(id)) });
  const V = s.config.vocabSize;
  let sum = 0;
  at.forEach((t, i) => (sum += rowLogSumExp(r.logits, i * V, V) - r.logits[i * V + ids[t + 1]]));
  return { sum, n: at.length };
}

/**
 * The fixed derangement every own-vs-shuffled comparison uses: item i gets item (i + ⌊n/2⌋) mod n
 * (at least 1 away, so every item moves when n ≥ 2).
 */
export function halfRotation<T>(xs: readonly T[]): T[] {
  const shift = Math.max(1, Math.floor(xs.length / 2));
  return xs.map((_, i) => xs[(i + shift) % xs.length]);
}

/** The own-vs-shuffled caption probe on `examples` (at least 2; their images must fit the vocabulary). */
export function captionConditioning(s: Session, examples: readonly CaptionedCodeExample[]): ConditioningProbe {
  if (!s.tokenizer.hasImages) throw new Error('captionConditioning: the session has no image vocabulary');
  if (examples.length < 2) throw new Error(`captionConditioning: needs at least 2 examples to shuffle captions, got ${examples.length}`);
  const n = examples.length;
  const others = halfRotation(examples);
  let own = 0;
  let other = 0;
  let tokens = 0;
  let wins = 0;
  examples.forEach((ex, i) => {
    const a = imageCodeNll(s, t2iIds(s, ex.caption, ex.codes));
    const b = imageCodeNll(s, t2iIds(s, others[i].caption, ex.codes));
    own += a.sum;
    other += b.sum;
    tokens += a.n;
    if (a.sum < b.sum) wins++;
  });
  const o = own / tokens;
  const sh = other / tokens;
  return { own: o, shuffled: sh, gap: sh - o, ownBetterFraction: wins / n, examples: n, imageTokens: tokens };
}
