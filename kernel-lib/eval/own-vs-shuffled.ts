/**
 * Does an image follow its caption? CLIP-T of each image with its own caption and with the caption the
 * fixed derangement (halfRotation) gives it; own − shuffled, paired per caption, is the signal. One
 * definition for every evaluation that reports it (mm-moe-small, the latent diffusion gate, the PLoRA paper).
 */
import type { RGBImage } from '../image/types';
import { pairedDifference } from '../util/stats';
import type { ClipModel, PairScores } from './clip';
import { halfRotation } from './conditioning';

export interface OwnVsShuffled {
  own: PairScores;
  shuffled: PairScores;
}

/** CLIP-T of `images[i]` with `captions[i]` and with halfRotation(captions)[i]. */
export function clipTOwnVsShuffled(clip: ClipModel, images: readonly RGBImage[], captions: readonly string[]): OwnVsShuffled {
  return { own: clip.clipT(images, captions), shuffled: clip.clipT(images, halfRotation(captions)) };
}

/** The paired statistic of own − shuffled scores: mean ± s.e. and the share of captions where own is higher. */
export function ownMinusShuffled(own: ArrayLike<number>, shuffled: ArrayLike<number>): { mean: number; standardError: number; ownBetterFraction: number } {
  if (own.length !== shuffled.length) throw new Error(`ownMinusShuffled: ${own.length} own but ${shuffled.length} shuffled scores`);
  const d = Array.from(own, (x, i) => x - shuffled[i]);
  return { ...pairedDifference(d), ownBetterFraction: d.filter((x) => x > 0).length / d.length };
}
