/**
 * Attention in both forms (one block-diagonal 2-D matMul; batched matMuls) against a float64 reference
 * written with loops, with and without a key padding mask; the forms' gradients agree; padding keys
 * holding any values change nothing.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { attention, clearAttentionCache, keyBiasFromMask } from '../../kernel-lib/diffusion/attention';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';
import { maxAbsDiff } from './helpers';

beforeAll(() => useBackend());

/** softmax(q kᵀ/√hd + bias) v per (batch, head), float64 loops. mask [B·S] 1 = key present. */
function reference(q: Float32Array, k: Float32Array, v: Float32Array, B: number, T: number, S: number, h: number, d: number, mask: Float32Array | null): Float64Array {
  const hd = d / h;
  const out = new Float64Array(B * T * d);
  for (let b = 0; b < B; b++) {
    for (let hh = 0; hh < h; hh++) {
      for (let t = 0; t < T; t++) {
        const s = new Float64Array(S);
        let mx = -Infinity;
        for (let j = 0; j < S; j++) {
          if (mask && mask[b * S + j] === 0) {
            s[j] = -Infinity;
            continue;
          }
          let dot = 0;
          for (let e = 0; e < hd; e++) dot += q[(b * T + t) * d + hh * hd + e] * k[(b * S + j) * d + hh * hd + e];
          s[j] = dot / Math.sqrt(hd);
          mx = Math.max(mx, s[j]);
        }
        let z = 0;
        for (let j = 0; j < S; j++) z += (s[j] = Math.exp(s[j] - mx));
        for (let e = 0; e < hd; e++) {
          let acc = 0;
          for (let j = 0; j < S; j++) acc += (s[j] / z) * v[(b * S + j) * d + hh * hd + e];
          out[(b * T + t) * d + hh * hd + e] = acc;
        }
      }
    }
  }
  return out;
}

const shapes = [
  { B: 2, T: 16, S: 16, h: 4, d: 32 },
  { B: 3, T: 8, S: 5, h: 2, d: 16 },
  { B: 1, T: 64, S: 25, h: 4, d: 64 },
];

describe.each(shapes)('attention B=$B T=$T S=$S heads=$h d=$d', ({ B, T, S, h, d }) => {
  const rand = mulberry32(B * 100 + T);
  const q = normalArray(B * T * d, 1, rand);
  const k = normalArray(B * S * d, 1, rand);
  const v = normalArray(B * S * d, 1, rand);
  const mask = Float32Array.from({ length: B * S }, (_, i) => (i % S === 0 || rand() < 0.6 ? 1 : 0)); // every row keeps a key

  test.each([['block'], ['batched']] as const)('%s form equals the float64 reference, with and without a mask', (form) => {
    for (const m of [null, mask]) {
      const out = tf.tidy(() => {
        const bias = m ? keyBiasFromMask(tf.tensor2d(m, [B, S])) : null;
        return attention(tf.tensor2d(q, [B * T, d]), tf.tensor2d(k, [B * S, d]), tf.tensor2d(v, [B * S, d]), B, h, bias, form);
      });
      expect(out.shape).toEqual([B * T, d]);
      expect(maxAbsDiff(out.dataSync(), reference(q, k, v, B, T, S, h, d, m))).toBeLessThan(1e-4);
      out.dispose();
    }
  });

  test('padded keys with any values change nothing', () => {
    const k2 = k.slice();
    const v2 = v.slice();
    mask.forEach((mk, i) => {
      if (mk === 0) for (let e = 0; e < d; e++) (k2[i * d + e] = 1e3 * (e + 1)), (v2[i * d + e] = -1e3);
    });
    for (const form of ['block', 'batched'] as const) {
      const [a, b] = tf.tidy(() => {
        const bias = keyBiasFromMask(tf.tensor2d(mask, [B, S]));
        const run = (kk: Float32Array, vv: Float32Array) => attention(tf.tensor2d(q, [B * T, d]), tf.tensor2d(kk, [B * S, d]), tf.tensor2d(vv, [B * S, d]), B, h, bias, form);
        return [run(k, v), run(k2, v2)];
      });
      expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBe(0);
      tf.dispose([a, b]);
    }
  });

  test('gradients of both forms agree', () => {
    const grads = (['block', 'batched'] as const).map((form) =>
      tf.tidy(() => {
        const bias = keyBiasFromMask(tf.tensor2d(mask, [B, S]));
        const w = tf.tensor2d(normalArray(B * T * d, 1, mulberry32(5)), [B * T, d]);
        const g = tf.grads((qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) => tf.sum(tf.mul(attention(qq as tf.Tensor2D, kk as tf.Tensor2D, vv as tf.Tensor2D, B, h, bias, form), w)));
        return g([tf.tensor2d(q, [B * T, d]), tf.tensor2d(k, [B * S, d]), tf.tensor2d(v, [B * S, d])]);
      }),
    );
    for (let i = 0; i < 3; i++) expect(maxAbsDiff(grads[0][i].dataSync(), grads[1][i].dataSync())).toBeLessThan(1e-4);
    tf.dispose(grads.flat());
  });
});

test('no tensors left behind (after the block-mask cache is cleared)', () => {
  clearAttentionCache();
  const before = tf.memory().numTensors;
  tf.tidy(() => attention(tf.ones([32, 16]), tf.ones([20, 16]), tf.ones([20, 16]), 2, 2, null, 'block')).dispose();
  clearAttentionCache();
  expect(tf.memory().numTensors).toBe(before);
});
