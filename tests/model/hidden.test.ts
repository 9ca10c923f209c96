import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { PrevInputAdapter } from '../helpers/test-adapters';
import { MoEModel } from '../../kernel-lib/model/model';
import { defaultMoEConfig } from '../../kernel-lib/model/config';
import { hiddenPointNames } from '../../kernel-lib/model/hidden';

const cfg = defaultMoEConfig('tiny', { sharedExpertSize: 8 });
const ids = Array.from({ length: 20 }, (_, i) => (i * 31 + 7) % cfg.vocabSize);
let model: MoEModel;
beforeAll(async () => {
  await useBackend();
  model = MoEModel.init(cfg, 5);
});
afterAll(() => model.dispose());

/** Rows `rows` of a host [N, H] activation. */
function rowsOf(data: Float32Array, H: number, rows: number[]): Float32Array {
  const out = new Float32Array(rows.length * H);
  rows.forEach((r, i) => out.set(data.subarray(r * H, (r + 1) * H), i * H));
  return out;
}

test('forward: the chosen rows of any residual-stream point; final_norm against a float64 RMSNorm', () => {
  const H = cfg.hiddenSize;
  const names = hiddenPointNames(cfg.numLayers);
  const rows = [0, 5, 19, 27]; // a [2, 20] batch: row 27 = sequence 1, token 7
  const batch = [ids, ids.slice().reverse()];
  const r = model.forward(batch, { hidden: { names, rows } });
  const full = model.runWithCache(batch, (n) => names.includes(n));
  for (const n of names.filter((x) => x !== 'final_norm')) {
    expect(r.hidden!.host!.get(n)!.shape).toEqual([4, H]);
    expect(r.hidden!.host!.get(n)!.data).toEqual(rowsOf(full.cache.get(n)!.data, H, rows));
  }
  // final_norm = RMSNorm(last resid_post) · gain, in float64
  const last = rowsOf(full.cache.get(`blocks.${cfg.numLayers - 1}.hook_resid_post`)!.data, H, rows);
  const g = model.p('final_norm').dataSync();
  const want = new Float64Array(last.length);
  for (let i = 0; i < rows.length; i++) {
    let ms = 0;
    for (let j = 0; j < H; j++) ms += last[i * H + j] ** 2;
    const inv = 1 / Math.sqrt(ms / H + cfg.rmsNormEps);
    for (let j = 0; j < H; j++) want[i * H + j] = last[i * H + j] * inv * g[j];
  }
  expect(maxAbsDiff(r.hidden!.host!.get('final_norm')!.data, want)).toBeLessThan(1e-5);
  expect(() => model.forward([ids], { hidden: { names: ['blocks.9.hook_resid_post'] } }))
    .toThrow("hidden: no residual-stream point named 'blocks.9.hook_resid_post' (expected embed, blocks.<i>.hook_resid_pre|mid|post for i < 2, or final_norm)");
  expect(() => model.forward([ids], { hidden: { names: ['final_norm'], rows: [20] } })).toThrow('hidden.rows: 20 is not a row of this call (0..19)');
});

test.each([
  ['prepared decode weights (no adapter)', false],
  ['the adapter path (with a stateful adapter)', true],
])('step decoding gives the full forward’s hidden states (≤ 1e-4): %s', (_n, withAdapter) => {
  const adapter = withAdapter ? new PrevInputAdapter('prev', cfg) : null;
  if (adapter) model.adapters.add(adapter);
  try {
    const names = hiddenPointNames(cfg.numLayers);
    const full = model.forward([ids], { hidden: { names } });
    const H = cfg.hiddenSize;
    const pre = 6;
    const p = model.prefill(ids.slice(0, pre), 'none', { hidden: { names: ['final_norm'], rows: [pre - 1] } });
    expect(maxAbsDiff(p.hidden!.host!.get('final_norm')!.data, rowsOf(full.hidden!.host!.get('final_norm')!.data, H, [pre - 1]))).toBeLessThanOrEqual(1e-4);
    let worst = 0;
    for (let t = pre; t < ids.length; t++) {
      const st = model.step(p.cache, ids[t], 'none', { hidden: { names } });
      for (const n of names) worst = Math.max(worst, maxAbsDiff(st.hidden!.host!.get(n)!.data, rowsOf(full.hidden!.host!.get(n)!.data, H, [t])));
    }
    p.cache.dispose();
    expect(worst).toBeLessThanOrEqual(1e-4);
  } finally {
    if (adapter) model.adapters.remove('prev');
  }
});

test('kept tensors: the caller owns exactly them; they are constants usable in a later tf graph', () => {
  model.forward([ids]); // warm the causal-mask cache (full length and the prefill's)
  model.forward([ids.slice(0, 4)]);
  const before = tf.memory().numTensors;
  const r = model.forward([ids], { hidden: { names: ['final_norm', 'blocks.0.hook_resid_mid'], rows: [3, 4, 5], as: 'tensor' } });
  expect(r.hidden!.host).toBeUndefined();
  const states = r.hidden!.tensors!;
  expect(tf.memory().numTensors).toBe(before + 2);
  expect(states.get('final_norm')!.shape).toEqual([3, cfg.hiddenSize]);
  const host = model.forward([ids], { hidden: { names: ['final_norm'], rows: [3, 4, 5] } }).hidden!.host!.get('final_norm')!.data;
  expect(states.get('final_norm')!.dataSync()).toEqual(host);
  // a downstream model (a linear map W) trains on them: d/dW sum(S·W) = Sᵀ·1; the LM gets no gradient
  const W = tf.tidy(() => tf.variable(tf.zeros([cfg.hiddenSize, 2])));
  const lmVar = model.p('final_norm');
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.matMul(states.get('final_norm')!, W)) as tf.Scalar, [W, lmVar]);
  const gW = grads[W.name].dataSync();
  const H = cfg.hiddenSize;
  for (let j = 0; j < H; j++) expect(gW[j * 2]).toBeCloseTo(host[j] + host[H + j] + host[2 * H + j], 4);
  expect(grads[lmVar.name] == null || grads[lmVar.name].dataSync().every((x) => x === 0)).toBe(true);
  tf.dispose([value, ...Object.values(grads).filter((g) => g != null)]);
  W.dispose();
  // step decoding keeps them the same way
  const { cache } = model.prefill(ids.slice(0, 4));
  const st = model.step(cache, ids[4], 'none', { hidden: { names: ['embed'], as: 'tensor' } });
  cache.dispose();
  expect(tf.memory().numTensors).toBe(before + 3);
  for (const t of [...states.values(), ...st.hidden!.tensors!.values()]) t.dispose();
  expect(tf.memory().numTensors).toBe(before);
  // and nothing stays when no hidden states are asked for
  const { cache: c2 } = model.prefill(ids.slice(0, 4));
  model.step(c2, ids[4], 'routing', { hidden: { names: ['final_norm'] } });
  c2.dispose();
  expect(tf.memory().numTensors).toBe(before);
});
