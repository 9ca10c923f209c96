/**
 * minigpt5.heldOutFirst and firstScores on hand-made records: the options measure the first items again as the
 * record says it drew them (split, γ, steps, noise seed; no sweep, routing or kept images), the scores are the
 * record's first items per part (null for a part it lacks), and a count the record cannot give, a record mixing
 * splits or without a held-out part is refused with a message naming it. (That evaluateStage under these
 * options gives a run's first items back is checked on tiny runs in minigpt5-ship.test.ts, and on the shipped
 * runs in tests/shipped/minigpt5-runs.test.ts.)
 */
import { minigpt5 } from '../../kernel-lib';

const routing = { split: 'test', rows: 1, tokens: { voken: 8, text: 3, image: 0 }, voken: [[8]], text: [[3]], image: [[0]] };
const base = { seed: 0, wallTimeS: 1, date: '2026-12-06T00:00:00.000Z' };

const stage1: minigpt5.EvalRecord = {
  ...base,
  run: 'minigpt5-s1-no-cfg-seed0',
  stage: 1,
  arm: 'no-cfg',
  drawing: { cfgScale: 2.5, steps: 10, negative: 'null', seed: 7 },
  scenes: { split: 'val', items: 4, clipI: [0.1, 0.2, 0.3, 0.4], clipT: [1, 2, 3, 4], scene: [0, 0.5, 1, 0], fid: 3, samples: [] },
  routing: { ...routing, split: 'val' },
};

const ctx = <T>(f: (c: minigpt5.Context) => T[]) => Object.fromEntries(minigpt5.CONTEXTS.map((c) => [c, f(c)])) as Record<minigpt5.Context, T[]>;
const stage2: minigpt5.EvalRecord = {
  ...base,
  run: 'minigpt5-s2-full-seed0',
  stage: 2,
  arm: 'full',
  drawing: { cfgScale: 4, steps: 25, negative: 'zero-vokens', seed: 0 },
  contexts: {
    split: 'test',
    items: 3,
    minigpt5: ctx((c) => [1, 2, 3].map((i) => i + minigpt5.CONTEXTS.indexOf(c) / 10)),
    twoStage: ctx((c) => [4, 5, 6].map((i) => i + minigpt5.CONTEXTS.indexOf(c) / 10)),
    captions: ctx((c) => ['a', 'b', 'c'].map((s) => `${s} ${c}`)),
    samples: [],
  },
  narration: { split: 'test', items: 5, nll: [5.1, 5.2, 5.3, 5.4, 5.5], tokens: [9, 8, 7, 6, 5] },
  routing,
};

const none = { scenes: 0, sweepItems: 0, sweepScales: [], stories: 0, narration: 0, routingRows: 0, samples: 0 };

test('stage 1: the recorded split, γ, steps and noise seed, the first scenes only; the parts it lacks are null', () => {
  const n = { scenes: 2, stories: 9, narration: 9 }; // stories and narration: not in a stage-1 record, so not asked
  expect(minigpt5.heldOutFirst(stage1, n)).toEqual({ split: 'val', drawSeed: 7, cfgScale: 2.5, sizes: { ...none, scenes: 2, steps: 10 } });
  expect(minigpt5.firstScores(stage1, n)).toEqual({ scenes: { clipI: [0.1, 0.2], clipT: [1, 2], scene: [0, 0.5] }, contexts: null, narration: null });
  expect(minigpt5.firstScores(stage1, { ...n, scenes: 0 }).scenes).toEqual({ clipI: [], clipT: [], scene: [] });
});

test('stage 2: the first stories under every context (MiniGPT-5, two-stage, captions) and the first narrations', () => {
  const n = { scenes: 9, stories: 2, narration: 3 };
  expect(minigpt5.heldOutFirst(stage2, n)).toEqual({ split: 'test', drawSeed: 0, cfgScale: 4, sizes: { ...none, stories: 2, narration: 3, steps: 25 } });
  expect(minigpt5.firstScores(stage2, n)).toEqual({
    scenes: null,
    contexts: {
      minigpt5: { none: [1, 2], text: [1.1, 2.1], image: [1.2, 2.2], 'image-text': [1.3, 2.3] },
      twoStage: { none: [4, 5], text: [4.1, 5.1], image: [4.2, 5.2], 'image-text': [4.3, 5.3] },
      captions: { none: ['a none', 'b none'], text: ['a text', 'b text'], image: ['a image', 'b image'], 'image-text': ['a image-text', 'b image-text'] },
    },
    narration: { nll: [5.1, 5.2, 5.3], tokens: [9, 8, 7] },
  });
  // text-only: narration alone
  const { contexts: _c, routing: _r, ...textOnly } = { ...stage2, run: 'minigpt5-s2-text-only-seed0', arm: 'text-only' as const };
  expect(minigpt5.heldOutFirst(textOnly, n).sizes).toEqual({ ...none, narration: 3, steps: 25 });
  expect(minigpt5.firstScores(textOnly, n)).toEqual({ scenes: null, contexts: null, narration: { nll: [5.1, 5.2, 5.3], tokens: [9, 8, 7] } });
});

test('refuses more items than recorded, a count that is not a whole number ≥ 0, mixed splits, no held-out part', () => {
  const n = { scenes: 2, stories: 2, narration: 2 };
  expect(() => minigpt5.heldOutFirst(stage1, { ...n, scenes: 5 })).toThrow("minigpt5.heldOutFirst: minigpt5-s1-no-cfg-seed0's evaluation has 4 scenes items, fewer than the first 5 asked for");
  expect(() => minigpt5.firstScores(stage2, { ...n, stories: 4 })).toThrow("minigpt5.heldOutFirst: minigpt5-s2-full-seed0's evaluation has 3 stories items, fewer than the first 4 asked for");
  expect(() => minigpt5.heldOutFirst(stage2, { ...n, narration: 1.5 })).toThrow('minigpt5.heldOutFirst: narration must be a whole number ≥ 0, got 1.5');
  expect(() => minigpt5.firstScores(stage1, { ...n, scenes: -1 })).toThrow('minigpt5.heldOutFirst: scenes must be a whole number ≥ 0, got -1');
  expect(() => minigpt5.heldOutFirst({ ...stage2, narration: { ...stage2.narration!, split: 'val' } }, n)).toThrow(
    "minigpt5.heldOutFirst: minigpt5-s2-full-seed0's evaluation mixes splits (test, val); evaluateStage scores one split",
  );
  const { scenes: _s, routing: _r, ...bare } = stage1;
  expect(() => minigpt5.heldOutFirst(bare, n)).toThrow("minigpt5.heldOutFirst: minigpt5-s1-no-cfg-seed0's evaluation has no held-out part; evaluateStage scores one split");
  expect(() => minigpt5.heldOutFirst({ ...stage1, scenes: { ...stage1.scenes!, split: 'dev' }, routing: undefined }, n)).toThrow(
    "minigpt5.heldOutFirst: minigpt5-s1-no-cfg-seed0's evaluation is on split 'dev', not train, val, test",
  );
});
