/**
 * MUMU's training and held-out items as the language model reads them. A multimodal prompt
 * (data/mumu-prompts.ts: crops before the words that name them) is coded once — each crop resized to the
 * image tokenizer's input and turned into its grid of codes — and then laid out for a tokens-per-crop
 * setting:
 *
 *   all codes (N = C)   <bos> a <boi> c₁ … c_C <eoi> cat to the left of … (the tokenizer's own layout)
 *   pooled (N < C)      <bos> a <boi> <img> × N <eoi> cat …  and the crop's C codes are kept beside the row;
 *                       the encoder puts the pooled tokens in the <img> slots (encoder.ts)
 *
 * Rows of a batch are right-padded with <pad>; the LM is causal, so padding after a row changes none of its
 * states, and the mask (1 real, 0 padding) tells the connector and the decoder which positions exist.
 */
import type { ImageCodes, MultimodalTokenizer, PromptPart } from '../../tokenizer';
import type { RGBImage } from '../../image/types';
import type { Example, ExampleList } from '../../data/example-list';
import type { MumuMeta } from '../../data/mumu-prompts';

/** Crops → codes (the VQ-VAE at its input size, or a stand-in in tests). */
export type CropEncoder = (images: readonly RGBImage[]) => ImageCodes[];

/** One prompt → scene pair with its crops coded. */
export interface MumuItem {
  id: string;
  /** The prompt, crops as code grids. */
  prompt: PromptPart[];
  /** The prompt's words (its text parts joined): what the caption-only baseline reads. */
  caption: string;
  /** The scene to draw. */
  target: RGBImage;
}

/** A prompt laid out for the LM: ids, and for each pooled crop where its N slots start and its code ids. */
export interface PromptRow {
  ids: number[];
  /** Pooled crops only (empty when crops enter as all their codes). */
  crops: Array<{ at: number; codeIds: number[] }>;
}

/** The row of a coded prompt with `tokensPerCrop` tokens per crop (see the file comment). */
export function promptRow(tok: MultimodalTokenizer, prompt: readonly PromptPart[], tokensPerCrop: number): PromptRow {
  const { height, width } = tok.imageGrid;
  const C = height * width;
  if (!(Number.isInteger(tokensPerCrop) && tokensPerCrop >= 1 && tokensPerCrop <= C)) throw new Error(`mumu: tokensPerCrop must be an integer in [1, ${C}], got ${JSON.stringify(tokensPerCrop)}`);
  prompt.forEach((p, i) => {
    if ('image' in p && (p.image.height !== height || p.image.width !== width)) {
      throw new Error(`mumu: prompt part ${i} is a ${p.image.height}×${p.image.width} code grid; the LM reads ${height}×${width} (code crops at the tokenizer's grid)`);
    }
  });
  const enc = tok.encodePrompt([...prompt]);
  if (tokensPerCrop === C) return { ids: enc.ids, crops: [] };
  const ids: number[] = [];
  const crops: PromptRow['crops'] = [];
  for (let i = 0; i < enc.ids.length; i++) {
    if (enc.grid[i] === null) {
      ids.push(enc.ids[i]);
      continue;
    }
    // a run of C codes (encodePrompt writes each image whole): N placeholders in its place
    crops.push({ at: ids.length, codeIds: enc.ids.slice(i, i + C) });
    for (let k = 0; k < tokensPerCrop; k++) ids.push(tok.img);
    i += C - 1;
  }
  return { ids, crops };
}

/** Rows padded to one length. */
export interface PromptBatch {
  B: number;
  T: number;
  /** [B·T] ids, <pad> after each row's end. */
  ids: Int32Array;
  /** [B·T] 1 on a row's positions, 0 on its padding. */
  mask: Float32Array;
  /** Every pooled crop of the batch: its row, where its slots start, its code ids. */
  crops: Array<{ row: number; at: number; codeIds: number[] }>;
}

export function padPromptRows(tok: MultimodalTokenizer, rows: readonly PromptRow[]): PromptBatch {
  if (rows.length === 0) throw new Error('mumu: a batch needs at least one prompt');
  const B = rows.length;
  const T = Math.max(...rows.map((r) => r.ids.length));
  const ids = new Int32Array(B * T).fill(tok.pad);
  const mask = new Float32Array(B * T);
  const crops: PromptBatch['crops'] = [];
  rows.forEach((r, b) => {
    ids.set(r.ids, b * T);
    mask.fill(1, b * T, b * T + r.ids.length);
    for (const c of r.crops) crops.push({ row: b, at: c.at, codeIds: c.codeIds });
  });
  return { B, T, ids, mask, crops };
}

/** Rows of a padded batch as number[][] (for the host-side forward). */
export function batchRows(b: PromptBatch): number[][] {
  return Array.from({ length: b.B }, (_, i) => Array.from(b.ids.subarray(i * b.T, (i + 1) * b.T)));
}

/** Coded items of examples (every crop of every example coded in one call). */
export function codeExamples(examples: ReadonlyArray<Example<MumuMeta>>, encode: CropEncoder): MumuItem[] {
  const images: RGBImage[] = [];
  for (const ex of examples) for (const p of ex.parts) if ('image' in p) images.push(p.image);
  const codes = images.length > 0 ? encode(images) : [];
  if (codes.length !== images.length) throw new Error(`mumu: the crop encoder returned ${codes.length} code grids for ${images.length} crops`);
  let k = 0;
  return examples.map((ex) => ({
    id: ex.id,
    prompt: ex.parts.map((p): PromptPart => ('image' in p ? { image: codes[k++] } : { text: p.text })),
    caption: ex.meta.caption,
    target: ex.meta.target,
  }));
}

/** Where training items come from: `size` items, item i coded on demand. */
export interface MumuSource {
  readonly size: number;
  items(indices: readonly number[]): MumuItem[];
}

/** A source over a prompt list; an item is coded the first time it is drawn and kept. */
export function mumuSource(list: Pick<ExampleList<MumuMeta>, 'size' | 'get'>, encode: CropEncoder): MumuSource {
  const cache = new Map<number, MumuItem>();
  return {
    size: list.size,
    items(indices) {
      const todo = [...new Set(indices.filter((i) => !cache.has(i)))];
      codeExamples(todo.map((i) => list.get(i)), encode).forEach((it, j) => cache.set(todo[j], it));
      return indices.map((i) => cache.get(i) as MumuItem);
    },
  };
}
