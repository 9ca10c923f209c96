import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import type { Session } from '../../kernel-lib/session';
import { Generation } from '../../kernel-lib/decode/generate';
import { modalityCodes } from '../../kernel-lib/model/adapter-seam';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';
import { defaultMoEConfig } from '../../kernel-lib/model/config';
import { attachLoRA } from '../../kernel-lib/adapters';
import { textSuite, relativeChange, scoreSequences, suiteStream } from '../../kernel-lib/analysis/text-suite';
import { modelPerplexity, windows } from '../../kernel-lib/analysis/perplexity';
import { budgetTable } from '../../kernel-lib/analysis/budget';

const PASSAGES = [
  'The jury said it did find that the election was conducted.',
  'It recommended that the city take steps to remedy the problem.',
  'a tiger to the left of an apple and a red heart',
  'an emoji of a tiger with a smiling face with sunglasses',
  'the flag of Brazil is green and yellow and blue',
  'thumbs up, dark skin tone, and a red heart for the jury',
  'The city said the problem was an apple to the left of the tiger.',
  'too short to use',
];

let s: Session;
beforeAll(async () => {
  await useBackend();
  s = await tinySession({ seed: 4 });
});
afterAll(() => s.dispose());

test('scoreSequences: padded batches give the unpadded log-probs (≤ 1e-5) and greedy flags', () => {
  const seqs = PASSAGES.slice(0, 5).map((p) => [s.tokenizer.bos, ...s.tokenizer.bpe.encode(p)]);
  const batched = scoreSequences(s, seqs, 3);
  const V = s.config.vocabSize;
  seqs.forEach((ids, i) => {
    const r = s.model.forward([ids], { capture: 'none', modalities: modalityCodes(ids, (id) => s.tokenizer.modalityOf(id)) });
    for (let t = 1; t < ids.length; t++) {
      const row = Array.from(r.logits.subarray((t - 1) * V, t * V));
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
      expect(Math.abs(batched[i].logprobs[t - 1] - (row[ids[t]] - lse))).toBeLessThan(1e-5);
      expect(batched[i].greedy[t - 1]).toBe(row.indexOf(m) === ids[t] ? 1 : 0);
    }
  });
});

test('textSuite: shapes, percentages, average = mean of the tasks, deterministic per seed', () => {
  const r = textSuite(s, PASSAGES, { seed: 1 });
  expect(r.passages).toBe(7); // the 4-word passage is left out
  for (const task of ['lastWord', 'shuffled', 'continuation'] as const) {
    const x = r.tasks[task];
    expect(x.total + x.skipped).toBe(7);
    expect(x.accuracy).toBeCloseTo((100 * x.correct) / x.total, 12);
    expect(r.scores[task]).toBe(x.accuracy);
  }
  expect(r.average).toBeCloseTo((r.scores.lastWord + r.scores.shuffled + r.scores.continuation) / 3, 12);
  expect(r.perplexity.perplexity).toBeGreaterThan(1);
  expect(r.perplexity.tokens).toBeGreaterThan(50);
  expect(textSuite(s, PASSAGES, { seed: 1 })).toEqual(r);
  expect(() => textSuite(s, PASSAGES.slice(0, 3))).toThrow('textSuite needs at least 4 passages of ≥ 6 words, got 3');
});

test('textSuite reports progress up to its total, and the numbers do not depend on it', () => {
  const calls: [number, number][] = [];
  const r = textSuite(s, PASSAGES, { seed: 1, onProgress: (done, total) => calls.push([done, total]) });
  expect(r).toEqual(textSuite(s, PASSAGES, { seed: 1 }));
  const total = calls[0][1];
  expect(calls.every(([, t]) => t === total)).toBe(true);
  // perplexity windows + lastWord items + shuffled pairs (2 each) + continuation items (4 each)
  const t = r.tasks;
  expect(total).toBeGreaterThanOrEqual(t.lastWord.total + 2 * t.shuffled.total + 4 * t.continuation.total + 1);
  expect(calls.map(([d]) => d)).toEqual([...calls.map(([d]) => d)].sort((a, b) => a - b));
  expect(calls.at(-1)).toEqual([total, total]);
});

test('a model that memorised the passages: lastWord agrees with real greedy decoding; all tasks reach 100%', async () => {
  const m = await tinySession({ seed: 4 });
  try {
    const used = PASSAGES.filter((p) => p.split(/\s+/).length >= 6);
    const rows = used.map((p) => [m.tokenizer.bos, ...m.tokenizer.bpe.encode(p), m.tokenizer.eos]);
    const greedyCount = async (): Promise<number> => {
      let correct = 0;
      for (const p of used) {
        const ws = p.split(/\s+/);
        const target = m.tokenizer.bpe.encode(` ${ws[ws.length - 1].replace(/[^\p{L}\p{N}]+$/u, '')}`);
        const prompt = [m.tokenizer.bos, ...m.tokenizer.bpe.encode(ws.slice(0, -1).join(' '))];
        const g = new Generation(m.model, m.decodeVocab(), prompt, null, { temperature: 0, maxNewTokens: target.length, stopTokens: [], imageGrammar: false });
        const out: number[] = [];
        for await (const st of g) out.push(st.tokenId);
        if (out.join() === target.join()) correct++;
      }
      return correct;
    };
    await m.train({ steps: 60, lr: 1e-2, warmupSteps: 5, batches: (i) => ({ ids: [rows[i % rows.length]] }) });
    const half = textSuite(m, PASSAGES);
    expect(half.tasks.lastWord.correct).toBe(await greedyCount());
    await m.train({ steps: 150, lr: 1e-2, warmupSteps: 5, batches: (i) => ({ ids: [rows[i % rows.length]] }) });
    const full = textSuite(m, PASSAGES);
    expect(full.tasks.lastWord.correct).toBe(await greedyCount());
    expect(full.scores).toEqual({ lastWord: 100, shuffled: 100, continuation: 100 });
  } finally {
    m.dispose();
  }
});

test('with PLoRA attached (non-zero B) the text suite is unchanged; with plain LoRA it is not', () => {
  const base = textSuite(s, PASSAGES);
  for (const kind of ['plora', 'lora'] as const) {
    const h = attachLoRA(s, { kind, rank: 4, alpha: 8 });
    try {
      const rand = mulberry32(2);
      tf.tidy(() => {
        for (const [n, v] of h.parameters()) if (n.endsWith('.B')) v.assign(tf.tensor(normalArray(v.size, 0.5, rand), v.shape));
      });
      const r = textSuite(s, PASSAGES);
      if (kind === 'plora') expect(r).toEqual(base);
      else expect(maxAbsDiff([r.perplexity.perplexity], [base.perplexity.perplexity])).toBeGreaterThan(1e-3);
      const ch = relativeChange(base, r);
      expect(Object.keys(ch.tasks)).toEqual(['lastWord', 'shuffled', 'continuation']);
      expect(ch.perplexity?.base).toBe(base.perplexity.perplexity);
      if (kind === 'plora') expect(ch.average.delta).toBe(0);
    } finally {
      h.detach();
    }
  }
});

test("relativeChange reads Table 1 as the paper does: differences of the task averages, in points", () => {
  const tasks = ['Winogrande', 'NQ_Open', 'Hellaswag', 'MMLU', 'Lambada', 'Arc-e', 'Arc-c', 'Piqa', 'SciQ'];
  const row = (xs: number[]) => Object.fromEntries(tasks.map((t, i) => [t, xs[i]]));
  const base = row([65.6, 20.3, 73.48, 39.91, 69.5, 65.82, 44.2, 77.9, 87.6]);
  const lora = row([43.27, 10.18, 59.44, 22.08, 52.36, 54.27, 32.1, 67.38, 65.04]);
  const plora = row([65.35, 20.06, 73.3, 39.73, 69.45, 65.6, 44.12, 77.85, 87.53]);
  const a = relativeChange(base, lora);
  expect(a.average.base).toBeCloseTo(60.4789, 4); // printed 60.47 (truncated)
  expect(a.average.variant).toBeCloseTo(45.1244, 4);
  expect(a.average.delta).toBeCloseTo(-15.3544, 4); // the paper's "(−15.35 ↓)"
  expect(a.average.relative).toBeCloseTo((-15.3544 / 60.4789) * 100, 2);
  expect(a.tasks.Lambada).toEqual({ base: 69.5, variant: 52.36, delta: 52.36 - 69.5, relative: (100 * (52.36 - 69.5)) / 69.5 });
  const b = relativeChange(base, plora);
  expect(b.average.delta).toBeCloseTo(-0.1467, 4); // the paper's "(≈−0.14)", from its truncated averages 60.33 − 60.47
  expect(b.perplexity).toBeUndefined();
  expect(() => relativeChange(base, { ...plora, Extra: 1 })).toThrow("relativeChange: task 'Extra' is scored in one result but not the other");
});

test('budgetTable: base, activated, adapter and vocabulary parameters (hand-computed, tiny preset)', () => {
  const cfg = defaultMoEConfig('tiny', { vocabSize: 100 });
  // embed 3200 + 2 × (norms 64 + wqkv 2048 + wo 1024 + router 128 + w13 8192 + w2 4096) + final norm 32 + head 3200
  const b = budgetTable(cfg, [{ rank: 4 }], 10);
  expect(b.baseParams).toBe(37536);
  expect(b.activatedParams).toBe(37536 - 2 * (4 - 2) * 3 * 32 * 32);
  // per layer: q 4·(32+32) + k 4·(32+16) + v 4·(32+16) + o 4·(32+32) = 896
  expect(b.adapterParams).toBe(2 * 896);
  expect(b.vocabParams).toBe(10 * 32 * 2);
  expect(b.newModalityParams).toBe(1792 + 640);
  expect(b.adapterShare).toBeCloseTo(1792 / 37536, 12);
  expect(b.rows.map((r) => r.item)).toEqual(['base model', 'activated per token', 'adapters (new modality)', 'new vocabulary rows', 'new parameters in all']);
  expect(budgetTable({ ...cfg, tieWordEmbeddings: true }, [], 10).vocabParams).toBe(320);
  expect(budgetTable(cfg, [{ rank: 2, layers: [1], targets: ['v'] }], 0).adapterParams).toBe(2 * (32 + 16));
  const h = attachLoRA(s, { kind: 'plora', rank: 3, alpha: 1, layers: [0] });
  try {
    expect(budgetTable(s.config, [h], 0).adapterParams).toBe(h.numParams);
  } finally {
    h.detach();
  }
});

test('perplexity renormalised over a text vocabulary (textOnly): float64 from the logits, the stream textSuite scores, bad sizes refused', () => {
  const stream = suiteStream(s, PASSAGES);
  expect(stream[0]).toBe(s.tokenizer.bos);
  expect(stream.filter((id) => id === s.tokenizer.eos)).toHaveLength(7); // 'too short to use' has < 6 words
  const V = s.config.vocabSize;
  const Vt = Math.max(...stream) + 1; // the smallest vocabulary that holds every target
  expect(Vt).toBeLessThan(V);
  const r = modelPerplexity(s.model, stream, { seqLen: 16, textVocabulary: Vt, modalityOf: (id) => s.tokenizer.modalityOf(id) });
  let full = 0;
  let text = 0;
  let n = 0;
  for (const w of windows(stream, 16)) {
    const logits = s.model.forward([w], { capture: 'none', modalities: modalityCodes(w, (id) => s.tokenizer.modalityOf(id)) }).logits;
    for (let t = 0; t + 1 < w.length; t++) {
      const row = Array.from(logits.subarray(t * V, (t + 1) * V));
      const lse = (k: number) => {
        const m = Math.max(...row.slice(0, k));
        return m + Math.log(row.slice(0, k).reduce((a, x) => a + Math.exp(x - m), 0));
      };
      full += lse(V) - row[w[t + 1]];
      text += lse(Vt) - row[w[t + 1]];
      n++;
    }
  }
  expect(r.tokens).toBe(n);
  expect(Math.abs(r.nll - full / n)).toBeLessThan(1e-5);
  expect(Math.abs((r.textOnly?.nll ?? NaN) - text / n)).toBeLessThan(1e-5);
  expect(r.textOnly!.perplexity).toBeLessThan(r.perplexity); // fewer ids share the mass
  expect(modelPerplexity(s.model, stream, { seqLen: 16 }).textOnly).toBeUndefined();
  expect(() => modelPerplexity(s.model, stream, { textVocabulary: V + 1 })).toThrow(`modelPerplexity: textVocabulary must be an integer in [2, ${V}], got ${V + 1}`);
  expect(() => modelPerplexity(s.model, stream, { textVocabulary: Vt - 1 })).toThrow(`is outside the text vocabulary [0, ${Vt - 1})`);
});
