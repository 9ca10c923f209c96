/**
 * Notebook 01's file names and its CLIP-T summaries: per caption, the image's CLIP-T with its own caption
 * minus with a shuffled one, summarised with its paired standard error. Used by the results JSON
 * (results.ts) and by the seeds-and-arms sweep (sweep.ts).
 */
import { pairedDifference } from '../../util/stats';
import { int, num, obj } from '../shape';
import type { Infer } from '../shape';

export const NOTEBOOK = '01-redundancy-aware-moe-plora';
/** The results file's name, in notebooks/results/ (full mode) or .cache/results/ (quick mode). */
export const RESULTS_FILE = `${NOTEBOOK}.json`;
/** The init ablation's run metrics (mean-initialised rows, low-res only), beside the results. */
export const INIT_ABLATION_FILE = `${NOTEBOOK}.init-ablation-mean.json`;

/** Means of per-caption CLIP-T with the own and a shuffled caption; their paired difference with its s.e. */
export const CLIP_T = obj({ own: num, shuffled: num, captions: int, difference: num, standardError: num, ownBetterFraction: num });
export type ClipTSummary = Infer<typeof CLIP_T>;

/** Per-caption CLIP-T of one set of images with its own and with shuffled captions. */
export interface ClipTScores {
  own: ArrayLike<number>;
  shuffled: ArrayLike<number>;
}

/** Per-caption CLIP-T own − shuffled; throws when the two lists differ in length. */
export function clipTDifferences(s: ClipTScores): number[] {
  if (s.own.length !== s.shuffled.length) throw new Error(`plora.clipTDifferences: ${s.own.length} own but ${s.shuffled.length} shuffled scores`);
  return Array.from(s.own, (x, i) => x - s.shuffled[i]);
}

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));
const mean = (xs: ArrayLike<number>): number => Array.from(xs).reduce((a, b) => a + b, 0) / xs.length;

/** The clipT entry of one set of images: means, the paired difference and its s.e. (rounded to 3 decimals). */
export function clipTSummary(s: ClipTScores): ClipTSummary {
  const d = clipTDifferences(s);
  const { mean: diff, standardError } = pairedDifference(d);
  return {
    own: round(mean(s.own)),
    shuffled: round(mean(s.shuffled)),
    captions: s.own.length,
    difference: round(diff),
    standardError: round(standardError),
    ownBetterFraction: round(d.filter((x) => x > 0).length / d.length),
  };
}
