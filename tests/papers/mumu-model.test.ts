/**
 * MUMU's model pieces (papers/mumu-multimodal-prompts) on the tiny LM and a tiny random decoder, with the
 * multimodal prompts of a small data build: prompt rows at every tokens-per-crop setting (checked against a
 * layout written here from the parts), the pooling's shapes and its averaging start, encoder states equal to
 * each prompt's own unpadded forward (all codes and pooled, both paths), the connector non-causal and blind
 * to padding, the loss's gradient reaching the connector, the pooling through the LM and the decoder LoRA
 * (checked against a finite difference), and no tensor outliving a call. The LM runs without its head
 * (forwardStates / forwardHidden): states, loss and gradients are the old full forward's bit for bit.
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { mumu, Session } from '../../kernel-lib';
import type { LatentDiffusion } from '../../kernel-lib/diffusion';
import { DecoderLoRA } from '../../kernel-lib/diffusion/lora';
import { clearAttentionCache } from '../../kernel-lib/diffusion/attention';
import { mumuPrompts } from '../../kernel-lib/data/mumu-prompts';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { countOutputs, matMulsOf, sameBits } from '../helpers/grads';
import { legacyStatesModel } from '../../bench/head-legacy';
import { tempDir } from '../data/helpers';
import { smallStore, tinyCropEncoder, tinyParts } from './mumu-helpers';

let dir: string;
let s: Session;
let ldm: LatentDiffusion;
let items: mumu.MumuItem[];
beforeAll(async () => {
  await useBackend();
  dir = tempDir('mumu-model');
  const store = await smallStore(dir);
  ({ session: s, ldm } = await tinyParts(5));
  const list = mumuPrompts(store, { split: 'val', seed: 0, augment: false });
  items = mumu.codeExamples(Array.from({ length: 6 }, (_, i) => list.get(i)), tinyCropEncoder);
});
afterAll(() => {
  s.dispose();
  ldm.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

const H = 32; // tiny preset
const connectorFor = (tokens: number | null, seed = 1) =>
  mumu.Connector.create({ connector: mumu.defaultConnectorConfig({ hiddenSize: H, dim: ldm.config.caption.dim }, { layers: 2 }), pooler: tokens === null ? null : mumu.defaultPoolerConfig({ hiddenSize: H, codes: 16, tokens }) }, seed);

function settle(): void {
  clearAttentionCache();
  ldm.denoiser.dispose();
}

test('prompt rows: all codes keep the tokenizer layout; pooled crops leave N <img> slots between <boi> and <eoi>; wrong grids refused', () => {
  const tok = s.tokenizer;
  expect(items.some((it) => it.prompt.filter((p) => 'image' in p).length === 3)).toBe(true);
  for (const it of items) {
    expect(mumu.promptRow(tok, it.prompt, 16)).toEqual({ ids: tok.encodePrompt(it.prompt).ids, crops: [] });
    for (const N of [1, 4]) {
      // the layout written from the parts: <bos>, text as BPE, each crop <boi> <img>×N <eoi>
      const want: number[] = [tok.bos];
      const crops: { at: number; codeIds: number[] }[] = [];
      for (const p of it.prompt) {
        if ('text' in p) want.push(...tok.bpe.encode(p.text));
        else {
          want.push(tok.boi);
          crops.push({ at: want.length, codeIds: p.image.codes.map((c) => tok.imageCodeId(c)) });
          want.push(...new Array<number>(N).fill(tok.img), tok.eoi);
        }
      }
      expect(mumu.promptRow(tok, it.prompt, N)).toEqual({ ids: want, crops });
    }
  }
  const bad = [{ text: 'a' }, { image: { height: 2, width: 2, codes: [1, 2, 3, 4] } }];
  expect(() => mumu.promptRow(tok, bad, 4)).toThrow("mumu: prompt part 1 is a 2×2 code grid; the LM reads 4×4 (code crops at the tokenizer's grid)");
  expect(() => mumu.promptRow(tok, items[0].prompt, 32)).toThrow('mumu: tokensPerCrop must be an integer in [1, 16], got 32');
  const rows = items.slice(0, 3).map((it) => mumu.promptRow(tok, it.prompt, 4));
  const b = mumu.padPromptRows(tok, rows);
  expect([b.B, b.T]).toEqual([3, Math.max(...rows.map((r) => r.ids.length))]);
  rows.forEach((r, i) => {
    expect(Array.from(b.ids.subarray(i * b.T, i * b.T + r.ids.length))).toEqual(r.ids);
    expect(Array.from(b.ids.subarray(i * b.T + r.ids.length, (i + 1) * b.T)).every((x) => x === tok.pad)).toBe(true);
    expect(Array.from(b.mask.subarray(i * b.T, (i + 1) * b.T)).reduce((x, y) => x + y, 0)).toBe(r.ids.length);
  });
  expect(b.crops.length).toBe(rows.reduce((n, r) => n + r.crops.length, 0));
});

test('pooling: [n, C, H] → [n, N, H]; it starts as an attention-weighted average of the crop’s code embeddings; bad configs named', () => {
  settle();
  const n0 = tf.memory().numTensors;
  for (const N of [1, 4]) {
    const c = connectorFor(N);
    expect(c.numParams.pooler).toBe(N * H + 16 * H + 6 * H + 4 * (H * H + H) + (H * 2 * H + 2 * H) + (2 * H * H + H));
    const E = normalArray(3 * 16 * H, 0.5, mulberry32(N));
    const out = tf.tidy(() => c.pool(tf.tensor3d(E, [3, 16, H])).arraySync()) as number[][][];
    expect([out.length, out[0].length, out[0][0].length]).toEqual([3, N, H]);
    // a convex combination: every pooled value lies within its crop's codes' range in that dimension
    out.forEach((crop, j) => crop.forEach((tok) => tok.forEach((v, d) => {
      const col = Array.from({ length: 16 }, (_, k) => E[(j * 16 + k) * H + d]);
      expect(v).toBeGreaterThanOrEqual(Math.min(...col) - 1e-5);
      expect(v).toBeLessThanOrEqual(Math.max(...col) + 1e-5);
    })));
    // all codes alike → the pooled tokens are that code's embedding
    const same = new Float32Array(16 * H);
    for (let k = 0; k < 16; k++) same.set(E.subarray(0, H), k * H);
    const one = tf.tidy(() => c.pool(tf.tensor3d(same, [1, 16, H])).dataSync());
    for (let t = 0; t < N; t++) expect(maxAbsDiff(one.subarray(t * H, (t + 1) * H), E.subarray(0, H))).toBeLessThan(1e-5);
    c.dispose();
  }
  settle(); // the attention's cached block masks
  expect(tf.memory().numTensors).toBe(n0);
  expect(() => mumu.validatePoolerConfig(mumu.defaultPoolerConfig({ hiddenSize: H, codes: 16, tokens: 16 }))).toThrow("PoolerConfig.tokens (16) must be fewer than the crop's 16 codes (all codes need no pooling)");
  expect(() => mumu.validatePoolerConfig(mumu.defaultPoolerConfig({ hiddenSize: 30, codes: 64, tokens: 4 }))).toThrow('PoolerConfig.hiddenSize (30) must be divisible by heads (4)');
  expect(() => mumu.checkTokensPerCrop(8)).toThrow('mumu: tokensPerCrop must be one of 1, 4, 16, 64, got 8');
  expect(() => mumu.checkTokensPerCrop(64, 16)).toThrow('mumu: tokensPerCrop 64 is more than the 16 codes a crop has');
});

/** Each prompt's own unpadded forward: the final norm of every position, pooled tokens put in with tensor slices (not the library's selection matmul). */
function ownForward(row: mumu.PromptRow, c: mumu.Connector | null): Float32Array {
  const hooks = new Map<string, (t: tf.Tensor) => tf.Tensor>();
  if (c && row.crops.length > 0) {
    hooks.set('embed', (h) => {
      const N = c.config.pooler!.tokens;
      const parts: tf.Tensor[] = [];
      let from = 0;
      for (const crop of row.crops) {
        const E = tf.reshape(tf.gather(s.model.params.get('embed') as tf.Tensor, tf.tensor1d(crop.codeIds, 'int32')), [1, 16, H]) as tf.Tensor3D;
        parts.push(tf.slice(h, [from, 0], [crop.at - from, H]), tf.reshape(c.pool(E), [N, H]));
        from = crop.at + N;
      }
      parts.push(tf.slice(h, [from, 0], [h.shape[0] - from, H]));
      return tf.concat(parts, 0);
    });
  }
  return s.model.runWithCache([row.ids], ['final_norm'], { hooks }).cache.get('final_norm')!.data;
}

test('encoder states: every prompt position equals its own unpadded forward, all codes and pooled, on both paths', () => {
  const round = () => {
    for (const N of [16, 4, 1]) {
      const c = N === 16 ? null : connectorFor(N, 3);
      const rows = items.map((it) => mumu.promptRow(s.tokenizer, it.prompt, N));
      const b = mumu.padPromptRows(s.tokenizer, rows);
      const inference = tf.tidy(() => mumu.encoderStates(s.model, b, c).dataSync() as Float32Array);
      const training = tf.tidy(() => mumu.encoderStates(s.model, b, c, { training: true }).dataSync() as Float32Array);
      const kept = mumu.promptStates(s.model, b, c);
      expect(kept.shape).toEqual([b.B, b.T, H]);
      const host = kept.dataSync() as Float32Array;
      kept.dispose();
      rows.forEach((r, i) => {
        const want = ownForward(r, c);
        const at = (x: Float32Array) => x.subarray(i * b.T * H, (i * b.T + r.ids.length) * H);
        expect([N, i, maxAbsDiff(at(host), want) < 1e-5, maxAbsDiff(at(inference), want) < 1e-5, maxAbsDiff(at(training), want) < 1e-4]).toEqual([N, i, true, true, true]);
      });
      c?.dispose();
    }
  };
  round(); // the LM keeps rotary tables and masks per sequence length: tensors are counted over a second round
  settle();
  const n0 = tf.memory().numTensors;
  round();
  settle();
  expect(tf.memory().numTensors).toBe(n0);
  const b = mumu.padPromptRows(s.tokenizer, [mumu.promptRow(s.tokenizer, items[0].prompt, 4)]);
  const plain = connectorFor(null);
  expect(() => mumu.encoderStates(s.model, b, plain)).toThrow('mumu: the prompts have pooled crop slots, but the connector has no pooling');
  plain.dispose();
});

test.each([[16], [4]])('no LM head (%i tokens per crop): states, loss and every gradient the same bits as the full forward’s; no [B·T, V] product runs', async (N) => {
  settle();
  const c = connectorFor(N === 16 ? null : N, 7);
  const lora = DecoderLoRA.attach(ldm, { rank: 2, alpha: 2, seed: 2 });
  tf.tidy(() => {
    for (const [n, v] of lora.params) if (n.endsWith('.B')) v.assign(tf.fill(v.shape, 0.01));
    const fc2 = c.params.get('pool.ff.fc2.weight');
    fc2?.assign(tf.tensor(normalArray(fc2.size, 0.05, mulberry32(3)), fc2.shape));
  });
  const legacy = legacyStatesModel(s.model);
  const batch = mumu.probeBatch(s.tokenizer, ldm, items.slice(0, 4), { encoder: 'prompt', tokensPerCrop: N });
  const p = batch.prompts!;
  const vars = [...c.params.values(), ...lora.params.values()];
  const run = (model: typeof s.model) => {
    const host = (t: tf.Tensor) => Float32Array.from(t.dataSync() as Float32Array);
    const kept = mumu.promptStates(model, p, c);
    const out = { prompt: host(kept), train: tf.tidy(() => host(mumu.encoderStates(model, p, c, { training: true }))), loss: 0, grads: [] as Float32Array[] };
    kept.dispose();
    const { value, grads } = tf.engine().gradients(() => mumu.mumuLoss({ model, connector: c, ldm }, batch), vars, undefined, true);
    out.loss = value.dataSync()[0];
    out.grads = grads.map(host);
    tf.dispose([value, ...grads]);
    return out;
  };
  run(legacy); // the LM's kept tables for this length
  const n0 = tf.memory().numTensors;
  const old = run(legacy);
  const neu = run(s.model);
  expect(tf.memory().numTensors).toBe(n0);
  expect([sameBits(neu.prompt, old.prompt), sameBits(neu.train, old.train), Object.is(neu.loss, old.loss)]).toEqual([true, true, true]);
  expect(neu.grads.map((g, i) => sameBits(g, old.grads[i]))).toEqual(vars.map(() => true));
  expect(neu.grads.every((g) => g.some((x) => x !== 0))).toBe(true);
  // the head's product [B·T, H]·[H, V] runs on the old paths only
  const head = [p.B * p.T, s.config.vocabSize];
  const count = async (model: typeof s.model) => countOutputs(await matMulsOf(() => {
    mumu.promptStates(model, p, c).dispose();
    tf.tidy(() => void mumu.encoderStates(model, p, c, { training: true }));
  }), head);
  expect([await count(s.model), await count(legacy)]).toEqual([0, 2]);
  lora.detach();
  c.dispose();
  settle();
});

test('connector: a later position changes an earlier output (non-causal); padding values and padding length change nothing', () => {
  settle();
  const n0 = tf.memory().numTensors;
  const c = connectorFor(null, 4);
  const d = ldm.config.caption.dim;
  const T = 7;
  const states = normalArray(2 * T * H, 1, mulberry32(9));
  const mask = Float32Array.from({ length: 2 * T }, (_, i) => (i < T || i - T < 5 ? 1 : 0)); // row 1: 5 real positions
  const run = (x: Float32Array, m: Float32Array, t: number) =>
    tf.tidy(() => {
      const out = c.forward(tf.tensor3d(x, [2, t, H]), tf.tensor2d(m, [2, t]));
      expect(out.mask.shape).toEqual([2, t]);
      return out.seq.dataSync() as Float32Array;
    });
  const base = run(states, mask, T);
  const later = states.slice();
  for (let k = 0; k < H; k++) later[(T - 1) * H + k] += 1; // row 0, last position
  const moved = run(later, mask, T);
  expect(maxAbsDiff(moved.subarray(0, d), base.subarray(0, d))).toBeGreaterThan(1e-3); // position 0 changed
  expect(maxAbsDiff(moved.subarray(T * d), base.subarray(T * d))).toBe(0); // the other row did not
  const junk = states.slice();
  for (let i = (T + 5) * H; i < 2 * T * H; i++) junk[i] = 1e3; // row 1's padding
  const padded = run(junk, mask, T);
  const real = (x: Float32Array) => Array.from(x.subarray(0, (T + 5) * d));
  expect(real(padded).every((v, i) => Object.is(v, real(base)[i]))).toBe(true); // bit-identical
  expect(base.subarray((T + 5) * d).every((v) => v === 0) && padded.subarray((T + 5) * d).every((v) => v === 0)).toBe(true); // zeroed (±0)
  // two more padded positions on both rows
  const T2 = T + 2;
  const wide = new Float32Array(2 * T2 * H).fill(-7);
  const wmask = new Float32Array(2 * T2);
  for (let r = 0; r < 2; r++) {
    wide.set(states.subarray(r * T * H, (r + 1) * T * H), r * T2 * H);
    wmask.set(mask.subarray(r * T, (r + 1) * T), r * T2);
  }
  const w = run(wide, wmask, T2);
  for (let r = 0; r < 2; r++) expect(maxAbsDiff(w.subarray(r * T2 * d, (r * T2 + T) * d), base.subarray(r * T * d, (r + 1) * T * d))).toBeLessThan(1e-5);
  c.dispose();
  settle();
  expect(tf.memory().numTensors).toBe(n0);
  expect(() => mumu.validateConnectorConfig(mumu.defaultConnectorConfig({ hiddenSize: H, dim: 18 }))).toThrow('ConnectorConfig.dim (18) must be divisible by heads (4)');
});

test('the loss’s gradient reaches the connector, the pooling through the frozen LM and the decoder LoRA; it matches a finite difference', () => {
  settle();
  const n0 = tf.memory().numTensors;
  const c = connectorFor(4, 6);
  const lora = DecoderLoRA.attach(ldm, { rank: 2, alpha: 2, seed: 1 });
  // B = 0 and the pooling's FF fc2 = 0 at the start would cut the gradient to A and to the FF's first layer
  tf.tidy(() => {
    for (const [n, v] of lora.params) if (n.endsWith('.B')) v.assign(tf.fill(v.shape, 0.01));
    const fc2 = c.params.get('pool.ff.fc2.weight')!;
    fc2.assign(tf.tensor(normalArray(fc2.size, 0.05, mulberry32(2)), fc2.shape));
  });
  const batch = mumu.probeBatch(s.tokenizer, ldm, items.slice(0, 4), { encoder: 'prompt', tokensPerCrop: 4 });
  const parts = { model: s.model, connector: c, ldm };
  const names = [...c.params.keys(), ...lora.params.keys()];
  const vars = [...c.params.values(), ...lora.params.values()];
  const { value, grads } = tf.engine().gradients(() => mumu.mumuLoss(parts, batch), vars, undefined, true);
  const loss = value.dataSync()[0];
  expect(Math.abs(loss - mumu.hostLoss(parts, batch))).toBeLessThan(1e-5);
  names.forEach((n, i) => expect([n, grads[i] !== undefined && Math.max(...Array.from(grads[i].dataSync(), Math.abs)) > 0]).toEqual([n, true]));
  const q = c.params.get('pool.queries')!;
  const g = grads[names.indexOf('pool.queries')].dataSync()[3];
  tf.dispose([value, ...grads]);
  const at = (h: number) => {
    const d = q.dataSync().slice() as Float32Array;
    d[3] += h;
    tf.tidy(() => q.assign(tf.tensor(d, q.shape)));
    const l = mumu.hostLoss(parts, batch);
    d[3] -= h;
    tf.tidy(() => q.assign(tf.tensor(d, q.shape)));
    return l;
  };
  const fd = (at(1e-2) - at(-1e-2)) / 2e-2;
  expect(Math.abs(fd - g)).toBeLessThan(1e-3 + 0.05 * Math.abs(g));
  lora.detach();
  c.dispose();
  settle();
  expect(tf.memory().numTensors).toBe(n0);
});
