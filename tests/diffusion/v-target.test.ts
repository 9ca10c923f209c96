/**
 * The 'v' training target (loss.ts): the denoiser's raw v̂ and its ε̂ are related by ε̂ = √(1−ᾱ) z_t + √ᾱ v̂;
 * at one timestep the ε-loss is exactly ᾱ_t times the v-loss (ε − ε̂ = √ᾱ (v − v̂)); the v-loss of a
 * prediction of exactly v is 0 (checked with v computed in float64 on the host); 2 workers give the
 * one-thread v-loss; the trainer refuses an unknown target and keeps 'v' in the run's fingerprint.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { maxAbsDiff, randomize, tinyLdm } from './helpers';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';
import { noisePredictionLoss } from '../../kernel-lib/diffusion/loss';
import { trainDiffusion, DiffusionTrainOptions } from '../../kernel-lib/diffusion/train';
import type { LatentDiffusion } from '../../kernel-lib/diffusion/model';

let m: LatentDiffusion;
const per = 8 * 8 * 32;
const B = 3;
beforeAll(async () => {
  await useBackend();
  m = tinyLdm({ seed: 3 });
  randomize(m, 0.15, 4);
});
afterAll(() => m.dispose());

const z0 = normalArray(B * per, 1, mulberry32(1));
const eps = normalArray(B * per, 1, mulberry32(2));

test("forward's v̂ and ε̂: ε̂ = √(1−ᾱ) z_t + √ᾱ v̂", () => {
  const t = [50, 500, 950];
  const [v, e, zt] = tf.tidy(() => {
    const z = tf.tensor4d(z0, [B, 8, 8, 32]);
    const prepared = m.denoiser.prepareConditioning(m.encodeCaption(['a cat', 'a red apple', '']));
    return [m.denoiser.forward(z, t, prepared, { output: 'v' }).dataSync(), m.denoiser.forward(z, t, prepared).dataSync(), z.dataSync()];
  });
  const want = Float64Array.from(e, (_, i) => {
    const ab = m.schedule.alphaBar(t[Math.floor(i / per)]);
    return Math.sqrt(1 - ab) * zt[i] + Math.sqrt(ab) * v[i];
  });
  expect(maxAbsDiff(e, want)).toBeLessThan(1e-5);
});

test('one timestep: ε-loss = ᾱ_t · v-loss; a perfect v̂ has v-loss 0 (v from a float64 host computation)', () => {
  for (const t of [20, 400, 900]) {
    const ts = [t, t, t];
    const [le, lv] = tf.tidy(() => {
      const cond = m.encodeCaption(['a cat', 'a tiger face', '']);
      return [noisePredictionLoss(m, z0, cond, ts, eps, 'epsilon').dataSync()[0], noisePredictionLoss(m, z0, cond, ts, eps, 'v').dataSync()[0]];
    });
    const ab = m.schedule.alphaBar(t);
    expect(le / lv).toBeCloseTo(ab, 4);
  }
  // a denoiser whose v̂ is exactly v: hand the loss a stand-in whose forward returns the host's v
  const ts = [100, 600, 990];
  const v = Float32Array.from(z0, (z, i) => {
    const ab = m.schedule.alphaBar(ts[Math.floor(i / per)]);
    return Math.sqrt(ab) * eps[i] - Math.sqrt(1 - ab) * z;
  });
  const perfect = { ...m, config: m.config, params: m.params, schedule: m.schedule, denoiser: { prepareConditioning: () => null, forward: () => tf.tensor4d(v, [B, 8, 8, 32]) } } as unknown as Parameters<typeof noisePredictionLoss>[0];
  const cond = m.encodeCaption(['a', 'b', 'c']);
  const l = tf.tidy(() => noisePredictionLoss(perfect, z0, cond, ts, eps, 'v').dataSync()[0]);
  tf.dispose([cond.seq, cond.mask]);
  expect(l).toBeLessThan(1e-10);
});

test("trainer: 2 workers give the one-thread v-losses; 'v' is in the fingerprint; an unknown target is named", async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vtarget-'));
  const o = (workers: number, runDir?: string): DiffusionTrainOptions => ({
    data: { latents: z0, captions: [['a cat'], ['a red apple'], ['a tiger face']] }, steps: 2, batchSize: 3, lr: 1e-3, warmupSteps: 1, seed: 1, workers, runDir, target: 'v',
  });
  const losses = async (opts: DiffusionTrainOptions) => {
    const model = tinyLdm({ seed: 7 });
    try {
      return (await trainDiffusion(model, opts)).history.map((e) => e.loss);
    } finally {
      model.dispose();
    }
  };
  try {
    const one = await losses(o(1, tmp));
    const two = await losses(o(2));
    two.forEach((l, i) => expect(Math.abs(l - one[i])).toBeLessThan(1e-5 * one[i]));
    const eps = await losses({ ...o(1), target: 'epsilon' });
    expect(eps[0]).not.toBeCloseTo(one[0], 3); // another loss
    expect(JSON.parse(fs.readFileSync(path.join(tmp, 'trainer_state.json'), 'utf8')).options.target).toBe('v');
    const model = tinyLdm({ seed: 7 });
    try {
      await expect(trainDiffusion(model, { ...o(1), target: 'x0' as 'v' })).rejects.toThrow('trainDiffusion: target must be one of epsilon, v, got "x0"');
      await expect(trainDiffusion(model, { ...o(1, tmp), target: 'epsilon' })).rejects.toThrow('this run was started with target = "v", now undefined');
    } finally {
      model.dispose();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}, 120_000);
