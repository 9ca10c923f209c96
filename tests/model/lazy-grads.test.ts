/**
 * util/lazy-grad.ts and the custom-gradient ops of model/linear.ts built on it: the tape computes an input's
 * gradient only when that input is differentiated (a frozen weight costs no gradient work). With one input
 * frozen, the other's gradient is bit-identical to the one computed with both trained, and to the eager
 * form's products (the formulas the ops computed before, written out here); it agrees with a float64
 * reference; the frozen input's products are not run (tf.profile's kernel list); no tensor leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { countOutputs, matMulsOf, sameBits } from '../helpers/grads';
import { lazyCustomGrad } from '../../kernel-lib/util/lazy-grad';
import { linear, batchMatMul, embeddingLookup } from '../../kernel-lib/model/linear';
import { transpose2d } from '../../kernel-lib/util/transpose';
import { mulberry32 } from '../../kernel-lib/util/random';

function rnd(n: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => rand() * 2 - 1);
}

/** c = a · b in float64 for a [m, k], b [k, n] (row-major); `ta`/`tb` read a or b transposed. */
function matMul64(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number, ta = false, tb = false): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
      c[i * n + j] = s;
    }
  }
  return c;
}

/**
 * Gradients of sum(op(...inputs) ⊙ D) w.r.t. the trained inputs (so the op's upstream gradient is exactly D),
 * by name, read to the host. Every input is a variable; `trained` is the varList.
 */
function gradsOf(inputs: Record<string, tf.Tensor>, op: (v: Record<string, tf.Tensor>) => tf.Tensor, D: tf.Tensor, trained: string[]): Record<string, Float32Array> {
  const vars = Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, tf.variable(t, true, `lazy-${n}-${Math.random()}`)]));
  try {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(op(vars), D)), trained.map((n) => vars[n]));
    value.dispose();
    const out: Record<string, Float32Array> = {};
    for (const n of trained) out[n] = grads[vars[n].name].dataSync() as Float32Array;
    tf.dispose(Object.values(grads));
    return out;
  } finally {
    tf.dispose(Object.values(vars));
  }
}

describe('lazyCustomGrad', () => {
  beforeAll(() => useBackend('wasm'));

  /** y = a ⊙ b whose gradient functions count their calls. */
  function countingMul(calls: { a: number; b: number }) {
    return lazyCustomGrad<[a: tf.Tensor, b: tf.Tensor], tf.Tensor>(([a, b], save) => {
      save([a, b]);
      return {
        value: tf.mul(a, b),
        gradFunc: (dy, [as, bs]) => [
          () => (calls.a++, tf.mul(dy, bs)),
          () => (calls.b++, tf.mul(dy, as)),
        ],
      };
    });
  }

  test('the tape calls the gradient function of each differentiated input only, and nothing leaks', () => {
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.tensor1d([4, -5, 6]);
    const before = tf.memory().numTensors;
    const run = (f: (mul: ReturnType<typeof countingMul>) => tf.Tensor[]) => {
      const calls = { a: 0, b: 0 };
      const g = f(countingMul(calls));
      const values = g.map((t) => Array.from(t.dataSync()));
      tf.dispose(g);
      return { calls, values };
    };
    expect(run((mul) => [tf.grad((t: tf.Tensor) => tf.sum(mul(t, b)))(a)])).toEqual({ calls: { a: 1, b: 0 }, values: [[4, -5, 6]] });
    expect(run((mul) => [tf.grad((t: tf.Tensor) => tf.sum(mul(a, t)))(b)])).toEqual({ calls: { a: 0, b: 1 }, values: [[1, 2, 3]] });
    expect(run((mul) => tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(mul(p, q)))([a, b]))).toEqual({ calls: { a: 1, b: 1 }, values: [[4, -5, 6], [1, 2, 3]] });
    // not on the path from x to y at all: no gradient function runs
    const c = tf.scalar(2);
    expect(run((mul) => [tf.grad((t: tf.Tensor) => tf.add(tf.sum(mul(a, b)), t))(c)])).toEqual({ calls: { a: 0, b: 0 }, values: [[1]] });
    tf.dispose(c);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
  });

  test('a value outside a gradient scope is the forward alone; a wrong number of gradient functions is named', () => {
    const one = lazyCustomGrad<[a: tf.Tensor, b: tf.Tensor], tf.Tensor>(([a, b]) => ({ value: tf.add(a, b), gradFunc: (dy) => [() => dy] }));
    const before = tf.memory().numTensors;
    const [p, q] = [tf.scalar(1), tf.scalar(2)];
    const y = one(p, q);
    expect(y.dataSync()[0]).toBe(3);
    tf.dispose([p, q, y]);
    expect(() => tf.tidy(() => tf.grad((t: tf.Tensor) => one(t, tf.scalar(2)))(tf.scalar(1)))).toThrow('lazyCustomGrad: gradFunc returned 1 gradient functions for 2 inputs');
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe.each(['cpu', 'wasm'] as const)('on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('linear: with x or W frozen, the other gradient is bit-identical and the frozen one is not computed', async () => {
    const [N, In, Out] = [6, 5, 7];
    const x = rnd(N * In, 1);
    const w = rnd(In * Out, 2);
    const d = rnd(N * Out, 3);
    const before = tf.memory().numTensors;
    const X = tf.tensor2d(x, [N, In]);
    const W = tf.tensor2d(w, [In, Out]);
    const D = tf.tensor2d(d, [N, Out]);
    const op = (v: Record<string, tf.Tensor>) => linear(v.x as tf.Tensor2D, v.w as tf.Tensor2D);
    const both = gradsOf({ x: X, w: W }, op, D, ['x', 'w']);
    const onlyX = gradsOf({ x: X, w: W }, op, D, ['x']);
    const onlyW = gradsOf({ x: X, w: W }, op, D, ['w']);
    // the eager gradient's products: dx = D · transpose2d(W), dW = transpose2d(X) · D
    const eager = tf.tidy(() => [tf.matMul(D, transpose2d(W)), tf.matMul(transpose2d(X), D)].map((t) => t.dataSync() as Float32Array));
    expect(sameBits(onlyX.x, both.x)).toBe(true);
    expect(sameBits(onlyX.x, eager[0])).toBe(true);
    expect(sameBits(onlyW.w, both.w)).toBe(true);
    expect(sameBits(onlyW.w, eager[1])).toBe(true);
    expect(maxAbsDiff(onlyX.x, matMul64(d, w, N, Out, In, false, true))).toBeLessThan(1e-5);
    expect(maxAbsDiff(onlyW.w, matMul64(x, d, In, N, Out, true, false))).toBeLessThan(1e-5);
    // the products run: forward [N, Out], dx [N, In], dW [In, Out]
    const mm = (trained: string[]) => matMulsOf(() => void gradsOf({ x: X, w: W }, op, D, trained));
    const [mmBoth, mmX, mmW] = [await mm(['x', 'w']), await mm(['x']), await mm(['w'])];
    expect([countOutputs(mmBoth, [N, In]), countOutputs(mmBoth, [In, Out])]).toEqual([1, 1]);
    expect([countOutputs(mmX, [N, In]), countOutputs(mmX, [In, Out])]).toEqual([1, 0]);
    expect([countOutputs(mmW, [N, In]), countOutputs(mmW, [In, Out])]).toEqual([0, 1]);
    // trainable = false (tf.variableGrads without a varList) freezes W the same way
    const vx = tf.variable(X, true);
    const vw = tf.variable(W, false);
    const g = tf.variableGrads(() => tf.sum(tf.mul(linear(vx, vw), D)));
    expect(Object.keys(g.grads)).toEqual([vx.name]);
    expect(sameBits(g.grads[vx.name].dataSync() as Float32Array, both.x)).toBe(true);
    tf.dispose([g.value, ...Object.values(g.grads), vx, vw, X, W, D]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test.each([
    ['batched kernel', [3, 4, 5, 2]],
    ['per-batch 2-D products', [2, 64, 64, 80]],
  ] as const)('batchMatMul (%s): with a or b frozen, the other gradient is bit-identical and the frozen one is not computed', async (_path, [B, M, K, N]) => {
    const a = rnd(B * M * K, 4);
    const b = rnd(B * K * N, 5);
    const d = rnd(B * M * N, 6);
    const before = tf.memory().numTensors;
    const A = tf.tensor3d(a, [B, M, K]);
    const Bt = tf.tensor3d(b, [B, K, N]);
    const D = tf.tensor3d(d, [B, M, N]);
    const op = (v: Record<string, tf.Tensor>) => batchMatMul(v.a as tf.Tensor3D, v.b as tf.Tensor3D);
    const both = gradsOf({ a: A, b: Bt }, op, D, ['a', 'b']);
    const onlyA = gradsOf({ a: A, b: Bt }, op, D, ['a']);
    const onlyB = gradsOf({ a: A, b: Bt }, op, D, ['b']);
    // Products with at least 64×64 outputs per batch entry run as B 2-D matMuls (model/linear.ts), smaller ones batched.
    const perBatch = (m: number, n: number) => B > 1 && m * n >= 64 * 64;
    // the eager gradient's products: da = dy · bᵀ [B, M, K], db = aᵀ · dy [B, K, N]
    const eager = tf.tidy(() => {
      const product = (p: tf.Tensor3D, q: tf.Tensor3D): Float32Array => {
        const [, m, k] = p.shape;
        const n = q.shape[2];
        if (!perBatch(m, n)) return tf.matMul(p, q).dataSync() as Float32Array;
        const ph = p.dataSync() as Float32Array;
        const qh = q.dataSync() as Float32Array;
        const out = new Float32Array(B * m * n);
        for (let i = 0; i < B; i++) out.set(tf.matMul(tf.tensor2d(ph.subarray(i * m * k, (i + 1) * m * k), [m, k]), tf.tensor2d(qh.subarray(i * k * n, (i + 1) * k * n), [k, n])).dataSync() as Float32Array, i * m * n);
        return out;
      };
      return [product(D, tf.transpose(Bt, [0, 2, 1])), product(tf.transpose(A, [0, 2, 1]), D)];
    });
    expect(sameBits(onlyA.a, both.a)).toBe(true);
    expect(sameBits(onlyA.a, eager[0])).toBe(true);
    expect(sameBits(onlyB.b, both.b)).toBe(true);
    expect(sameBits(onlyB.b, eager[1])).toBe(true);
    for (let i = 0; i < B; i++) {
      const di = d.subarray(i * M * N, (i + 1) * M * N);
      expect(maxAbsDiff(onlyA.a.subarray(i * M * K, (i + 1) * M * K), matMul64(di, b.subarray(i * K * N, (i + 1) * K * N), M, N, K, false, true))).toBeLessThan(1e-5);
      expect(maxAbsDiff(onlyB.b.subarray(i * K * N, (i + 1) * K * N), matMul64(a.subarray(i * M * K, (i + 1) * M * K), di, K, M, N, true, false))).toBeLessThan(1e-5);
    }
    // da's products have a's shape ([B, M, K], or [M, K] per batch entry), db's b's; the forward's are counted apart
    const shapeA = perBatch(M, K) ? [M, K] : [B, M, K];
    const shapeB = perBatch(K, N) ? [K, N] : [B, K, N];
    const counts = async (f: () => void) => {
      const calls = await matMulsOf(f);
      return [countOutputs(calls, shapeA), countOutputs(calls, shapeB)];
    };
    const [fa, fb] = await counts(() => tf.tidy(() => void op({ a: A, b: Bt })));
    const grads = async (trained: string[]) => (await counts(() => void gradsOf({ a: A, b: Bt }, op, D, trained))).map((c, i) => c - [fa, fb][i]);
    const nA = perBatch(M, K) ? B : 1;
    const nB = perBatch(K, N) ? B : 1;
    expect(await grads(['a', 'b'])).toEqual([nA, nB]);
    expect(await grads(['a'])).toEqual([nA, 0]);
    expect(await grads(['b'])).toEqual([0, nB]);
    tf.dispose([A, Bt, D]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('embeddingLookup: the table gradient is the row-order float32 scatter-add of dy; the ids are never differentiated', () => {
    const [V, H] = [9, 4];
    const ids = [3, 0, 3, 8, 1, 3];
    const t = rnd(V * H, 7);
    const d = rnd(ids.length * H, 8);
    const before = tf.memory().numTensors;
    const T = tf.tensor2d(t, [V, H]);
    const I = tf.tensor1d(ids, 'int32');
    const D = tf.tensor2d(d, [ids.length, H]);
    // the table and a weight after the lookup train; with the table frozen only the weight's gradient is asked
    const Wv = tf.tensor2d(rnd(H * 3, 9), [H, 3]);
    const D3 = tf.tensor2d(rnd(ids.length * 3, 10), [ids.length, 3]);
    const both = gradsOf({ t: T, w: Wv }, (v) => linear(embeddingLookup(I, v.t as tf.Tensor2D), v.w as tf.Tensor2D), D3, ['t', 'w']);
    const onlyW = gradsOf({ t: T, w: Wv }, (v) => linear(embeddingLookup(I, v.t as tf.Tensor2D), v.w as tf.Tensor2D), D3, ['w']);
    expect(sameBits(onlyW.w, both.w)).toBe(true);
    const g = gradsOf({ t: T }, (v) => embeddingLookup(I, v.t as tf.Tensor2D), D, ['t']).t;
    const want32 = new Float32Array(V * H); // the eager gradient: rows of dy added in row order, in float32
    const want64 = new Float64Array(V * H);
    ids.forEach((id, r) => {
      for (let j = 0; j < H; j++) {
        want32[id * H + j] += d[r * H + j];
        want64[id * H + j] += d[r * H + j];
      }
    });
    expect(sameBits(g, want32)).toBe(true);
    expect(maxAbsDiff(g, want64)).toBeLessThan(1e-6);
    tf.dispose([T, I, D, Wv, D3]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
