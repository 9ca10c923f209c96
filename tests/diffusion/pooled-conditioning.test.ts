/**
 * pooledConditioning: the conditioning's mean over [null; c] (real tokens only), projected by
 * denoiser.cond_pool, added to c_t. Checked against a float64 host reference, shown to carry captions on its
 * own (cross-attention zeroed), absent from decoders without it, and the config field validated by name.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { maxAbsDiff, randomize, tinyConfig, tinyLdm } from './helpers';
import { diffusionParamShapes, validateDiffusionConfig, countDiffusionParams } from '../../kernel-lib/diffusion/config';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';
import type { LatentDiffusion } from '../../kernel-lib/diffusion/model';
import { clearAttentionCache } from '../../kernel-lib/diffusion/attention';

beforeAll(() => useBackend());

const per = 8 * 8 * 32;

/** ε̂ for one latent at t = 500 under each caption. */
function predictions(m: LatentDiffusion, captions: string[]): Float32Array[] {
  return captions.map((c) =>
    tf.tidy(() => {
      const zt = tf.tensor4d(normalArray(per, 1, mulberry32(5)), [1, 8, 8, 32]);
      return m.denoiser.forward(zt, [500], m.denoiser.prepareConditioning(m.encodeCaption(c))).dataSync() as Float32Array;
    }),
  );
}

test('parameters: cond_pool [d̂, d] only with the flag; a config without the field has none', () => {
  const on = tinyConfig();
  expect(on.pooledConditioning).toBe(true);
  const d = on.denoiser.dim;
  const dc = on.caption.dim;
  expect(diffusionParamShapes(on).get('denoiser.cond_pool.weight')).toEqual([dc, d]);
  expect(diffusionParamShapes(on).get('denoiser.cond_pool.bias')).toEqual([d]);
  const old = tinyConfig();
  delete old.pooledConditioning; // a decoder saved before the field existed
  validateDiffusionConfig(old);
  expect(diffusionParamShapes(old).has('denoiser.cond_pool.weight')).toBe(false);
  expect(countDiffusionParams(on).denoiser - countDiffusionParams(old).denoiser).toBe(dc * d + d);
  expect(() => validateDiffusionConfig({ ...on, pooledConditioning: 'yes' as unknown as boolean })).toThrow('LatentDiffusionConfig.pooledConditioning must be true, false or absent, got "yes"');
});

test('the pooled vector equals a float64 reference: mean of [null; real tokens] · W + b; the null conditioning pools to the null token', () => {
  const m = tinyLdm({ seed: 4 });
  try {
    randomize(m, 0.2, 6);
    const host = (name: string) => Array.from(m.params.get(name)?.dataSync() ?? []);
    const W = host('denoiser.cond_pool.weight');
    const b = host('denoiser.cond_pool.bias');
    const nul = host('denoiser.null_cond');
    const dc = m.config.caption.dim;
    const d = m.config.denoiser.dim;
    const reference = (rows: number[][]) => {
      const mean = new Array<number>(dc).fill(0);
      for (const r of rows) r.forEach((x, i) => (mean[i] += x / rows.length));
      return b.map((bj, j) => bj + mean.reduce((s, x, i) => s + x * W[i * d + j], 0));
    };
    clearAttentionCache();
    const before = tf.memory().numTensors;
    for (const caption of ['a cat to the left of a tree', '']) {
      const [seq, mask, pooled] = tf.tidy(() => {
        const c = caption ? m.encodeCaption(caption) : m.nullConditioning();
        const p = m.denoiser.prepareConditioning(c);
        return [c.seq.dataSync(), c.mask.dataSync(), (p.pooled as tf.Tensor2D).dataSync()];
      });
      const rows = [nul];
      mask.forEach((on, i) => on && rows.push(Array.from(seq.subarray(i * dc, (i + 1) * dc))));
      expect(rows.length).toBe(caption ? m.tokenizer.encode(caption).length + 1 : 1);
      expect(maxAbsDiff(pooled, reference(rows))).toBeLessThan(1e-4);
    }
    clearAttentionCache(); // the caption encoder's cached block masks
    expect(tf.memory().numTensors).toBe(before);
  } finally {
    m.dispose();
  }
});

test('with the cross-attention zeroed, captions still move ε̂ through the pooled route, and without it they do not', () => {
  for (const pooled of [true, false]) {
    const m = tinyLdm({ seed: 2, config: tinyConfig({ pooledConditioning: pooled }) });
    try {
      randomize(m, 0.2, 3);
      for (const [name, v] of m.params) if (/cross\.out\./.test(name)) v.assign(tf.zerosLike(v));
      const [a, c, n] = predictions(m, ['a red apple', 'a blue whale', '']);
      if (pooled) {
        expect(maxAbsDiff(a, c)).toBeGreaterThan(1e-3);
        expect(maxAbsDiff(a, n)).toBeGreaterThan(1e-3);
      } else {
        expect(maxAbsDiff(a, c)).toBe(0);
        expect(maxAbsDiff(a, n)).toBe(0);
      }
    } finally {
      m.dispose();
    }
  }
});
