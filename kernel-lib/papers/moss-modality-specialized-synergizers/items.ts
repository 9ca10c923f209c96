/**
 * MoSS's instruction items as token rows. The instruction data (data/instructions.ts: story completion,
 * scene edits, continue with an image) holds RGB images; here each image becomes VQ codes and each item
 * one row of ids, `<bos> prompt target <eos>`, with the loss on the target only (what the model is asked
 * to produce: the next narration and frame, the edited scene, the picture):
 *
 *   ids       <bos> [lead narration₀] <boi> c… <eoi> … | narration_k <boi> c… <eoi> <eos>
 *   targetAt  index in ids of the first target token (the `|` above); positions t ≥ targetAt − 1 predict it
 *
 * Adjacent text parts (a lead and the first narration) are joined with a space, so the text reads as one
 * sentence run. Rows of a batch are one item each, padded at the end with <pad> (weight 0): causal attention
 * keeps padding from touching what the item's positions read, and every row starts at its own <bos>, so the
 * position metadata (which cell an image position sits on) reads each row from its start, as it must.
 */
import type { MultimodalTokenizer, ImageCodes } from '../../tokenizer';
import { joinTextParts } from '../../tokenizer/prompt';
import type { Example } from '../../data/example-list';
import { instructionData, INSTRUCTION_KINDS } from '../../data/instructions';
import type { InstructionKind, InstructionMeta, TargetScene } from '../../data/instructions';
import type { DataStore } from '../../data/store';
import type { Split } from '../../data/emoji';
import type { SceneEdit } from '../../data/scene-edit';
import type { RGBImage } from '../../image';
import type { TrainBatch } from '../../train/trainer';
import { EpochSampler, permutation, rngAt } from '../../util/random';

export type CodedPart = { text: string } | { image: ImageCodes };

/** One instruction item with its images as codes. */
export interface CodedItem {
  id: string;
  kind: InstructionKind;
  prompt: CodedPart[];
  target: CodedPart[];
  /** Ground truth of the target image for the scene checker (absent in hand-made test items). */
  scene?: TargetScene;
  edit?: SceneEdit;
}

/** An item's row of ids and where its target starts. */
export interface ItemRow {
  ids: number[];
  targetAt: number;
}

/** Joins adjacent text parts with a space (a lead and the narration after it read as one text; tokenizer/prompt.ts). */
export const joinText: (parts: readonly CodedPart[]) => CodedPart[] = joinTextParts;

/** `<bos> prompt target <eos>` and the index of the first target id. */
export function itemRow(tok: MultimodalTokenizer, item: CodedItem): ItemRow {
  if (item.target.length === 0) throw new Error(`moss: item ${item.id} has no target`);
  const prompt = tok.encodePrompt(joinText(item.prompt)).ids;
  const target = tok.encodePrompt(joinText(item.target), { addBos: false }).ids;
  return { ids: [...prompt, ...target, tok.eos], targetAt: prompt.length };
}

/**
 * Rows padded to one length (the longest) with per-target loss weights: 1 where the target token
 * (ids[j + 1]) is part of the item's target or its <eos>, 0 on the prompt and the padding.
 */
export function paddedBatch(tok: MultimodalTokenizer, rows: readonly ItemRow[]): TrainBatch {
  if (rows.length === 0) throw new Error('moss: a batch needs at least one item');
  const L = Math.max(...rows.map((r) => r.ids.length));
  const ids: number[][] = [];
  const weights: number[][] = [];
  for (const r of rows) {
    ids.push([...r.ids, ...new Array<number>(L - r.ids.length).fill(tok.pad)]);
    weights.push(Array.from({ length: L - 1 }, (_, j) => (j + 1 >= r.targetAt && j + 1 < r.ids.length ? 1 : 0)));
  }
  return { ids, weights };
}

/** What the items are read from: an instruction list (or any indexable stand-in). */
export interface InstructionSource {
  readonly size: number;
  get(i: number): Example<InstructionMeta>;
}

/** Images → codes (the VQ-VAE's encodeImages, or a stand-in in tests). */
export type ImageEncoder = (images: readonly RGBImage[]) => ImageCodes[];

/**
 * Instruction items coded on demand: `items(indices)` encodes the images of the items it has not coded yet
 * in one encoder call and keeps them, so a training run codes each item once, the first time it is drawn.
 */
export class CodedItems {
  private readonly cache = new Map<number, CodedItem>();

  constructor(readonly source: InstructionSource, private readonly encode: ImageEncoder) {}

  get size(): number {
    return this.source.size;
  }

  items(indices: readonly number[]): CodedItem[] {
    const todo = [...new Set(indices.filter((i) => !this.cache.has(i)))];
    const examples = todo.map((i) => this.source.get(i));
    const images: RGBImage[] = [];
    for (const ex of examples) for (const p of ex.parts) if ('image' in p) images.push(p.image);
    const codes = images.length > 0 ? this.encode(images) : [];
    if (codes.length !== images.length) throw new Error(`moss: the image encoder returned ${codes.length} code grids for ${images.length} images`);
    let k = 0;
    examples.forEach((ex, n) => {
      const parts: CodedPart[] = ex.parts.map((p) => ('image' in p ? { image: codes[k++] } : { text: p.text }));
      const m = ex.meta;
      this.cache.set(todo[n], { id: ex.id, kind: m.kind, prompt: parts.slice(0, m.targetFrom), target: parts.slice(m.targetFrom), scene: m.scene, ...(m.edit ? { edit: m.edit } : {}) });
    });
    return indices.map((i) => this.cache.get(i) as CodedItem);
  }
}

/** Items per window of `window` steps that are sorted by length before they are cut into batches (default 4). */
export const LENGTH_WINDOW = 4;

/**
 * The batch of 0-based step `step`, a pure function of (seed, step), so a resumed run sees the batches the
 * uninterrupted run would have. Items are drawn without replacement per epoch in an order seeded by `seed`,
 * `window` batches' worth at a time; each window is sorted by row length and cut into `window` batches,
 * which its steps take in a seeded order. A step costs what its longest row costs (rows are padded to it)
 * and longer rows cost more than linearly (measured on mm-moe-small: ~T^1.4), so grouping story items (up
 * to ~400 tokens) apart from edits and continuations (~110–145) lowers the mean longest row of a batch of
 * 8 from 236 to 193 tokens and a step's cost by about 1.3× on average, with the same items per epoch.
 */
export function instructionBatches(tok: MultimodalTokenizer, items: CodedItems, o: { batchSize: number; seed: number; window?: number }): (step: number) => TrainBatch {
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new Error(`moss: batchSize must be a positive integer, got ${JSON.stringify(o.batchSize)}`);
  const W = o.window ?? LENGTH_WINDOW;
  if (!Number.isInteger(W) || W < 1) throw new Error(`moss: window must be a positive integer, got ${JSON.stringify(o.window)}`);
  if (items.size < 1) throw new Error('moss: no training items');
  const sampler = new EpochSampler(items.size, o.seed, 13);
  let held: { group: number; batches: ItemRow[][] } | null = null;
  return (step) => {
    const group = Math.floor(step / W);
    if (held?.group !== group) {
      const rows = items.items(sampler.indices(group, o.batchSize * W)).map((it) => itemRow(tok, it));
      const sorted = rows.map((r, i) => ({ r, i })).sort((a, b) => a.r.ids.length - b.r.ids.length || a.i - b.i).map((x) => x.r);
      const batches = Array.from({ length: W }, (_, k) => sorted.slice(k * o.batchSize, (k + 1) * o.batchSize));
      const order = permutation(W, rngAt(o.seed, 14, group));
      held = { group, batches: Array.from(order, (k) => batches[k]) };
    }
    return paddedBatch(tok, held.batches[step % W]);
  };
}

/**
 * The held-out items of a split: the first `perKind` items of each task (story, edit, continue, in that
 * order; fewer where the split has fewer), with the data's canonical choices (seed 0). The same list for
 * every arm and seed, so scores pair item by item.
 */
export function heldOutItems(store: DataStore, encode: ImageEncoder, o: { split: Split; perKind: number; kinds?: readonly InstructionKind[] }): CodedItem[] {
  if (!Number.isInteger(o.perKind) || o.perKind < 1) throw new Error(`moss.heldOutItems: perKind must be a positive integer, got ${JSON.stringify(o.perKind)}`);
  if (o.split === 'train') throw new Error("moss.heldOutItems: split must be 'val' or 'test' (held out), got 'train'");
  const out: CodedItem[] = [];
  for (const kind of o.kinds ?? INSTRUCTION_KINDS) {
    const list = new CodedItems(instructionData(store, { split: o.split, kinds: [kind] }), encode);
    out.push(...list.items(Array.from({ length: Math.min(o.perKind, list.size) }, (_, i) => i)));
  }
  return out;
}
