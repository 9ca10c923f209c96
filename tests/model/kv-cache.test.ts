import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { MoEModel } from '../../kernel-lib/model/model';
import { KvCache } from '../../kernel-lib/model/kv-cache';
import { defaultMoEConfig } from '../../kernel-lib/model/config';
import { randomIds } from '../helpers/random';

describe.each([
  ['tiny', defaultMoEConfig('tiny')],
  ['tiny + shared expert, tied', defaultMoEConfig('tiny', { sharedExpertSize: 16, tieWordEmbeddings: true, normTopKProb: false })],
  ['small', defaultMoEConfig('small', { vocabSize: 600, maxPositions: 96 })],
  // one kv head: the wasm backend caches a packed copy of a batch-1 matMul's second operand by tensor
  // id, so a cache written in place must never be that operand (kv-cache.ts)
  ['tiny, one kv head', defaultMoEConfig('tiny', { numKvHeads: 1 })],
  // head size 6: the attention kernel reads rows of 8 (zero-padded)
  ['tiny, head size 6', defaultMoEConfig('tiny', { hiddenSize: 24 })],
])('KV-cached step decoding (%s)', (_name, cfg) => {
  let model: MoEModel;
  beforeAll(async () => {
    await useBackend();
    model = MoEModel.init(cfg, 7);
  });
  afterAll(() => model.dispose());

  test('each step’s logits equal the full forward over the same sequence (≤ 1e-4)', () => {
    const ids = randomIds(Math.min(cfg.maxPositions, 90), cfg.vocabSize, 3); // past a 64-column block
    const full = model.forward([ids]);
    const V = cfg.vocabSize;
    const pre = 5;
    const { cache, logits: first, routing } = model.prefill(ids.slice(0, pre));
    expect(maxAbsDiff(first, full.logits.subarray((pre - 1) * V, pre * V))).toBeLessThanOrEqual(1e-4);
    expect(routing).toHaveLength(cfg.numLayers);
    expect(routing[0].experts).toHaveLength(pre * cfg.topK);
    let worst = 0;
    for (let t = pre; t < ids.length; t++) {
      const s = model.step(cache, ids[t]);
      worst = Math.max(worst, maxAbsDiff(s.logits, full.logits.subarray(t * V, (t + 1) * V)));
      // routing of the stepped token equals the full pass's routing at that position
      for (let l = 0; l < cfg.numLayers; l++) {
        expect(Array.from(s.routing[l].experts)).toEqual(Array.from(full.routing[l].experts.subarray(t * cfg.topK, (t + 1) * cfg.topK)));
      }
    }
    cache.dispose();
    expect(worst).toBeLessThanOrEqual(1e-4);
  });

  test('no tensor leaks from forward, prefill, step', () => {
    const ids = randomIds(12, cfg.vocabSize, 5);
    model.forward([ids]); // warm caches (causal mask)
    const before = tf.memory().numTensors;
    model.forward([ids, ids]);
    const { cache } = model.prefill(ids);
    for (let i = 0; i < 5; i++) model.step(cache, ids[i]);
    cache.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  // A step of 2–4 rows runs its experts in the host kernel (expert-kernel.ts), one row the dense TF.js
  // path; mixRows gives the head of a combination of the rows (CFG's guided logits).
  test('three sequences as one batch equal three batch-1 steps with the same routing, and mixRows equals the logits combined (≤ 1e-4); no leaks', () => {
    const V = cfg.vocabSize;
    const prompts = [randomIds(7, V, 21), randomIds(2, V, 22), randomIds(12, V, 23)];
    const singles = prompts.map((p) => model.prefill(p, 'none').cache);
    const batch = KvCache.stack(prompts.map((p) => model.prefill(p, 'none').cache));
    const mixed = KvCache.stack(prompts.slice(0, 2).map((p) => model.prefill(p, 'none').cache));
    const gamma = 3;
    const ids0 = [1, 2, 3];
    model.stepBatch(batch, ids0); // warm: the batched decode weights are made on first use
    model.stepBatch(mixed, ids0.slice(0, 2), { mixRows: [[gamma, 1 - gamma], [0, 1]] });
    singles.forEach((c, b) => model.step(c, ids0[b]));
    const before = tf.memory().numTensors;
    let worst = 0;
    let worstMix = 0;
    for (let i = 0; i < 10; i++) {
      const ids = [(i * 7) % V, (i * 13 + 1) % V, (i * 3 + 2) % V];
      const r = model.stepBatch(batch, ids);
      const one = singles.map((c, b) => model.step(c, ids[b]));
      one.forEach((s, b) => {
        worst = Math.max(worst, maxAbsDiff(r.logits[b], s.logits));
        for (let l = 0; l < cfg.numLayers; l++) {
          expect(Array.from(r.routing[l].experts.subarray(b * cfg.topK, (b + 1) * cfg.topK))).toEqual(Array.from(s.routing[l].experts));
        }
      });
      const m = model.stepBatch(mixed, ids.slice(0, 2), { mixRows: [[gamma, 1 - gamma], [0, 1]] });
      expect(m.logits).toHaveLength(2);
      const guided = Array.from(one[0].logits, (c, j) => one[1].logits[j] + gamma * (c - one[1].logits[j])); // float64
      worstMix = Math.max(worstMix, maxAbsDiff(m.logits[0], guided), maxAbsDiff(m.logits[1], one[1].logits));
    }
    expect(worst).toBeLessThanOrEqual(1e-4);
    expect(worstMix).toBeLessThanOrEqual(1e-4 * gamma);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => model.stepBatch(mixed, [1, 2], { mixRows: [[1, 0, 0]] })).toThrow('step: mixRows[0] must hold 2 coefficients (one per sequence), got 3');
    expect(() => model.stepBatch(mixed, [1, 2], { mixRows: [[1, NaN]] })).toThrow('step: mixRows[0][1] must be a finite number, got null');
    expect(() => model.stepBatch(mixed, [1, 2], { mixRows: [] })).toThrow('step: mixRows must be a non-empty list of coefficient rows');
    for (const c of [...singles, batch, mixed]) c.dispose();
  });
});

test('decode weights (gains folded) are rebuilt when a parameter changes, without leaking', async () => {
  await useBackend();
  const cfg = defaultMoEConfig('tiny', { sharedExpertSize: 8 });
  const model = MoEModel.init(cfg, 11);
  const ids = randomIds(10, cfg.vocabSize, 2);
  const check = () => {
    const full = model.forward([ids]).logits;
    const { cache } = model.prefill(ids.slice(0, 9));
    const s = model.step(cache, ids[9]);
    cache.dispose();
    return maxAbsDiff(s.logits, full.subarray(9 * cfg.vocabSize, 10 * cfg.vocabSize));
  };
  expect(check()).toBeLessThanOrEqual(1e-4);
  const before = tf.memory().numTensors;
  for (const name of ['final_norm', 'blocks.1.post_attn_norm', 'blocks.0.attn.wqkv', 'blocks.1.moe.shared.w13']) {
    tf.tidy(() => model.p(name).assign(tf.mul(model.p(name), 1.5)));
    expect(check()).toBeLessThanOrEqual(1e-4);
  }
  expect(tf.memory().numTensors).toBe(before);
  model.dispose();
});

describe('long decodes (positions past 512), grouped-query heads', () => {
  // tiny: 4 query heads share 2 kv heads
  const cfg = defaultMoEConfig('tiny', { maxPositions: 640 });
  const V = cfg.vocabSize;
  let model: MoEModel;
  beforeAll(async () => {
    await useBackend();
    model = MoEModel.init(cfg, 12);
  });
  afterAll(() => model.dispose());

  test('steps at positions 500–560 equal the full forward (≤ 1e-4) with the same routing', () => {
    expect(cfg.numKvHeads).toBeLessThan(cfg.numHeads);
    const ids = randomIds(561, V, 21);
    const full = model.forward([ids]);
    const pre = 500;
    const { cache } = model.prefill(ids.slice(0, pre), 'none');
    let worst = 0;
    for (let t = pre; t < ids.length; t++) {
      const s = model.step(cache, ids[t]);
      worst = Math.max(worst, maxAbsDiff(s.logits, full.logits.subarray(t * V, (t + 1) * V)));
      for (let l = 0; l < cfg.numLayers; l++) {
        expect(Array.from(s.routing[l].experts)).toEqual(Array.from(full.routing[l].experts.subarray(t * cfg.topK, (t + 1) * cfg.topK)));
      }
    }
    expect(cache.capacity).toBe(576); // grown past 512 on the way
    cache.dispose();
    expect(worst).toBeLessThanOrEqual(1e-4);
  });

  test('the tensor count stays flat over 630 steps and returns to its start after dispose', () => {
    const ids = randomIds(8, V, 4);
    // a first decode and prefill build what the model keeps (decode weights, RoPE tables to 632 positions)
    const warm = model.prefill(ids.slice(0, 2), 'none').cache;
    for (let t = 0; t < 630; t++) model.step(warm, 1, 'none');
    warm.dispose();
    model.prefill(ids.slice(0, 2), 'none').cache.dispose();
    const before = tf.memory().numTensors;
    const { cache } = model.prefill(ids.slice(0, 2), 'none');
    const held = tf.memory().numTensors;
    const counts: number[] = [];
    for (let t = 0; t < 630; t++) {
      model.step(cache, (t * 37) % V, t % 2 ? 'routing' : 'none');
      if (t % 90 === 0) counts.push(tf.memory().numTensors);
    }
    expect(cache.length).toBe(632);
    expect(counts).toEqual(counts.map(() => held));
    cache.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the preallocated, batched cache', () => {
  const cfg = defaultMoEConfig('tiny', { maxPositions: 200 });
  const V = cfg.vocabSize;
  let model: MoEModel;
  beforeAll(async () => {
    await useBackend();
    model = MoEModel.init(cfg, 4);
  });
  afterAll(() => model.dispose());

  test('grows in blocks of KV_BLOCK columns and refuses to pass maxPositions', () => {
    const { cache } = model.prefill(randomIds(60, V, 1));
    expect(cache.capacity).toBe(64);
    for (let i = 0; i < 4; i++) model.step(cache, i);
    expect([cache.length, cache.capacity]).toEqual([64, 64]);
    model.step(cache, 4);
    expect([cache.length, cache.capacity]).toEqual([65, 128]);
    expect(() => cache.reserve(200)).toThrow('KvCache: 265 positions would exceed maxPositions 200');
    cache.dispose();
    expect(() => new KvCache(cfg.numLayers, cfg.maxPositions).reserve(1)).toThrow('KvCache: the cache is empty (prefill first)');
    expect(() => model.step(cache, 1)).toThrow('step: the KvCache was disposed');
  });

  test('two prompts of different lengths stepped as one batch equal two batch-1 steps (≤ 1e-4), across block growth', () => {
    const p1 = randomIds(62, V, 2);
    const p2 = randomIds(9, V, 3);
    const a = model.prefill(p1);
    const b = model.prefill(p2);
    const both = KvCache.stack([model.prefill(p1).cache, model.prefill(p2).cache]);
    expect(() => both.length).toThrow('KvCache.length is for batch 1; this cache holds 2 sequences (use lengths)');
    expect(() => model.step(both, 1)).toThrow('step: the cache holds 2 sequences; use stepBatch');
    expect(() => model.stepBatch(both, [1])).toThrow('step: 1 token ids for a cache of 2 sequences');
    let worst = 0;
    for (let i = 0; i < 8; i++) {
      const t = [(i * 5) % V, (i * 11) % V];
      const r = model.stepBatch(both, t);
      const s1 = model.step(a.cache, t[0]);
      const s2 = model.step(b.cache, t[1]);
      worst = Math.max(worst, maxAbsDiff(r.logits[0], s1.logits), maxAbsDiff(r.logits[1], s2.logits));
      // routing rows follow the sequences
      expect(Array.from(r.routing[0].experts.subarray(0, cfg.topK))).toEqual(Array.from(s1.routing[0].experts));
      expect(Array.from(r.routing[0].experts.subarray(cfg.topK))).toEqual(Array.from(s2.routing[0].experts));
    }
    expect(both.lengths).toEqual([70, 17]);
    expect(worst).toBeLessThanOrEqual(1e-4);
    for (const c of [a.cache, b.cache, both]) c.dispose();
  });

  test('a clone is independent of its source and both still equal the full forward; no leaks', () => {
    const ids = randomIds(80, V, 9);
    model.forward([ids.slice(0, 10)]); // warm the causal masks used below
    model.forward([ids.slice(0, 42)]);
    const full = model.forward([ids]).logits;
    const before = tf.memory().numTensors;
    const cache = model.prefill(ids.slice(0, 10)).cache;
    let branch: KvCache | null = null;
    let worst = 0;
    for (let t = 10; t < 80; t++) {
      worst = Math.max(worst, maxAbsDiff(model.step(cache, ids[t]).logits, full.subarray(t * V, (t + 1) * V)));
      if (t === 40) branch = cache.clone();
    }
    expect(worst).toBeLessThanOrEqual(1e-4);
    // the source wrote columns 41..79 after the clone; the branch still holds the sequence up to 40
    const full42 = model.forward([ids.slice(0, 42)]).logits;
    expect(maxAbsDiff(model.step(branch!, ids[41]).logits, full42.subarray(41 * V, 42 * V))).toBeLessThanOrEqual(1e-4);
    for (const c of [cache, branch!]) c.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
