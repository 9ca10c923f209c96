/**
 * "Images follow their captions" for notebook 01 (issue #18, item 3): each fine-tune draws an image for
 * each of the held-out scene captions `mm-moe-small` is evaluated on (the first EVAL_CAPTIONS of the
 * scenes test split, same sampling: temperature 1, top-64, guidance 3, caption i with seed i), and the
 * project CLIP scores it against its own and a shuffled caption. The selection and the scoring are
 * mm-moe-small's own (recipes/mm-moe-small.ts), so the numbers compare with its model card.
 */
import type { Session } from '../../session';
import type { RGBImage, VQVAE } from '../../image';
import type { ClipModel } from '../../eval';
import { clipTOwnVsShuffled } from '../../eval';
import { captionFollowing, evalSceneCaptions, EVAL_CAPTIONS, EVAL_CFG_SCALE } from '../../recipes/mm-moe-small';
import type { ClipTScores } from './clip-t';

export { EVAL_CAPTIONS };

export interface CaptionFollowingRun {
  captions: string[];
  /** The real scenes after a VQ-VAE round trip (what the models' codes can express at best). */
  real: RGBImage[];
  drawn: Record<'plora' | 'lora', RGBImage[]>;
  /** Per-caption CLIP-T, own and shuffled (halfRotation), of each variant's images and of the real ones. */
  clipT: Record<'plora' | 'lora' | 'real', ClipTScores>;
}

export interface CaptionFollowingOptions {
  /** Held-out captions (default EVAL_CAPTIONS, 48; quick mode passes fewer). */
  captions?: number;
  cfgScale?: number;
  firstSeed?: number;
  /** Called after each drawn image. */
  onImage?: (variant: 'plora' | 'lora', done: number, total: number) => void;
}

/** Draws and scores the held-out captions with both variants (sessions with their adapters enabled). */
export async function variantsFollowCaptions(
  sessions: Record<'plora' | 'lora', Session>,
  vq: VQVAE,
  clip: ClipModel,
  o: CaptionFollowingOptions = {},
): Promise<CaptionFollowingRun> {
  const n = o.captions ?? EVAL_CAPTIONS;
  if (!Number.isInteger(n) || n < 2) throw new Error(`plora.variantsFollowCaptions: captions must be an integer ≥ 2, got ${n}`);
  const held = await evalSceneCaptions(vq, n);
  const caps = held.caps;
  const sampling = { cfgScale: o.cfgScale ?? EVAL_CFG_SCALE, firstSeed: o.firstSeed ?? 0 };
  const run = async (v: 'plora' | 'lora') =>
    captionFollowing(sessions[v], vq, clip, caps, { ...sampling, onImage: (i) => o.onImage?.(v, i, caps.length) });
  const plora = await run('plora');
  const lora = await run('lora');
  const real = vq.decode(held.codes);
  const scores = (f: { own: { scores: Float32Array }; shuffled: { scores: Float32Array } }): ClipTScores => ({ own: f.own.scores, shuffled: f.shuffled.scores });
  return {
    captions: caps,
    real,
    drawn: { plora: plora.images, lora: lora.images },
    clipT: { plora: scores(plora), lora: scores(lora), real: scores(clipTOwnVsShuffled(clip, real, caps)) },
  };
}
