/**
 * The LM head only on the rows a host path reads: MoEModel.forwardRows against forward (logits rows, routing,
 * aux, hidden states bit for bit; no rows: no head), a 'logits' hook still seeing every row, and prefill (the
 * head on the last position) against the prefill before it (bench/head-legacy.ts legacyPrefill): logits,
 * routing, hidden states, the KV cache and an adapter's decode state the same, bit for bit; errors; no leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { sameBits } from '../helpers/grads';
import { PrevInputAdapter } from '../helpers/test-adapters';
import { sameCaches } from '../helpers/prefill-compare';
import { MoEModel, CaptureLevel } from '../../kernel-lib/model/model';
import { defaultMoEConfig } from '../../kernel-lib/model/config';
import { legacyPrefill } from '../../bench/head-legacy';

const cfg = defaultMoEConfig('tiny');
const V = cfg.vocabSize;
const B = 3;
const T = 12;
const ids = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b * 41 + t * 29 + 5) % V));
const prompt = Array.from({ length: 19 }, (_, t) => (t * 37 + 11) % V);
let model: MoEModel;
beforeAll(async () => {
  await useBackend();
  model = MoEModel.init(cfg, 4);
  // what the model builds once and keeps, before any leak count: causal masks per length, decode weights, RoPE tables
  for (const n of [1, T, prompt.length]) model.forward([prompt.slice(0, n)]);
  const { cache } = model.prefill(prompt, 'none');
  for (let i = 0; i < 6; i++) model.step(cache, i, 'full');
  cache.dispose();
});
afterAll(() => model.dispose());

const row = (x: Float32Array, r: number) => x.subarray(r * V, (r + 1) * V);

test("forwardRows: the rows asked for are forward's rows bit for bit, with its routing, aux and hidden states; no rows, no head", () => {
  const before = tf.memory().numTensors;
  const hidden = { names: ['blocks.1.hook_resid_mid', 'final_norm'], rows: [0, 7, 30] };
  const full = model.forward(ids, { capture: 'full', hidden });
  const rows = [35, 0, 13, 13, 7, 24]; // any order, repeats allowed
  const got = model.forwardRows(ids, rows, { capture: 'full', hidden });
  expect(got.logits.length).toBe(rows.length * V);
  rows.forEach((r, i) => expect(sameBits(row(got.logits, i), row(full.logits, r))).toBe(true));
  expect(got.routing).toEqual(full.routing);
  expect(got.aux).toBe(full.aux);
  expect(got.hidden).toEqual(full.hidden);
  const none = model.forwardRows(ids, [], { capture: 'routing' });
  expect(none.logits.length).toBe(0);
  expect(none.routing).toEqual(model.forward(ids, { capture: 'routing' }).routing);
  // position metadata reaches the trunk as in forward (legacy modality codes here)
  const modalities = Uint8Array.from({ length: B * T }, (_, i) => i % 3);
  expect(sameBits(model.forwardRows(ids, [B * T - 1], { modalities }).logits, row(model.forward(ids, { modalities }).logits, B * T - 1))).toBe(true);
  expect(tf.memory().numTensors).toBe(before);
});

test("a 'logits' hook still sees every row, and the rows read are its output; hooks elsewhere apply as in forward", () => {
  const before = tf.memory().numTensors;
  const shapes: number[][] = [];
  const double = new Map([['logits', (t: tf.Tensor) => (shapes.push(t.shape), tf.mul(t, 2))]]);
  const rows = [4, 31];
  const want = model.forward(ids, { hooks: double });
  const got = model.forwardRows(ids, rows, { hooks: double });
  expect(shapes).toEqual([[B * T, V], [B * T, V]]);
  rows.forEach((r, i) => expect(sameBits(row(got.logits, i), row(want.logits, r))).toBe(true));
  model.forwardRows(ids, [], { hooks: double }); // the hook fires with no rows read, too
  expect(shapes.length).toBe(3);
  // a cache naming 'logits' also runs the whole head (its copy is taken of every row)
  expect(sameBits(model.forwardRows(ids, rows, { cacheNames: (n) => n === 'logits' }).logits, model.forwardRows(ids, rows).logits)).toBe(true);
  const scale = new Map([['final_norm', (t: tf.Tensor) => tf.mul(t, 0.5)]]);
  const s = model.forwardRows(ids, [9], { hooks: scale });
  expect(sameBits(s.logits, row(model.forward(ids, { hooks: scale }).logits, 9))).toBe(true);
  expect(sameBits(s.logits, row(model.forward(ids).logits, 9))).toBe(false); // the hook changed them
  expect(tf.memory().numTensors).toBe(before);
});

test('forwardRows: rows must be positions of ids (named in the error); ids are checked as in forward; nothing leaks', () => {
  const before = tf.memory().numTensors;
  expect(() => model.forwardRows(ids, [0, B * T])).toThrow(`forwardRows: rows[1] = ${B * T} is not a position of ids (0..${B * T - 1}, b·T + t for ${B} rows of ${T})`);
  expect(() => model.forwardRows(ids, [-1])).toThrow(`forwardRows: rows[0] = -1 is not a position of ids (0..${B * T - 1}, b·T + t for ${B} rows of ${T})`);
  expect(() => model.forwardRows(ids, [1.5])).toThrow(`forwardRows: rows[0] = 1.5 is not a position of ids`);
  expect(() => model.forwardRows(ids, 3 as never)).toThrow('forwardRows: rows must be an array of positions b·T + t, got 3');
  expect(() => model.forwardRows([[0, V]], [0])).toThrow(`ids[0][1] = ${V} is outside the vocabulary [0, ${V})`);
  expect(() => model.forwardRows([], [])).toThrow('ids must be a non-empty array of rows');
  expect(() => model.forwardRows(ids, [0], { hidden: { names: ['final_norm'], as: 'tensor' }, hooks: new Map([['embed', () => { throw new Error('boom'); }]]) })).toThrow('boom');
  expect(tf.memory().numTensors).toBe(before);
});

describe('prefill computes the head on the last position only', () => {
  const adapter = () => model.adapters.names.includes('prev');
  afterEach(() => {
    if (adapter()) model.adapters.remove('prev');
  });

  test.each([
    ['none', false], ['routing', false], ['full', true], ['routing', true],
  ] as Array<[CaptureLevel, boolean]>)('capture %s, decode-state adapter %s: as before, bit for bit (logits, routing, hidden, KV cache, adapter state)', (capture, withAdapter) => {
    if (withAdapter) model.adapters.add(new PrevInputAdapter('prev', cfg));
    const before = tf.memory().numTensors;
    const hidden = { names: ['embed', 'final_norm'], rows: [0, prompt.length - 1] };
    const modalities = Uint8Array.from(prompt, (_, i) => (i < 4 ? 0 : 1));
    const old = legacyPrefill(model, prompt, capture, { hidden, modalities });
    const now = model.prefill(prompt, capture, { hidden, modalities });
    expect(now.logits.length).toBe(V);
    expect(sameBits(now.logits, old.logits)).toBe(true);
    // …which is forward's last row
    expect(sameBits(now.logits, row(model.forward([prompt], { modalities }).logits, prompt.length - 1))).toBe(true);
    expect(now.routing).toEqual(old.routing);
    expect(capture === 'none' ? now.routing.length : now.routing[0].experts.length).toBe(capture === 'none' ? 0 : prompt.length * cfg.topK);
    expect(now.hidden).toEqual(old.hidden);
    expect(now.cache.length).toBe(prompt.length);
    const same = sameCaches(model, old.cache, now.cache, ['prev'], [3, 50, 7, 1].map((id) => ({ id })));
    expect(same.states).toBe(withAdapter ? cfg.numLayers : 0); // PrevInputAdapter keeps one tensor per layer
    old.cache.dispose();
    now.cache.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('a one-token prompt and a cache given to fill behave as before; a failing prefill leaves the given cache empty', () => {
    const before = tf.memory().numTensors;
    const one = model.prefill([prompt[0]], 'routing');
    const was = legacyPrefill(model, [prompt[0]], 'routing');
    expect(sameBits(one.logits, was.logits)).toBe(true);
    sameCaches(model, was.cache, one.cache, [], [{ id: 2 }]);
    was.cache.reset();
    const again = model.prefill(prompt, 'none', { cache: was.cache });
    expect(again.cache).toBe(was.cache);
    const fresh = model.prefill(prompt, 'none');
    expect(sameBits(again.logits, fresh.logits)).toBe(true);
    fresh.cache.dispose();
    one.cache.reset();
    expect(() => model.prefill(prompt, 'none', { cache: one.cache, modalities: Uint8Array.of(0) })).toThrow();
    expect(one.cache.length).toBe(0);
    expect(() => model.prefill([], 'none')).toThrow('prefill: the prompt has no tokens');
    one.cache.dispose();
    again.cache.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
