/**
 * model/experts.ts and model/host-rows.ts: the grouped (sparse) expert path computes the dense path's sum
 * and gradients; host row gather / scatter-add and their gradients; grouping by expert.
 * Runs on the cpu backend (the reference) and on wasm (where the grouped path is used for training).
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { denseExperts, groupedExperts, groupByExpert } from '../../kernel-lib/model/experts';
import { columnsHost, gatherHost, gatherTransposedHost, scatterAddHost } from '../../kernel-lib/model/host-rows';
import { linear } from '../../kernel-lib/model/linear';
import { E, H, I, k, N, problem } from './experts-problem';

/** Float64 host reference: out[n] = Σ_e gate[n,e] · W2_e(silu(x W1_e) ⊙ x W3_e). */
function reference(p: ReturnType<typeof problem>): Float64Array {
  const out = new Float64Array(N * H);
  for (let n = 0; n < N; n++) {
    for (let e = 0; e < E; e++) {
      const g = p.gate[n * E + e];
      if (g === 0) continue;
      for (let i = 0; i < I; i++) {
        let a = 0;
        let b = 0;
        for (let h = 0; h < H; h++) {
          a += p.x[n * H + h] * p.w13[h * 2 * E * I + e * I + i];
          b += p.x[n * H + h] * p.w13[h * 2 * E * I + E * I + e * I + i];
        }
        const act = (a / (1 + Math.exp(-a))) * b;
        for (let h = 0; h < H; h++) out[n * H + h] += g * act * p.w2[(e * I + i) * H + h];
      }
    }
  }
  return out;
}

function run(p: ReturnType<typeof problem>, grouped: boolean): Float32Array[] {
  let res: Float32Array[] = [];
  tf.tidy(() => {
    const f = (x: tf.Tensor, w13: tf.Tensor, w2: tf.Tensor, gate: tf.Tensor): tf.Tensor2D =>
      grouped
        ? groupedExperts(x as tf.Tensor2D, w13 as tf.Tensor2D, w2 as tf.Tensor2D, gate as tf.Tensor2D, p.experts, k, E, I)
        : denseExperts(x as tf.Tensor2D, w13 as tf.Tensor2D, w2 as tf.Tensor2D, gate as tf.Tensor2D, E, I, linear);
    const ins = [tf.tensor2d(p.x, [N, H]), tf.tensor2d(p.w13, [H, 2 * E * I]), tf.tensor2d(p.w2, [E * I, H]), tf.tensor2d(p.gate, [N, E])];
    const dy = tf.tensor2d(p.dy, [N, H]);
    const out = f(ins[0], ins[1], ins[2], ins[3]);
    const grads = tf.grads((a, b, c, d) => tf.sum(tf.mul(f(a, b, c, d), dy)))(ins);
    res = [out, ...grads].map((t) => t.dataSync() as Float32Array);
  });
  return res;
}

describe.each(['cpu', 'wasm'] as const)('on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  test('grouped experts = dense experts = float64 reference, values and gradients', () => {
    const p = problem(1);
    const before = tf.memory().numTensors;
    const [gOut, gdx, gdw13, gdw2, gdgate] = run(p, true);
    const [dOut, ddx, ddw13, ddw2, ddgate] = run(p, false);
    expect(tf.memory().numTensors).toBe(before);
    const ref = reference(p);
    expect(maxAbsDiff(gOut, ref)).toBeLessThan(1e-4);
    expect(maxAbsDiff(dOut, ref)).toBeLessThan(1e-4);
    expect(maxAbsDiff(gdx, ddx)).toBeLessThan(1e-4);
    expect(maxAbsDiff(gdw13, ddw13)).toBeLessThan(1e-4);
    expect(maxAbsDiff(gdw2, ddw2)).toBeLessThan(1e-4);
    // Expert 5 received no token: its weights get exactly zero gradient on both paths.
    for (let h = 0; h < H; h++) for (const part of [0, 1]) for (let i = 0; i < I; i++) expect(gdw13[h * 2 * E * I + part * E * I + 5 * I + i]).toBe(0);
    // The gate's gradient agrees where the gate is non-zero (the chosen pairs). Elsewhere the dense path
    // reports expert_e(x)·dy and the grouped path 0; moe.ts multiplies the gate by the 0/1 choice mask, so
    // the router receives the same gradient either way.
    let chosen = 0;
    for (let i = 0; i < N * E; i++) {
      if (p.gate[i] !== 0) {
        chosen++;
        expect(Math.abs(gdgate[i] - ddgate[i])).toBeLessThan(1e-4);
      } else {
        expect(gdgate[i]).toBe(0);
      }
    }
    expect(chosen).toBe(N * k);
    expect(Math.max(...Array.from(ddx, Math.abs))).toBeGreaterThan(0.1); // gradients are not trivially zero
  });
});

test('groupByExpert: pairs sorted by expert then token, gate indices, counts', () => {
  const g = groupByExpert(Int32Array.of(2, 0, 0, 1, 2, 1), 3, 2, 4);
  expect(Array.from(g.counts)).toEqual([2, 2, 2, 0]);
  expect(Array.from(g.token)).toEqual([0, 1, 1, 2, 0, 2]);
  expect(Array.from(g.gateIndex)).toEqual([0 * 4 + 0, 1 * 4 + 0, 1 * 4 + 1, 2 * 4 + 1, 0 * 4 + 2, 2 * 4 + 2]);
});

test('bad expert choices are named', () => {
  expect(() => groupByExpert(Int32Array.of(0, 4), 1, 2, 4)).toThrow('groupByExpert: expert 4 at 1 is outside [0, 4)');
  expect(() => groupByExpert(Int32Array.of(0), 1, 2, 4)).toThrow('groupByExpert: 1 choices for 1 tokens × top-2');
});

test('host rows: gather, transposed gather, scatter-add (repeated rows add up), column blocks', () => {
  const t = Float32Array.of(1, 2, 3, 4, 5, 6); // [3, 2]
  const idx = Int32Array.of(2, 0, 2, 1);
  expect(Array.from(gatherHost(t, 2, idx))).toEqual([5, 6, 1, 2, 5, 6, 3, 4]);
  expect(Array.from(gatherTransposedHost(t, 2, idx))).toEqual([5, 1, 5, 3, 6, 2, 6, 4]); // [2, 4]
  const dst = new Float32Array(6).fill(1);
  scatterAddHost(Float32Array.of(1, 1, 2, 2, 3, 3, 4, 4), 2, idx, dst);
  expect(Array.from(dst)).toEqual([3, 3, 5, 5, 5, 5]); // row 2 receives source rows 0 and 2
  const m = Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8); // [2, 4]
  expect(Array.from(columnsHost(m, 2, 4, 1, 2))).toEqual([2, 3, 6, 7]);
  expect(Array.from(columnsHost(m, 2, 4, 1, 2, true))).toEqual([2, 6, 3, 7]);
});
