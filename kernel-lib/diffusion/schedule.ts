/**
 * The cosine noise schedule (Nichol & Dhariwal 2021, "Improved Denoising Diffusion Probabilistic
 * Models", https://arxiv.org/abs/2102.09672, Eq. 17) and the closed forms the samplers use, in float64
 * on the host (T = 1000 numbers each; the device only ever sees per-step scalars).
 *
 *   ᾱ(t) = f(t) / f(0),   f(t) = cos²(((t/T + s) / (1 + s)) · π/2),   s = 0.008
 *   β_t = min(1 − ᾱ_t / ᾱ_{t−1}, 0.999)      (the clip keeps β away from 1 near t = T)
 *   ᾱ_t = Π_{k ≤ t} (1 − β_k)                  (equal to f(t)/f(0) wherever β was not clipped)
 *   q(z_t | z_0)          = N(√ᾱ_t z_0, (1 − ᾱ_t) I)
 *   q(z_{t−1} | z_t, z_0) = N(c0_t z_0 + ct_t z_t, β̃_t I),
 *       c0_t = β_t √ᾱ_{t−1} / (1 − ᾱ_t),  ct_t = (1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t),  β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)
 *
 * Timesteps are 1 … T; index 0 of every array is t = 0 (ᾱ_0 = 1, no noise).
 */
export const COSINE_OFFSET = 0.008;
export const MAX_BETA = 0.999;

export class NoiseSchedule {
  /** β_t, t = 0 … T (β_0 = 0). */
  readonly betas: Float64Array;
  /** ᾱ_t, t = 0 … T (ᾱ_0 = 1). */
  readonly alphasCumprod: Float64Array;

  constructor(readonly timesteps: number) {
    if (!Number.isInteger(timesteps) || timesteps < 1) throw new Error(`NoiseSchedule: timesteps must be a positive integer, got ${timesteps}`);
    const T = timesteps;
    const f = (t: number): number => Math.cos(((t / T + COSINE_OFFSET) / (1 + COSINE_OFFSET)) * (Math.PI / 2)) ** 2;
    this.betas = new Float64Array(T + 1);
    this.alphasCumprod = new Float64Array(T + 1);
    this.alphasCumprod[0] = 1;
    for (let t = 1; t <= T; t++) {
      this.betas[t] = Math.min(1 - f(t) / f(t - 1), MAX_BETA);
      this.alphasCumprod[t] = this.alphasCumprod[t - 1] * (1 - this.betas[t]);
    }
  }

  private check(t: number, from = 0): void {
    if (!Number.isInteger(t) || t < from || t > this.timesteps) throw new Error(`timestep ${t} is outside [${from}, ${this.timesteps}]`);
  }

  /** ᾱ_t (t = 0 gives 1). */
  alphaBar(t: number): number {
    this.check(t);
    return this.alphasCumprod[t];
  }

  /** Coefficients of q(z_t | z_0): z_t = a · z_0 + s · ε. */
  forwardCoefs(t: number): { a: number; s: number } {
    const ab = this.alphaBar(t);
    return { a: Math.sqrt(ab), s: Math.sqrt(1 - ab) };
  }

  /** q(z_{t−1} | z_t, z_0) = N(c0 · z_0 + ct · z_t, variance), t ≥ 1. */
  posterior(t: number): { c0: number; ct: number; variance: number } {
    this.check(t, 1);
    const ab = this.alphasCumprod[t];
    const abPrev = this.alphasCumprod[t - 1];
    const beta = this.betas[t];
    return {
      c0: (beta * Math.sqrt(abPrev)) / (1 - ab),
      ct: ((1 - abPrev) * Math.sqrt(1 - beta)) / (1 - ab),
      variance: (beta * (1 - abPrev)) / (1 - ab),
    };
  }

  /** Signal-to-noise ratio ᾱ_t / (1 − ᾱ_t). */
  snr(t: number): number {
    const ab = this.alphaBar(t);
    return ab / (1 - ab);
  }
}

/**
 * The timesteps a sampler visits with `steps` network calls, descending: 1 + ⌊i·T/steps⌋ for
 * i = steps−1 … 0 (the "leading" spacing with offset 1 of Stable Diffusion's DDIM). The first one stays
 * below T, where the clipped cosine schedule has ᾱ_T ≈ 2·10⁻⁹ and x̂_0 = (z − √(1−ᾱ)ε̂)/√ᾱ would amplify
 * any error in ε̂ by ~10⁴; at 25 steps the first is t = 961 (ᾱ ≈ 0.004). With steps = T every t is visited.
 */
export function samplingTimesteps(steps: number, T: number): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > T) throw new Error(`steps must be an integer in [1, ${T}], got ${JSON.stringify(steps)}`);
  const out: number[] = [];
  for (let i = steps - 1; i >= 0; i--) out.push(1 + Math.floor((i * T) / steps));
  return out;
}
