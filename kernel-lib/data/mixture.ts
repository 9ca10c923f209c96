/**
 * A training mixture by ratio over disjoint pools (Liquid's unified mixtures: text-only, caption → image,
 * image → caption, …). Every batch holds exactly `counts[p]` examples of pool p, fixed for the run:
 *
 *   counts = batchSize · ratio_p / Σ ratio            when every one is a whole number (rounding: 'exact',
 *                                                     the default; anything else is an error naming it);
 *   with rounding: 'largest-remainder', each pool gets ⌊quota⌋ and the batchSize − Σ⌊quota⌋ spare places go
 *   to the largest remainders, ties to the pool listed first (Hamilton's method) — so each pool is within
 *   one example of its quota in every batch.
 *
 * Batch `step` is a pure function of (seed, step): pool p's examples s·counts[p] … (s+1)·counts[p] − 1 of
 * its stream, where the stream walks the pool in a seeded permutation per pass (pass e = ⌊k / size⌋). A
 * batch lists pool 0's examples first, then pool 1's, …. Pools must be disjoint: constructing the mixture
 * reads every example id of every pool and names the first id found in two pools.
 */
import { Example, ExampleList } from './example-list';
import { permutation, rngFor } from '../util/random';

export interface MixturePool<M = unknown> {
  name: string;
  ratio: number;
  examples: ExampleList<M>;
}

export interface MixtureOptions {
  batchSize: number;
  seed: number;
  rounding?: 'exact' | 'largest-remainder';
}

export interface MixtureItem<M = unknown> {
  pool: string;
  example: Example<M>;
}

/** Examples per pool in every batch (see the file comment for the rounding rule). */
export function batchCounts(ratios: readonly number[], batchSize: number, rounding: 'exact' | 'largest-remainder' = 'exact'): number[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchCounts: batchSize must be a positive integer, got ${batchSize}`);
  if (ratios.length === 0) throw new Error('batchCounts: no pools');
  ratios.forEach((r, i) => {
    if (!(Number.isFinite(r) && r >= 0)) throw new Error(`batchCounts: ratio ${i} must be a finite number ≥ 0, got ${r}`);
  });
  const total = ratios.reduce((a, b) => a + b, 0);
  if (total <= 0) throw new Error('batchCounts: the ratios sum to 0');
  const quotas = ratios.map((r) => (batchSize * r) / total);
  if (rounding === 'exact') {
    const counts = quotas.map((q) => Math.round(q));
    const bad = quotas.findIndex((q, i) => Math.abs(q - counts[i]) > 1e-9);
    if (bad >= 0) {
      throw new Error(
        `batchCounts: a batch of ${batchSize} cannot hold the ratio ${ratios.join(':')} exactly (pool ${bad} would get ${quotas[bad].toFixed(3)}); use a batch size that divides it or rounding: 'largest-remainder'`,
      );
    }
    return counts;
  }
  const counts = quotas.map((q) => Math.floor(q + 1e-9));
  let spare = batchSize - counts.reduce((a, b) => a + b, 0);
  const byRemainder = quotas.map((q, i) => ({ i, rem: q - counts[i] })).sort((a, b) => b.rem - a.rem || a.i - b.i);
  for (const { i } of byRemainder) {
    if (spare === 0) break;
    counts[i]++;
    spare--;
  }
  return counts;
}

export class Mixture<M = unknown> {
  readonly counts: number[];

  constructor(
    readonly pools: ReadonlyArray<MixturePool<M>>,
    readonly options: MixtureOptions,
  ) {
    this.counts = batchCounts(pools.map((p) => p.ratio), options.batchSize, options.rounding);
    const names = new Set<string>();
    const owner = new Map<string, string>();
    pools.forEach((p, i) => {
      if (names.has(p.name)) throw new Error(`Mixture: two pools are named '${p.name}'`);
      names.add(p.name);
      if (this.counts[i] > 0 && p.examples.size === 0) throw new Error(`Mixture: pool '${p.name}' is empty but gets ${this.counts[i]} examples per batch`);
      for (let k = 0; k < p.examples.size; k++) {
        const id = p.examples.get(k).id;
        const other = owner.get(id);
        if (other !== undefined) throw new Error(`Mixture: example '${id}' is in pool '${other}' and in pool '${p.name}'; pools must be disjoint`);
        owner.set(id, p.name);
      }
    });
  }

  /** Batch number `step` (see the file comment). */
  batch(step: number): Array<MixtureItem<M>> {
    if (!Number.isInteger(step) || step < 0) throw new Error(`Mixture.batch: step must be a non-negative integer, got ${step}`);
    const out: Array<MixtureItem<M>> = [];
    const perms = new Map<string, Int32Array>();
    this.pools.forEach((p, i) => {
      const c = this.counts[i];
      for (let j = 0; j < c; j++) {
        const k = step * c + j;
        const pass = Math.floor(k / p.examples.size);
        const key = `${i}/${pass}`;
        let perm = perms.get(key);
        if (perm === undefined) perms.set(key, (perm = permutation(p.examples.size, rngFor(`mixture/${p.name}/${pass}`, this.options.seed))));
        out.push({ pool: p.name, example: p.examples.get(perm[k % p.examples.size], pass) });
      }
    });
    return out;
  }
}
