/**
 * A tiny decoder memorises 4 captioned emoji: the noise-prediction loss falls to near 0, and sampling
 * each caption (DDIM, 25 steps) draws that caption's image — closer to it than to any of the other three.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { emojiImages, tinyConfig, tinyLdm } from './helpers';
import { trainDiffusion } from '../../kernel-lib/diffusion/train';
import { psnr } from '../../kernel-lib/image/metrics';
import type { LatentDiffusion } from '../../kernel-lib/diffusion/model';

const STEPS = Number(process.env.OVERFIT_STEPS ?? 400);
let m: LatentDiffusion;

beforeAll(() => useBackend());
afterAll(() => m?.dispose());

test('loss → near 0 and each caption draws its own image', async () => {
  const { images, captions } = await emojiImages(4);
  m = tinyLdm({ config: tinyConfig({ condDropProb: 0 }), statImages: images, seed: 3 });
  const latents = m.encodeImages(images);
  const t0 = Date.now();
  const r = await trainDiffusion(m, { data: { latents, captions: captions.map((c) => [c]) }, steps: STEPS, batchSize: 4, lr: 3e-3, warmupSteps: 20, seed: 1 });
  const trainS = (Date.now() - t0) / 1000;
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const first = mean(r.history.slice(0, 10).map((e) => e.loss));
  const last = mean(r.history.slice(-50).map((e) => e.loss));
  const s = await m.sample({ cond: captions, cfgScale: 1, steps: 25, seed: 5 });
  const own = s.images.map((im, i) => psnr(im.pixels, images[i].pixels));
  const others = s.images.map((im, i) => Math.max(...images.filter((_, j) => j !== i).map((o) => psnr(im.pixels, o.pixels))));
  process.stdout.write(`overfit: ${STEPS} steps in ${trainS.toFixed(1)} s, loss ${first.toFixed(3)} → ${last.toFixed(4)}; PSNR own ${own.map((v) => v.toFixed(1))} vs best other ${others.map((v) => v.toFixed(1))}\n`);
  expect(first).toBeGreaterThan(0.5);
  expect(last).toBeLessThan(0.05);
  own.forEach((v, i) => expect(v).toBeGreaterThan(others[i] + 3));
  own.forEach((v) => expect(v).toBeGreaterThan(18));
  expect(tf.memory().numTensors).toBeLessThan(1000);
}, 120_000);
