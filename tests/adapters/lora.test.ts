import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import type { Session } from '../../kernel-lib/session';
import { MoEModel } from '../../kernel-lib/model/model';
import { modalityCodes, sequenceContext } from '../../kernel-lib/model/adapter-seam';
import { metaFromModalities } from '../../kernel-lib/model/positions';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';
import { train } from '../../kernel-lib/train/trainer';
import { saveCheckpoint } from '../../kernel-lib/checkpoint';
import {
  attachLoRA, loadAdapter, loraParamCount, LoRAHandle, PLORA_TRAINABLE_FREEZE, ploraFreeze, saveAdapter, PartialLoRAAdapter,
  LoRAAdapter, savePeftAdapter, loadPeftAdapter,
} from '../../kernel-lib/adapters';
import { defaultMoEConfig } from '../../kernel-lib/model/config';
import type { Step } from '../../kernel-lib/decode/generate';

let s: Session;
let tmp: string;
let textIds: number[];
let mixedIds: number[];
let firstImage: number;

beforeAll(async () => {
  await useBackend();
  s = await tinySession();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-lora-'));
  const t = s.tokenizer;
  textIds = s.encode('a tiger to the left of an apple').ids;
  mixedIds = s.encode([{ text: 'an emoji of a tiger' }, { image: { height: 4, width: 4, codes: Array.from({ length: 16 }, (_, i) => (i * 7) % 32) } }, { text: 'a red heart' }]).ids;
  firstImage = mixedIds.findIndex((id) => t.isImageCode(id));
  expect(firstImage).toBeGreaterThan(0);
});
afterAll(() => {
  s.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const codes = (ids: number[]): Uint8Array => modalityCodes(ids, (id) => s.tokenizer.modalityOf(id));

/** Gives every B a seeded random value (a trained-looking adapter). */
function randomizeB(h: LoRAHandle, seed = 1, std = 0.3): void {
  const rand = mulberry32(seed);
  tf.tidy(() => {
    for (const [n, v] of h.parameters()) if (n.endsWith('.B')) v.assign(tf.tensor(normalArray(v.size, std, rand), v.shape));
  });
}

function attnAndLogits(ids: number[]): { attn: Float32Array[]; logits: Float32Array } {
  const names = Array.from({ length: s.config.numLayers }, (_, i) => `blocks.${i}.attn`);
  const r = s.model.runWithCache([ids], names, { modalities: codes(ids) });
  return { attn: names.map((n) => r.cache.get(n)!.data), logits: r.logits };
}

/** Rows (tokens) whose values differ by more than 1e-6. */
function differingRows(a: Float32Array, b: Float32Array, width: number): number[] {
  const out: number[] = [];
  for (let t = 0; t < a.length / width; t++) if (maxAbsDiff(a.subarray(t * width, (t + 1) * width), b.subarray(t * width, (t + 1) * width)) > 1e-6) out.push(t);
  return out;
}

test('parameters: names, shapes, B = 0 and A ~ N(0, 1/r); attaching alone changes nothing', () => {
  const base = attnAndLogits(mixedIds);
  const h = attachLoRA(s, { kind: 'plora', rank: 4, alpha: 8 });
  try {
    const c = s.config;
    const hd = c.hiddenSize / c.numHeads;
    const p = h.parameters();
    expect(p.size).toBe(c.numLayers * 4 * 2);
    expect(p.get('adapters.plora.blocks.0.attn.q.A')!.shape).toEqual([c.hiddenSize, 4]);
    expect(p.get('adapters.plora.blocks.0.attn.q.B')!.shape).toEqual([4, c.numHeads * hd]);
    expect(p.get('adapters.plora.blocks.1.attn.k.B')!.shape).toEqual([4, c.numKvHeads * hd]);
    expect(p.get('adapters.plora.blocks.1.attn.v.B')!.shape).toEqual([4, c.numKvHeads * hd]);
    expect(p.get('adapters.plora.blocks.1.attn.o.A')!.shape).toEqual([c.numHeads * hd, 4]);
    expect(p.get('adapters.plora.blocks.1.attn.o.B')!.shape).toEqual([4, c.hiddenSize]);
    expect(h.numParams).toBe(loraParamCount(c, h.spec));
    expect(h.scaling).toBeCloseTo(8 / 2, 12); // α/√r
    const allA = [...p].filter(([n]) => n.endsWith('.A')).flatMap(([, v]) => Array.from(v.dataSync()));
    const variance = allA.reduce((a, x) => a + x * x, 0) / allA.length;
    expect(variance).toBeGreaterThan(0.2); // 1/r = 0.25
    expect(variance).toBeLessThan(0.3);
    for (const [n, v] of p) if (n.endsWith('.B')) expect(v.dataSync().every((x) => x === 0)).toBe(true);
    const same = attnAndLogits(mixedIds);
    expect(same.logits).toEqual(base.logits);
  } finally {
    h.detach();
  }
});

test('PLoRA with non-zero B: text-only input is EXACTLY the base model (every attention output, logits)', () => {
  const base = attnAndLogits(textIds);
  const h = attachLoRA(s, { kind: 'plora', rank: 4, alpha: 8 });
  try {
    randomizeB(h);
    const withAdapter = attnAndLogits(textIds);
    withAdapter.attn.forEach((a, i) => expect(a).toEqual(base.attn[i]));
    expect(withAdapter.logits).toEqual(base.logits);
  } finally {
    h.detach();
  }
});

test('PLoRA on a mixed input: outputs differ exactly at and after the first image token', () => {
  const base = attnAndLogits(mixedIds);
  const h = attachLoRA(s, { kind: 'plora', rank: 4, alpha: 8 });
  try {
    randomizeB(h);
    const out = attnAndLogits(mixedIds);
    const N = mixedIds.length;
    const after = Array.from({ length: N - firstImage }, (_, i) => firstImage + i);
    expect(differingRows(out.logits, base.logits, s.config.vocabSize)).toEqual(after);
    expect(differingRows(out.attn[0], base.attn[0], s.config.hiddenSize)).toEqual(after);
    // before the first image token, bit-for-bit the same
    expect(out.logits.subarray(0, firstImage * s.config.vocabSize)).toEqual(base.logits.subarray(0, firstImage * s.config.vocabSize));
  } finally {
    h.detach();
  }
});

test('plain LoRA changes text outputs; toggling enabled restores the base exactly', () => {
  const base = attnAndLogits(textIds);
  const h = attachLoRA(s, { kind: 'lora', rank: 2, alpha: 4 });
  try {
    randomizeB(h, 2);
    const on = attnAndLogits(textIds);
    expect(differingRows(on.logits, base.logits, s.config.vocabSize)).toEqual(textIds.map((_, i) => i));
    h.enabled = false;
    const off = attnAndLogits(textIds);
    expect(off.logits).toEqual(base.logits);
    off.attn.forEach((a, i) => expect(a).toEqual(base.attn[i]));
    h.enabled = true;
    expect(attnAndLogits(textIds).logits).toEqual(on.logits);
  } finally {
    h.detach();
  }
  expect(() => h.parameters()).toThrow("adapter 'lora' was detached");
  expect(s.model.adapters.names).toEqual([]);
});

test('layers and targets restrict where the adapter acts', () => {
  const base = attnAndLogits(textIds);
  const h = attachLoRA(s, { kind: 'lora', rank: 2, alpha: 4, layers: [1], targets: ['v', 'o'] });
  try {
    expect([...h.parameters().keys()]).toEqual([
      'adapters.lora.blocks.1.attn.v.A', 'adapters.lora.blocks.1.attn.v.B', 'adapters.lora.blocks.1.attn.o.A', 'adapters.lora.blocks.1.attn.o.B',
    ]);
    randomizeB(h, 3);
    const out = attnAndLogits(textIds);
    expect(out.attn[0]).toEqual(base.attn[0]); // layer 0 untouched
    expect(maxAbsDiff(out.attn[1], base.attn[1])).toBeGreaterThan(1e-4);
  } finally {
    h.detach();
  }
});

test('the fused q|k|v delta is the concatenation of the separate q, k, v deltas (columns in order)', () => {
  const c = s.config;
  const a = new PartialLoRAAdapter(c, { kind: 'plora', rank: 3, alpha: 3, targets: ['q', 'v'] });
  try {
    tf.tidy(() => {
      const rand = mulberry32(9);
      for (const [n, v] of a.parameters()) if (n.endsWith('.B')) v.assign(tf.tensor(normalArray(v.size, 1, rand), v.shape));
      const x = tf.tensor2d(normalArray(3 * c.hiddenSize, 1, rand), [3, c.hiddenSize]);
      const mods = Uint8Array.of(1, 0, 1);
      const d = a.delta(0, 'attn.wqkv', x, sequenceContext(metaFromModalities(mods))).arraySync();
      const p = a.parameters();
      const ref = (t: string) => tf.mul(tf.matMul(tf.matMul(x, p.get(`adapters.plora.blocks.0.attn.${t}.A`)!), p.get(`adapters.plora.blocks.0.attn.${t}.B`)!), a.scaling).arraySync() as number[][];
      const q = ref('q');
      const v = ref('v');
      const hd = c.hiddenSize / c.numHeads;
      const [nq, nk] = [c.numHeads * hd, c.numKvHeads * hd];
      for (const row of [0, 2]) {
        expect(maxAbsDiff(d[row].slice(0, nq), q[row])).toBeLessThan(1e-5);
        expect(d[row].slice(nq, nq + nk).every((z) => z === 0)).toBe(true); // no k adapter
        expect(maxAbsDiff(d[row].slice(nq + nk), v[row])).toBeLessThan(1e-5);
      }
      expect(d[1].every((z) => z === 0)).toBe(true); // the text row
    });
  } finally {
    a.dispose();
  }
});

test('gradients reach A/B only from image positions: zero B gradient on a text-only batch', () => {
  const h = attachLoRA(s, { kind: 'plora', rank: 4, alpha: 8 });
  try {
    randomizeB(h);
    const grads = (ids: number[]): Map<string, Float32Array | null> => {
      const out = new Map<string, Float32Array | null>();
      tf.tidy(() => {
        const params = h.parameters();
        const vars = [...params.values(), s.model.p('blocks.0.moe.router')];
        const { grads: g } = tf.variableGrads(() => {
          const r = s.model.forwardTensors(tf.tensor2d([ids], [1, ids.length], 'int32'), { capture: 'none', training: true, modalities: codes(ids) });
          return tf.mean(tf.square(r.logits)) as tf.Scalar;
        }, vars);
        for (const [n, v] of params) out.set(n, g[v.name] ? (g[v.name].dataSync() as Float32Array) : null);
      });
      return out;
    };
    for (const [n, g] of grads(textIds)) if (g) expect({ n, zero: g.every((x) => x === 0) }).toEqual({ n, zero: true });
    const mixed = grads(mixedIds);
    for (const [n, g] of mixed) if (n.endsWith('.B')) expect({ n, nonzero: g !== null && g.some((x) => x !== 0) }).toEqual({ n, nonzero: true });
  } finally {
    h.detach();
  }
});

test('adapter delta: text rows are exactly zero and contribute no gradient', () => {
  const c = s.config;
  const a = new PartialLoRAAdapter(c, { kind: 'plora', rank: 2, alpha: 2 });
  try {
    tf.tidy(() => {
      const rand = mulberry32(4);
      for (const [n, v] of a.parameters()) if (n.endsWith('.B')) v.assign(tf.tensor(normalArray(v.size, 1, rand), v.shape));
      const x = tf.tensor2d(normalArray(4 * c.hiddenSize, 1, rand), [4, c.hiddenSize]);
      const w = tf.tensor2d(normalArray(4 * c.hiddenSize, 1, rand), [4, c.hiddenSize]);
      const mods = Uint8Array.of(0, 1, 2, 1);
      const textRows = tf.tensor2d([[1], [0], [1], [0]]);
      const B = a.parameters().get('adapters.plora.blocks.0.attn.o.B')!;
      // loss only over text rows → zero gradient; over all rows = over image rows only
      const gText = tf.variableGrads(() => tf.sum(tf.mul(tf.mul(a.delta(0, 'attn.wo', x, sequenceContext(metaFromModalities(mods))), w), textRows)) as tf.Scalar, [B]).grads[B.name];
      expect(gText.dataSync().every((z) => z === 0)).toBe(true);
      const gAll = tf.variableGrads(() => tf.sum(tf.mul(a.delta(0, 'attn.wo', x, sequenceContext(metaFromModalities(mods))), w)) as tf.Scalar, [B]).grads[B.name];
      const gImg = tf.variableGrads(() => tf.sum(tf.mul(tf.mul(a.delta(0, 'attn.wo', x, sequenceContext(metaFromModalities(mods))), w), tf.sub(1, textRows))) as tf.Scalar, [B]).grads[B.name];
      expect(gAll.dataSync()).toEqual(gImg.dataSync());
    });
  } finally {
    a.dispose();
  }
});

test('KV-cached decode with PLoRA equals the full forward (≤ 1e-4), and Generation passes modalities', async () => {
  const h = attachLoRA(s, { kind: 'plora', rank: 4, alpha: 8 });
  try {
    randomizeB(h);
    const V = s.config.vocabSize;
    const full = s.model.forward([mixedIds], { modalities: codes(mixedIds) });
    const pre = firstImage - 1; // the prompt ends before the image; every image code goes through step()
    const { cache, logits } = s.model.prefill(mixedIds.slice(0, pre), 'none', codes(mixedIds.slice(0, pre)));
    let worst = maxAbsDiff(logits, full.logits.subarray((pre - 1) * V, pre * V));
    for (let t = pre; t < mixedIds.length; t++) {
      const st = s.model.step(cache, mixedIds[t], 'none', codes([mixedIds[t]])[0]);
      worst = Math.max(worst, maxAbsDiff(st.logits, full.logits.subarray(t * V, (t + 1) * V)));
    }
    cache.dispose();
    expect(worst).toBeLessThanOrEqual(1e-4);

    // greedy generation of an image: each step is the argmax of the full forward (with modalities) so far
    const steps: Step[] = [];
    for await (const st of s.generate('an emoji of a tiger', { startImage: true, maxNewTokens: 18, temperature: 0 })) steps.push(st);
    expect(steps.filter((x) => x.modality === 'image').length).toBe(16);
    const ids = [...s.encode('an emoji of a tiger').ids, s.tokenizer.boi];
    for (const st of steps) {
      const r = s.model.forward([ids], { capture: 'none', modalities: codes(ids) });
      const last = r.logits.subarray((ids.length - 1) * V, ids.length * V);
      if (!st.forced) {
        // the grammar allows image codes only inside the image, and only there
        const allowed = (i: number) => (st.modality === 'image') === s.tokenizer.isImageCode(i);
        let best = -1;
        for (let i = 0; i < V; i++) if (allowed(i) && (best < 0 || last[i] > last[best])) best = i;
        expect(st.tokenId).toBe(best);
      }
      ids.push(st.tokenId);
    }
  } finally {
    h.detach();
  }
});

test('Session.trace passes modalities: PLoRA changes image routing, not routing before the image', () => {
  const off = s.trace({ ids: mixedIds });
  const h = attachLoRA(s, { kind: 'plora', rank: 4, alpha: 8 });
  try {
    randomizeB(h, 5, 1);
    const on = s.trace({ ids: mixedIds });
    const E = s.config.numExperts;
    const last = s.config.numLayers - 1;
    expect(on.layers[last].probs.subarray(0, firstImage * E)).toEqual(off.layers[last].probs.subarray(0, firstImage * E));
    expect(maxAbsDiff(on.layers[last].probs, off.layers[last].probs)).toBeGreaterThan(1e-4);
  } finally {
    h.detach();
  }
});

test('PLoRA without modalities is refused with a message that says what to pass', () => {
  const h = attachLoRA(s, { kind: 'plora', rank: 2, alpha: 2 });
  try {
    expect(() => s.model.forward([textIds])).toThrow(/Partial LoRA adapter 'plora' needs each token's modality: pass modalities/);
    expect(s.model.hookNames()).toContain('blocks.0.attn'); // hookNames supplies its own
  } finally {
    h.detach();
  }
});

test('option validation names the field; a second adapter with the same name is refused', () => {
  expect(() => attachLoRA(s, { kind: 'plora', rank: 0, alpha: 1 })).toThrow('rank must be a positive integer, got 0');
  expect(() => attachLoRA(s, { kind: 'plora', rank: 2, alpha: 1, layers: [5] })).toThrow('layers: 5 is not a layer of this 2-layer model');
  expect(() => attachLoRA(s, { kind: 'plora', rank: 2, alpha: 1, targets: ['x' as 'q'] })).toThrow('targets: "x" is not one of q, k, v, o');
  expect(() => attachLoRA(s, { kind: 'dora' as 'lora', rank: 2, alpha: 1 })).toThrow(`kind must be 'lora' or 'plora', got "dora"`);
  const before = tf.memory().numTensors;
  const h = attachLoRA(s, { kind: 'lora', rank: 2, alpha: 1 });
  expect(() => attachLoRA(s, { kind: 'lora', rank: 2, alpha: 1 })).toThrow("An adapter named 'lora' is already attached");
  h.detach();
  expect(tf.memory().numTensors).toBe(before);
});

test('PLORA_TRAINABLE_FREEZE: train() trains adapters + router + experts and nothing else', async () => {
  const model = MoEModel.fromHost(s.config, s.model.toHost());
  const h = attachLoRA(model, { kind: 'plora', rank: 2, alpha: 4 });
  try {
    const snap = () => new Map([...model.params, ...h.parameters()].map(([n, v]) => [n, Array.from(v.dataSync())]));
    const before = snap();
    const batch = { ids: [mixedIds.slice(0, 24), [...textIds, ...textIds, ...textIds].slice(0, 24)] };
    await train(model, { steps: 2, batches: () => batch, lr: 1e-2, warmupSteps: 0, freeze: [...PLORA_TRAINABLE_FREEZE], modalityOf: (id) => s.tokenizer.modalityOf(id) });
    const after = snap();
    const changed = [...before.keys()].filter((n) => maxAbsDiff(before.get(n)!, after.get(n)!) > 0);
    const expected = [...before.keys()].filter((n) => n.startsWith('adapters.') || /^blocks\.\d+\.moe\.(router|w13|w2)$/.test(n));
    expect(changed.sort()).toEqual(expected.sort());
    expect(ploraFreeze({ ...s.config, tieWordEmbeddings: true })).not.toContain('lm_head');
    // a disabled adapter is not trained
    h.enabled = false;
    const frozenB = Array.from(h.parameters().get('adapters.plora.blocks.0.attn.q.B')!.dataSync());
    await train(model, { steps: 1, batches: () => batch, lr: 1e-2, warmupSteps: 0, freeze: [...PLORA_TRAINABLE_FREEZE], modalityOf: (id) => s.tokenizer.modalityOf(id) });
    expect(Array.from(h.parameters().get('adapters.plora.blocks.0.attn.q.B')!.dataSync())).toEqual(frozenB);
  } finally {
    model.dispose();
  }
});

test('training only PLoRA adapters on text-only batches changes nothing (no gradient reaches them)', async () => {
  const model = MoEModel.fromHost(s.config, s.model.toHost());
  const h = attachLoRA(model, { kind: 'plora', rank: 2, alpha: 4 });
  try {
    randomizeB(h);
    const before = [...h.parameters()].map(([, v]) => Array.from(v.dataSync()));
    const r = await train(model, {
      steps: 2, batches: () => ({ ids: [textIds] }), lr: 1e-2, warmupSteps: 0, weightDecay: 0,
      freeze: ['embed', 'blocks.*', 'final_norm', 'lm_head'], modalityOf: (id) => s.tokenizer.modalityOf(id),
    });
    expect(r.history.map((e) => e.gradNorm)).toEqual([0, 0]);
    expect([...h.parameters()].map(([, v]) => Array.from(v.dataSync()))).toEqual(before);
  } finally {
    model.dispose();
  }
});

test('a run with adapters, interrupted and resumed, continues with the adapter weights it had', async () => {
  const batch = { ids: [mixedIds.slice(0, 24)] };
  const opts = { steps: 4, batches: () => batch, lr: 1e-2, warmupSteps: 0, freeze: [...PLORA_TRAINABLE_FREEZE], modalityOf: (id: number) => s.tokenizer.modalityOf(id) };
  const run = async (runDir: string | undefined, seed: number, abortAt?: number) => {
    const model = MoEModel.fromHost(s.config, s.model.toHost());
    const h = attachLoRA(model, { kind: 'plora', rank: 2, alpha: 4, seed });
    const ac = new AbortController();
    const saveModel = (dir: string, extra: Record<string, unknown>) =>
      saveCheckpoint(dir, { config: model.config, params: model.toHost(), tokenizer: { model: { type: 'none' } }, tokenizerLayout: {}, extra });
    try {
      const r = await train(model, {
        ...opts, runDir, checkpointEvery: 2, saveModel: runDir ? saveModel : undefined,
        signal: ac.signal, onStep: (e) => { if (e.step === abortAt) ac.abort(); },
      });
      return { r, B: Array.from(h.parameters().get('adapters.plora.blocks.1.attn.o.B')!.dataSync()) };
    } finally {
      model.dispose();
    }
  };
  const straight = await run(undefined, 0);
  const runDir = path.join(tmp, 'run');
  expect((await run(runDir, 0, 3)).r.stopped).toBe('aborted');
  const resumed = await run(runDir, 7); // a fresh adapter with other weights: they come from the run dir
  expect(resumed.r.resumedFrom).toBe(2);
  expect(fs.existsSync(path.join(runDir, 'step-000004', 'adapters.safetensors'))).toBe(true); // the final snapshot (train/run-dir.ts)
  expect(maxAbsDiff(resumed.B, straight.B)).toBeLessThan(1e-6);
});

test('dropout masks are seeded per step (train seed): the same run twice and a resumed run give the same weights; another seed does not', async () => {
  const batch = { ids: [mixedIds.slice(0, 24)] };
  const run = async (seed: number, runDir?: string, abortAt?: number) => {
    const model = MoEModel.fromHost(s.config, s.model.toHost());
    const h = attachLoRA(model, { kind: 'lora', rank: 2, alpha: 4, seed: 3, dropout: 0.3 });
    const ac = new AbortController();
    try {
      const r = await train(model, {
        steps: 4, batches: () => batch, lr: 1e-2, warmupSteps: 0, freeze: [...model.params.keys()], seed, modalityOf: (id: number) => s.tokenizer.modalityOf(id),
        runDir, checkpointEvery: 2, signal: ac.signal, onStep: (e) => { if (e.step === abortAt) ac.abort(); },
        saveModel: (dir, extra) => saveCheckpoint(dir, { config: model.config, params: model.toHost(), tokenizer: { model: { type: 'none' } }, tokenizerLayout: {}, extra }),
      });
      return { r, A: Array.from(h.parameters().get('adapters.lora.blocks.0.attn.q.A')!.dataSync()) };
    } finally {
      model.dispose();
    }
  };
  const a = await run(0);
  const b = await run(0);
  // before seeding, tf.dropout drew its masks from Math.random: two runs of one recipe differed from step 1
  expect(b.A).toEqual(a.A);
  expect(maxAbsDiff((await run(1)).A, a.A)).toBeGreaterThan(1e-6);
  const runDir = path.join(tmp, 'dropout-run');
  expect((await run(0, runDir, 3)).r.stopped).toBe('aborted');
  const resumed = await run(0, runDir);
  expect(resumed.r.resumedFrom).toBe(2);
  expect(maxAbsDiff(resumed.A, a.A)).toBeLessThan(1e-6);
  await expect(run(-1)).rejects.toThrow('seed must be an integer in [0, 2^32), got -1');
});

test('save and load: a name-by-name round trip, validated; not into a checkpoint directory', () => {
  const h = attachLoRA(s, { kind: 'plora', rank: 3, alpha: 6, layers: [0] });
  const dir = path.join(tmp, 'adapters');
  let want: Float32Array;
  try {
    randomizeB(h, 8);
    want = s.model.forward([mixedIds], { modalities: codes(mixedIds) }).logits;
    const files = saveAdapter(h, dir);
    expect(files.weights).toBe(path.join(dir, 'plora.safetensors'));
    const json = JSON.parse(fs.readFileSync(files.config, 'utf8'));
    expect(json).toMatchObject({ format: 'switchboard-lora', version: 1, kind: 'plora', name: 'plora', rank: 3, alpha: 6, layers: [0], targets: ['q', 'k', 'v', 'o'] });
  } finally {
    h.detach();
  }
  const before = tf.memory().numTensors;
  const loaded = loadAdapter(s, dir, 'plora');
  expect(s.model.forward([mixedIds], { modalities: codes(mixedIds) }).logits).toEqual(want);
  loaded.detach();
  expect(tf.memory().numTensors).toBe(before);

  const other = MoEModel.init(defaultMoEConfig('tiny', { vocabSize: s.config.vocabSize, hiddenSize: 16, numHeads: 2, numKvHeads: 2 }), 1);
  try {
    expect(() => loadAdapter(other, dir, 'plora')).toThrow(`${path.join(dir, 'plora.json')}: was made for a model with hiddenSize 32; this model has 16`);
    expect(other.adapters.names).toEqual([]);
  } finally {
    other.dispose();
  }
  expect(() => loadAdapter(s, dir, 'nope')).toThrow(`${path.join(dir, 'nope.json')}: file not found`);
  const ck = path.join(tmp, 'ck');
  s.save(ck);
  const h2 = attachLoRA(s, { kind: 'lora', rank: 1, alpha: 1 });
  try {
    expect(() => saveAdapter(h2, ck)).toThrow(/is a checkpoint directory, which saving a checkpoint replaces whole/);
  } finally {
    h2.detach();
  }
});

test('no tensor leaks: attach, forward, prefill/step, generate, detach', async () => {
  s.model.forward([mixedIds], { modalities: codes(mixedIds) }); // warm the causal-mask cache
  s.model.forward([textIds], { modalities: codes(textIds) });
  const before = tf.memory().numTensors;
  for (const kind of ['lora', 'plora'] as const) {
    const h = attachLoRA(s, { kind, rank: 2, alpha: 2 });
    randomizeB(h);
    s.model.forward([mixedIds], { modalities: codes(mixedIds) });
    s.model.runWithCache([textIds], ['blocks.0.attn'], { modalities: codes(textIds) });
    const { cache } = s.model.prefill(textIds, 'routing', codes(textIds));
    s.model.step(cache, s.tokenizer.boi, 'routing', 2);
    s.model.step(cache, s.tokenizer.imageCodeId(3), 'routing', 1);
    cache.dispose();
    for await (const st of s.generate('a tiger', { startImage: true, maxNewTokens: 3 })) void st;
    h.detach();
  }
  expect(tf.memory().numTensors).toBe(before);
});

test('LoRA dropout (issue #13: MoSS’s baselines use PEFT’s lora_dropout 0.05): training forwards only; absent from the spec at 0; kept by both file formats', () => {
  const cfg = s.config;
  const plain = new LoRAAdapter(cfg, { kind: 'lora', rank: 2, alpha: 4 });
  expect('dropout' in plain.spec).toBe(false); // notebook 01's adapters: specs and files as before
  plain.dispose();
  const ad = new LoRAAdapter(cfg, { kind: 'lora', rank: 2, alpha: 4, layers: [0], targets: ['o'], dropout: 0.5 });
  expect(ad.spec.dropout).toBe(0.5);
  for (const v of ad.parameters().values()) v.assign(tf.onesLike(v));
  const x = tf.ones([6, cfg.hiddenSize]) as tf.Tensor2D;
  const ctx = sequenceContext(metaFromModalities(new Uint8Array(6)));
  const a = ad.delta(0, 'attn.wo', x, ctx).dataSync();
  expect(ad.delta(0, 'attn.wo', x, ctx).dataSync()).toEqual(a);
  expect(maxAbsDiff(ad.delta(0, 'attn.wo', x, { ...ctx, training: true }).dataSync(), a)).toBeGreaterThan(1e-3);
  ad.dispose();
  x.dispose();
  expect(() => new LoRAAdapter(cfg, { kind: 'lora', rank: 2, alpha: 4, dropout: 1 })).toThrow('dropout must be a number in [0, 1), got 1');
  const h = attachLoRA(s, { kind: 'lora', name: 'dropped', rank: 2, alpha: 4, dropout: 0.05 });
  const dir = path.join(tmp, 'dropout');
  saveAdapter(h, dir);
  h.detach();
  const back = loadAdapter(s, dir, 'dropped');
  expect(back.spec).toEqual({ kind: 'lora', name: 'dropped', rank: 2, alpha: 4, layers: [0, 1], targets: ['q', 'k', 'v', 'o'], seed: 0, dropout: 0.05 });
  savePeftAdapter(back, path.join(tmp, 'dropout-peft'));
  back.detach();
  const peft = loadPeftAdapter(s, path.join(tmp, 'dropout-peft'));
  expect(peft.spec.dropout).toBe(0.05);
  peft.detach();
});
