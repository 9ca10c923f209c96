/**
 * The image grammar for decoding: after `<boi>`, exactly H×W image codes (sampled only among image
 * codes), then `<eoi>` is forced. Outside an image, image codes and `<eoi>` (and `<bos>`/`<pad>`) are
 * never sampled. The grammar also assigns each image code its (image, row, col) on the grid.
 */
import type { GridPos, Modality } from '../tokenizer/prompt';

export interface DecodeVocab {
  vocabSize: number;
  bos: number;
  eos: number;
  pad: number;
  /** Present when the vocabulary has images. */
  image?: { boi: number; eoi: number; codeStart: number; numCodes: number; grid: { height: number; width: number } };
  pieceOf(id: number): string;
  modalityOf(id: number): Modality;
}

export class ImageGrammar {
  private inImage = false;
  private emitted = 0;
  private images = 0;
  private readonly H: number;
  private readonly W: number;

  constructor(private readonly vocab: DecodeVocab, grid?: { height: number; width: number }) {
    const img = vocab.image;
    const g = grid ?? img?.grid ?? { height: 0, width: 0 };
    if (!Number.isInteger(g.height) || !Number.isInteger(g.width) || g.height < 1 || g.width < 1) {
      throw new Error(`image grid must be positive integers, got ${g.height}×${g.width}`);
    }
    this.H = g.height;
    this.W = g.width;
  }

  get insideImage(): boolean {
    return this.inImage;
  }

  /** Replay prompt tokens so a prompt ending inside an open image continues it. */
  replay(ids: number[]): void {
    for (const id of ids) this.advance(id);
  }

  /** The token the grammar forces next, if any. */
  forced(): number | null {
    const img = this.vocab.image;
    if (img && this.inImage && this.emitted === this.H * this.W) return img.eoi;
    return null;
  }

  /** Set disallowed logits to −∞ in place. */
  mask(logits: Float32Array): void {
    const img = this.vocab.image;
    if (!img) return;
    const lo = img.codeStart;
    const hi = img.codeStart + img.numCodes;
    if (this.inImage) {
      for (let i = 0; i < lo; i++) logits[i] = -Infinity;
      for (let i = hi; i < logits.length; i++) logits[i] = -Infinity;
    } else {
      for (let i = lo; i < hi; i++) logits[i] = -Infinity;
      logits[img.eoi] = -Infinity;
      logits[this.vocab.bos] = -Infinity;
      logits[this.vocab.pad] = -Infinity;
    }
  }

  /** Record a token; returns its grid position when it is an image code. */
  advance(id: number): GridPos | undefined {
    const img = this.vocab.image;
    if (!img) return undefined;
    if (id === img.boi) {
      this.inImage = true;
      this.emitted = 0;
      return undefined;
    }
    if (id === img.eoi) {
      if (this.inImage) this.images++;
      this.inImage = false;
      return undefined;
    }
    if (this.inImage && id >= img.codeStart && id < img.codeStart + img.numCodes) {
      const k = this.emitted++;
      return { image: this.images, row: Math.floor(k / this.W), col: k % this.W };
    }
    return undefined;
  }
}
