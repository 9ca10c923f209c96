/**
 * Backend selection, and the wasm workarounds (custom gradients for linear, batched matMul and
 * embedding lookup) checked against TF.js's stock gradients on the cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, currentDevice } from '../../kernel-lib/backend/backend';
import { linear, batchMatMul, embeddingLookup } from '../../kernel-lib/model/linear';
import { maxAbsDiff } from '../helpers/backend';
import { seeded } from '../helpers/random';

test('the default backend here is wasm with SIMD, reported on the device info', async () => {
  const d = await initBackend();
  expect(d.backend).toBe(process.env.SWITCHBOARD_BACKEND || 'wasm');
  expect(currentDevice()).toBe(d);
  if (d.backend === 'wasm') {
    expect(d.gpu).toBe(false);
    expect(d.threads).toBe(1);
    expect(d.simd).toBe(true);
    // tfjs-node(-gpu) cannot be installed offline, so they were tried first and skipped with a reason
    expect(d.skipped.map((s) => s.backend)).toEqual(['tensorflow-gpu', 'tensorflow']);
    expect(d.skipped[0].reason).toMatch(/Cannot find module '@tensorflow\/tfjs-node-gpu'/);
  }
});

test('an unknown or unloadable forced backend fails with what to do', async () => {
  await expect(initBackend('tpu')).rejects.toThrow("Unknown backend 'tpu' (from the backend option); expected one of tensorflow-gpu, tensorflow, wasm, cpu");
  await expect(initBackend('tensorflow-gpu')).rejects.toThrow(
    /^Backend 'tensorflow-gpu' was requested but could not load: Cannot find module '@tensorflow\/tfjs-node-gpu'.*To use it, install it with `npm install @tensorflow\/tfjs-node-gpu@4.22.0` on a machine with network access, an NVIDIA GPU, CUDA 11.2 and cuDNN 8.1/,
  );
  // the failed attempt did not change the backend in use
  expect(tf.getBackend()).toBe(currentDevice()?.tfBackend);
});

describe('wasm gradient workarounds match stock gradients on cpu', () => {
  const x = seeded(6 * 5, 1);
  const w = seeded(5 * 7, 2);
  const a = seeded(3 * 4 * 5, 3);
  const b = seeded(3 * 5 * 2, 4);
  const table = seeded(9 * 4, 5);
  const ids = [3, 0, 3, 8, 1];
  const dy = seeded(5 * 4, 6);

  async function grads(backend: 'cpu' | 'wasm', custom: boolean) {
    await initBackend(backend);
    return tf.tidy(() => {
      const X = tf.tensor2d(x, [6, 5]);
      const W = tf.tensor2d(w, [5, 7]);
      const A = tf.tensor3d(a, [3, 4, 5]);
      const Bt = tf.tensor3d(b, [3, 5, 2]);
      const T = tf.tensor2d(table, [9, 4]);
      const I = tf.tensor1d(ids, 'int32');
      const D = tf.tensor2d(dy, [5, 4]);
      const g1 = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(custom ? linear(p as tf.Tensor2D, q as tf.Tensor2D) : tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D))))([X, W]);
      const g2 = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(custom ? batchMatMul(p as tf.Tensor3D, q as tf.Tensor3D) : tf.matMul(p as tf.Tensor3D, q as tf.Tensor3D))))([A, Bt]);
      const g3 = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(custom ? embeddingLookup(I, t as tf.Tensor2D) : tf.gather(t, I), D)))(T);
      return [...g1, ...g2, g3].map((g) => g.dataSync() as Float32Array);
    });
  }

  test('linear, batchMatMul and embeddingLookup gradients (wasm custom) = stock gradients (cpu)', async () => {
    const ref = await grads('cpu', false);
    const got = await grads('wasm', true);
    for (let i = 0; i < ref.length; i++) expect([i, maxAbsDiff(got[i], ref[i]) < 1e-5]).toEqual([i, true]);
    // and the stock gather gradient really is missing on wasm: that is why the workaround exists
    await initBackend('wasm');
    expect(() => tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, tf.tensor1d([1], 'int32'))))(tf.ones([3, 2]))).toThrow(/UnsortedSegmentSum/);
  });
});

test('batchMatMul at attention-sized shapes (the per-batch 2-D path): value and gradients = stock matMul on cpu', async () => {
  // [3, 64, 8]·[3, 8, 64]: 64·64 outputs per batch entry, the size from which batchMatMul splits the batch
  const a = seeded(3 * 64 * 8, 11);
  const b = seeded(3 * 8 * 64, 12);
  const dy = seeded(3 * 64 * 64, 13);
  const run = async (backend: 'cpu' | 'wasm', custom: boolean) => {
    await initBackend(backend);
    return tf.tidy(() => {
      const f = (p: tf.Tensor, q: tf.Tensor) => (custom ? batchMatMul(p as tf.Tensor3D, q as tf.Tensor3D) : tf.matMul(p as tf.Tensor3D, q as tf.Tensor3D));
      const A = tf.tensor3d(a, [3, 64, 8]);
      const B = tf.tensor3d(b, [3, 8, 64]);
      const D = tf.tensor3d(dy, [3, 64, 64]);
      const g = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(f(p, q), D)))([A, B]);
      return [f(A, B), ...g].map((t) => t.dataSync() as Float32Array);
    });
  };
  const ref = await run('cpu', false);
  const got = await run('wasm', true);
  for (let i = 0; i < ref.length; i++) expect([i, maxAbsDiff(got[i], ref[i]) < 1e-4]).toEqual([i, true]);
});

test('a whole training run gives the same losses and weights on wasm as on cpu', async () => {
  const { MoEModel } = await import('../../kernel-lib/model/model');
  const { defaultMoEConfig } = await import('../../kernel-lib/model/config');
  const { train } = await import('../../kernel-lib/train/trainer');
  const cfg = defaultMoEConfig('tiny', { vocabSize: 40, maxPositions: 16, tieWordEmbeddings: true });
  const batches = (i: number) => ({ ids: [0, 1].map((b) => Array.from({ length: 9 }, (_, j) => (i * 5 + b * 11 + j * 3) % 40)) });
  const run = async (backend: 'cpu' | 'wasm') => {
    await initBackend(backend);
    const m = MoEModel.init(cfg, 4);
    const r = await train(m, { steps: 4, batches, lr: 3e-3, warmupSteps: 1 });
    const out = { losses: r.history.map((e) => e.loss), embed: m.p('embed').dataSync().slice() as Float32Array, router: m.p('blocks.1.moe.router').dataSync().slice() as Float32Array };
    m.dispose();
    return out;
  };
  const ref = await run('cpu');
  const got = await run('wasm');
  for (let i = 0; i < 4; i++) expect(got.losses[i]).toBeCloseTo(ref.losses[i], 4);
  expect(maxAbsDiff(got.embed, ref.embed)).toBeLessThan(1e-4);
  expect(maxAbsDiff(got.router, ref.router)).toBeLessThan(1e-4);
});
