/**
 * The arithmetic a paper's results builder writes its numbers with (the same in every paper folder): rounding,
 * means over items and over seeds, the median of the runs' step times, and a paired comparison as a results row.
 */
import type { Comparison, SeedScores } from './paired';
import { mean, median as medianOrNaN } from '../util/stats';

/** `x` to `digits` decimals (4: the results files' precision). */
export const round = (x: number, digits = 4): number => Number(x.toFixed(digits));

export { mean } from '../util/stats';

/** Mean of the finite entries (NaN when there are none). */
export const finiteMean = (xs: readonly number[]): number => {
  const f = xs.filter(Number.isFinite);
  return f.length === 0 ? NaN : mean(f);
};

/** Per item, the mean over seeds of [seed][item] scores. */
export const seedMeans = (rows: SeedScores): number[] => rows[0].map((_, i) => mean(rows.map((r) => r[i])));

/** The median (mean of the middle two for an even count); null for none. */
export const median = (xs: readonly number[]): number | null => (xs.length === 0 ? null : medianOrNaN(xs));

/** The median over runs of their median step time (ms; runs without one left out). */
export const medianStepMs = (runs: readonly { stepTime: { medianMs: number | null } }[]): number | null =>
  median(runs.flatMap((x) => (x.stepTime.medianMs === null ? [] : [x.stepTime.medianMs])));

/** A comparison's numbers as a results row holds them (rounded to 4 decimals). */
export const comparisonRow = (c: Comparison): { mean: number; standardError: number; items: number; seeds: number; perSeed: number[] } => ({
  mean: round(c.mean),
  standardError: round(c.standardError),
  items: c.items,
  seeds: c.seeds,
  perSeed: c.perSeed.map((v) => round(v)),
});
