/**
 * Liquid's training batches: the mixture over disjoint pools (data/mixture.ts: exactly the arm's rows of
 * each pool in every batch) turned into token rows with the loss masks.
 *
 *   text  a window of seqLen + 1 ids of the Brown train stream (documents as <bos> doc <eos>, the text
 *         recipe's stream): the text pool is the stream's non-overlapping windows, so every text row holds
 *         exactly seqLen loss-bearing targets and an arm's text tokens are steps · rows · seqLen
 *         (arms.ts planArms). Loss on every target.
 *   t2i   <bos> caption <boi> codes <eoi>; the caption is <unconditional> on 10 % of visits (rows.ts).
 *         Loss on the image codes only.
 *   i2t   <bos> <boi> codes <eoi> " The caption of this image is:" " caption" <eos>: loss on the caption and <eos>.
 *   i2a   <bos> <boi> codes <eoi> " question" " answer" <eos>: loss on the answer and <eos>.
 *
 * Rows are padded at the end with <pad> (weight 0) to the batch's longest; a row longer than seqLen + 1 is
 * an error naming it (the plan's seqLen holds the longest train row). Each image is coded once, the first
 * time it is drawn (CodeCache). Batch `step` is a pure function of (seed, step): the mixture's, and caption
 * dropout's visit is the step.
 */
import type { ExampleList } from '../../data/example-list';
import { ListDataset } from '../../data/example-list';
import { LIQUID_TASKS, LiquidMeta, LiquidTask } from '../../data/liquid-pools';
import { Mixture } from '../../data/mixture';
import type { RGBImage } from '../../image/types';
import type { ImageCodes, MultimodalTokenizer } from '../../tokenizer';
import type { TrainBatch } from '../../train/trainer';
import type { LiquidRatios } from './arms';
import { liquidRowIds } from './rows';

/** Images → codes (a VQ-VAE's encodeImages, or a stand-in in tests). */
export type ImageEncoder = (images: readonly RGBImage[]) => ImageCodes[];

/** A text window's meta: where in the stream it starts. */
export type TrainMeta = LiquidMeta & { start?: number };

/**
 * The codes of each image-bearing example, keyed by its data-set example (meta.source): `fill` codes the
 * examples not seen yet in one encoder call, `get` reads one back.
 */
export class CodeCache {
  private readonly codes = new Map<string, ImageCodes>();
  constructor(private readonly encode: ImageEncoder) {}

  fill(examples: readonly { meta: LiquidMeta; parts: readonly ({ text: string } | { image: RGBImage })[] }[]): void {
    const todo = examples.filter((ex, i) => ex.meta.task !== 'text' && !this.codes.has(ex.meta.source) && examples.findIndex((x) => x.meta.source === ex.meta.source) === i);
    if (todo.length === 0) return;
    const images = todo.map((ex) => {
      const img = ex.parts.find((p): p is { image: RGBImage } => 'image' in p);
      if (!img) throw new Error(`liquid: ${ex.meta.source} (${ex.meta.task}) has no image`);
      return img.image;
    });
    const codes = this.encode(images);
    if (codes.length !== images.length) throw new Error(`liquid: the image encoder returned ${codes.length} code grids for ${images.length} images`);
    todo.forEach((ex, i) => this.codes.set(ex.meta.source, codes[i]));
  }

  get(source: string): ImageCodes {
    const c = this.codes.get(source);
    if (!c) throw new Error(`liquid: no codes for ${source}; fill the cache first`);
    return c;
  }

  get size(): number {
    return this.codes.size;
  }
}

/** The text pool: the stream's non-overlapping windows of `length` ids (the tail shorter than one is left out). */
export function textWindows(stream: Int32Array, length: number, split: 'train' | 'val' | 'test' = 'train'): ExampleList<TrainMeta> {
  const n = Math.floor(stream.length / length);
  if (n < 1) throw new Error(`liquid: the Brown ${split} stream has ${stream.length} tokens, fewer than one row of ${length}`);
  return new ListDataset<TrainMeta>('liquid-text-windows', split, n, undefined, (k) => ({
    id: `liquid/text/brown-${split}@${k * length}`,
    parts: [],
    meta: { task: 'text', source: `brown-${split}@${k * length}`, lossFrom: 0, start: k * length },
  }));
}

/** A row's ids and per-target weights (weights[j] for the target ids[j + 1]). */
export interface WeightedRow {
  ids: number[];
  weights: number[];
}

/** The row of a text window: every target counts. */
export function textRow(stream: Int32Array, start: number, length: number): WeightedRow {
  const ids = Array.from(stream.subarray(start, start + length));
  if (ids.length !== length) throw new Error(`liquid: the text window at ${start} has ${ids.length} ids, expected ${length}`);
  return { ids, weights: new Array<number>(length - 1).fill(1) };
}

/** The row of an image-bearing example with its loss mask (see the file comment); `visit` and `seed` drive caption dropout (null: none). */
export function imageRow(tok: MultimodalTokenizer, ex: { id: string; parts: ({ text: string } | { image: RGBImage })[]; meta: LiquidMeta }, codes: ImageCodes, dropout: { seed: number; visit: number; rate?: number } | null): WeightedRow & { unconditional: boolean } {
  const r = liquidRowIds(tok, ex, () => codes, dropout ?? undefined);
  const ids = ex.meta.task === 't2i' ? r.ids : [...r.ids, tok.eos];
  const weights = Array.from({ length: ids.length - 1 }, (_, j) => {
    const target = ids[j + 1];
    return ex.meta.task === 't2i' ? (tok.isImageCode(target) ? 1 : 0) : j + 1 >= r.lossStart ? 1 : 0;
  });
  return { ids, weights, unconditional: r.unconditional };
}

/** Rows padded at the end with <pad> (weight 0) to the longest. */
export function padRows(pad: number, rows: readonly WeightedRow[]): TrainBatch {
  if (rows.length === 0) throw new Error('liquid: a batch needs at least one row');
  const L = Math.max(...rows.map((r) => r.ids.length));
  return {
    ids: rows.map((r) => [...r.ids, ...new Array<number>(L - r.ids.length).fill(pad)]),
    weights: rows.map((r) => [...r.weights, ...new Array<number>(L - r.ids.length).fill(0)]),
  };
}

export interface BatchOptions {
  ratios: LiquidRatios;
  batchSize: number;
  seqLen: number;
  seed: number;
  /** Caption dropout rate (default rows.ts CAPTION_DROPOUT_RATE, 10 %). */
  dropoutRate?: number;
}

/** What one batch held, for the run's record. */
export interface BatchStats {
  rows: Record<LiquidTask, number>;
  /** Loss-bearing targets of each pool. */
  lossTokens: Record<LiquidTask, number>;
  /** Caption → image rows whose caption was dropped. */
  dropped: number;
  /** Padded tokens (rows × longest row − 1). */
  tokens: number;
}

/**
 * The batches of an arm: `(step) => { batch, stats }`, a pure function of (seed, step). `pools` are the
 * image pools of the train split (data/liquid-pools.ts); `text` is the Brown train stream.
 */
export function liquidBatches(
  tok: MultimodalTokenizer,
  pools: Pick<Record<LiquidTask, ExampleList<LiquidMeta>>, 't2i' | 'i2t' | 'i2a'>,
  text: Int32Array,
  cache: CodeCache,
  o: BatchOptions,
): (step: number) => { batch: TrainBatch; stats: BatchStats } {
  const L = o.seqLen + 1;
  const windows = textWindows(text, L);
  const mixture = new Mixture<TrainMeta>(
    LIQUID_TASKS.map((t) => ({ name: t, ratio: o.ratios[t], examples: t === 'text' ? windows : pools[t] })),
    { batchSize: o.batchSize, seed: o.seed },
  );
  return (step) => {
    const items = mixture.batch(step);
    cache.fill(items.map((x) => x.example));
    const stats: BatchStats = { rows: zero(), lossTokens: zero(), dropped: 0, tokens: 0 };
    const rows = items.map(({ example: ex }) => {
      const task = ex.meta.task;
      const row = task === 'text' ? textRow(text, ex.meta.start as number, L) : imageRow(tok, ex, cache.get(ex.meta.source), { seed: o.seed, visit: step, rate: o.dropoutRate });
      if (row.ids.length > L) throw new Error(`liquid: ${ex.id} is a row of ${row.ids.length} tokens, longer than seqLen + 1 = ${L}; raise seqLen`);
      stats.rows[task]++;
      stats.lossTokens[task] += row.weights.reduce((a, b) => a + b, 0);
      if ('unconditional' in row && row.unconditional) stats.dropped++;
      return row;
    });
    const batch = padRows(tok.pad, rows);
    stats.tokens = batch.ids.length * (batch.ids[0].length - 1);
    return { batch, stats };
  };
}

const zero = (): Record<LiquidTask, number> => ({ text: 0, t2i: 0, i2t: 0, i2a: 0 });
