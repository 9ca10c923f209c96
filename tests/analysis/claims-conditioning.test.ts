import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import type { Session } from '../../kernel-lib/session';
import { verdicts } from '../../kernel-lib/papers/redundancy-aware-moe-plora/claims';
import { captionConditioning } from '../../kernel-lib/eval/conditioning';
import { attachLoRA } from '../../kernel-lib/adapters';

describe('plora.verdicts: the paper claims judged on hand-made numbers', () => {
  const paperLike = {
    textAverageDelta: { lora: -15.35, plora: -0.14 },
    textPerplexity: { base: 100, lora: 180, plora: 101 },
    ecaBefore: [0.6, 0.65, 0.7, 0.7],
    ecaAfter: [0.1, 0.5, 0.6, 0.65],
    exclusivity: [0.5, 0.1, 0.15, 0.4],
  };
  test("the paper's own pattern reproduces every claim", () => {
    const v = verdicts(paperLike);
    expect(v.map((x) => x.reproduces)).toEqual([true, true, true, true, true]);
    expect(v[0].ours).toBe('-0.14 pp; perplexity 100.0 → 101.0 (+1.0 %)');
    expect(v[1].ours).toBe('LoRA -15.35 pp vs PLoRA -0.14 pp; perplexity LoRA +80.0 % vs PLoRA +1.0 %');
    expect(v[3].ours).toBe('largest drop at layer 0 (0.500, 0.150, 0.100, 0.050)');
  });
  test('each claim fails on its own counter-example', () => {
    const v = verdicts({
      textAverageDelta: { lora: -1.5, plora: -1.2 }, // PLoRA moved > 1 pp; LoRA not 1 pp worse
      textPerplexity: { base: 100, lora: 120, plora: 110 },
      ecaBefore: [0.5, 0.5, 0.5, 0.5],
      ecaAfter: [0.5, 0.45, 0.6, 0.6], // mean rises; the largest drop is at layer 1
      exclusivity: [0.2, 0.3, 0.1, 0.4], // a middle layer above the first
    });
    expect(v.map((x) => x.reproduces)).toEqual([false, false, false, false, false]);
    expect(v[3].ours).toBe('largest drop at layer 1 (0.000, 0.050, -0.100, -0.100)');
  });
  test('preserved text needs the perplexity too, and exclusivity must be pronounced, not just ordered', () => {
    const v = verdicts({ ...paperLike, textPerplexity: { base: 100, lora: 900, plora: 600 }, exclusivity: [0.15, 0.02, 0.03, 0.12] });
    expect(v[0].reproduces).toBe(false); // −0.14 pp on the tasks, but perplexity ×6
    expect(v[4].reproduces).toBe(false); // ends above the middle, but 0.12 bits < 0.2
    expect(v[4].criterion).toBe('min(first, last) > max(middle layers), and min(first, last) ≥ 0.2 bits (pronounced)');
  });

  test('images follow captions when the paired CLIP-T difference clears two standard errors', () => {
    const yes = verdicts({ ...paperLike, clipTDiffs: [0.1, 0.2, 0.3, 0.2] });
    expect(yes).toHaveLength(6);
    // mean 0.2, sd 0.0816…, se 0.0408…
    expect(yes[5].ours).toBe('CLIP-T own − shuffled caption +0.200 ± 0.041 (s.e., 4 held-out captions)');
    expect(yes[5].reproduces).toBe(true);
    expect(verdicts({ ...paperLike, clipTDiffs: [0.3, -0.2, 0.1, -0.1] })[5].reproduces).toBe(false);
    expect(verdicts(paperLike)).toHaveLength(5); // no image numbers, no image claim
    // LoRA's difference is shown beside PLoRA's (mean 0, sd √(0.02/3), se 0.0408…); the claim is judged on PLoRA's
    const withLoRA = verdicts({ ...paperLike, clipTDiffs: [0.1, 0.2, 0.3, 0.2], clipTDiffsLoRA: [0, 0.1, -0.1, 0] })[5];
    expect(withLoRA.ours).toBe('CLIP-T own − shuffled caption +0.200 ± 0.041 (s.e., 4 held-out captions); plain LoRA +0.000 ± 0.041');
    expect(withLoRA.reproduces).toBe(true);
  });

  test('per-layer arrays must agree', () => {
    expect(() => verdicts({ ...paperLike, ecaAfter: [0.1, 0.2, 0.3] })).toThrow(
      'plora.verdicts: per-layer arrays differ in length (ecaBefore 4, ecaAfter 3, exclusivity 4)',
    );
    expect(() => verdicts({ ...paperLike, ecaBefore: [1, 2], ecaAfter: [1, 2], exclusivity: [1, 2] })).toThrow('plora.verdicts: need at least 3 layers, got 2');
  });
});

describe('captionConditioning: image-code NLL after own vs shuffled captions', () => {
  let s: Session;
  beforeAll(async () => {
    await useBackend();
    s = await tinySession({ seed: 9 });
  });
  afterAll(() => s.dispose());
  const grid = () => s.tokenizer.imageGrid;
  const img = (k: number) => ({ ...grid(), codes: Array.from({ length: grid().height * grid().width }, (_, i) => (i * 3 + k * 5) % s.tokenizer.numImageCodes) });
  const examples = () => [
    { caption: 'a tiger', codes: img(0).codes },
    { caption: 'an apple to the left', codes: img(1).codes },
    { caption: 'a red heart', codes: img(2).codes },
  ].map((e) => ({ caption: e.caption, codes: { ...grid(), codes: e.codes } }));

  /** float64 reference: log-softmax of one full forward per sequence, image-code targets only. */
  function reference(caption: string, codes: { height: number; width: number; codes: number[] }): { sum: number; n: number } {
    const ids = s.tokenizer.encodePrompt([{ text: caption }, { image: codes }]).ids;
    const r = s.model.forward([ids.slice(0, -1)], { capture: 'none' });
    const V = s.config.vocabSize;
    let sum = 0;
    let n = 0;
    for (let t = 0; t + 1 < ids.length; t++) {
      if (!s.tokenizer.isImageCode(ids[t + 1])) continue;
      const row = Array.from(r.logits.subarray(t * V, (t + 1) * V), Number);
      const m = Math.max(...row);
      sum += m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0)) - row[ids[t + 1]];
      n++;
    }
    return { sum, n };
  }

  test('own and shuffled NLL match a float64 reference; shuffled uses caption i + ⌊n/2⌋; no leaks', () => {
    const ex = examples();
    captionConditioning(s, ex); // builds the cached causal masks for these lengths
    const before = tf.memory().numTensors;
    const p = captionConditioning(s, ex);
    expect(tf.memory().numTensors).toBe(before);
    const own = ex.map((e) => reference(e.caption, e.codes));
    const other = ex.map((e, i) => reference(ex[(i + 1) % 3].caption, e.codes));
    const n = own.reduce((a, o) => a + o.n, 0);
    expect(p.imageTokens).toBe(n);
    expect(p.examples).toBe(3);
    expect(p.own).toBeCloseTo(own.reduce((a, o) => a + o.sum, 0) / n, 4);
    expect(p.shuffled).toBeCloseTo(other.reduce((a, o) => a + o.sum, 0) / n, 4);
    expect(p.gap).toBeCloseTo(p.shuffled - p.own, 10);
    expect(p.ownBetterFraction).toBeCloseTo(own.filter((o, i) => o.sum < other[i].sum).length / 3, 10);
  });

  test('with a Partial LoRA attached, image positions see the adapter (modalities are passed)', () => {
    const ex = examples();
    const plain = captionConditioning(s, ex);
    const h = attachLoRA(s, { kind: 'plora', rank: 2, alpha: 2, seed: 1 });
    try {
      for (const v of h.parameters().values()) v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', 3));
      expect(Math.abs(captionConditioning(s, ex).own - plain.own)).toBeGreaterThan(1e-4);
      h.enabled = false;
      expect(captionConditioning(s, ex).own).toBeCloseTo(plain.own, 6);
    } finally {
      h.detach();
    }
  });

  test('bad input is named', async () => {
    expect(() => captionConditioning(s, examples().slice(0, 1))).toThrow('captionConditioning: needs at least 2 examples to shuffle captions, got 1');
    const text = await tinySession({ images: false });
    expect(() => captionConditioning(text, examples())).toThrow('captionConditioning: the session has no image vocabulary');
    text.dispose();
  });
});

describe('plora.trainableSet: the paper trainable set plus the new vocabulary rows', () => {
  test('freezes embedding/attention/norms/head but slices in the rows from the old vocabulary size on', async () => {
    const { trainableSet } = await import('../../kernel-lib/papers/redundancy-aware-moe-plora/recipe');
    const s = await tinySession({ seed: 2 });
    const t = trainableSet(s, 300);
    expect(t.freeze).toEqual(['blocks.*.input_norm', 'blocks.*.attn.*', 'blocks.*.post_attn_norm', 'final_norm']);
    expect(t.trainSlices).toEqual([
      { param: 'embed', axis: 0, from: 300 },
      { param: 'lm_head', axis: 1, from: 300 },
    ]);
    expect(trainableSet(s, 300, { trainRoutersAndExperts: false }).freeze).toContain('blocks.*.moe.*');
    s.dispose();
  });
});

describe('halfRotation and pairedDifference', () => {
  test('every item moves, by ⌊n/2⌋ (at least 1)', async () => {
    const { halfRotation } = await import('../../kernel-lib/eval/conditioning');
    expect(halfRotation([0, 1, 2, 3, 4])).toEqual([2, 3, 4, 0, 1]);
    expect(halfRotation(['a', 'b'])).toEqual(['b', 'a']);
    expect(halfRotation([7, 8, 9])).toEqual([8, 9, 7]);
  });
  test('mean and standard error of paired differences; fewer than 2 pairs is refused', async () => {
    const { pairedDifference } = await import('../../kernel-lib/util/stats');
    const r = pairedDifference([0.1, 0.2, 0.3, 0.2]);
    expect(r.mean).toBeCloseTo(0.2, 12);
    expect(r.standardError).toBeCloseTo(Math.sqrt(0.02 / 3 / 4), 12);
    expect(() => pairedDifference([1])).toThrow('pairedDifference: needs at least 2 pairs, got 1');
  });
});
