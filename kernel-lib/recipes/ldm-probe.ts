/**
 * Does a latent diffusion decoder use its conditioning? The denoising error (MiniGPT-5 Eq. 3) of the same
 * images, noise and timesteps with their own caption, a shuffled caption (the half-rotation: no caption
 * stays with its image) and the null caption, per timestep band. A decoder that ignores its captions gives
 * the three the same error; one that uses them has own < shuffled.
 *
 * Two errors from the same pass: the training loss ‖ε − ε̂‖² and the clean-latent error ‖z_0 − x̂_0‖², where
 * x̂_0 = (z_t − √(1−ᾱ_t) ε̂) / √ᾱ_t. They weigh the timesteps very differently (ε-error = ᾱ/(1−ᾱ) · x̂_0-error
 * per row): at high noise, where only the caption can say what the image holds, the ε-error is tiny
 * whatever the caption (t 800–1000: 0.0147 for all three on the first ldm-emoji run), so the ε-error alone
 * cannot show whether captions are used there; the x̂_0 error can (it is the MSE of the model's guess of the
 * image, which at t → T is the caption's conditional mean).
 */
import * as tf from '@tensorflow/tfjs';
import type { LatentDiffusion } from '../diffusion/model';
import type { Conditioning } from '../diffusion/caption-encoder';
import { normalArray } from '../util/random';
import { lossRng, noisedPrediction } from '../diffusion/loss';
import type { RGBImage } from '../image/types';
import { halfRotation } from '../eval/conditioning';

export interface ConditioningLossBand {
  /** Timesteps t in [from, to). */
  from: number;
  to: number;
  /** ε-error (the training loss) with each caption kind. */
  own: number;
  shuffled: number;
  null: number;
  /** x̂_0 error (normalised latent units²) with each caption kind. */
  x0: { own: number; shuffled: number; null: number };
}

export const DEFAULT_BANDS: ReadonlyArray<readonly [number, number]> = [[1, 200], [200, 500], [500, 800], [800, 1001]];

export function conditioningLossProbe(m: LatentDiffusion, images: readonly RGBImage[], captions: readonly string[], o: { bands?: ReadonlyArray<readonly [number, number]>; batch?: number; seed?: number } = {}): ConditioningLossBand[] {
  const n = images.length;
  if (n < 2 || captions.length !== n) throw new Error(`conditioningLossProbe: needs at least 2 images with one caption each, got ${n} images and ${captions.length} captions`);
  const T = m.config.timesteps;
  const bands = o.bands ?? DEFAULT_BANDS;
  for (const [a, b] of bands) if (!(Number.isInteger(a) && Number.isInteger(b) && a >= 1 && b > a && b <= T + 1)) throw new Error(`conditioningLossProbe: band [${a}, ${b}) is not within timesteps 1…${T}`);
  const batch = o.batch ?? 16;
  const shuffled = halfRotation(captions);
  const latents = m.encodeImages(images);
  const per = latents.length / n;
  return bands.map(([from, to]) => {
    const sums = { own: 0, shuffled: 0, null: 0 };
    const x0 = { own: 0, shuffled: 0, null: 0 };
    for (let i = 0; i < n; i += batch) {
      const B = Math.min(batch, n - i);
      const z = latents.subarray(i * per, (i + B) * per);
      // spread over the band, the same for every caption kind (and so is the noise: one seed per batch,
      // drawn as LatentDiffusion.loss draws it, so the ε-errors are the ones recorded before x̂_0 was added)
      const t = Array.from({ length: B }, (_, k) => from + ((k * 37 + i * 11) % (to - from)));
      const eps = normalArray(z.length, 1, lossRng((o.seed ?? 0) + i));
      const kinds: Array<[keyof typeof sums, readonly string[]]> = [['own', captions.slice(i, i + B)], ['shuffled', shuffled.slice(i, i + B)], ['null', new Array<string>(B).fill('')]];
      for (const [kind, caps] of kinds) {
        const cond = m.encodeCaption([...caps]);
        try {
          const [e, x] = tf.tidy(() => errors(m, z, eps, t, cond));
          sums[kind] += (e * B) / n;
          x0[kind] += (x * B) / n;
        } finally {
          cond.seq.dispose();
          cond.mask.dispose();
        }
      }
    }
    return { from, to, ...sums, x0 };
  });
}

/** Mean ε-error and x̂_0 error of one batch (host numbers), from one denoiser pass. */
function errors(m: LatentDiffusion, z0: Float32Array, eps: Float32Array, t: readonly number[], cond: Conditioning): [number, number] {
  const { z, e, zt, pred, a, s } = noisedPrediction(m, z0, cond, t, eps);
  const x0 = tf.div(tf.sub(zt, tf.mul(pred, s)), a); // x̂_0 = (z_t − √(1−ᾱ) ε̂) / √ᾱ
  return [tf.mean(tf.square(tf.sub(pred, e))).dataSync()[0], tf.mean(tf.square(tf.sub(x0, z))).dataSync()[0]];
}
