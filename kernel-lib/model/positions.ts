/**
 * Per-token position metadata, the one description of "what is at this position" that every forward
 * path (full forward, prefill, step, training) carries to the adapters:
 *
 *   modality        what the token at the position is (MODALITY_CODES: 0 text, 1 image, 2 special);
 *   image, row, col for an image code: which image of the sequence it belongs to (0 = first <boi>) and
 *                   its cell on the H×W grid; −1 for every other token;
 *   outputModality  what the position OUTPUTS, i.e. what the image grammar lets the next token be,
 *                   known from the ids up to and including this one (so step decoding and the full
 *                   forward agree, and a training forward uses the same rule as generation):
 *                     image   inside an open image with fewer than H×W codes so far (the position is
 *                             <boi> or a code that is not the last): the next token must be an image code;
 *                     special the image's H×W codes are complete: <eoi> is forced next;
 *                     text    otherwise (the next token is chosen among text and special tokens).
 *                   MoSS routes adapters by it (a position whose next token is an image code).
 *
 * Rows are flattened like the model's activations: a [B, T] batch gives B·T entries, row b·T + t, and
 * each sequence is read from its own start. `PositionTracker` is the one state machine behind both the
 * whole-sequence builder and step decoding (and the decode grammar), so the two cannot drift apart.
 */

/** Per-token modality codes, as adapters receive them. */
export const MODALITY_CODES = { text: 0, image: 1, special: 2 } as const;
export type ModalityName = keyof typeof MODALITY_CODES;

/** outputModality where the caller gave modality codes only (the legacy `modalities` option). */
export const OUTPUT_UNKNOWN = 255;

/** Modality codes [N] for token ids, from a vocabulary's `modalityOf`. */
export function modalityCodes(ids: ArrayLike<number>, modalityOf: (id: number) => ModalityName): Uint8Array {
  const out = new Uint8Array(ids.length);
  for (let i = 0; i < ids.length; i++) out[i] = MODALITY_CODES[modalityOf(ids[i])];
  return out;
}

export interface PositionMeta {
  /** [N] MODALITY_CODES of the token at each row. */
  readonly modality: Uint8Array;
  /** [N] MODALITY_CODES of what each row outputs (see the file comment); OUTPUT_UNKNOWN when not known. */
  readonly outputModality: Uint8Array;
  /** [N] index of the image an image code belongs to, −1 for other tokens. */
  readonly image: Int32Array;
  /** [N] grid row of an image code, −1 for other tokens. */
  readonly row: Int32Array;
  /** [N] grid column of an image code, −1 for other tokens. */
  readonly col: Int32Array;
}

/** What the metadata needs to know about a vocabulary (DecodeVocab and the tokenizer provide it). */
export interface PositionVocab {
  modalityOf(id: number): ModalityName;
  /** Present when the vocabulary has images. */
  image?: { boi: number; eoi: number; codeStart: number; numCodes: number; grid: { height: number; width: number } };
}

/** One position's metadata, as PositionTracker.next returns it. */
export interface PositionEntry {
  modality: number;
  outputModality: number;
  image: number;
  row: number;
  col: number;
}

/**
 * Reads a sequence one token at a time and says what each position is. The grid is the vocabulary's
 * unless given (a decode with an `imageGrammar` grid uses that one).
 */
export class PositionTracker {
  private open = false;
  private emitted = 0;
  private images = 0;
  private readonly H: number;
  private readonly W: number;

  constructor(private readonly vocab: PositionVocab, grid?: { height: number; width: number }) {
    const g = grid ?? vocab.image?.grid ?? { height: 1, width: 1 };
    if (!Number.isInteger(g.height) || !Number.isInteger(g.width) || g.height < 1 || g.width < 1) {
      throw new Error(`image grid must be positive integers, got ${g.height}×${g.width}`);
    }
    this.H = g.height;
    this.W = g.width;
  }

  /** Inside an open image (after <boi>, before <eoi>). */
  get insideImage(): boolean {
    return this.open;
  }

  /** Image codes emitted so far in the open image. */
  get codesInImage(): number {
    return this.emitted;
  }

  get gridSize(): number {
    return this.H * this.W;
  }

  /** What the next position outputs, given the tokens read so far (the rule in the file comment). */
  get nextOutput(): number {
    if (!this.open) return MODALITY_CODES.text;
    return this.emitted < this.H * this.W ? MODALITY_CODES.image : MODALITY_CODES.special;
  }

  /** Reads one token and returns its position's metadata. */
  next(id: number): PositionEntry {
    const img = this.vocab.image;
    const e: PositionEntry = { modality: MODALITY_CODES[this.vocab.modalityOf(id)], outputModality: 0, image: -1, row: -1, col: -1 };
    if (img && id === img.boi) {
      this.open = true;
      this.emitted = 0;
      this.images++;
    } else if (img && id === img.eoi) {
      this.open = false;
    } else if (img && this.open && id >= img.codeStart && id < img.codeStart + img.numCodes) {
      const k = this.emitted++;
      e.image = this.images - 1;
      e.row = Math.floor(k / this.W);
      e.col = k % this.W;
    }
    e.outputModality = this.nextOutput;
    return e;
  }
}

function allocate(n: number): { [K in keyof PositionMeta]: PositionMeta[K] } {
  return {
    modality: new Uint8Array(n),
    outputModality: new Uint8Array(n),
    image: new Int32Array(n).fill(-1),
    row: new Int32Array(n).fill(-1),
    col: new Int32Array(n).fill(-1),
  };
}

/** Metadata for entries (one row each). */
export function metaOf(entries: readonly PositionEntry[]): PositionMeta {
  const m = allocate(entries.length);
  entries.forEach((e, i) => {
    m.modality[i] = e.modality;
    m.outputModality[i] = e.outputModality;
    m.image[i] = e.image;
    m.row[i] = e.row;
    m.col[i] = e.col;
  });
  return m;
}

/**
 * Metadata for sequences of ids (each read from its own start), flattened row-major: one sequence
 * gives its T entries, a [B, T] batch B·T. `grid` overrides the vocabulary's image grid.
 */
export function positionMeta(rows: readonly (readonly number[])[] | readonly number[], vocab: PositionVocab, grid?: { height: number; width: number }): PositionMeta {
  const seqs = (rows.length > 0 && Array.isArray(rows[0]) ? rows : [rows]) as readonly (readonly number[])[];
  const entries: PositionEntry[] = [];
  for (const seq of seqs) {
    const t = new PositionTracker(vocab, grid);
    for (const id of seq) entries.push(t.next(id));
  }
  return metaOf(entries);
}

/**
 * Metadata from modality codes alone (the legacy `modalities` option): no grid, output unknown.
 * Adapters that need more (grid cells, output modality) refuse it with a message.
 */
export function metaFromModalities(codes: Uint8Array): PositionMeta {
  const m = allocate(codes.length);
  m.modality.set(codes);
  m.outputModality.fill(OUTPUT_UNKNOWN);
  return m;
}

/** Checks that metadata has `n` rows; `who` starts the message. */
export function checkMetaRows(meta: PositionMeta, n: number, who: string): void {
  for (const k of ['modality', 'outputModality', 'image', 'row', 'col'] as const) {
    if (meta[k].length !== n) throw new Error(`${who}: position metadata '${k}' has ${meta[k].length} entries for ${n} tokens`);
  }
}
