/**
 * Training batches of the MiniGPT-5 recipe as pure functions of (seed, step), so a resumed run sees the
 * batches the uninterrupted run would have: items drawn without replacement per epoch, their rows padded,
 * and for each image row the decoder's latents of its image, the CFG dropout decision (seeded per step)
 * and, with L_CAP on, τ(caption) from the decoder's own caption encoder (frozen: computed here, outside
 * the gradient tape).
 */
import * as tf from '@tensorflow/tfjs';
import type { Session } from '../../session';
import type { LatentDiffusion } from '../../diffusion/model';
import { stepNoiseSeed } from '../../diffusion/loss';
import type { RGBImage } from '../../image/types';
import { EpochSampler, permutation, rngAt } from '../../util/random';
import { padRows, vokenRow, VokenItem, VokenSource } from './items';
import type { LossWeights, VokenBatch } from './losses';

export interface BatchOptions {
  weights: LossWeights;
  /** Share of image rows whose voken states are dropped to zeros. */
  vokenDropout: number;
  /** Whether rows carry vokens (false: Table 2's text-only baseline). */
  vokens: boolean;
}

/** The batch of a list of items; `step` seeds the dropout and `noiseSeed` the decoder loss's noise. */
export function vokenBatch(s: Session, ldm: LatentDiffusion, items: readonly VokenItem[], o: BatchOptions & { dropSeed: number; step: number; noiseSeed: number }): VokenBatch {
  const tok = s.tokenizer;
  const padded = padRows(tok, items.map((it) => vokenRow(tok, it, { vokens: o.vokens })));
  const images = padded.imageRows.map((b) => items[b]);
  const positions = s.positions(padded.rows.map((r) => r.slice(0, padded.T)));
  const imageLosses = images.length > 0 && (o.weights.ldm > 0 || o.weights.cap > 0);
  const rand = rngAt(o.dropSeed, 31, o.step);
  const keep = Float32Array.from(images, () => (rand() < o.vokenDropout ? 0 : 1));
  const latents = imageLosses && o.weights.ldm > 0 ? ldm.encodeImages(images.map((it) => it.image as RGBImage)) : new Float32Array(0);
  let capTarget: Float32Array | null = null;
  if (imageLosses && o.weights.cap > 0) {
    const captions = images.map((it) => {
      if (it.caption === null) throw new Error(`minigpt5: L_CAP needs a caption, item ${it.id} has none (stage 2 is description-free)`);
      return it.caption;
    });
    const c = ldm.encodeCaption(captions);
    capTarget = c.seq.dataSync() as Float32Array;
    tf.dispose([c.seq, c.mask]);
  }
  return { ...padded, positions, latents, keep, capTarget, noiseSeed: o.noiseSeed };
}

/**
 * Batches of step i: items drawn without replacement per epoch in an order seeded by `seed`, `window` batches'
 * worth at a time; each window is sorted by row length and cut into `window` batches, which its steps take in a
 * seeded order (a step costs what its longest row costs: story rows run from ~20 to ~400 tokens, so grouping
 * them by length saves padding, as MoSS's instruction batches do). Dropout and noise are seeded by (seed, step).
 */
export function vokenBatches(s: Session, ldm: LatentDiffusion, source: VokenSource, o: BatchOptions & { batchSize: number; seed: number; window?: number }): (step: number) => VokenBatch {
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new Error(`minigpt5: batchSize must be a positive integer, got ${JSON.stringify(o.batchSize)}`);
  const W = o.window ?? 1;
  if (!Number.isInteger(W) || W < 1) throw new Error(`minigpt5: window must be a positive integer, got ${JSON.stringify(o.window)}`);
  if (source.size < 1) throw new Error('minigpt5: no training items');
  const sampler = new EpochSampler(source.size, o.seed, 29);
  let held: { group: number; batches: VokenItem[][] } | null = null;
  return (step) => {
    const group = Math.floor(step / W);
    if (held?.group !== group) {
      const items = source.items(sampler.indices(group, o.batchSize * W));
      const len = items.map((it) => vokenRow(s.tokenizer, it, { vokens: o.vokens }).ids.length);
      const sorted = items.map((it, i) => ({ it, i })).sort((a, b) => len[a.i] - len[b.i] || a.i - b.i).map((x) => x.it);
      const batches = Array.from({ length: W }, (_, k) => sorted.slice(k * o.batchSize, (k + 1) * o.batchSize));
      const order = W === 1 ? [0] : Array.from(permutation(W, rngAt(o.seed, 30, group)));
      held = { group, batches: order.map((k) => batches[k]) };
    }
    return vokenBatch(s, ldm, held.batches[step % W], {
      ...o,
      dropSeed: o.seed,
      step,
      noiseSeed: stepNoiseSeed(o.seed, step),
    });
  };
}

/** A held-out batch for probes: no dropout, a fixed noise seed (the same for every probe and arm). */
export function probeBatch(s: Session, ldm: LatentDiffusion, items: readonly VokenItem[], o: Omit<BatchOptions, 'vokenDropout'>): VokenBatch {
  return vokenBatch(s, ldm, items, { ...o, vokenDropout: 0, dropSeed: 0, step: 0, noiseSeed: 12345 });
}
