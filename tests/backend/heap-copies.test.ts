/**
 * backend/host-copy.ts heapCopies (cut and paste inside the wasm heap) and what uses it, model/linear.ts's
 * per-batch products: copies land where asked and nowhere else, bad ranges are named, other backends (and the
 * route switched off) get null, and batchMatMul's values and gradients through the heap are the host route's
 * bits, with no tensor left behind.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { heapCopies, heapRoute } from '../../kernel-lib/backend/host-copy';
import { batchMatMul } from '../../kernel-lib/model/linear';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';
import { sameBits } from '../helpers/grads';

beforeAll(() => useBackend('wasm'));

test('copy moves exactly the asked values between tensors; empty gives a tensor of the shape; ranges and dtypes are checked', () => {
  const heap = heapCopies();
  expect(heap).not.toBeNull();
  const h = heap!;
  const before = tf.memory().numTensors;
  const src = tf.tensor1d(Float32Array.from({ length: 10 }, (_, i) => i + 1));
  const dst = h.empty([2, 4]);
  expect(dst.shape).toEqual([2, 4]);
  h.copy(src, 0, dst, 0, 8); // every value of dst
  h.copy(src, 7, dst, 1, 3); // then three of them again: [8, 9, 10] at 1..3
  expect(Array.from(dst.dataSync())).toEqual([1, 8, 9, 10, 5, 6, 7, 8]);
  expect(Array.from(src.dataSync())).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]); // the source is untouched
  expect(() => h.copy(src, 8, dst, 0, 3)).toThrow('heapCopies: the source [8, 11) is outside its 10 values');
  expect(() => h.copy(src, 0, dst, 6, 3)).toThrow('heapCopies: the destination [6, 9) is outside its 8 values');
  const ints = tf.tensor1d([1, 2], 'int32');
  expect(() => h.copy(ints, 0, dst, 0, 2)).toThrow('heapCopies: the source must be float32, got int32');
  tf.dispose([src, dst, ints]);
  expect(tf.memory().numTensors).toBe(before);
});

test('null on the cpu backend and with the heap route off', async () => {
  heapRoute.enabled = false;
  try {
    expect(heapCopies()).toBeNull();
  } finally {
    heapRoute.enabled = true;
  }
  await tf.setBackend('cpu');
  try {
    expect(heapCopies()).toBeNull();
  } finally {
    await tf.setBackend('wasm');
  }
  expect(heapCopies()).not.toBeNull();
});

test.each([
  ['attention scores', [6, 70, 16], [6, 16, 70]], // forward and da per batch entry, db ([16, 70]·[70, 70]) batched
  ['attention output', [6, 70, 70], [6, 70, 64]], // every product ≥ 64×64 outputs a batch entry: all take the per-batch route
] as const)('batchMatMul (%s): through the heap, values and both gradients are the host route\'s bits; nothing leaks', (_what, sa, sb) => {
  const rand = mulberry32(4);
  const a = tf.tensor3d(normalArray(sa[0] * sa[1] * sa[2], 1, rand), [...sa]);
  const b = tf.tensor3d(normalArray(sb[0] * sb[1] * sb[2], 1, rand), [...sb]);
  const dy = tf.tensor3d(normalArray(sa[0] * sa[1] * sb[2], 1, rand), [sa[0], sa[1], sb[2]]);
  const run = (): Float32Array[] => {
    const out: Float32Array[] = [];
    tf.tidy(() => {
      const r = tf.engine().gradients(() => {
        const y = batchMatMul(a, b);
        out.push(Float32Array.from(y.dataSync() as Float32Array));
        return tf.sum(tf.mul(y, dy)) as tf.Scalar;
      }, [a, b]);
      for (const g of r.grads) out.push(Float32Array.from(g.dataSync() as Float32Array));
    });
    return out;
  };
  run(); // warm
  const before = tf.memory().numTensors;
  const viaHeap = run();
  expect(tf.memory().numTensors).toBe(before);
  heapRoute.enabled = false;
  let viaHost: Float32Array[];
  try {
    viaHost = run();
  } finally {
    heapRoute.enabled = true;
  }
  expect(viaHeap.map((x, i) => sameBits(x, viaHost[i]))).toEqual([true, true, true]);
  expect(viaHeap[0].some((v) => v !== 0)).toBe(true);
  tf.dispose([a, b, dy]);
});
