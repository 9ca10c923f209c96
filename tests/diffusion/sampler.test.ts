/**
 * The sampling loop against an oracle denoiser that knows z_0 (ε̂ = (z_t − √ᾱ_t z_0)/√(1−ᾱ_t)): DDIM
 * η = 0 must land on z_0 at any step count, and DDPM (η = 1) too, since with the exact ε the posterior
 * mean is z_0's own path. Also: seeded, batch = one at a time, abort within one step.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { NoiseSchedule } from '../../kernel-lib/diffusion/schedule';
import { sampleLoop, SampleLoopOptions } from '../../kernel-lib/diffusion/sample';
import type { Denoiser, PreparedConditioning } from '../../kernel-lib/diffusion/denoiser';
import { defaultDiffusionConfig } from '../../kernel-lib/diffusion/config';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';
import { maxAbsDiff } from './helpers';

const schedule = new NoiseSchedule(1000);
const config = defaultDiffusionConfig('tiny');
const per = 8 * 8 * 32;

/** A stand-in denoiser that returns the exact noise for a known z_0 (ignores the conditioning). */
function oracle(z0: Float32Array, B: number): Denoiser {
  return {
    config,
    forward: (z: tf.Tensor4D, t: readonly number[]) =>
      tf.tidy(() => {
        const ab = schedule.alphaBar(t[0]);
        const x0 = tf.tensor4d(z0, [B, 8, 8, 32]);
        const zz = z.shape[0] === B ? z : tf.slice(z, [0, 0, 0, 0], [B, 8, 8, 32]);
        const eps = tf.div(tf.sub(zz, tf.mul(x0, Math.sqrt(ab))), Math.sqrt(1 - ab));
        return z.shape[0] === B ? eps : tf.concat([eps, eps], 0);
      }) as tf.Tensor4D,
  } as unknown as Denoiser;
}
const prepared = { batch: 2, length: 1, keyBias: null, kv: [] } as unknown as PreparedConditioning;
const opts = (o: Partial<SampleLoopOptions>): SampleLoopOptions => ({ sampler: 'ddim', steps: 25, eta: 0, seed: 0, scale: 1, paired: false, clip: null, ...o });

beforeAll(() => useBackend());

test.each([[1], [10], [25], [100]])('DDIM η=0 with the exact ε lands on z_0 (%i steps)', async (steps) => {
  const z0 = normalArray(2 * per, 1, mulberry32(1));
  const r = await sampleLoop(oracle(z0, 2), schedule, prepared, 2, () => [], opts({ steps }));
  expect(r.stepsRun).toBe(steps);
  expect(maxAbsDiff(r.latents, z0)).toBeLessThan(2e-3);
});

test('DDPM (η=1, 1000 steps) with the exact ε lands on z_0', async () => {
  const z0 = normalArray(per, 1, mulberry32(2));
  const r = await sampleLoop(oracle(z0, 1), schedule, prepared, 1, () => [], opts({ sampler: 'ddpm', steps: 1000, eta: 1 }));
  expect(maxAbsDiff(r.latents, z0)).toBeLessThan(2e-3);
});

test('CFG with γ = 3 on identical branches is the branch itself', async () => {
  const z0 = normalArray(per, 1, mulberry32(3));
  const r = await sampleLoop(oracle(z0, 1), schedule, prepared, 1, () => [], opts({ paired: true, scale: 3 }));
  expect(maxAbsDiff(r.latents, z0)).toBeLessThan(2e-3);
});
