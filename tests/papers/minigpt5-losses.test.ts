/**
 * MiniGPT-5's losses on a tiny LM and a tiny random decoder (papers/minigpt5-…/losses.ts, batch.ts): L_text
 * against a float64 NLL of the full forward, L_CAP against a float64 MSE of the mapper's output and the
 * decoder's own caption encoder, the CFG dropout path (a dropped row is conditioned on ĥ_0 = mapper(0)),
 * L_LDM's gradient reaching the mapper and the voken rows THROUGH the frozen decoder (checked against a
 * finite difference) while no gradient is taken for the decoder, rows and masks of the batch, no leaks; the
 * LM head run only on the target rows and the voken states picked by selectRows give the losses and every
 * trained gradient of the old path (the head over every row, a one-hot product; bench/head-legacy.ts) bit for bit.
 */
import * as tf from '@tensorflow/tfjs';
import { minigpt5 } from '../../kernel-lib';
import type { Session } from '../../kernel-lib/session';
import type { LatentDiffusion } from '../../kernel-lib/diffusion';
import { clearAttentionCache } from '../../kernel-lib/diffusion/attention';
import { rowLogSumExp } from '../../kernel-lib/util/stats';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';
import { useBackend } from '../helpers/backend';
import { sameBits } from '../helpers/grads';
import { attachLoRA } from '../../kernel-lib/adapters';
import { trainingParams } from '../../kernel-lib/train/trainer';
import { localGradients } from '../../kernel-lib/train/loop';
import { legacyVokenLosses } from '../../bench/head-legacy';
import { captionItems, storyLikeItems, tinyParts } from './minigpt5-helpers';

let s: Session;
let ldm: LatentDiffusion;
let mapper: minigpt5.FeatureMapper;
beforeAll(async () => {
  await useBackend();
  ({ session: s, ldm } = await tinyParts(2));
  const cap = ldm.config.caption;
  mapper = minigpt5.FeatureMapper.create(minigpt5.defaultMapperConfig({ hiddenSize: s.config.hiddenSize, numVokens: s.tokenizer.numVokens, length: cap.maxTokens, dim: cap.dim }, { heads: 2, encoderLayers: 1, decoderLayers: 1 }), 3);
});
afterAll(() => {
  mapper.dispose();
  ldm.dispose();
  s.dispose();
});

const ALL = { text: 1, ldm: 1, cap: 1 };
const batchOf = (items: minigpt5.VokenItem[], o: Partial<{ vokenDropout: number; step: number; weights: minigpt5.LossWeights }> = {}) =>
  minigpt5.vokenBatch(s, ldm, items, { weights: o.weights ?? ALL, vokenDropout: o.vokenDropout ?? 0, vokens: true, dropSeed: 1, step: o.step ?? 0, noiseSeed: 77 });

test('rows: <bos> caption [IMG1] … [IMGn] <eos>, every target weighted; story rows weight only their targets; text-only rows have no vokens', () => {
  const tok = s.tokenizer;
  const v = minigpt5.vokenIds(tok);
  const [item] = captionItems(1);
  const row = minigpt5.vokenRow(tok, item);
  const text = tok.encodePrompt(item.targetText!, { addBos: false }).ids;
  expect(row.ids).toEqual([tok.bos, ...text, ...v, tok.eos]);
  expect(row.targetAt).toBe(1);
  expect(row.vokenAt).toBe(1 + text.length);
  expect(minigpt5.vokenRow(tok, item, { vokens: false }).ids).toEqual([tok.bos, ...text, tok.eos]);
  const items = storyLikeItems(3); // text + image, image, text
  const p = minigpt5.padRows(tok, items.map((it) => minigpt5.vokenRow(tok, it)));
  expect(p.imageRows).toEqual([0, 1]);
  expect(p.vokenPositions).toHaveLength(2 * v.length);
  for (const [k, pos] of p.vokenPositions.entries()) {
    const b = Math.floor(pos / p.T);
    expect(p.rows[b][pos % p.T]).toBe(v[k % v.length]); // the INPUT at a voken position is that voken
  }
  // weights: 1 exactly where the target (ids[j + 1]) is part of the target or <eos>
  items.forEach((it, b) => {
    const r = minigpt5.vokenRow(tok, it);
    for (let j = 0; j < p.T; j++) expect(p.weights[b * p.T + j]).toBe(j + 1 >= r.targetAt && j + 1 < r.ids.length ? 1 : 0);
  });
  expect(() => minigpt5.vokenRow(tok, { id: 'x', prompt: [], targetText: null, image: null, caption: null })).toThrow('minigpt5: item x has no target');
});

test('L_text is the weighted NLL of the full forward (float64 reference); L_CAP is MSE(mapper(h_voken), τ(caption)) over the kept rows (float64)', () => {
  const items = captionItems(3);
  const b = batchOf(items, { vokenDropout: 0 });
  b.keep[1] = 0; // a dropped row takes no part in L_CAP
  const l = minigpt5.hostLosses({ model: s.model, mapper, ldm }, b, ALL);
  // L_text
  const V = s.config.vocabSize;
  let num = 0;
  let den = 0;
  b.rows.forEach((r, i) => {
    const { logits } = s.model.forward([r.slice(0, b.T)], { capture: 'none', positions: s.positions(r.slice(0, b.T)) });
    for (let t = 0; t < b.T; t++) {
      const w = b.weights[i * b.T + t];
      num += w * (rowLogSumExp(logits, t * V, V) - logits[t * V + r[t + 1]]);
      den += w;
    }
  });
  expect(Math.abs(l.text - num / den)).toBeLessThan(1e-4);
  // τ(caption) is the decoder's own caption encoder
  const tau = ldm.encodeCaption(items.map((it) => it.caption!));
  expect(b.capTarget).toEqual(tau.seq.dataSync());
  tf.dispose([tau.seq, tau.mask]);
  // ĥ from the voken states of an independent full forward (vokenStates), then the MSE in float64
  const states = minigpt5.vokenStates(s, items.map((it) => it.targetText!));
  const hat = mapper.map(states, 3);
  const h = hat.seq.dataSync();
  const { maxTokens: L, dim } = ldm.config.caption;
  let sq = 0;
  for (const r of [0, 2]) for (let i = 0; i < L * dim; i++) sq += (h[r * L * dim + i] - b.capTarget![r * L * dim + i]) ** 2;
  expect(Math.abs(l.cap! - sq / (2 * L * dim))).toBeLessThan(1e-5 * Math.max(1, l.cap!));
  tf.dispose([hat.seq, hat.mask]);
  // and captionLoss by itself, on hand-made numbers: keep weights rows, none kept is 0
  tf.tidy(() => {
    const a = tf.tensor3d([1, 2, 3, 4], [2, 1, 2]);
    const t = tf.tensor3d([0, 0, 0, 1], [2, 1, 2]);
    expect(minigpt5.captionLoss(a, t).dataSync()[0]).toBeCloseTo((1 + 4 + 9 + 9) / 4, 6);
    expect(minigpt5.captionLoss(a, t, Float32Array.of(0, 1)).dataSync()[0]).toBeCloseTo((9 + 9) / 2, 6);
    expect(minigpt5.captionLoss(a, t, Float32Array.of(0, 0)).dataSync()[0]).toBe(0);
  });
});

test('CFG dropout: a dropped row is conditioned on ĥ_0 = mapper(0), so its L_LDM is the decoder loss of the zero-voken sequence', () => {
  const items = captionItems(1, 4);
  const b = batchOf(items);
  b.keep[0] = 0;
  const l = minigpt5.hostLosses({ model: s.model, mapper, ldm }, b, { text: 0, ldm: 1, cap: 0 });
  const want = tf.tidy(() => ldm.loss(b.latents, mapper.zeroConditioning(1), { seed: b.noiseSeed }).dataSync()[0]);
  expect(Math.abs(l.ldm! - want)).toBeLessThan(1e-6);
  // the seeded dropout drops about 10 % of image rows, the same rows for the same step
  const many = captionItems(40);
  const drops = [0, 1, 2, 3, 4].map((step) => batchOf(many, { vokenDropout: 0.1, step }).keep);
  const dropped = drops.reduce((n, k) => n + k.filter((x) => x === 0).length, 0);
  expect(dropped).toBeGreaterThan(8);
  expect(dropped).toBeLessThan(35);
  expect(batchOf(many, { vokenDropout: 0.1, step: 3 }).keep).toEqual(drops[3]);
  tf.dispose(minigpt5.vokenDropout(tf.ones([2, 1, 1]) as tf.Tensor3D, Float32Array.of(1, 1))); // all kept: the same tensor back
  expect(() => minigpt5.vokenDropout(tf.ones([2, 1, 1]) as tf.Tensor3D, Float32Array.of(1))).toThrow('vokenDropout: 1 keep flags for 2 rows');
});

test('L_LDM reaches the mapper and the voken rows through the frozen decoder (finite difference); the decoder gets no gradient; no leaks', () => {
  clearAttentionCache();
  const items = captionItems(2, 1);
  const b = batchOf(items);
  const w = { text: 0, ldm: 1, cap: 0 };
  const parts = { model: s.model, mapper, ldm };
  minigpt5.hostLosses(parts, b, w); // warm caches (masks, position tables)
  const n0 = tf.memory().numTensors;
  const names = ['mapper.mlp.fc1.weight', 'mapper.decoder.layers.0.cross.kv.weight', 'mapper.queries'];
  const vars = [...names.map((n) => mapper.params.get(n)!), s.model.params.get('embed')!];
  const ldmBefore = new Map([...ldm.params].map(([n, v]) => [n, Float32Array.from(v.dataSync())]));
  const { value, grads } = tf.engine().gradients(() => minigpt5.vokenLosses(parts, b, w).total, vars, undefined, true);
  expect(grads.every((g) => g !== undefined && g !== null)).toBe(true);
  const gd = grads.map((g) => g.dataSync() as Float32Array);
  for (const g of gd.slice(0, 3)) expect(Math.max(...g.map(Math.abs))).toBeGreaterThan(1e-6);
  // the embedding's gradient is nonzero on the voken rows (what trains in stage 1)
  const H = s.config.hiddenSize;
  const v = minigpt5.vokenIds(s.tokenizer);
  const vokenGrad = gd[3].slice(v[0] * H, (v[v.length - 1] + 1) * H);
  expect(Math.max(...vokenGrad.map(Math.abs))).toBeGreaterThan(1e-7);
  // directional derivative of the loss along a random direction of the mapper's cross.kv weight vs a central difference
  const P = mapper.params.get(names[1])!;
  const dir = normalArray(P.size, 1, mulberry32(5));
  const analytic = gd[1].reduce((a, g, i) => a + g * dir[i], 0);
  const base = Float32Array.from(P.dataSync());
  const at = (eps: number) => {
    tf.tidy(() => P.assign(tf.tensor(base.map((x, i) => x + eps * dir[i]), P.shape)));
    return minigpt5.hostLosses(parts, b, w).total;
  };
  const eps = 1e-2;
  const numeric = (at(eps) - at(-eps)) / (2 * eps);
  tf.tidy(() => P.assign(tf.tensor(base, P.shape)));
  expect(Math.abs(numeric - analytic)).toBeLessThan(0.05 * Math.abs(analytic) + 1e-4);
  expect(Math.abs(analytic)).toBeGreaterThan(1e-4);
  // nothing of the decoder changed, and nothing is left over
  for (const [n, x] of ldm.params) expect(x.dataSync()).toEqual(ldmBefore.get(n));
  tf.dispose([value, ...grads]);
  expect(tf.memory().numTensors).toBe(n0);
});

test.each([
  ['stage 1: caption pairs (padding weighted 0)', 1],
  ['stage 2: stories with LoRA (prompts and padding weighted 0)', 2],
] as const)('the head on target rows only = the old path, loss parts and every trained gradient bit for bit: %s', (_n, stage) => {
  clearAttentionCache();
  const adapter = stage === 2 ? attachLoRA(s, { kind: 'lora', rank: 2, alpha: 4, seed: 3, name: 'minigpt5' }) : null;
  try {
    if (adapter) for (const [n, v] of adapter.parameters()) if (n.endsWith('.B')) v.assign(tf.tidy(() => tf.randomUniform(v.shape, -0.1, 0.1, 'float32', 9)));
    const items = stage === 1 ? captionItems(4, 2) : storyLikeItems(4, 1).map((it) => ({ ...it, caption: null }));
    const w = stage === 1 ? ALL : { text: 0.01, ldm: 1, cap: 0 };
    const b = batchOf(items, { weights: w });
    b.keep[0] = 0; // one row's vokens dropped (CFG)
    const zeros = b.weights.filter((x) => x === 0).length;
    expect([zeros > 0, b.imageRows.length > 1]).toEqual([true, true]);
    const params = trainingParams(s.model);
    for (const [n, v] of mapper.params) params.set(n, v);
    const trained = [...params.keys()].filter((n) => n === 'embed' || n === 'lm_head' || n.startsWith('mapper.') || !s.model.params.has(n));
    const parts = { model: s.model, mapper, ldm };
    const run = (f: typeof minigpt5.vokenLosses) => {
      let values: number[] = [];
      let grads = new Map<string, Float32Array>();
      tf.tidy(() => {
        const g = localGradients(params, () => {
          const l = f(parts, b, w);
          values = [l.total, l.text, l.ldm, l.cap].map((t) => (t ? t.dataSync()[0] : NaN));
          return l.total;
        })(null, 0, trained);
        grads = new Map([...g.grads].map(([n, t]) => [n, Float32Array.from(t.dataSync() as Float32Array)]));
      });
      return { values, grads };
    };
    run(legacyVokenLosses); // warm caches
    const n0 = tf.memory().numTensors;
    const old = run(legacyVokenLosses);
    const neu = run(minigpt5.vokenLosses);
    expect(tf.memory().numTensors).toBe(n0);
    expect(neu.values.map((x, i) => Object.is(x, old.values[i]))).toEqual([true, true, true, true]);
    expect(neu.grads.size).toBe(trained.length);
    expect(trained.filter((n) => !sameBits(neu.grads.get(n)!, old.grads.get(n)!))).toEqual([]);
    const H = s.config.hiddenSize;
    const v = minigpt5.vokenIds(s.tokenizer);
    expect(neu.grads.get('embed')!.slice(v[0] * H, (v[v.length - 1] + 1) * H).some((x) => x !== 0)).toBe(true); // the voken rows are reached
  } finally {
    adapter?.detach();
  }
});

test('a batch without image rows (text tasks) costs L_text only; switched-off losses are not computed', () => {
  const textOnly = storyLikeItems(3).filter((it) => it.image === null);
  const b = minigpt5.vokenBatch(s, ldm, textOnly, { weights: ALL, vokenDropout: 0, vokens: true, dropSeed: 0, step: 0, noiseSeed: 1 });
  expect(b.imageRows).toEqual([]);
  const l = minigpt5.hostLosses({ model: s.model, mapper, ldm }, b, ALL);
  expect(l.ldm).toBeNull();
  expect(l.cap).toBeNull();
  expect(l.total).toBeCloseTo(l.text, 6);
  const caps = batchOf(captionItems(2), { weights: { text: 0.01, ldm: 0, cap: 0.1 } });
  expect(caps.latents.length).toBe(0); // no L_LDM: the images are not even encoded
  const onlyCap = minigpt5.hostLosses({ model: s.model, mapper, ldm }, caps, { text: 0.01, ldm: 0, cap: 0.1 });
  expect(onlyCap.ldm).toBeNull();
  expect(onlyCap.total).toBeCloseTo(0.01 * onlyCap.text + 0.1 * onlyCap.cap!, 5);
  expect(() => minigpt5.vokenBatch(s, ldm, storyLikeItems(1), { weights: ALL, vokenDropout: 0, vokens: true, dropSeed: 0, step: 0, noiseSeed: 1 })).toThrow(
    'minigpt5: L_CAP needs a caption, item tiny/story/0 has none (stage 2 is description-free)',
  );
});

test('batches are a pure function of (seed, step); a window of batches is cut from its items sorted by row length', () => {
  const items = [...storyLikeItems(12), ...captionItems(12)];
  const source = { size: items.length, items: (ix: readonly number[]) => ix.map((i) => items[i]) };
  const o = { weights: { text: 1, ldm: 1, cap: 0 }, vokenDropout: 0.1, vokens: true, batchSize: 4, seed: 3, window: 3 };
  const f = minigpt5.vokenBatches(s, ldm, source, o);
  const g = minigpt5.vokenBatches(s, ldm, source, o);
  const late = g(4); // out of order first: the same batch as in order
  const seq = [0, 1, 2, 3, 4, 5].map((i) => f(i));
  expect(late.rows).toEqual(seq[4].rows);
  expect(late.keep).toEqual(seq[4].keep);
  for (const w of [0, 3]) {
    const lens = seq.slice(w, w + 3).map((b) => b.rows.map((r) => r.indexOf(s.tokenizer.eos) + 1)).map((l) => [Math.min(...l), Math.max(...l)]).sort((a, b) => a[0] - b[0]);
    for (let k = 1; k < 3; k++) expect(lens[k][0]).toBeGreaterThanOrEqual(lens[k - 1][1]); // length ranges do not interleave
  }
  // one epoch (24 items = 6 batches) draws every item once
  const drawn = seq.flatMap((b) => b.rows.map((r) => r.slice(0, r.indexOf(s.tokenizer.eos) + 1).join(','))).sort();
  expect(drawn).toEqual(items.map((it) => minigpt5.vokenRow(s.tokenizer, it).ids.join(',')).sort());
  expect(() => minigpt5.vokenBatches(s, ldm, source, { ...o, window: 0 })).toThrow('minigpt5: window must be a positive integer, got 0');
});

test('narrationNll: per item the mean NLL of its target text after its prompt (no vokens in the row); NaN without text', () => {
  const items = storyLikeItems(3); // text + image, image only, text only
  const r = minigpt5.narrationNll(s, items);
  expect(Number.isNaN(r.nll[1])).toBe(true);
  expect(r.tokens[1]).toBe(0);
  const tok = s.tokenizer;
  const V = s.config.vocabSize;
  for (const i of [0, 2]) {
    const it = items[i];
    const prompt = tok.encodePrompt(it.prompt.map((p) => ('text' in p ? { text: p.text } : { image: p.image }))).ids;
    const text = tok.encodePrompt(it.targetText!, { addBos: false }).ids;
    const ids = [...prompt, ...text];
    const { logits } = s.model.forward([ids], { capture: 'none', positions: s.positions(ids) });
    let sum = 0;
    text.forEach((id, k) => {
      const t = prompt.length - 1 + k;
      sum += rowLogSumExp(logits, t * V, V) - logits[t * V + id];
    });
    expect(r.tokens[i]).toBe(text.length);
    expect(Math.abs(r.nll[i] - sum / text.length)).toBeLessThan(1e-5);
  }
});
