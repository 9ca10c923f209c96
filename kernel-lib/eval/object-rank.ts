/**
 * How close generated scenes come to the right emoji, below the scene checker's exact-match bar: for each
 * stated object of scene i, the rank (0 = the nearest) of its emoji among the checker's templates by its
 * best window distance anywhere in image i (SceneChecker.templateDistances / rankOf).
 *
 *   own:      image i against scene i's objects
 *   shuffled: image i against scene (i+1) mod n's objects — a generator that ignores which objects it was
 *             asked for ranks both alike, so own − shuffled (per scene, mean rank of each) is the signal
 *
 * Object accuracy only counts rank 0 (and a found detection); this says whether a decoder that misses
 * the exact emoji is drawing something near it.
 */
import type { RGBImage } from '../image/types';
import { mean, median, pairedDifference } from '../util/stats';
import type { SceneChecker, SceneClaim } from './scene-checker';

export interface ObjectRankRecord {
  /** Ranks of the stated objects in their own images: median, mean, and the share ranked < 1, < 10, < 50. */
  own: { median: number; mean: number; top1: number; top10: number; top50: number };
  /** Ranks of the next scene's objects in the same images. */
  shuffled: { median: number; mean: number; top10: number };
  /** Per scene, own mean rank − shuffled mean rank: mean ± s.e. (negative: the own objects rank closer). */
  paired_difference: { mean: number; standard_error: number };
  /** Templates ranked among (the checker's V). */
  templates: number;
}

const topK = (xs: readonly number[], k: number): number => xs.filter((r) => r < k).length / xs.length;

/** The object-rank record of images[i] against claims[i] (own) and claims[(i+1) mod n] (shuffled); n ≥ 2. */
export function objectRanks(checker: SceneChecker, images: readonly RGBImage[], claims: readonly SceneClaim[]): ObjectRankRecord {
  const n = images.length;
  if (claims.length !== n) throw new Error(`objectRanks: ${n} images but ${claims.length} claims`);
  if (n < 2) throw new Error(`objectRanks: needs at least 2 scenes (the shuffled pairing), got ${n}`);
  claims.forEach((c, i) => {
    if (c.objects.length === 0) throw new Error(`objectRanks: claim ${i} states no objects`);
  });
  const own: number[] = [];
  const shuffled: number[] = [];
  const perScene: number[] = [];
  images.forEach((img, i) => {
    const d = checker.templateDistances(img);
    const o = claims[i].objects.map((ob) => checker.rankOf(d, ob.emoji));
    const s = claims[(i + 1) % n].objects.map((ob) => checker.rankOf(d, ob.emoji));
    own.push(...o);
    shuffled.push(...s);
    perScene.push(mean(o) - mean(s));
  });
  const d = pairedDifference(perScene);
  return {
    own: { median: median(own), mean: mean(own), top1: topK(own, 1), top10: topK(own, 10), top50: topK(own, 50) },
    shuffled: { median: median(shuffled), mean: mean(shuffled), top10: topK(shuffled, 10) },
    paired_difference: { mean: d.mean, standard_error: d.standardError },
    templates: checker.templates.length,
  };
}
