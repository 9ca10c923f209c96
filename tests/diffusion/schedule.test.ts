/**
 * The cosine schedule against its closed forms in float64, the posterior q(z_{t−1} | z_t, z_0) against
 * the product of the two Gaussians it comes from, the sampler's timesteps, and the DDPM step (DDIM with
 * η = 1 between consecutive timesteps) against the posterior.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { NoiseSchedule, samplingTimesteps, MAX_BETA } from '../../kernel-lib/diffusion/schedule';
import { ddimStep, predictX0 } from '../../kernel-lib/diffusion/sampler';

const T = 1000;
const s = new NoiseSchedule(T);
/** Nichol & Dhariwal's ᾱ(t) = f(t)/f(0), written out again here. */
const closed = (t: number): number => {
  const f = (u: number) => Math.cos((((u / T) + 0.008) / 1.008) * Math.PI * 0.5) ** 2;
  return f(t) / f(0);
};

beforeAll(() => useBackend());

describe('cosine schedule', () => {
  test('ᾱ_t equals f(t)/f(0) wherever β was not clipped, to 1e-12', () => {
    let unclipped = 0;
    for (let t = 0; t <= T; t++) {
      if (t > 0 && s.betas[t] >= MAX_BETA) continue;
      unclipped++;
      expect(Math.abs(s.alphaBar(t) - closed(t))).toBeLessThan(1e-12);
    }
    expect(unclipped).toBe(T); // only the very last step hits the 0.999 clip
    expect(s.betas[T]).toBe(MAX_BETA);
    expect(s.alphaBar(T)).toBeCloseTo(closed(T - 1) * (1 - MAX_BETA), 15);
  });

  test('ᾱ decreases from 1 towards 0; β in (0, 0.999]', () => {
    expect(s.alphaBar(0)).toBe(1);
    for (let t = 1; t <= T; t++) {
      expect(s.alphaBar(t)).toBeLessThan(s.alphaBar(t - 1));
      expect(s.betas[t]).toBeGreaterThan(0);
      expect(s.betas[t]).toBeLessThanOrEqual(MAX_BETA);
    }
    expect(s.alphaBar(T)).toBeLessThan(1e-8);
    expect(s.snr(500)).toBeCloseTo(closed(500) / (1 - closed(500)), 10);
  });

  test('posterior mean and variance equal the product of q(z_{t−1}|z_0) and q(z_t|z_{t−1})', () => {
    for (const t of [2, 10, 250, 500, 900, 999, 1000]) {
      const abPrev = s.alphaBar(t - 1);
      const alpha = s.alphaBar(t) / abPrev; // α_t = 1 − β_t
      const beta = 1 - alpha;
      // N(z_{t−1}; √ᾱ_{t−1} z0, 1−ᾱ_{t−1}) · N(z_t; √α_t z_{t−1}, β_t) as a Gaussian in z_{t−1}
      const precision = 1 / (1 - abPrev) + alpha / beta;
      const variance = 1 / precision;
      const c0 = (variance * Math.sqrt(abPrev)) / (1 - abPrev);
      const ct = (variance * Math.sqrt(alpha)) / beta;
      const p = s.posterior(t);
      expect(Math.abs(p.variance - variance) / variance).toBeLessThan(1e-10);
      expect(Math.abs(p.c0 - c0)).toBeLessThan(1e-10);
      expect(Math.abs(p.ct - ct)).toBeLessThan(1e-10);
    }
    expect(s.posterior(1).variance).toBe(0); // ᾱ_0 = 1: z_0 is known exactly
  });

  test('bad timesteps are named', () => {
    expect(() => s.alphaBar(1001)).toThrow('timestep 1001 is outside [0, 1000]');
    expect(() => s.posterior(0)).toThrow('timestep 0 is outside [1, 1000]');
    expect(() => new NoiseSchedule(0)).toThrow('NoiseSchedule: timesteps must be a positive integer, got 0');
  });
});

describe('sampler timesteps', () => {
  test('25 steps: evenly spaced, descending, first 961, last 1', () => {
    const ts = samplingTimesteps(25, T);
    expect(ts).toHaveLength(25);
    expect(ts[0]).toBe(961);
    expect(ts.at(-1)).toBe(1);
    for (let i = 1; i < ts.length; i++) expect(ts[i - 1] - ts[i]).toBe(40);
  });
  test('T steps visit every timestep', () => {
    expect(samplingTimesteps(T, T)).toEqual(Array.from({ length: T }, (_, i) => T - i));
  });
  test('bad step counts', () => {
    expect(() => samplingTimesteps(0, T)).toThrow('steps must be an integer in [1, 1000], got 0');
    expect(() => samplingTimesteps(2.5, T)).toThrow('steps must be an integer in [1, 1000], got 2.5');
  });
});

describe('DDPM step = posterior', () => {
  test('DDIM η=1 from t to t−1 has the posterior mean (given x̂_0) and standard deviation √β̃_t', () => {
    for (const t of [2, 50, 500, 999]) {
      const zt = tf.randomNormal([1, 2, 2, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
      const eps = tf.randomNormal([1, 2, 2, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
      const xi = tf.randomNormal([1, 2, 2, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
      const { x0 } = predictX0(s, zt, eps, t, null);
      const p = s.posterior(t);
      const mean = tf.add(tf.mul(x0, p.c0), tf.mul(zt, p.ct));
      const withNoise = ddimStep(s, x0, eps, t, t - 1, 1, xi);
      const noiseOnly = tf.sub(withNoise, mean);
      // the remainder is σ·ξ with σ² = β̃_t
      const ratio = tf.div(noiseOnly, xi).dataSync();
      for (const r of ratio) expect(Math.abs(r - Math.sqrt(p.variance))).toBeLessThan(2e-3 * Math.max(1, Math.sqrt(p.variance)) + 1e-4);
      tf.dispose([zt, eps, xi, x0, mean, withNoise, noiseOnly]);
    }
  });
  test('DDIM η=0 to t=0 returns x̂_0', () => {
    const zt = tf.randomNormal([1, 2, 2, 3], 0, 1, 'float32', 6) as tf.Tensor4D;
    const eps = tf.randomNormal([1, 2, 2, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    const { x0 } = predictX0(s, zt, eps, 40, null);
    const z0 = ddimStep(s, x0, eps, 40, 0, 0, null);
    expect(Math.max(...tf.abs(tf.sub(z0, x0)).dataSync())).toBeLessThan(1e-6);
    tf.dispose([zt, eps, x0, z0]);
  });
});
