/**
 * Training batches of the MUMU recipe as pure functions of (seed, step), so a resumed run sees the batches
 * the uninterrupted run would have: items drawn without replacement per epoch (seeded order), laid out for
 * the arm (LM rows at its tokens per crop, or the words alone), the targets' decoder latents (kept per item:
 * a scene's latents never change), the CFG drop decisions and the decoder noise seed of the step.
 */
import type { MultimodalTokenizer } from '../../tokenizer';
import type { LatentDiffusion } from '../../diffusion/model';
import { stepNoiseSeed } from '../../diffusion/loss';
import { EpochSampler, rngAt } from '../../util/random';
import { MumuItem, MumuSource, padPromptRows, promptRow } from './items';
import type { MumuBatch } from './losses';

export interface BatchOptions {
  /** 'prompt': LM rows; 'caption': the words alone (caption-only). */
  encoder: 'prompt' | 'caption';
  /** Tokens per crop of the LM rows (ignored for caption-only). */
  tokensPerCrop: number;
  /** Share of rows trained with the null conditioning. */
  condDrop: number;
}

/** Latents of items' targets, encoded once per item id. */
export class LatentCache {
  private readonly cache = new Map<string, Float32Array>();
  constructor(private readonly ldm: LatentDiffusion) {}

  latents(items: readonly MumuItem[]): Float32Array {
    const todo = items.filter((it, i) => !this.cache.has(it.id) && items.findIndex((x) => x.id === it.id) === i);
    if (todo.length > 0) {
      const z = this.ldm.encodeImages(todo.map((it) => it.target));
      const per = z.length / todo.length;
      todo.forEach((it, i) => this.cache.set(it.id, z.slice(i * per, (i + 1) * per)));
    }
    const first = this.cache.get(items[0].id) as Float32Array;
    const out = new Float32Array(items.length * first.length);
    items.forEach((it, i) => out.set(this.cache.get(it.id) as Float32Array, i * first.length));
    return out;
  }
}

/** The batch of a list of items; `keep` and `noiseSeed` given. */
export function mumuBatch(tok: MultimodalTokenizer | null, latents: LatentCache, items: readonly MumuItem[], o: BatchOptions & { keep: Float32Array; noiseSeed: number }): MumuBatch {
  if (items.length === 0) throw new Error('mumu: a batch needs at least one item');
  if (o.keep.length !== items.length) throw new Error(`mumu: ${o.keep.length} keep flags for ${items.length} items`);
  const z = latents.latents(items);
  if (o.encoder === 'caption') {
    return { prompts: null, captions: items.map((it, i) => (o.keep[i] === 1 ? it.caption : '')), latents: z, keep: o.keep, noiseSeed: o.noiseSeed };
  }
  if (!tok) throw new Error('mumu: prompt batches need the LM tokenizer');
  const prompts = padPromptRows(tok, items.map((it) => promptRow(tok, it.prompt, o.tokensPerCrop)));
  return { prompts, captions: null, latents: z, keep: o.keep, noiseSeed: o.noiseSeed };
}

/** The batch of 0-based step `step` (see the file comment). */
export function mumuBatches(tok: MultimodalTokenizer | null, ldm: LatentDiffusion, source: MumuSource, o: BatchOptions & { batchSize: number; seed: number }): (step: number) => MumuBatch {
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new Error(`mumu: batchSize must be a positive integer, got ${JSON.stringify(o.batchSize)}`);
  if (source.size < 1) throw new Error('mumu: no training items');
  if (!(o.condDrop >= 0 && o.condDrop < 1)) throw new Error(`mumu: condDrop must be in [0, 1), got ${o.condDrop}`);
  const sampler = new EpochSampler(source.size, o.seed, 41);
  const cache = new LatentCache(ldm);
  return (step) => {
    const items = source.items(sampler.indices(step, o.batchSize));
    const rand = rngAt(o.seed, 43, step);
    const keep = Float32Array.from(items, () => (rand() < o.condDrop ? 0 : 1));
    const noiseSeed = stepNoiseSeed(o.seed, step);
    return mumuBatch(tok, cache, items, { ...o, keep, noiseSeed });
  };
}

/** A held-out batch for probes: nothing dropped, a fixed noise seed (the same for every probe, arm and seed). */
export function probeBatch(tok: MultimodalTokenizer | null, ldm: LatentDiffusion, items: readonly MumuItem[], o: Omit<BatchOptions, 'condDrop'>): MumuBatch {
  return mumuBatch(tok, new LatentCache(ldm), items, { ...o, condDrop: 0, keep: new Float32Array(items.length).fill(1), noiseSeed: 12345 });
}
