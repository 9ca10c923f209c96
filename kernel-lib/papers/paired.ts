/**
 * Paired comparisons of two arms over held-out items, with seeds: the judgement the paper folders' verdicts
 * share. For arms A and B, d_i = (A's score on item i, mean over seeds) − (B's), summarised by the mean of d
 * and its standard error over items; each seed's own mean difference (seed k of A against seed k of B: the
 * same data order) says whether the sign holds in every seed.
 */
import { pairedDifference } from '../util/stats';

/** One arm's per-item scores: [seed][item], items in the same order for every arm and seed (NaN: no score). */
export type SeedScores = readonly (readonly number[])[];

/** A − B paired over items: mean and s.e. of the per-item differences of seed means, and each seed's own mean difference. */
export interface Comparison {
  mean: number;
  standardError: number;
  /** Items with a finite score in every seed of both arms (the others are left out). */
  items: number;
  /** Seeds of each arm (the fewer of the two). */
  seeds: number;
  /** Per seed k: mean over items of A[k] − B[k]. */
  perSeed: number[];
}

const finite = (xs: readonly number[]) => xs.every(Number.isFinite);

/** Compares two arms' per-item scores (see the file comment); throws, naming `what`, when their shapes disagree. */
export function compare(a: SeedScores, b: SeedScores, what = 'compare'): Comparison {
  if (a.length === 0 || b.length === 0) throw new Error(`${what}: an arm has no seeds`);
  if (a.length !== b.length) throw new Error(`${what}: the arms have ${a.length} and ${b.length} seeds; pair seed k with seed k`);
  const n = a[0].length;
  for (const [i, row] of [...a, ...b].entries()) {
    if (row.length !== n) throw new Error(`${what}: seed row ${i} has ${row.length} items, the first has ${n}; every arm and seed must score the same items`);
  }
  const keep = Array.from({ length: n }, (_, i) => i).filter((i) => finite(a.map((r) => r[i])) && finite(b.map((r) => r[i])));
  if (keep.length < 2) throw new Error(`${what}: needs at least 2 items scored by both arms, got ${keep.length}`);
  const S = a.length;
  const seedMean = (x: SeedScores, i: number) => x.reduce((s, r) => s + r[i], 0) / S;
  const d = keep.map((i) => seedMean(a, i) - seedMean(b, i));
  const { mean, standardError } = pairedDifference(d);
  const perSeed = a.map((ra, k) => keep.reduce((s, i) => s + ra[i] - b[k][i], 0) / keep.length);
  return { mean, standardError, items: keep.length, seeds: S, perSeed };
}

/**
 * The three parts of the criterion "A is higher (lower) than B by more than 2 s.e., in every seed, with
 * enough seeds", each on its own, so a verdict can say which failed in its own words.
 */
export function criterionParts(c: Comparison, minSeeds: number, direction: 'higher' | 'lower'): { margin: boolean; everySeed: boolean; enoughSeeds: boolean } {
  const sign = direction === 'higher' ? 1 : -1;
  return { margin: sign * c.mean > 2 * c.standardError, everySeed: c.perSeed.every((x) => sign * x > 0), enoughSeeds: c.seeds >= minSeeds };
}

const holds = (p: ReturnType<typeof criterionParts>) => p.margin && p.everySeed && p.enoughSeeds;

/** A is lower than B: by more than 2 s.e., in every seed, with enough seeds. */
export function lowerBy2se(c: Comparison, minSeeds: number): boolean {
  return holds(criterionParts(c, minSeeds, 'lower'));
}

/** A is higher than B: by more than 2 s.e., in every seed, with enough seeds. */
export function higherBy2se(c: Comparison, minSeeds: number): boolean {
  return holds(criterionParts(c, minSeeds, 'higher'));
}

/** A difference with its sign and 3 decimals ("+0.012", "-0.040"): how the verdicts write means and seeds. */
export const signed3 = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;
const f3 = signed3;

/** "−0.041 ± 0.006 (s.e., 192 items, 3 seeds; per seed −0.04, −0.05, −0.03)" */
export function describe(c: Comparison): string {
  return `${f3(c.mean)} ± ${c.standardError.toFixed(3)} (s.e., ${c.items} items, ${c.seeds} seed${c.seeds === 1 ? '' : 's'}; per seed ${c.perSeed.map((x) => f3(x)).join(', ')})`;
}

/**
 * Why A is not higher (or lower) than B by the criterion of higherBy2se / lowerBy2se, in words ("<what>: +0.010
 * ± 0.020 is not above 0 by more than 2 s.e.; 1 seed, 3 needed"); null when it is. A verdict's "why not".
 */
export function whyNot(c: Comparison, minSeeds: number, direction: 'higher' | 'lower', what: string): string | null {
  const p = criterionParts(c, minSeeds, direction);
  if (holds(p)) return null;
  const why: string[] = [];
  if (!p.margin) why.push(`${f3(c.mean)} ± ${c.standardError.toFixed(3)} is not ${direction === 'higher' ? 'above' : 'below'} 0 by more than 2 s.e.`);
  if (!p.everySeed) why.push(`not in every seed (per seed ${c.perSeed.map(f3).join(', ')})`);
  if (!p.enoughSeeds) why.push(`${c.seeds} seed${c.seeds === 1 ? '' : 's'}, ${minSeeds} needed`);
  return `${what}: ${why.join('; ')}`;
}
