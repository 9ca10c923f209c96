import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { PrevInputAdapter } from '../helpers/test-adapters';
import { MoEModel } from '../../kernel-lib/model/model';
import { KvCache } from '../../kernel-lib/model/kv-cache';
import { defaultMoEConfig } from '../../kernel-lib/model/config';

const cfg = defaultMoEConfig('tiny');
const V = cfg.vocabSize;
const ids = Array.from({ length: 24 }, (_, i) => (i * 17 + 3) % V);
let model: MoEModel;
let adapter: PrevInputAdapter;
beforeAll(async () => {
  await useBackend();
  model = MoEModel.init(cfg, 9);
  adapter = new PrevInputAdapter('prev', cfg);
  model.adapters.add(adapter);
});
afterAll(() => model.dispose());

test('an adapter whose delta depends on the previous position: step == forward (≤ 1e-4), state in the KvCache', () => {
  const full = model.forward([ids]).logits;
  // the adapter changes the model (so the test can fail if the state were ignored)
  adapter.enabled = false;
  const base = model.forward([ids]).logits;
  adapter.enabled = true;
  expect(maxAbsDiff(full, base)).toBeGreaterThan(1e-2);
  const created = adapter.created;
  const pre = 5;
  const { cache, logits } = model.prefill(ids.slice(0, pre), 'none');
  expect(adapter.created).toBe(created + 1); // one state for the one sequence, made lazily by prefill
  let worst = maxAbsDiff(logits, full.subarray((pre - 1) * V, pre * V));
  for (let t = pre; t < ids.length; t++) worst = Math.max(worst, maxAbsDiff(model.step(cache, ids[t], 'none').logits, full.subarray(t * V, (t + 1) * V)));
  cache.dispose();
  expect(worst).toBeLessThanOrEqual(1e-4);
});

test('clone() copies the state; reset() and dispose() free it; tensor counts stay flat', () => {
  for (const n of [6, 12, 4, 3]) model.forward([ids.slice(0, n)]); // warm the causal masks used below
  const before = tf.memory().numTensors;
  const { cache } = model.prefill(ids.slice(0, 6), 'none');
  for (let t = 6; t < 10; t++) model.step(cache, ids[t], 'none');
  const branch = cache.clone();
  const a = model.step(cache, ids[10], 'none').logits;
  const b = model.step(branch, ids[10], 'none').logits;
  expect(b).toEqual(a);
  // the branch diverges without touching the original's state
  model.step(branch, 1, 'none');
  const c = model.step(cache, ids[11], 'none').logits;
  const full = model.forward([ids.slice(0, 12)]).logits;
  expect(maxAbsDiff(c, full.subarray(11 * V, 12 * V))).toBeLessThanOrEqual(1e-4);
  branch.dispose();
  // reset empties buffers and states; the same cache is prefilled again and agrees with the forward
  cache.reset();
  expect(cache.length).toBe(0);
  const again = model.prefill(ids.slice(0, 3), 'none', { cache });
  expect(again.cache).toBe(cache);
  const d = model.step(cache, ids[3], 'none').logits;
  expect(maxAbsDiff(d, model.forward([ids.slice(0, 4)]).logits.subarray(3 * V, 4 * V))).toBeLessThanOrEqual(1e-4);
  cache.dispose();
  expect(tf.memory().numTensors).toBe(before);
  expect(() => model.prefill(ids, 'none', { cache })).toThrow('prefill: the cache given must be an empty batch-1 cache of this model (new, or reset)');
});

test('batched sequences keep one state each: stepBatch rows equal batch-1 steps', () => {
  const p1 = ids.slice(0, 7);
  const p2 = ids.slice(9, 12);
  const a = model.prefill(p1, 'none');
  const b = model.prefill(p2, 'none');
  const both = KvCache.stack([model.prefill(p1, 'none').cache, model.prefill(p2, 'none').cache]);
  expect(both.lengths).toEqual([7, 3]);
  let worst = 0;
  for (let i = 0; i < 6; i++) {
    const t = [ids[20 - i], ids[i]];
    const r = model.stepBatch(both, t, { capture: 'none' });
    worst = Math.max(worst, maxAbsDiff(r.logits[0], model.step(a.cache, t[0], 'none').logits), maxAbsDiff(r.logits[1], model.step(b.cache, t[1], 'none').logits));
  }
  expect(worst).toBeLessThanOrEqual(1e-4);
  for (const c of [a.cache, b.cache, both]) c.dispose();
});
