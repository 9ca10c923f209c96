/**
 * The image grammar for decoding: after `<boi>`, exactly H×W image codes (sampled only among image
 * codes), then `<eoi>` is forced. Outside an image, image codes and `<eoi>` (and `<bos>`/`<pad>`) are
 * never sampled. The grammar also assigns each image code its (image, row, col) on the grid. Its state
 * is a PositionTracker (model/positions.ts), the same one that gives each decoded position its
 * metadata, so "what a position outputs" and what the grammar allows are one rule.
 */
import type { GridPos } from '../tokenizer/prompt';
import { MODALITY_CODES, PositionTracker, PositionVocab } from '../model/positions';

export interface DecodeVocab extends PositionVocab {
  vocabSize: number;
  bos: number;
  eos: number;
  pad: number;
  /** Liquid's <unconditional>, when the vocabulary has it: a training-time condition, never an output. */
  unconditional?: number;
  pieceOf(id: number): string;
}

export class ImageGrammar {
  /** The position state machine the grammar reads (shared with the position metadata of a decode). */
  readonly tracker: PositionTracker;

  constructor(private readonly vocab: DecodeVocab, grid?: { height: number; width: number }) {
    const g = grid ?? vocab.image?.grid ?? { height: 0, width: 0 };
    if (!Number.isInteger(g.height) || !Number.isInteger(g.width) || g.height < 1 || g.width < 1) {
      throw new Error(`image grid must be positive integers, got ${g.height}×${g.width}`);
    }
    this.tracker = new PositionTracker(vocab, g);
  }

  get insideImage(): boolean {
    return this.tracker.insideImage;
  }

  /** Replay prompt tokens so a prompt ending inside an open image continues it. */
  replay(ids: number[]): void {
    for (const id of ids) this.advance(id);
  }

  /** The token the grammar forces next, if any. */
  forced(): number | null {
    const img = this.vocab.image;
    if (img && this.tracker.nextOutput === MODALITY_CODES.special) return img.eoi;
    return null;
  }

  /** Set disallowed logits to −∞ in place. */
  mask(logits: Float32Array): void {
    const img = this.vocab.image;
    if (!img) return;
    const lo = img.codeStart;
    const hi = img.codeStart + img.numCodes;
    if (this.insideImage) {
      for (let i = 0; i < lo; i++) logits[i] = -Infinity;
      for (let i = hi; i < logits.length; i++) logits[i] = -Infinity;
    } else {
      for (let i = lo; i < hi; i++) logits[i] = -Infinity;
      logits[img.eoi] = -Infinity;
      logits[this.vocab.bos] = -Infinity;
      logits[this.vocab.pad] = -Infinity;
      if (this.vocab.unconditional !== undefined) logits[this.vocab.unconditional] = -Infinity;
    }
  }

  /** Record a token; returns its grid position when it is an image code. */
  advance(id: number): GridPos | undefined {
    const e = this.tracker.next(id);
    return e.image >= 0 ? { image: e.image, row: e.row, col: e.col } : undefined;
  }
}
