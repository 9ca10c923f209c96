/**
 * The LM head only where its output is read: MoEModel.forwardStates / forwardHidden (the trunk to the final
 * norm) against forwardTensors / forward, head() on chosen rows against the full logits, model/linear.ts
 * selectRows (gather + scatter-add gradient) against a float64 reference and the one-hot product it replaced,
 * and train/lm-loss.ts statesNll against weightedNll of every row — loss and every gradient bit for bit —
 * with the errors for a 'logits' hook on a path without the head and for rows out of range, and no leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { sameBits } from '../helpers/grads';
import { MoEModel } from '../../kernel-lib/model/model';
import { defaultMoEConfig } from '../../kernel-lib/model/config';
import { HookContext } from '../../kernel-lib/model/hooks';
import { selectRows } from '../../kernel-lib/model/linear';
import { statesNll, weightedNll } from '../../kernel-lib/train/lm-loss';
import { oneHotSelectRows } from '../../bench/head-legacy';
import { mulberry32 } from '../../kernel-lib/util/random';

const rnd = (n: number, seed: number) => {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => rand() * 2 - 1);
};

const cfg = defaultMoEConfig('tiny');
const B = 3;
const T = 12;
const ids = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b * 53 + t * 31 + 7) % cfg.vocabSize));
const flatIds = () => tf.tensor2d(ids.flat(), [B, T], 'int32');
let model: MoEModel;
beforeAll(async () => {
  await useBackend();
  model = MoEModel.init(cfg, 3);
  tf.tidy(() => void model.forwardTensors(flatIds())); // the model's kept causal masks for this length, before any leak count
});
afterAll(() => model.dispose());

const host = (t: tf.Tensor) => Float32Array.from(t.dataSync() as Float32Array);

test('forwardStates = forwardTensors without the head: states, routing and aux bit for bit; head(states) and head(rows) give the logits', () => {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    let seen: Float32Array | null = null;
    const full = model.forwardTensors(flatIds(), { capture: 'routing', hooks: new HookContext(new Map([['final_norm', (t) => void (seen = host(t))]])) });
    let hooked: Float32Array | null = null;
    const s = model.forwardStates(flatIds(), { capture: 'routing', hooks: new HookContext(new Map([['final_norm', (t) => void (hooked = host(t))]])) });
    expect(s.states.shape).toEqual([B * T, cfg.hiddenSize]);
    expect(sameBits(host(s.states), host(full.states))).toBe(true);
    expect(sameBits(hooked!, seen!)).toBe(true); // the final_norm hook still fires
    expect(sameBits(host(s.states), seen!)).toBe(true);
    expect(s.routing).toEqual(full.routing);
    expect(host(s.aux)).toEqual(host(full.aux));
    const logits = host(full.logits);
    expect(sameBits(host(model.head(s.states)), logits)).toBe(true);
    // rows of the head alone equal those rows of the whole head (a GEMM's rows do not depend on the others)
    const rows = [0, 5, 13, 14, 35];
    const V = cfg.vocabSize;
    const some = host(model.head(selectRows(s.states, rows)));
    const want = new Float32Array(rows.length * V);
    rows.forEach((r, i) => want.set(logits.subarray(r * V, (r + 1) * V), i * V));
    expect(sameBits(some, want)).toBe(true);
    expect(sameBits(host(model.head(selectRows(s.states, rows), true)), want)).toBe(true); // the training head
    // a hook on final_norm that replaces the states: forwardStates returns the replacement
    const scaled = model.forwardStates(flatIds(), { hooks: new HookContext(new Map([['final_norm', (t) => tf.mul(t, 2)]])) });
    expect(sameBits(host(scaled.states), host(tf.mul(s.states, 2)))).toBe(true);
  });
  expect(tf.memory().numTensors).toBe(before);
});

test("a 'logits' hook or cache on a path without the head is an error; head() checks its input", () => {
  const before = tf.memory().numTensors;
  const msg = "forwardStates: a hook or cache names 'logits', which this forward never computes (it stops at final_norm); use forwardTensors";
  expect(() => tf.tidy(() => void model.forwardStates(flatIds(), { hooks: new HookContext(new Map([['logits', () => undefined]])) }))).toThrow(msg);
  expect(() => tf.tidy(() => void model.forwardStates(flatIds(), { hooks: new HookContext(new Map(), () => true) }))).toThrow(msg);
  expect(() => tf.tidy(() => void model.forwardStates(flatIds(), { hooks: new HookContext(new Map(), (n) => n === 'logits') }))).toThrow(msg);
  // a cache of other points is fine, and takes them
  const ctx = new HookContext(new Map(), (n) => n === 'final_norm');
  tf.tidy(() => void model.forwardStates(flatIds(), { hooks: ctx }));
  expect(ctx.cache.get('final_norm')!.shape).toEqual([B * T, cfg.hiddenSize]);
  expect(() => model.forwardHidden(ids, { hooks: new Map([['logits', () => undefined]]), hidden: { names: ['final_norm'] } }))
    .toThrow("forwardHidden: a hook names 'logits', which this forward never computes (it stops at final_norm); use forward");
  expect(() => model.forwardHidden(ids, { hidden: { names: ['logits'] } }))
    .toThrow("hidden: no residual-stream point named 'logits' (expected embed, blocks.<i>.hook_resid_pre|mid|post for i < 2, or final_norm)");
  expect(() => model.forwardHidden(ids, {} as never)).toThrow("forwardHidden: opts.hidden must name the states to return (e.g. { names: ['final_norm'] })");
  expect(() => tf.tidy(() => void model.head(tf.zeros([4, cfg.hiddenSize + 1]) as tf.Tensor2D))).toThrow(`head: states must be [N, ${cfg.hiddenSize}], got [4,${cfg.hiddenSize + 1}]`);
  expect(tf.memory().numTensors).toBe(before);
});

test('forwardHidden gives forward’s hidden states bit for bit (host and kept tensors), its routing and aux, and no logits', () => {
  const before = tf.memory().numTensors;
  const names = ['blocks.1.hook_resid_mid', 'final_norm'];
  const rows = [2, 17, 30];
  const hooks = new Map([['embed', (t: tf.Tensor) => tf.mul(t, 1.5)]]);
  const want = model.forward(ids, { hooks, hidden: { names, rows } });
  const got = model.forwardHidden(ids, { hooks, hidden: { names, rows } });
  expect(Object.keys(got).sort()).toEqual(['aux', 'hidden', 'routing']);
  expect(got.hidden.rows).toEqual(rows);
  for (const n of names) expect(sameBits(got.hidden.host!.get(n)!.data, want.hidden!.host!.get(n)!.data)).toBe(true);
  expect(got.routing).toEqual(want.routing);
  expect(got.aux).toBe(want.aux);
  const kept = model.forwardHidden(ids, { hidden: { names: ['final_norm'], as: 'tensor' } });
  const t = kept.hidden.tensors!.get('final_norm')!;
  expect(t.shape).toEqual([B * T, cfg.hiddenSize]);
  expect(sameBits(host(t), model.forward(ids, { hidden: { names: ['final_norm'] } }).hidden!.host!.get('final_norm')!.data)).toBe(true);
  t.dispose();
  expect(tf.memory().numTensors).toBe(before);
});

test('selectRows: rows copied; gradient the in-order scatter-add of dy (= the one-hot product it replaced, bit for bit); bad rows named', () => {
  const [N, H] = [7, 5];
  const rows = [4, 0, 4, 6, 2];
  const x = rnd(N * H, 1);
  const d = rnd(rows.length * H, 2);
  const before = tf.memory().numTensors;
  const X = tf.tensor2d(x, [N, H]);
  const D = tf.tensor2d(d, [rows.length, H]);
  const fwd = tf.tidy(() => host(selectRows(X, rows)));
  const want = new Float32Array(rows.length * H);
  rows.forEach((r, i) => want.set(x.subarray(r * H, (r + 1) * H), i * H));
  expect(sameBits(fwd, want)).toBe(true);
  const grad = (f: (x: tf.Tensor2D) => tf.Tensor2D) => tf.tidy(() => host(tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v as tf.Tensor2D), D)))(X)));
  const g = grad((v) => selectRows(v, rows));
  const want32 = new Float32Array(N * H);
  const want64 = new Float64Array(N * H);
  rows.forEach((r, i) => {
    for (let j = 0; j < H; j++) {
      want32[r * H + j] += d[i * H + j];
      want64[r * H + j] += d[i * H + j];
    }
  });
  expect(sameBits(g, want32)).toBe(true);
  expect(maxAbsDiff(g, want64)).toBeLessThan(1e-6);
  // the one-hot product MiniGPT-5 used: the same forward and gradient bits
  expect(sameBits(tf.tidy(() => host(oneHotSelectRows(X, rows))), fwd)).toBe(true);
  expect(sameBits(grad((v) => oneHotSelectRows(v, rows)), g)).toBe(true);
  expect(tf.tidy(() => selectRows(X, []).shape)).toEqual([0, H]);
  expect(() => selectRows(X, [0, 7])).toThrow('selectRows: row 7 is outside [0, 7)');
  expect(() => selectRows(X, [-1])).toThrow('selectRows: row -1 is outside [0, 7)');
  expect(() => selectRows(X, [1.5])).toThrow('selectRows: row 1.5 is outside [0, 7)');
  expect(() => tf.tidy(() => selectRows(tf.zeros([2, 2, 2]) as unknown as tf.Tensor2D, [0]))).toThrow('selectRows: x must be 2-D [N, H], got shape [2,2,2]');
  tf.dispose([X, D]);
  expect(tf.memory().numTensors).toBe(before);
});

/** Loss and the gradient of every model parameter (head and embedding included) of `loss`, on the host. */
function lossAndGrads(loss: () => tf.Scalar): { loss: Float32Array; grads: Map<string, Float32Array> } {
  const names = [...model.params.keys()];
  const { value, grads } = tf.variableGrads(loss, names.map((n) => model.p(n)));
  const out = { loss: host(value), grads: new Map(names.map((n) => [n, host(grads[model.p(n).name])])) };
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

test.each([
  ['prompt and padding rows weighted 0', (i: number) => (i % T < 4 || i % T > 10 ? 0 : i % 3 === 0 ? 0.5 : 1)],
  ['every row weighted', (i: number) => 1 + (i % 2)],
  ['no row weighted', () => 0],
])('statesNll = weightedNll of the whole head, loss and every gradient bit for bit (training forward): %s', (_n, w) => {
  const weights = Float32Array.from({ length: B * T }, (_, i) => w(i));
  const targets = Int32Array.from({ length: B * T }, (_, i) => (i * 17 + 3) % cfg.vocabSize);
  const total = weights.reduce((a, x) => a + x, 0);
  const V = cfg.vocabSize;
  const before = tf.memory().numTensors;
  const old = lossAndGrads(() => weightedNll(model.forwardTensors(flatIds(), { capture: 'none', training: true }).logits, targets, weights, total, V));
  const neu = lossAndGrads(() => statesNll(model.forwardStates(flatIds(), { capture: 'none', training: true }).states, (x) => model.head(x, true), targets, weights, total, V));
  expect(tf.memory().numTensors).toBe(before);
  expect(sameBits(neu.loss, old.loss)).toBe(true);
  if (total === 0) expect(neu.loss[0]).toBe(0);
  const differing = [...old.grads.keys()].filter((n) => !sameBits(neu.grads.get(n)!, old.grads.get(n)!));
  expect(differing).toEqual([]);
});

test('statesNll refuses targets or weights that do not match the rows', () => {
  const before = tf.memory().numTensors;
  const S = tf.zeros([4, cfg.hiddenSize]) as tf.Tensor2D;
  expect(() => statesNll(S, (x) => model.head(x), new Int32Array(3), new Float32Array(4), 1, cfg.vocabSize)).toThrow('statesNll: 3 targets and 4 weights for 4 rows of states');
  expect(() => statesNll(S, (x) => model.head(x), new Int32Array(4), [1, 0], 1, cfg.vocabSize)).toThrow('statesNll: 4 targets and 2 weights for 4 rows of states');
  S.dispose();
  expect(tf.memory().numTensors).toBe(before);
});
