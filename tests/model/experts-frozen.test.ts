/**
 * model/experts.ts, grouped path, with some of its inputs frozen (util/lazy-grad.ts): the gradients of the
 * trained inputs are bit-identical to the eager backward pass the op ran before (written out below as the
 * oracle: every gradient in one pass per expert) and agree with the float64 reference's forward through
 * the dense path; the frozen experts' weight products (dW1, dW3 [H, I] and dW2 [I, H] per expert) are not
 * run; nothing leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { countOutputs, matMulsOf, sameBits } from '../helpers/grads';
import { denseExperts, groupByExpert, groupedExperts } from '../../kernel-lib/model/experts';
import { columnsHost, gatherHost, gatherTransposedHost, scatterAddHost } from '../../kernel-lib/model/host-rows';
import { linear } from '../../kernel-lib/model/linear';
import { E, H, I, k, N, problem, Problem } from './experts-problem';

const NAMES = ['x', 'w13', 'w2', 'gate'] as const;
type Name = (typeof NAMES)[number];

/**
 * The backward pass of groupedExperts before gradients became lazy (commit 27d8efb, eager: dx, dW13, dW2 and
 * dgate in one pass per expert, the same kernels on the same operands), for upstream gradient dy.
 */
function eagerBackward(p: Problem): Record<Name, Float32Array> {
  const g = groupByExpert(p.experts, N, k, E);
  const starts = new Int32Array(E + 1);
  for (let e = 0; e < E; e++) starts[e + 1] = starts[e] + g.counts[e];
  const dx = new Float32Array(N * H);
  const dw13 = new Float32Array(H * 2 * E * I);
  const dw2 = new Float32Array(E * I * H);
  const dgate = new Float32Array(N * E);
  for (let e = 0; e < E; e++) {
    const c = g.counts[e];
    if (c === 0) continue;
    const tok = g.token.subarray(starts[e], starts[e + 1]);
    const gates = Float32Array.from(g.gateIndex.subarray(starts[e], starts[e + 1]), (i) => p.gate[i]);
    const w2e = p.w2.subarray(e * I * H, (e + 1) * I * H);
    const w = {
      w1: columnsHost(p.w13, H, 2 * E * I, e * I, I),
      w3: columnsHost(p.w13, H, 2 * E * I, E * I + e * I, I),
      w1T: columnsHost(p.w13, H, 2 * E * I, e * I, I, true),
      w3T: columnsHost(p.w13, H, 2 * E * I, E * I + e * I, I, true),
      w2T: columnsHost(w2e, I, H, 0, H, true),
    };
    tf.tidy(() => {
      const xe = tf.tensor2d(gatherHost(p.x, H, tok), [c, H]);
      const ge = tf.tensor2d(gates, [c, 1]);
      const a = tf.matMul(xe, tf.tensor2d(w.w1, [H, I]));
      const b = tf.matMul(xe, tf.tensor2d(w.w3, [H, I]));
      const sig = tf.sigmoid(a);
      const silu = tf.mul(a, sig);
      const act = tf.mul(silu, b);
      const dye = tf.tensor2d(gatherHost(p.dy, H, tok), [c, H]);
      const uT = tf.tensor2d(columnsHost(tf.mul(act, ge).dataSync() as Float32Array, c, I, 0, I, true), [I, c]);
      dw2.set(tf.matMul(uT, dye).dataSync() as Float32Array, e * I * H);
      const du = tf.matMul(dye, tf.tensor2d(w.w2T, [H, I]));
      const dge = tf.sum(tf.mul(du, act), 1).dataSync() as Float32Array;
      for (let q = 0; q < c; q++) dgate[g.gateIndex[starts[e] + q]] = dge[q];
      const dact = tf.mul(du, ge);
      const db = tf.mul(dact, silu);
      const da = tf.mul(tf.mul(dact, b), tf.mul(sig, tf.add(1, tf.mul(a, tf.sub(1, sig)))));
      const xeT = tf.tensor2d(gatherTransposedHost(p.x, H, tok), [H, c]);
      const dw1 = tf.matMul(xeT, da).dataSync() as Float32Array;
      const dw3 = tf.matMul(xeT, db).dataSync() as Float32Array;
      for (let h = 0; h < H; h++) {
        dw13.set(dw1.subarray(h * I, (h + 1) * I), h * 2 * E * I + e * I);
        dw13.set(dw3.subarray(h * I, (h + 1) * I), h * 2 * E * I + E * I + e * I);
      }
      const dxe = tf.add(tf.matMul(da, tf.tensor2d(w.w1T, [I, H])), tf.matMul(db, tf.tensor2d(w.w3T, [I, H])));
      scatterAddHost(dxe.dataSync() as Float32Array, H, tok, dx);
    });
  }
  return { x: dx, w13: dw13, w2: dw2, gate: dgate };
}

/** Gradients of sum(experts(…) ⊙ dy) w.r.t. the `trained` inputs (variables; the others are frozen). */
function grads(p: Problem, trained: readonly Name[], grouped = true): Partial<Record<Name, Float32Array>> {
  const shapes: Record<Name, [number, number]> = { x: [N, H], w13: [H, 2 * E * I], w2: [E * I, H], gate: [N, E] };
  const vars = Object.fromEntries(NAMES.map((n) => [n, tf.tidy(() => tf.variable(tf.tensor2d(p[n], shapes[n]), true, `frozen-${n}-${Math.random()}`))])) as Record<Name, tf.Variable<tf.Rank.R2>>;
  const dy = tf.tensor2d(p.dy, [N, H]);
  try {
    const f = () => {
      const v = vars;
      const out = grouped ? groupedExperts(v.x, v.w13, v.w2, v.gate, p.experts, k, E, I) : denseExperts(v.x, v.w13, v.w2, v.gate, E, I, linear);
      return tf.sum(tf.mul(out, dy)) as tf.Scalar;
    };
    const { value, grads: g } = tf.variableGrads(f, trained.map((n) => vars[n]));
    value.dispose();
    const out: Partial<Record<Name, Float32Array>> = {};
    for (const n of trained) out[n] = g[vars[n].name].dataSync() as Float32Array;
    tf.dispose(Object.values(g));
    return out;
  } finally {
    tf.dispose([...Object.values(vars), dy]);
  }
}

const SUBSETS: readonly (readonly Name[])[] = [
  ['x', 'w13', 'w2', 'gate'], // full training
  ['x', 'gate'], // adapters upstream, experts and router frozen (MoSS, MiniGPT-5, MUMU)
  ['x'],
  ['gate'],
  ['w13', 'w2'], // experts train, nothing upstream does (the first MoE layer)
  ['w2'],
  ['w13', 'gate'],
];

describe.each(['cpu', 'wasm'] as const)('on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('every subset of trained inputs: their gradients are bit-identical to the eager backward pass', () => {
    const p = problem(4);
    const oracle = eagerBackward(p);
    const before = tf.memory().numTensors;
    for (const trained of SUBSETS) {
      const got = grads(p, trained);
      for (const n of trained) expect([trained.join('+'), n, sameBits(got[n] as Float32Array, oracle[n])]).toEqual([trained.join('+'), n, true]);
    }
    expect(tf.memory().numTensors).toBe(before);
    // and the oracle is the right gradient: it agrees with the dense path (float32; experts.test.ts checks
    // the dense and grouped values against float64) where both are defined
    const dense = grads(p, ['x', 'w13', 'w2'], false);
    for (const n of ['x', 'w13', 'w2'] as const) expect([n, maxAbsDiff(oracle[n], dense[n] as Float32Array) < 1e-4]).toEqual([n, true]);
    expect(Math.max(...Array.from(oracle.x, Math.abs))).toBeGreaterThan(0.1);
  });

  test('frozen expert weights: their products (dW1, dW3 [H, I], dW2 [I, H] per expert) do not run', async () => {
    const p = problem(4);
    const counts = groupByExpert(p.experts, N, k, E).counts;
    // no expert gets exactly H or I tokens, so the weight products' output shapes are theirs alone
    expect([...counts].filter((c) => c === H || c === I)).toEqual([]);
    const busy = [...counts].filter((c) => c > 0).length;
    expect(busy).toBe(E - 1);
    const products = async (trained: readonly Name[]) => {
      const calls = await matMulsOf(() => void grads(p, trained));
      return { w13: countOutputs(calls, [H, I]), w2: countOutputs(calls, [I, H]) };
    };
    expect(await products(['x', 'w13', 'w2', 'gate'])).toEqual({ w13: 2 * busy, w2: busy });
    expect(await products(['x', 'gate'])).toEqual({ w13: 0, w2: 0 });
    expect(await products(['w2'])).toEqual({ w13: 0, w2: busy });
    expect(await products(['w13'])).toEqual({ w13: 2 * busy, w2: 0 });
  });
});
