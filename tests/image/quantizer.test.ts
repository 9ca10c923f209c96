/**
 * The vector quantiser: nearest code against brute force, the EMA update against a float64 reference
 * written out here from the formulas, dead-code restarts, and the usage statistics.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../kernel-lib/backend/backend';
import { CodebookEma, codeUsage, detach, nearestCodes } from '../../kernel-lib/image/quantizer';
import { mulberry32 } from '../../kernel-lib/util/random';
import { seeded } from '../helpers/random';

beforeAll(async () => {
  await initBackend('wasm');
});

function bruteNearest(z: Float32Array, e: Float32Array, n: number, k: number, d: number): { codes: number[]; gap: number } {
  const codes: number[] = [];
  let gap = Infinity; // smallest margin between the best and second-best distance
  for (let i = 0; i < n; i++) {
    const dist: number[] = [];
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += (z[i * d + t] - e[j * d + t]) ** 2;
      dist.push(s);
    }
    const order = dist.map((v, j) => [v, j]).sort((a, b) => a[0] - b[0]);
    codes.push(order[0][1]);
    gap = Math.min(gap, order[1][0] - order[0][0]);
  }
  return { codes, gap };
}

test('nearestCodes picks the same code as a float64 brute force', () => {
  const [n, k, d] = [300, 40, 6];
  const z = seeded(n * d, 1).map((v) => v * 4);
  const e = seeded(k * d, 2).map((v) => v * 4);
  const ref = bruteNearest(z, e, n, k, d);
  const got = tf.tidy(() => Array.from(nearestCodes(tf.tensor2d(z, [n, d]), tf.tensor2d(e, [k, d])).dataSync()));
  const agree = got.filter((c, i) => c === ref.codes[i]).length;
  // float32 can only disagree on near-ties; with this data the closest runner-up is far enough
  expect(ref.gap).toBeGreaterThan(1e-4);
  expect(agree).toBe(n);
});

test('a code vector is its own nearest code (exact, including the first and last)', () => {
  const [k, d] = [17, 5];
  const e = seeded(k * d, 3);
  const got = tf.tidy(() => Array.from(nearestCodes(tf.tensor2d(e, [k, d]), tf.tensor2d(e, [k, d])).dataSync()));
  expect(got).toEqual(Array.from({ length: k }, (_, i) => i));
});

test('detach copies values and cuts the gradient', () => {
  tf.tidy(() => {
    const x = tf.tensor1d([1, 2, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.add(tf.mul(t, 2), detach(tf.mul(t, t)))))(x);
    expect(Array.from(g.dataSync())).toEqual([2, 2, 2]);
    expect(Array.from(detach(tf.mul(x, x)).dataSync())).toEqual([1, 4, 9]);
  });
});

describe('CodebookEma', () => {
  /** The update written out directly from the formulas in float64. */
  function reference(
    n0: number[], m0: number[][], z: number[][], codes: number[], gamma: number, eps: number,
  ): { n: number[]; m: number[][]; e: number[][] } {
    const K = n0.length;
    const counts = Array.from({ length: K }, (_, k) => codes.filter((c) => c === k).length);
    const sums = Array.from({ length: K }, (_, k) => m0[0].map((_, t) => codes.reduce((s, c, i) => (c === k ? s + z[i][t] : s), 0)));
    const n = n0.map((v, k) => gamma * v + (1 - gamma) * counts[k]);
    const m = m0.map((row, k) => row.map((v, t) => gamma * v + (1 - gamma) * sums[k][t]));
    const total = n.reduce((a, b) => a + b, 0);
    const e = m.map((row, k) => row.map((v) => v / (((n[k] + eps) / (total + K * eps)) * total)));
    return { n, m, e };
  }

  test('one update matches the float64 reference (cluster sizes, sums, smoothed codebook)', () => {
    const gamma = 0.9;
    const eps = 1e-3;
    const ema = new CodebookEma(3, 2, { decay: gamma, epsilon: eps });
    const init = [0.5, -1, 2, 0.25, -0.75, 1.5];
    ema.initFrom(init);
    const z = [[1, 2], [3, -1], [0.5, 0.5], [-2, 4], [1, 1]];
    const codes = [0, 0, 2, 0, 2]; // code 1 unused
    const counts = ema.update(z.flat(), codes, 7);
    expect(Array.from(counts)).toEqual([3, 0, 2]);
    const ref = reference([1, 1, 1], [[0.5, -1], [2, 0.25], [-0.75, 1.5]], z, codes, gamma, eps);
    for (let k = 0; k < 3; k++) {
      expect(ema.clusterSize[k]).toBeCloseTo(ref.n[k], 12);
      for (let t = 0; t < 2; t++) expect(ema.embedSum[k * 2 + t]).toBeCloseTo(ref.m[k][t], 12);
    }
    const e = ema.codebook();
    for (let k = 0; k < 3; k++) for (let t = 0; t < 2; t++) expect(e[k * 2 + t]).toBeCloseTo(ref.e[k][t], 5);
    expect(Array.from(ema.lastUsed)).toEqual([7, 0, 7]);
  });

  test('a code with a vanishing cluster size keeps a finite vector (Laplace smoothing)', () => {
    const ema = new CodebookEma(2, 1, { decay: 0.5, epsilon: 1e-5 });
    ema.initFrom([1, 2]);
    for (let s = 1; s <= 60; s++) ema.update([3], [0], s); // code 1 never used: N_1 → 0
    const e = ema.codebook();
    expect(Number.isFinite(e[1])).toBe(true);
    expect(e[0]).toBeCloseTo(3, 4);
  });

  test('dead codes are restarted from rows of the batch, deterministically; live codes are untouched', () => {
    const ema = new CodebookEma(4, 2);
    ema.initFrom([0, 0, 1, 1, 2, 2, 3, 3], 0);
    const z = [10, 11, 20, 21, 30, 31];
    for (let s = 1; s <= 5; s++) ema.update([0.1, 0.1], [0], s); // only code 0 is used
    expect(ema.deadCodes(5, 5)).toEqual([1, 2, 3]);
    expect(ema.deadCodes(5, 6)).toEqual([]);
    const before0 = ema.embedSum.slice(0, 2);
    const restarted = ema.restartDead(z, 5, 5, mulberry32(42));
    expect(restarted).toEqual([1, 2, 3]);
    expect(Array.from(ema.embedSum.slice(0, 2))).toEqual(Array.from(before0));
    const rows = [[10, 11], [20, 21], [30, 31]].map((r) => r.join(','));
    for (const k of [1, 2, 3]) {
      expect(rows).toContain(`${ema.embedSum[2 * k]},${ema.embedSum[2 * k + 1]}`);
      expect(ema.clusterSize[k]).toBe(1);
      expect(ema.lastUsed[k]).toBe(5);
    }
    // same generator seed, same choices
    const again = new CodebookEma(4, 2);
    again.initFrom([0, 0, 1, 1, 2, 2, 3, 3], 0);
    for (let s = 1; s <= 5; s++) again.update([0.1, 0.1], [0], s);
    again.restartDead(z, 5, 5, mulberry32(42));
    expect(Array.from(again.embedSum)).toEqual(Array.from(ema.embedSum));
    expect(ema.deadCodes(5, 1)).toEqual([]);
  });

  test('bad input is rejected with a clear message', () => {
    const ema = new CodebookEma(3, 2);
    expect(() => ema.update([1, 2, 3], [0, 1], 1)).toThrow('CodebookEma: z has 3 values, expected 4');
    expect(() => ema.update([1, 2], [3], 1)).toThrow('CodebookEma.update: code 3 at row 0 is outside [0, 3)');
    expect(() => ema.initFrom([1])).toThrow('CodebookEma: codebook has 1 values, expected 6');
  });
});

test('codeUsage: perplexity is exp(entropy) of the histogram, live fraction counts codes used', () => {
  const uniform = codeUsage([0, 1, 2, 3, 0, 1, 2, 3], 8);
  expect(uniform.perplexity).toBeCloseTo(4, 10);
  expect(uniform.used).toBe(4);
  expect(uniform.liveFraction).toBe(0.5);
  expect(codeUsage([5, 5, 5], 8).perplexity).toBeCloseTo(1, 12);
  const skew = codeUsage([0, 0, 0, 1], 2);
  expect(skew.perplexity).toBeCloseTo(Math.exp(-(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25))), 12);
  expect(() => codeUsage([0, 9], 8)).toThrow('codeUsage: code 9 is outside [0, 8)');
});

test('nearestCodes leaks no tensors', () => {
  const z = tf.randomNormal([10, 3]) as tf.Tensor2D;
  const e = tf.randomNormal([4, 3]) as tf.Tensor2D;
  const before = tf.memory().numTensors;
  nearestCodes(z, e).dispose();
  detach(z).dispose();
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([z, e]);
});
