/**
 * The held-out material every Liquid run is scored on at each of its checkpoints, the same for every arm,
 * size and seed, so scores pair item by item (a split the model never trained on; the scene generator
 * holds object pairs out of it too):
 *
 *   brown      the first windows of the Brown split's document stream (`brownSeqLen` ids each)
 *   t2i        the first caption → image rows of the split's t2i pool, with their caption swapped for the
 *              fixed derangement's (eval/conditioning.ts halfRotation) for the conditioning gap
 *   i2t        the first image → caption rows
 *   questions  the first image → answer rows as ranking items (understanding.ts)
 *   drawn      the first scene captions of the t2i pool with their scene (for the scene checker)
 *   routing    rows whose routing is traced: half t2i, half i2t
 */
import { liquidPools } from '../../data/liquid-pools';
import type { LiquidMeta } from '../../data/liquid-pools';
import type { Example } from '../../data/example-list';
import type { Split } from '../../data/emoji';
import type { SceneSpec } from '../../data/scenes';
import type { DataStore } from '../../data/store';
import { windows } from '../../analysis/perplexity';
import type { RankingItem } from '../../analysis/answer-ranking';
import { halfRotation } from '../../eval/conditioning';
import type { ImageCodes, MultimodalTokenizer } from '../../tokenizer';
import { CodeCache, ImageEncoder, imageRow, WeightedRow } from './batches';
import { understandingItems } from './understanding';
import { EVAL } from './plan';

/** How many of each (plan.ts EVAL; tests pass fewer). */
export interface HeldOutSizes {
  brownWindows: number;
  brownSeqLen: number;
  t2iItems: number;
  i2tItems: number;
  questions: number;
  drawn: number;
  routingRows: number;
}

export interface DrawItem {
  id: string;
  caption: string;
  scene: SceneSpec;
}

export interface HeldOut {
  split: Split;
  brown: number[][];
  t2i: { ids: string[]; own: WeightedRow[]; shuffled: WeightedRow[] };
  i2t: { ids: string[]; rows: WeightedRow[] };
  questions: { ids: string[]; items: RankingItem[] };
  drawn: DrawItem[];
  routing: number[][];
}

/** The scene a scenes example id (`scenes/<split>/<index>`) was drawn from, or null for an emoji. */
export function sceneOf(store: DataStore, source: string): SceneSpec | null {
  const m = /^scenes\/(train|val|test)\/(\d+)$/.exec(source);
  if (!m) return null;
  const spec = store.scenes(m[1] as Split)[Number(m[2])];
  if (!spec) throw new Error(`liquid: ${source} is not a scene of the data store`);
  return spec;
}

const first = <T>(list: { size: number; get(i: number): T }, n: number): T[] => Array.from({ length: Math.min(n, list.size) }, (_, i) => list.get(i));

/** The held-out material of `split` (default 'test'); `brown` is the split's Brown stream. */
export function heldOutSet(store: DataStore, tok: MultimodalTokenizer, encode: ImageEncoder, brown: Int32Array, o: { split?: Split; sizes?: Partial<HeldOutSizes> } = {}): HeldOut {
  const split = o.split ?? 'test';
  if (split === 'train') throw new Error("liquid.heldOutSet: split must be 'val' or 'test' (held out), got 'train'");
  const n: HeldOutSizes = { ...EVAL, ...o.sizes };
  for (const [k, v] of Object.entries(n)) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`liquid.heldOutSet: ${k} must be a non-negative integer, got ${v}`);
  }
  const pools = liquidPools(store, { split });
  const cache = new CodeCache(encode);
  const t2i = first(pools.t2i, n.t2iItems);
  const i2t = first(pools.i2t, n.i2tItems);
  // the drawn captions: the pool's scenes, in stored order
  const drawn: DrawItem[] = [];
  for (let i = 0; i < pools.t2i.size && drawn.length < n.drawn; i++) {
    const ex = pools.t2i.get(i);
    const scene = sceneOf(store, ex.meta.source);
    if (scene) drawn.push({ id: ex.id, caption: caption(ex), scene });
  }
  cache.fill([...t2i, ...i2t]);
  const own = t2i.map((ex) => imageRow(tok, ex, cache.get(ex.meta.source), null));
  const others = halfRotation(t2i.map(caption));
  const shuffled = t2i.map((ex, i) => imageRow(tok, { ...ex, parts: [{ text: others[i] }, ex.parts[1]] }, cache.get(ex.meta.source), null));
  const i2tRows = i2t.map((ex) => imageRow(tok, ex, cache.get(ex.meta.source), null));
  const codesOf = (img: Parameters<ImageEncoder>[0][number]): ImageCodes => encode([img])[0];
  const half = Math.floor(n.routingRows / 2);
  return {
    split,
    brown: windows(brown, n.brownSeqLen).filter((w) => w.length === n.brownSeqLen).slice(0, n.brownWindows),
    t2i: { ids: t2i.map((ex) => ex.id), own, shuffled },
    i2t: { ids: i2t.map((ex) => ex.id), rows: i2tRows },
    questions: { ids: first(pools.i2a, n.questions).map((ex) => ex.id), items: understandingItems(tok, pools.i2a, codesOf, n.questions) },
    drawn,
    routing: [...own.slice(0, half), ...i2tRows.slice(0, n.routingRows - half)].map((r) => r.ids),
  };
}

/** How many of each part `heldOutFirst` keeps. */
export type FirstCounts = Pick<HeldOutSizes, 'brownWindows' | 't2iItems' | 'i2tItems' | 'questions' | 'drawn'>;

/**
 * The first items of each part of the held-out set `heldOutSet` builds at `sizes` (default EVAL), exactly as
 * that set holds them, so a run's first recorded scores can be measured again on a reloaded checkpoint
 * (tests/shipped/liquid-runs.test.ts) without scoring the whole set: `first` says how many of each (each at
 * most the set's). The shuffled t2i rows keep the whole set's derangement (item i shown item
 * i + ⌊t2iItems/2⌋'s caption), so the whole set's t2i images are coded; and there are no routing rows
 * (exclusivity is one number over all of them, not a per-item score).
 */
export function heldOutFirst(store: DataStore, tok: MultimodalTokenizer, encode: ImageEncoder, brown: Int32Array, first: FirstCounts, o: { split?: Split; sizes?: Partial<HeldOutSizes> } = {}): HeldOut {
  const n: HeldOutSizes = { ...EVAL, ...o.sizes };
  for (const [k, v] of Object.entries(first) as Array<[keyof FirstCounts, number]>) {
    if (!Number.isInteger(v) || v < 0 || v > n[k]) throw new Error(`liquid.heldOutFirst: first ${k} must be an integer in [0, ${n[k]}] (the set's), got ${v}`);
  }
  const held = heldOutSet(store, tok, encode, brown, { split: o.split, sizes: { ...n, ...first, t2iItems: n.t2iItems, routingRows: 0 } });
  const k = first.t2iItems;
  return { ...held, t2i: { ids: held.t2i.ids.slice(0, k), own: held.t2i.own.slice(0, k), shuffled: held.t2i.shuffled.slice(0, k) } };
}

/** A t2i row's caption (its first part). */
function caption(ex: Example<LiquidMeta>): string {
  const p = ex.parts[0];
  if (!('text' in p)) throw new Error(`liquid: ${ex.id} does not start with its caption`);
  return p.text;
}
