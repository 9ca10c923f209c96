/**
 * Checkpoints: save (float32 and float16) → load round trip (every parameter, the latent statistics,
 * the tokenizer, the VQ-VAE; the same samples), atomic replacement, and the errors a damaged directory
 * gives (naming the file and tensor). Also the training loop's run directory: 4 steps straight equal
 * 2 steps, a resume and 2 more.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { emojiImages, maxAbsDiff, randomize, tinyLdm } from './helpers';
import { LatentDiffusion } from '../../kernel-lib/diffusion/model';
import { trainDiffusion } from '../../kernel-lib/diffusion/train';
import { readSafetensors, encodeSafetensors } from '../../kernel-lib/checkpoint/safetensors';

let tmp: string;
let m: LatentDiffusion;
beforeAll(async () => {
  await useBackend();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ldm-'));
  const { images } = await emojiImages(4);
  m = tinyLdm({ seed: 1, statImages: images });
  randomize(m, 0.1, 5);
});
afterAll(() => {
  m.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('float32 round trip: identical parameters, statistics and samples', async () => {
  const dir = path.join(tmp, 'f32');
  m.save(dir, { dtype: 'float32', metrics: { note: 'test' } });
  expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'metrics.json', 'model.safetensors', 'tokenizer.json', 'vqvae']);
  expect(fs.readdirSync(path.join(dir, 'vqvae')).sort()).toEqual(['config.json', 'model.safetensors']);
  const back = LatentDiffusion.load(dir);
  try {
    for (const [n, v] of m.params) expect(maxAbsDiff((back.params.get(n) as tf.Variable).dataSync(), v.dataSync())).toBe(0);
    expect(Array.from(back.latent.stats.scale)).toEqual(Array.from(m.latent.stats.scale));
    expect(back.tokenizer.encode('a cat to the left of a tree')).toEqual(m.tokenizer.encode('a cat to the left of a tree'));
    const a = await m.sample({ cond: 'a cat', steps: 3, seed: 1 });
    const b = await back.sample({ cond: 'a cat', steps: 3, seed: 1 });
    expect(maxAbsDiff(a.latents, b.latents)).toBe(0);
    expect(a.images[0].pixels).toEqual(b.images[0].pixels);
  } finally {
    back.dispose();
  }
});

test('float16 round trip within half precision; saving again replaces the directory whole', async () => {
  const dir = path.join(tmp, 'f16');
  m.save(dir, { metrics: { first: true } });
  m.save(dir); // replaces: metrics.json of the first save is gone, no temporary siblings left
  expect(fs.existsSync(path.join(dir, 'metrics.json'))).toBe(false);
  expect(fs.readdirSync(tmp).filter((n) => n.startsWith('.'))).toEqual([]);
  expect(readSafetensors(path.join(dir, 'model.safetensors')).tensors.get('caption.embed')?.dtype).toBe('F16');
  const back = LatentDiffusion.load(dir);
  try {
    for (const [n, v] of m.params) {
      const a = v.dataSync();
      expect(maxAbsDiff((back.params.get(n) as tf.Variable).dataSync(), a)).toBeLessThanOrEqual(1e-3 * Math.max(1, ...Array.from(a, Math.abs)));
    }
  } finally {
    back.dispose();
  }
});

describe('damaged checkpoints are named', () => {
  const copy = (name: string): string => {
    const dir = path.join(tmp, name);
    m.save(dir, { dtype: 'float32' });
    return dir;
  };
  test('missing directory', () => {
    expect(() => LatentDiffusion.load(path.join(tmp, 'nope'))).toThrow(`${path.join(tmp, 'nope')}: checkpoint directory not found`);
  });
  test('wrong format', () => {
    const dir = copy('fmt');
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, format: 'switchboard-vqvae' }));
    expect(() => LatentDiffusion.load(dir)).toThrow(`${path.join(dir, 'config.json')}: "format" is "switchboard-vqvae", expected "switchboard-ldm" (is this a latent diffusion checkpoint?)`);
  });
  test('bad config field', () => {
    const dir = copy('cfg');
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    cfg.config.denoiser.heads = 5;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    expect(() => LatentDiffusion.load(dir)).toThrow(`${path.join(dir, 'config.json')}: LatentDiffusionConfig.denoiser.dim (48) must be divisible by heads (5)`);
  });
  test('missing tensor', () => {
    const dir = copy('tensor');
    const file = path.join(dir, 'model.safetensors');
    const t = readSafetensors(file).tensors;
    t.delete('denoiser.null_cond');
    fs.writeFileSync(file, encodeSafetensors(t));
    expect(() => LatentDiffusion.load(dir)).toThrow(`${file}: missing tensor "denoiser.null_cond"`);
  });
});

test('run directory: 4 steps straight = 2 steps, stop, resume in a fresh model, 2 more', async () => {
  const { images, captions } = await emojiImages(4);
  const data = { latents: m.encodeImages(images), captions: captions.map((c) => [c, `${c}, again`]) };
  const opts = { data, steps: 4, batchSize: 3, lr: 1e-3, warmupSteps: 1, seed: 1, checkpointEvery: 2 };
  const a = tinyLdm({ seed: 7, statImages: images });
  const ra = await trainDiffusion(a, opts);
  const dir = path.join(tmp, 'run');
  const b = tinyLdm({ seed: 7, statImages: images });
  const ctl = new AbortController();
  const stopped = await trainDiffusion(b, { ...opts, runDir: dir, signal: ctl.signal, onStep: (e) => void (e.step === 2 && ctl.abort()) });
  expect(stopped.stopped).toBe('aborted');
  const c = tinyLdm({ seed: 99, statImages: images }); // other weights: everything must come from the run directory
  const rc = await trainDiffusion(c, { ...opts, runDir: dir });
  expect(rc.resumedFrom).toBe(2);
  expect(rc.history.map((e) => e.loss)).toEqual(ra.history.map((e) => e.loss));
  for (const [n, v] of a.params) expect(maxAbsDiff((c.params.get(n) as tf.Variable).dataSync(), v.dataSync())).toBeLessThan(1e-6);
  await expect(trainDiffusion(c, { ...opts, steps: 5, runDir: dir })).rejects.toThrow(/steps/);
  for (const x of [a, b, c]) x.dispose();
});
