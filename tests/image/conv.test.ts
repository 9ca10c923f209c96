/**
 * The wasm-fast convolution ops (conv3x3 with a custom gradient, conv1x1, space-to-depth, the 3-D
 * transpose form) against TF.js's stock ops and gradients on the cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../kernel-lib/backend/backend';
import { conv1x1, conv3x3, depthToSpace2, im2col3x3, spaceToDepth2 } from '../../kernel-lib/image/conv';
import { transpose2d } from '../../kernel-lib/util/transpose';
import { maxAbsDiff } from '../helpers/backend';
import { seeded } from '../helpers/random';

type Case = { b: number; h: number; w: number; cin: number; cout: number };
const CASES: Case[] = [
  { b: 2, h: 5, w: 4, cin: 3, cout: 4 },
  { b: 3, h: 8, w: 8, cin: 12, cout: 16 },
  { b: 1, h: 1, w: 3, cin: 2, cout: 2 },
];

/** Forward value and gradients of sum(conv(x, w) · dy) w.r.t. x and w. */
async function convGrads(backend: 'cpu' | 'wasm', custom: boolean, c: Case): Promise<Float32Array[]> {
  await initBackend(backend);
  return tf.tidy(() => {
    const x = tf.tensor4d(seeded(c.b * c.h * c.w * c.cin, 1), [c.b, c.h, c.w, c.cin]);
    const w = tf.tensor4d(seeded(9 * c.cin * c.cout, 2), [3, 3, c.cin, c.cout]);
    const dy = tf.tensor4d(seeded(c.b * c.h * c.w * c.cout, 3), [c.b, c.h, c.w, c.cout]);
    const f = (p: tf.Tensor, q: tf.Tensor): tf.Tensor4D =>
      custom ? conv3x3(p as tf.Tensor4D, q as tf.Tensor4D) : tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, 1, 'same');
    const y = f(x, w);
    const [dx, dw] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(f(p, q), dy)))([x, w]);
    return [y, dx, dw].map((t) => t.dataSync() as Float32Array);
  });
}

describe('conv3x3 (custom gradient) = tf.conv2d on cpu', () => {
  for (const c of CASES) {
    test(`forward, dx and dW for B=${c.b} ${c.h}×${c.w} ${c.cin}→${c.cout}`, async () => {
      const ref = await convGrads('cpu', false, c);
      for (const backend of ['wasm', 'cpu'] as const) {
        const got = await convGrads(backend, true, c);
        ['y', 'dx', 'dW'].forEach((name, i) => expect([backend, name, maxAbsDiff(got[i], ref[i]) < 1e-4]).toEqual([backend, name, true]));
      }
    });
  }
});

test('im2col3x3 lays out columns (c, kh, kw) with zero padding', async () => {
  await initBackend('wasm');
  const [b, h, w, c] = [2, 3, 4, 2];
  const xs = seeded(b * h * w * c, 7);
  const cols = tf.tidy(() => im2col3x3(tf.tensor4d(xs, [b, h, w, c])).arraySync());
  const at = (bb: number, y: number, x: number, ch: number): number => (y < 0 || y >= h || x < 0 || x >= w ? 0 : xs[((bb * h + y) * w + x) * c + ch]);
  let worst = 0;
  for (let bb = 0; bb < b; bb++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const row = cols[(bb * h + y) * w + x];
        for (let ch = 0; ch < c; ch++) {
          for (let k = 0; k < 9; k++) worst = Math.max(worst, Math.abs(row[ch * 9 + k] - at(bb, y + Math.floor(k / 3) - 1, x + (k % 3) - 1, ch)));
        }
      }
    }
  }
  expect(worst).toBe(0);
});

test('conv1x1 forward and gradients = matMul on cpu', async () => {
  const xs = seeded(2 * 4 * 4 * 6, 11);
  const ws = seeded(6 * 5, 12);
  const dys = seeded(2 * 4 * 4 * 5, 13);
  const run = async (backend: 'cpu' | 'wasm', custom: boolean): Promise<Float32Array[]> => {
    await initBackend(backend);
    return tf.tidy(() => {
      const x = tf.tensor4d(xs, [2, 4, 4, 6]);
      const w = tf.tensor2d(ws, [6, 5]);
      const dy = tf.tensor4d(dys, [2, 4, 4, 5]);
      const f = (p: tf.Tensor, q: tf.Tensor): tf.Tensor =>
        custom ? conv1x1(p as tf.Tensor4D, q as tf.Tensor2D) : tf.reshape(tf.matMul(tf.reshape(p, [32, 6]), q as tf.Tensor2D), [2, 4, 4, 5]);
      const g = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(f(p, q), dy)))([x, w]);
      return [f(x, w), ...g].map((t) => t.dataSync() as Float32Array);
    });
  };
  const ref = await run('cpu', false);
  const got = await run('wasm', true);
  for (let i = 0; i < 3; i++) expect([i, maxAbsDiff(got[i], ref[i]) < 1e-5]).toEqual([i, true]);
});

test('spaceToDepth2 / depthToSpace2 are inverse, match tf.depthToSpace, and have transposes as gradients', async () => {
  await initBackend('wasm');
  const xs = seeded(2 * 4 * 6 * 3, 21);
  tf.tidy(() => {
    const x = tf.tensor4d(xs, [2, 4, 6, 3]);
    const s = spaceToDepth2(x); // [2, 2, 3, 12]
    expect(s.shape).toEqual([2, 2, 3, 12]);
    // channel (dy·2 + dx)·C + c holds pixel (2i + dy, 2j + dx)
    const sv = s.arraySync();
    expect(sv[1][1][2][(1 * 2 + 0) * 3 + 2]).toBeCloseTo(xs[((1 * 4 + 3) * 6 + 4) * 3 + 2], 6);
    expect(maxAbsDiff(depthToSpace2(s).dataSync(), xs)).toBe(0);
    expect(maxAbsDiff(depthToSpace2(s).dataSync(), tf.depthToSpace(s, 2).dataSync())).toBe(0);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(spaceToDepth2(t as tf.Tensor4D), s)))(x);
    expect(maxAbsDiff(g.dataSync(), xs)).toBe(0);
  });
});

test('transpose2d equals tf.transpose for even, odd and tiny row counts', async () => {
  await initBackend('wasm');
  for (const [r, c] of [[10, 3], [7, 5], [2, 4], [64, 33]]) {
    tf.tidy(() => {
      const x = tf.tensor2d(seeded(r * c, r), [r, c]);
      expect([r, c, maxAbsDiff(transpose2d(x).dataSync(), tf.transpose(x).dataSync())]).toEqual([r, c, 0]);
      expect(transpose2d(x).shape).toEqual([c, r]);
    });
  }
});

test('conv ops leak no tensors', async () => {
  await initBackend('wasm');
  const x = tf.randomNormal([2, 4, 4, 3]) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 3, 4]) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(conv3x3(p as tf.Tensor4D, q as tf.Tensor4D)))([x, w]);
  });
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([x, w]);
});
