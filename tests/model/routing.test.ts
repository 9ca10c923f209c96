import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { MoEModel } from '../../kernel-lib/model/model';
import { defaultMoEConfig, validateMoEConfig } from '../../kernel-lib/model/config';
import { topKRow } from '../../kernel-lib/model/moe';
import { growVocabulary } from '../../kernel-lib/model/vocab-extend';

const cfg = defaultMoEConfig('tiny', { vocabSize: 50, maxPositions: 32, numExperts: 6, topK: 3 });
let model: MoEModel;
beforeAll(async () => {
  await useBackend();
  model = MoEModel.init(cfg, 3);
});
afterAll(() => model.dispose());

test('routing shapes: per layer [N, k] experts and weights, [N, E] probs and logits', () => {
  const r = model.forward([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]], { capture: 'full' });
  expect(r.shape).toEqual([2, 5, 50]);
  expect(r.logits).toHaveLength(2 * 5 * 50);
  expect(r.routing).toHaveLength(cfg.numLayers);
  r.routing.forEach((l, i) => {
    expect(l.layer).toBe(i);
    expect(l.experts).toHaveLength(10 * 3);
    expect(l.weights).toHaveLength(10 * 3);
    expect(l.probs).toHaveLength(10 * 6);
    expect(l.logits).toHaveLength(10 * 6);
    for (let n = 0; n < 10; n++) {
      const probs = l.probs.subarray(n * 6, n * 6 + 6);
      expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      const chosen = Array.from(l.experts.subarray(n * 3, n * 3 + 3));
      expect(new Set(chosen).size).toBe(3);
      // chosen are the 3 most probable, in descending order
      const sorted = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b);
      expect(chosen).toEqual(sorted.slice(0, 3));
      const w = l.weights.subarray(n * 3, n * 3 + 3);
      const s = chosen.reduce((a, e) => a + probs[e], 0);
      chosen.forEach((e, j) => expect(w[j]).toBeCloseTo(probs[e] / s, 6)); // normTopKProb renormalises
    }
  });
  expect(model.forward([[1, 2]], { capture: 'routing' }).routing[0].logits).toHaveLength(0);
});

test('top-k ties go to the lower expert index', () => {
  const out = new Int32Array(3);
  topKRow(Float32Array.from([0.1, 0.3, 0.3, 0.1, 0.3, 0.0]), 3, out, 0);
  expect(Array.from(out)).toEqual([1, 2, 4]);
  topKRow(Float32Array.from([0.2, 0.2, 0.2, 0.2, 0.1, 0.1]), 3, out, 0);
  expect(Array.from(out)).toEqual([0, 1, 2]);
  // in the model: a zero router makes every expert equally likely → experts 0, 1, 2 everywhere
  const m = MoEModel.init(cfg, 3);
  tf.tidy(() => m.p('blocks.0.moe.router').assign(tf.zeros([cfg.hiddenSize, cfg.numExperts])));
  const r = m.forward([[4, 5, 6]]);
  expect(Array.from(r.routing[0].experts)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2]);
  expect(Array.from(r.routing[0].weights).every((w) => Math.abs(w - 1 / 3) < 1e-6)).toBe(true);
  m.dispose();
});

test('hook points are named from the module path; runWithCache returns host copies and leaks nothing', () => {
  const names = model.hookNames();
  expect(names.slice(0, 4)).toEqual(['embed', 'blocks.0.hook_resid_pre', 'blocks.0.attn', 'blocks.0.hook_resid_mid']);
  expect(names).toContain('blocks.1.moe.router');
  expect(names).toContain('blocks.1.moe.probs');
  expect(names).toContain('blocks.1.moe.gate');
  expect(names).toContain('blocks.1.moe');
  expect(names.at(-1)).toBe('logits');
  model.forward([[1, 2, 3]]);
  const before = tf.memory().numTensors;
  const r = model.runWithCache([[1, 2, 3]], ['blocks.0.moe.router', 'blocks.1.attn']);
  expect(tf.memory().numTensors).toBe(before);
  expect(r.cache.get('blocks.0.moe.router')?.shape).toEqual([3, 6]);
  expect(r.cache.get('blocks.1.attn')?.shape).toEqual([3, cfg.hiddenSize]);
  expect(() => model.runWithCache([[1]], ['blocks.9.attn'])).toThrow("runWithCache: no hook point named 'blocks.9.attn' (see model.hookNames())");
});

test('runWithHooks can intervene (zero an attention output) and the hook is gone afterwards', () => {
  const base = model.forward([[1, 2, 3]]).logits;
  const hooked = model.runWithHooks([[1, 2, 3]], { 'blocks.0.attn': (t) => tf.zerosLike(t) }).logits;
  expect(maxAbsDiff(base, hooked)).toBeGreaterThan(1e-4);
  expect(maxAbsDiff(base, model.forward([[1, 2, 3]]).logits)).toBe(0);
  // the intervention equals a model whose o-projection is zero in layer 0
  const m2 = MoEModel.fromHost(cfg, model.toHost());
  tf.tidy(() => m2.p('blocks.0.attn.wo').assign(tf.zeros(m2.p('blocks.0.attn.wo').shape)));
  expect(maxAbsDiff(hooked, m2.forward([[1, 2, 3]]).logits)).toBeLessThan(1e-5);
  m2.dispose();
  expect(() => model.runWithHooks([[1]], { 'blocks.0.attn.nope': () => undefined })).toThrow("runWithHooks: no hook point named 'blocks.0.attn.nope'");
  expect(() => model.runWithHooks([[1, 2]], { 'blocks.0.attn': () => tf.zeros([1, 1]) })).toThrow("Hook 'blocks.0.attn' returned shape [1,1] but the activation has shape [2,32]");
});

test('bad ids are refused with the position named', () => {
  expect(() => model.forward([[1, 50]])).toThrow('ids[0][1] = 50 is outside the vocabulary [0, 50)');
  expect(() => model.forward([[1, 2], [3]])).toThrow('ids row 1 has length 1, expected 2 (rows must be equal length)');
  expect(() => model.forward([Array(33).fill(1)])).toThrow('Sequence length 33 exceeds the context (maxPositions 32)');
});

test('growing the vocabulary keeps every old weight, and text logits are unchanged', () => {
  const host = model.toHost();
  const g = growVocabulary(cfg, host, 60, 'mean-noise', 1);
  expect(g.config.vocabSize).toBe(60);
  expect(g.params.get('embed')!.shape).toEqual([60, cfg.hiddenSize]);
  expect(g.params.get('lm_head')!.shape).toEqual([cfg.hiddenSize, 60]);
  const big = MoEModel.fromHost(g.config, g.params);
  const a = model.forward([[1, 2, 3]]).logits;
  const b = big.forward([[1, 2, 3]]).logits;
  for (let t = 0; t < 3; t++) expect(maxAbsDiff(a.subarray(t * 50, t * 50 + 50), b.subarray(t * 60, t * 60 + 50))).toBeLessThan(1e-5);
  // new rows are the mean of the old ones plus noise of the old spread
  const e = g.params.get('embed')!.data;
  const H = cfg.hiddenSize;
  let meanOld = 0;
  let meanNew = 0;
  for (let v = 0; v < 50; v++) meanOld += e[v * H];
  for (let v = 50; v < 60; v++) meanNew += e[v * H];
  expect(Math.abs(meanNew / 10 - meanOld / 50)).toBeLessThan(0.05);
  big.dispose();
  expect(() => growVocabulary(cfg, host, 40)).toThrow('new vocabulary size 40 must be an integer ≥ the current 50');
  expect(() => growVocabulary(cfg, host, 60, 'magic')).toThrow("Unknown init strategy 'magic'; expected one of mean-noise, mean, normal");
});

test('config validation names the field', () => {
  const ok = defaultMoEConfig('tiny');
  expect(() => validateMoEConfig({ ...ok, hiddenSize: 0 })).toThrow('MoEConfig.hiddenSize must be a positive integer, got 0');
  expect(() => validateMoEConfig({ ...ok, topK: 9 })).toThrow('MoEConfig.topK (9) must be at most numExperts (4)');
  expect(() => validateMoEConfig({ ...ok, numKvHeads: 3 })).toThrow('MoEConfig.numKvHeads (3) must divide numHeads (4)');
  expect(() => validateMoEConfig({ ...ok, numHeads: 3 })).toThrow('MoEConfig.numHeads (3) must divide hiddenSize (32)');
  expect(() => validateMoEConfig({ ...ok, ropeTheta: -1 })).toThrow('MoEConfig.ropeTheta must be a positive finite number, got -1');
  expect(() => validateMoEConfig({ ...ok, normTopKProb: 'yes' })).toThrow('MoEConfig.normTopKProb must be a boolean, got "yes"');
  expect(() => validateMoEConfig({ ...ok, experts: 4 })).toThrow("MoEConfig has an unknown field 'experts'");
  expect(() => defaultMoEConfig('huge' as 'tiny')).toThrow("Unknown preset 'huge'; expected one of tiny, small");
});

test('presets: tiny is under 1M parameters; small has 16 experts top-4 and a few M parameters', async () => {
  const { countParams } = await import('../../kernel-lib/model/params');
  expect(countParams(defaultMoEConfig('tiny'))).toBeLessThan(1_000_000);
  const small = defaultMoEConfig('small', { vocabSize: 4614 });
  expect([small.numExperts, small.topK]).toEqual([16, 4]);
  const n = countParams(small);
  expect(n).toBeGreaterThan(2_000_000);
  expect(n).toBeLessThan(10_000_000);
});
