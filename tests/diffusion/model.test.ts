/**
 * LatentDiffusion on a tiny config with random (non-zero) weights: the conditioning mask (padding
 * changes nothing), the null conditioning, CFG with γ = 1, DDIM determinism and inversion, batch
 * sampling, tensors flat over a sampling loop, abort, onStep's x̂_0 pixels, the loss's gradient with
 * respect to the conditioning, and exact errors for bad options.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { maxAbsDiff, randomize, tinyLdm } from './helpers';
import type { LatentDiffusion } from '../../kernel-lib/diffusion/model';
import { guidedNoise } from '../../kernel-lib/diffusion/sampler';
import { concatConditioning } from '../../kernel-lib/diffusion/options';
import { clearAttentionCache } from '../../kernel-lib/diffusion/attention';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';

let m: LatentDiffusion;
const per = 8 * 8 * 32;
beforeAll(async () => {
  await useBackend();
  m = tinyLdm({ seed: 2 });
  randomize(m, 0.15);
});
afterAll(() => m.dispose());

const z = (seed: number, B = 1) => tf.tensor4d(normalArray(B * per, 1, mulberry32(seed)), [B, 8, 8, 32]);

describe('conditioning', () => {
  test('padding changes nothing: extra masked positions holding any values', () => {
    const [a, b] = tf.tidy(() => {
      const c = m.encodeCaption(['a cat to the left of a tree', 'a tiger face']);
      const [B, L, dc] = c.seq.shape;
      const junk = tf.mul(tf.ones([B, 5, dc]), 77);
      const padded = { seq: tf.concat([c.seq, junk], 1) as tf.Tensor3D, mask: tf.concat([c.mask, tf.zeros([B, 5])], 1) as tf.Tensor2D };
      expect(L).toBe(24);
      const zt = z(1, 2);
      return [m.denoiser.forward(zt, [500], m.denoiser.prepareConditioning(c)), m.denoiser.forward(zt, [500], m.denoiser.prepareConditioning(padded))];
    });
    expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBeLessThan(1e-5);
    tf.dispose([a, b]);
  });

  test("the empty caption is the null conditioning; the caption encoder zeroes padding", () => {
    const [a, b, seq] = tf.tidy(() => {
      const e = m.encodeCaption('');
      const zt = z(2);
      return [m.denoiser.forward(zt, [300], m.denoiser.prepareConditioning(e)), m.denoiser.forward(zt, [300], m.denoiser.prepareConditioning(m.nullConditioning())), m.encodeCaption('a cat').seq];
    });
    expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBeLessThan(1e-5);
    const s = seq.dataSync();
    const dc = m.config.caption.dim;
    const used = m.tokenizer.encode('a cat').length;
    for (let i = used * dc; i < s.length; i++) expect(Math.abs(s[i])).toBe(0);
    tf.dispose([a, b, seq]);
  });

  test('captions change the prediction (the conditioning is used)', () => {
    const d = tf.tidy(() => {
      const zt = z(3);
      const f = (c: string) => m.denoiser.forward(zt, [500], m.denoiser.prepareConditioning(m.encodeCaption(c)));
      return tf.max(tf.abs(tf.sub(f('a red apple'), f('a blue whale'))));
    });
    expect(d.dataSync()[0]).toBeGreaterThan(1e-3);
    d.dispose();
  });

  test('CFG with γ = 1 equals the conditional branch (one batch-2 pass)', () => {
    const [g, c] = tf.tidy(() => {
      const cond = m.encodeCaption('a cat to the left of a tree');
      const both = concatConditioning(cond, m.nullConditioning());
      const zt = z(4);
      return [guidedNoise(m.denoiser, zt, 700, m.denoiser.prepareConditioning(both), { scale: 1, paired: true }), m.denoiser.forward(zt, [700], m.denoiser.prepareConditioning(cond))];
    });
    expect(maxAbsDiff(g.dataSync(), c.dataSync())).toBeLessThan(1e-5);
    tf.dispose([g, c]);
  });
});

describe('sampling', () => {
  test('DDIM η=0 is deterministic per seed; another seed gives another image', async () => {
    const a = await m.sample({ cond: 'a tiger face', steps: 5, seed: 3 });
    const b = await m.sample({ cond: 'a tiger face', steps: 5, seed: 3 });
    const c = await m.sample({ cond: 'a tiger face', steps: 5, seed: 4 });
    expect(maxAbsDiff(a.latents, b.latents)).toBe(0);
    expect(maxAbsDiff(a.latents, c.latents)).toBeGreaterThan(0.1);
    expect(a.images[0].pixels).toEqual(b.images[0].pixels);
    expect(a.images[0].height).toBe(32);
  });

  test('a batch gives the images of sampling each caption alone with seed + i', async () => {
    const caps = ['a tiger face', 'a cat to the left of a tree', 'an apple'];
    const batch = await m.sample({ cond: caps, steps: 4, seed: 10, cfgScale: 3 });
    for (let i = 0; i < caps.length; i++) {
      const one = await m.sample({ cond: caps[i], steps: 4, seed: 10 + i, cfgScale: 3 });
      expect(maxAbsDiff(batch.latents.subarray(i * per, (i + 1) * per), one.latents)).toBeLessThan(1e-3);
    }
    const rep = await m.sample({ cond: 'an apple', numImages: 2, steps: 4, seed: 10 });
    expect(rep.images).toHaveLength(2);
  });

  test('DDIM inverts its own forward at fine step counts', () => {
    const cond = m.encodeCaption('a tiger face');
    const z0 = normalArray(per, 0.8, mulberry32(9));
    const zT = m.invert(z0, cond, 400);
    tf.dispose([cond.seq, cond.mask]);
    return m.sample({ cond: 'a tiger face', steps: 400, cfgScale: 1, seed: 0, clip: false, initialLatents: zT }).then((r) => {
      const err = maxAbsDiff(r.latents, z0);
      expect(err).toBeLessThan(0.05);
      expect(maxAbsDiff(zT, z0)).toBeGreaterThan(0.5); // it did go somewhere
    });
  });

  test('tensors stay flat over a sampling loop (per step and after)', async () => {
    // the attention block masks are cached per shape (bounded); counted without them
    clearAttentionCache();
    const before = tf.memory().numTensors;
    const during: number[] = [];
    await m.sample({ cond: ['a cat', 'a dog'], negCond: ['a tree', 'a tree'], steps: 6, cfgScale: 2, onStep: () => void during.push(tf.memory().numTensors) });
    await m.sample({ cond: 'a cat', steps: 3, sampler: 'ddpm' });
    expect(new Set(during).size).toBe(1);
    clearAttentionCache();
    expect(tf.memory().numTensors).toBe(before);
  });

  test("onStep gives x̂_0 as pixels at every step; an AbortSignal stops within one step", async () => {
    const seen: number[] = [];
    const ctl = new AbortController();
    const r = await m.sample({
      cond: 'a cat',
      steps: 10,
      signal: ctl.signal,
      onStep: (e) => {
        seen.push(e.step);
        expect(e.images).toHaveLength(1);
        expect(e.images[0].pixels).toHaveLength(32 * 32 * 3);
        expect(e.latents).toHaveLength(per);
        if (e.step === 3) ctl.abort();
      },
    });
    expect(seen).toEqual([1, 2, 3]);
    expect(r.stopped).toBe('aborted');
    expect(r.stepsRun).toBe(3);
    expect(r.images).toHaveLength(1);
  });
});

describe('loss', () => {
  test('differentiable with respect to the conditioning; no tensors left', () => {
    clearAttentionCache();
    const before = tf.memory().numTensors;
    const x = normalArray(2 * per, 1, mulberry32(3));
    const seq = tf.tidy(() => tf.variable(tf.randomNormal([2, 3, m.config.caption.dim], 0, 1, 'float32', 4)));
    const mask = tf.ones([2, 3]) as tf.Tensor2D;
    const { value, grads } = tf.variableGrads(() => m.loss(x, { seq: seq as unknown as tf.Tensor3D, mask }, { seed: 1 }), [seq]);
    const g = grads[seq.name];
    expect(g.shape).toEqual([2, 3, m.config.caption.dim]);
    const gd = g.dataSync();
    expect(gd.every(Number.isFinite)).toBe(true);
    expect(Math.max(...gd.map(Math.abs))).toBeGreaterThan(0);
    expect(value.dataSync()[0]).toBeGreaterThan(0);
    tf.dispose([value, g, seq, mask]);
    clearAttentionCache();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('the same seed gives the same loss; timesteps can be given', () => {
    const x = normalArray(per, 1, mulberry32(5));
    const f = (o: { seed: number; t?: number[] }) => tf.tidy(() => m.loss(x, m.encodeCaption('a cat'), o).dataSync()[0]);
    expect(f({ seed: 1 })).toBe(f({ seed: 1 }));
    expect(f({ seed: 1, t: [10] })).not.toBe(f({ seed: 1, t: [900] }));
    expect(() => f({ seed: 1, t: [0] })).toThrow('loss: t must hold 1 integer timesteps in [1, 1000], got [0]');
  });
});

describe('bad options are named', () => {
  test.each([
    [{}, "sample: cond is required (a caption, a list of captions, or {seq, mask}; '' is the null conditioning)"],
    [{ cond: 'x', steps: 0 }, 'sample: steps must be an integer in [1, 1000], got 0'],
    [{ cond: 'x', steps: 1001 }, 'sample: steps must be an integer in [1, 1000], got 1001'],
    [{ cond: 'x', cfgScale: NaN }, 'sample: cfgScale must be a finite number, got NaN'],
    [{ cond: 'x', sampler: 'euler' }, 'sample: sampler must be \'ddim\' or \'ddpm\', got "euler"'],
    [{ cond: 'x', eta: 2 }, 'sample: eta must be a number in [0, 1], got 2'],
    [{ cond: 'x', sampler: 'ddpm', eta: 0.5 }, 'sample: eta is an option of the ddim sampler (ddpm is η = 1)'],
    [{ cond: 'x', seed: -1 }, 'sample: seed must be a non-negative integer, got -1'],
    [{ cond: 'x', numImages: 0 }, 'sample: numImages must be a positive integer, got 0'],
    [{ cond: [] }, 'sample: cond must be a caption, a non-empty list of captions, or {seq, mask}'],
    [{ cond: 'x', negCond: 5 }, 'sample: negCond must be a caption, a non-empty list of captions, or {seq, mask}'],
    [{ cond: ['a', 'b'], numImages: 2 }, 'sample: numImages repeats a single conditioning; cond already has 2'],
    [{ cond: ['a', 'b', 'c'], negCond: ['x', 'y'] }, 'sample: negCond has batch 2, cond has 3 (give one negative per conditional, or one for all)'],
  ])('%j', async (opts, message) => {
    clearAttentionCache();
    const before = tf.memory().numTensors;
    await expect(m.sample(opts as never)).rejects.toThrow(message);
    clearAttentionCache();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('a conditioning of the wrong width', async () => {
    const c = { seq: tf.zeros([1, 3, 7]) as tf.Tensor3D, mask: tf.ones([1, 3]) as tf.Tensor2D };
    await expect(m.sample({ cond: c })).rejects.toThrow(`sample: cond.seq must have shape [B, L, ${m.config.caption.dim}], got [1,3,7]`);
    tf.dispose([c.seq, c.mask]);
  });
});
