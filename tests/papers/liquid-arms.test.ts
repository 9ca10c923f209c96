/**
 * Liquid arms' budgets: text-matched arms see exactly the same text tokens (the smallest common budget
 * at least the request), steps follow from each arm's text rows per batch, fixed-step controls keep
 * their steps, and bad specs are refused by name.
 */
import { languageCostArms, planArms } from '../../kernel-lib/papers/liquid-unified-vq-language-model/arms';
import { SIZE_PRESETS } from '../../kernel-lib/model/config';

test('text-only and 1:1:1 arms of every size get the same text tokens; mixed arms run 3× the steps', () => {
  const arms = planArms(languageCostArms(), { textTokens: 1_000_000, batchSize: 12, seqLen: 128 });
  expect(arms.map((a) => a.name)).toEqual(SIZE_PRESETS.flatMap((s) => [`${s}-text`, `${s}-mixed`]));
  // text rows per batch: 12 (text-only) and 4 (1:1:1); per step 1536 and 512 text tokens; lcm 1536;
  // ⌈1e6 / 1536⌉ = 652 → 1 001 472 text tokens each.
  for (const a of arms) expect(a.textTokens).toBe(1_001_472);
  const text = arms.find((a) => a.name === 'moe-h64-text')!;
  const mixed = arms.find((a) => a.name === 'moe-h64-mixed')!;
  expect([text.steps, mixed.steps]).toEqual([652, 1956]);
  expect(mixed.rowsPerBatch).toEqual({ text: 4, t2i: 4, i2t: 4, i2a: 0 });
  expect(mixed.ratios).toEqual({ text: 1, t2i: 1, i2t: 1, i2a: 0 });
  expect(mixed.totalTokens).toBe(1956 * 12 * 128);
});

test('uneven mixtures: the common budget is a multiple of every arm’s text per step; a fixed-step control keeps its steps', () => {
  const arms = planArms(
    [
      { name: 'base', size: 'moe-h96', ratios: { text: 1, t2i: 1, i2t: 1, i2a: 1 } }, // 2 text rows of 8
      { name: 'more-text', size: 'moe-h96', ratios: { text: 2, t2i: 1, i2t: 1 } }, //   4 text rows
      { name: 't2i-heavy', size: 'moe-h96', ratios: { text: 1, t2i: 4, i2t: 3 } }, //    1 text row
      { name: 'compute-matched', size: 'moe-h96', ratios: { text: 1, t2i: 1, i2t: 1, i2a: 1 }, steps: 100 },
    ],
    { textTokens: 1000, batchSize: 8, seqLen: 10 },
  );
  // per step: 20, 40, 10 text tokens → lcm 40 → ⌈1000/40⌉·40 = 1000
  expect(arms.map((a) => [a.steps, a.textTokens])).toEqual([[50, 1000], [25, 1000], [100, 1000], [100, 2000]]);
});

test('bad specs are refused, naming the arm and the field', () => {
  const o = { textTokens: 100, batchSize: 6, seqLen: 4 };
  expect(() => planArms([{ name: 'x', size: 'moe-h64', ratios: { t2i: 1 } }], o)).toThrow("arm 'x' has no text rows, so no number of steps matches a text budget; give it steps");
  expect(() => planArms([{ name: 'x', size: 'huge' as never, ratios: { text: 1 } }], o)).toThrow("arm 'x': size must be one of moe-h64, moe-h96, moe-h128, moe-h192, got 'huge'");
  expect(() => planArms([{ name: 'x', size: 'moe-h64', ratios: { txt: 1 } as never }], o)).toThrow("arm 'x': unknown pool 'txt' in ratios; expected text, t2i, i2t, i2a");
  expect(() => planArms([{ name: 'x', size: 'moe-h64', ratios: { text: 1 } }, { name: 'x', size: 'moe-h96', ratios: { text: 1 } }], o)).toThrow("planArms: two arms are named 'x'");
  expect(() => planArms([{ name: 'x', size: 'moe-h64', ratios: { text: 1 }, steps: 0 }], o)).toThrow("arm 'x': steps must be a positive integer, got 0");
  expect(() => planArms([{ name: 'x', size: 'moe-h64', ratios: { text: 1, t2i: 1, i2t: 1 } }], { ...o, batchSize: 4 })).toThrow('batchCounts: a batch of 4 cannot hold the ratio');
  expect(() => planArms([], o)).toThrow('planArms: no arms');
  expect(() => planArms(languageCostArms(), { ...o, seqLen: 0 })).toThrow('planArms: seqLen must be a positive integer, got 0');
});
