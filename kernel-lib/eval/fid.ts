/**
 * FID on the workbench CLIP's image features: the Fréchet distance between Gaussians fitted to the
 * L2-normalised CLIP image embeddings of two image sets (a stand-in for Inception-feature FID, which
 * would need a network these 32×32 images are far too small for).
 *
 * Values are on the scale of unit vectors: 0 for identical statistics, at most about 4 (two point
 * masses at opposite poles). With few images the covariance estimate is noisy and biased upwards, as
 * with any FID: compare numbers measured on equally many images.
 */
import type { RGBImage } from '../image/types';
import type { ClipModel } from './clip';
import { frechetTerms, FrechetTerms, gaussianStats, GaussianStats } from './frechet';

/** Gaussian statistics of a set of images' CLIP features (reuse one side across many comparisons). */
export function clipFeatureStats(model: ClipModel, images: readonly RGBImage[]): GaussianStats {
  if (images.length < 2) throw new Error(`clipFeatureStats: need at least 2 images, got ${images.length}`);
  return gaussianStats(model.imageFeatures(images), model.config.embedDim);
}

/** FID between two image sets (or precomputed statistics) on CLIP features, with its terms. */
export function clipFid(
  model: ClipModel,
  a: readonly RGBImage[] | GaussianStats,
  b: readonly RGBImage[] | GaussianStats,
): FrechetTerms & { n: [number, number] } {
  const sa = isStats(a) ? a : clipFeatureStats(model, a);
  const sb = isStats(b) ? b : clipFeatureStats(model, b);
  return { ...frechetTerms(sa, sb), n: [sa.n, sb.n] };
}

function isStats(x: readonly RGBImage[] | GaussianStats): x is GaussianStats {
  return !Array.isArray(x) && typeof (x as GaussianStats).d === 'number';
}
