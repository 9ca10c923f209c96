/**
 * One step of the samplers, as tensor arithmetic with host-side scalars from the schedule.
 *
 * DDIM (Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models", https://arxiv.org/abs/2010.02502,
 * Eq. 12) from t to s < t, with ᾱ_0 = 1:
 *   x̂_0 = (z_t − √(1−ᾱ_t) ε̂) / √ᾱ_t
 *   σ   = η · √((1−ᾱ_s)/(1−ᾱ_t)) · √(1 − ᾱ_t/ᾱ_s)
 *   z_s = √ᾱ_s x̂_0 + √(1 − ᾱ_s − σ²) ε̂ + σ ξ,   ξ ~ N(0, I)
 * η = 0 is deterministic; η = 1 with s = t − 1 is exactly ancestral DDPM (Ho et al. 2020) with the
 * posterior variance β̃_t, which is what the 'ddpm' sampler runs.
 *
 * Classifier-free guidance (Ho & Salimans 2022; MiniGPT-5 Eq. 5 with a negative conditioning ĥ_0):
 *   ε̂ = ε_θ(z, t, c⁻) + γ (ε_θ(z, t, c) − ε_θ(z, t, c⁻))
 * with both branches in ONE forward pass of batch 2B.
 */
import * as tf from '@tensorflow/tfjs';
import type { NoiseSchedule } from './schedule';
import type { Denoiser, PreparedConditioning } from './denoiser';

/** Prediction of z_0 from z_t and ε̂; with `clip`, x̂_0 is clamped to ±clip and ε̂ recomputed to match. */
export function predictX0(schedule: NoiseSchedule, zt: tf.Tensor4D, eps: tf.Tensor4D, t: number, clip: number | null): { x0: tf.Tensor4D; eps: tf.Tensor4D } {
  const ab = schedule.alphaBar(t);
  let x0 = tf.div(tf.sub(zt, tf.mul(eps, Math.sqrt(1 - ab))), Math.sqrt(ab)) as tf.Tensor4D;
  if (clip === null) return { x0, eps };
  x0 = tf.clipByValue(x0, -clip, clip);
  return { x0, eps: tf.div(tf.sub(zt, tf.mul(x0, Math.sqrt(ab))), Math.sqrt(1 - ab)) as tf.Tensor4D };
}

/** One DDIM step t → s (s < t, s = 0 allowed); `xi` is the fresh noise when η > 0. */
export function ddimStep(schedule: NoiseSchedule, x0: tf.Tensor4D, eps: tf.Tensor4D, t: number, s: number, eta: number, xi: tf.Tensor4D | null): tf.Tensor4D {
  const ab = schedule.alphaBar(t);
  const abS = schedule.alphaBar(s);
  const sigma = eta === 0 ? 0 : eta * Math.sqrt((1 - abS) / (1 - ab)) * Math.sqrt(1 - ab / abS);
  let z = tf.add(tf.mul(x0, Math.sqrt(abS)), tf.mul(eps, Math.sqrt(Math.max(0, 1 - abS - sigma * sigma))));
  if (sigma > 0) {
    if (!xi) throw new Error('ddimStep: η > 0 needs noise');
    z = tf.add(z, tf.mul(xi, sigma));
  }
  return z as tf.Tensor4D;
}

/** One step of DDIM inversion t → u (u > t): the η = 0 update run upwards with ε̂ taken at z_t. */
export function ddimInvertStep(schedule: NoiseSchedule, zt: tf.Tensor4D, eps: tf.Tensor4D, t: number, u: number): tf.Tensor4D {
  const { x0 } = predictX0(schedule, zt, eps, t, null);
  const abU = schedule.alphaBar(u);
  return tf.add(tf.mul(x0, Math.sqrt(abU)), tf.mul(eps, Math.sqrt(1 - abU))) as tf.Tensor4D;
}

/**
 * ε̂ with guidance: `both` holds the conditional rows first (B) and the negative rows after (B); γ = 1
 * is the conditional branch. Without `both.negative` (γ = 1 requested as such) it runs batch B only.
 */
export function guidedNoise(denoiser: Denoiser, z: tf.Tensor4D, t: number, both: PreparedConditioning, guidance: { scale: number; paired: boolean }): tf.Tensor4D {
  if (!guidance.paired) return denoiser.forward(z, [t], both, { inference: true });
  const B = z.shape[0];
  if (both.batch !== 2 * B) throw new Error(`guidedNoise: conditioning batch ${both.batch}, expected ${2 * B} (conditional then negative)`);
  const eps = denoiser.forward(tf.concat([z, z], 0) as tf.Tensor4D, [t], both, { inference: true }); // [2B, g, g, C]
  const [c, u] = tf.split(eps, 2, 0) as tf.Tensor4D[];
  return tf.add(u, tf.mul(tf.sub(c, u), guidance.scale)) as tf.Tensor4D;
}
