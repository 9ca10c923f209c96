/**
 * The Liquid plan (papers/liquid-…/plan.ts, budget.ts): every arm's steps from the same-text-tokens rule,
 * generation-only arms with the mixed arm's caption → image rows, the compute-matched and extra-text controls
 * with the +T2I / +I2T arms' steps, seeds, evaluation steps; FLOPs per token against a count from the
 * parameter shapes; the plan's CPU estimate against its own arithmetic and, at the README's measured
 * calibration, under 8 hours; a step measured on a micro config without leaking tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { liquid } from '../../kernel-lib';
import { defaultMoEConfig, PRESETS, SIZE_PRESETS } from '../../kernel-lib/model/config';
import { internalParamShapes } from '../../kernel-lib/model/params';
import { useBackend } from '../helpers/backend';

beforeAll(() => useBackend());

test('the default plan: the same text tokens for every text-matched arm, and each arm’s steps from it', () => {
  const plan = liquid.liquidPlan();
  // text rows per step: 24 (text-only), 8 (1:1:1), 6 (1:2:1, 1:1:2) of 104 tokens; lcm 2,496 → ⌈75,000/2,496⌉ = 31 → 77,376
  expect(plan.textTokens).toBe(77_376);
  const arm = (n: string) => plan.arms.find((a) => a.name === n)!;
  for (const size of SIZE_PRESETS) {
    expect([arm(`${size}-text`).steps, arm(`${size}-mixed`).steps, arm(`${size}-gen`).steps]).toEqual([31, 93, 31]);
    expect(arm(`${size}-text`).textTokens).toBe(77_376);
    expect(arm(`${size}-mixed`).textTokens).toBe(77_376);
    // generation-only: exactly the mixed arm's caption → image rows
    expect(arm(`${size}-gen`).steps * arm(`${size}-gen`).rowsPerBatch.t2i).toBe(arm(`${size}-mixed`).steps * arm(`${size}-mixed`).rowsPerBatch.t2i);
    expect(arm(`${size}-gen`).textTokens).toBe(0);
  }
  expect(arm('moe-h64-mixed').rowsPerBatch).toEqual({ text: 8, t2i: 8, i2t: 4, i2a: 4 });
  expect(arm('moe-h64-add-t2i').rowsPerBatch).toEqual({ text: 6, t2i: 12, i2t: 3, i2a: 3 });
  expect(arm('moe-h64-add-i2t').rowsPerBatch).toEqual({ text: 6, t2i: 6, i2t: 6, i2a: 6 });
  expect(arm('moe-h64-add-text').rowsPerBatch).toEqual({ text: 12, t2i: 6, i2t: 3, i2a: 3 });
  // the 40M arms: the baseline's text tokens and 4/3 of its rows; both controls run as many steps
  for (const n of ['moe-h64-add-t2i', 'moe-h64-add-i2t']) expect([arm(n).steps, arm(n).textTokens]).toEqual([124, 77_376]);
  expect(arm('moe-h64-matched').steps).toBe(124);
  expect(arm('moe-h64-matched').ratios).toEqual(arm('moe-h64-mixed').ratios);
  expect(arm('moe-h64-add-text').steps).toBe(124);
  expect(arm('moe-h64-add-text').textTokens).toBe(2 * 77_376);
  expect(arm('moe-h64-add-t2i').totalTokens).toBe((4 / 3) * arm('moe-h64-mixed').totalTokens);
  // groups and seeds: two seeds for experiment 4's five arms, one elsewhere
  expect(plan.arms.filter((a) => a.seeds.length === 2).map((a) => a.name).sort()).toEqual(['moe-h64-add-i2t', 'moe-h64-add-t2i', 'moe-h64-add-text', 'moe-h64-matched', 'moe-h64-mixed']);
  expect(arm('moe-h64-add-text').group).toBe('mutual');
  expect(arm('moe-h96-text').group).toBe('language-cost');
  expect(arm('moe-h96-gen').group).toBe('gen-only');
  expect(plan.arms.every((a) => typeof a.description === 'string' && a.description.length > 0)).toBe(true);
  // text pretraining: text-moe-small's run at every size; moe-h128 is text-moe-small itself
  expect(plan.pretrain.map((p) => [p.name, p.tokens, p.shipped ?? null])).toEqual([
    ['text-moe-h64', 1_638_400, null], ['text-moe-h96', 1_638_400, null], ['text-moe-h128', 1_638_400, 'text-moe-small'], ['text-moe-h192', 1_638_400, null],
  ]);
  expect(liquid.armNames(plan).slice(0, 4)).toEqual(['text-moe-h64', 'text-moe-h96', 'text-moe-h192', 'moe-h64-text']);
  expect(liquid.findArm('moe-h96-gen', plan).kind).toBe('continue');
  expect(() => liquid.findArm('text-moe-h128', plan)).toThrow('text-moe-h128 is text-moe-small (data/checkpoints/text-moe-small), which ships: nothing to train');
  expect(() => liquid.findArm('moe-h64-nope', plan)).toThrow("unknown arm 'moe-h64-nope'; expected one of text-moe-h64,");
  expect(() => liquid.liquidPlan({ sizes: ['moe-h96'] })).toThrow('liquidPlan: the mutual-improvement size moe-h64 is not among the sizes (moe-h96)');
});

test('evaluation steps: spread evenly, the last at the end, no repeats; bad counts refused', () => {
  expect(liquid.evalSteps(93)).toEqual([19, 37, 56, 74, 93]);
  expect(liquid.evalSteps(4)).toEqual([1, 2, 3, 4]);
  expect(liquid.evalSteps(1)).toEqual([1]);
  expect(liquid.evalSteps(10, 2)).toEqual([5, 10]);
  expect(() => liquid.evalSteps(0)).toThrow('evalSteps: steps must be a positive integer, got 0');
  expect(() => liquid.evalSteps(5, 0)).toThrow('evalSteps: points must be a positive integer, got 0');
});

test('forward multiply-adds per token: the matrices a token passes through (the chosen experts only) plus attention', () => {
  for (const preset of ['tiny', ...SIZE_PRESETS] as const) {
    const cfg = { ...PRESETS[preset], vocabSize: 4615 };
    const T = 104;
    // independently: every weight matrix's size from the parameter table, experts scaled by k/E, the
    // embedding looked up (free), plus QKᵀ and AV over T positions
    let macs = 0;
    for (const [name, shape] of internalParamShapes(cfg)) {
      if (name === 'embed' || shape.length !== 2) continue;
      const n = shape[0] * shape[1];
      macs += /moe\.w(13|2)$/.test(name) ? (n * cfg.topK) / cfg.numExperts : n;
    }
    macs += cfg.numLayers * 2 * T * cfg.hiddenSize;
    expect(liquid.forwardMacsPerToken(cfg, T)).toBe(macs);
    expect(liquid.trainFlopsPerToken(cfg, T)).toBe(6 * macs);
  }
  expect(() => liquid.forwardMacsPerToken(PRESETS.tiny, 0)).toThrow('forwardMacsPerToken: seqLen must be a positive integer, got 0');
});

/** The README's calibration: the median of five measurements of the tiny preset (plan.ts). */
const README_CALIBRATION = { config: defaultMoEConfig('tiny', { vocabSize: liquid.unifiedVocab(4099, 512), maxPositions: 256 }), batchSize: 24, seqLen: 104, cpuMs: 835 };

test('the plan’s CPU estimate: tokens × FLOPs × seconds per FLOP per arm and seed; under 8 hours at the README’s calibration', () => {
  const plan = liquid.liquidPlan();
  const c = README_CALIBRATION;
  expect(liquid.unifiedVocab(4099, 512)).toBe(4615);
  const cost = liquid.planCost(plan, c, { textVocab: 4099, numCodes: 512 });
  const spf = c.cpuMs / 1000 / (24 * 104 * liquid.trainFlopsPerToken(c.config, 104));
  expect(liquid.secondsPerFlop(c)).toBeCloseTo(spf, 20);
  const h192 = cost.arms.find((a) => a.name === 'text-moe-h192')!;
  expect(h192.trainSeconds).toBeCloseTo(1_638_400 * liquid.trainFlopsPerToken(liquid.sizeConfig('moe-h192', 4099), 128) * spf, 6);
  const mixed = cost.arms.find((a) => a.name === 'moe-h64-mixed')!;
  expect(mixed.seeds).toBe(2);
  expect(mixed.trainSeconds).toBeCloseTo(93 * 24 * 104 * liquid.trainFlopsPerToken(liquid.sizeConfig('moe-h64', 4615), 104) * spf, 6);
  expect(cost.arms.map((a) => a.name)).not.toContain('text-moe-h128'); // it ships
  expect(cost.totalSeconds).toBeCloseTo(cost.arms.reduce((s, a) => s + a.seeds * (a.trainSeconds + a.evalSeconds), 0), 6);
  expect(cost.totalSeconds / 3600).toBeGreaterThan(6);
  expect(cost.totalSeconds / 3600).toBeLessThan(8);
  // the slowest of the five measurements (1,007 ms) still fits
  expect(liquid.planCost(plan, { ...c, cpuMs: 1007 }, { textVocab: 4099, numCodes: 512 }).totalSeconds / 3600).toBeLessThan(8);
  expect(() => liquid.secondsPerFlop({ ...c, cpuMs: 0 })).toThrow('secondsPerFlop: cpuMs must be > 0, got 0');
});

test('measureStepCpuMs: a positive CPU time for a micro config, nothing left on the backend', async () => {
  const n0 = tf.memory().numTensors;
  const cfg = defaultMoEConfig('tiny', { vocabSize: 64, hiddenSize: 16, intermediateSize: 8, numLayers: 1, numHeads: 2, numKvHeads: 1 });
  const c = await liquid.measureStepCpuMs(cfg, { batchSize: 2, seqLen: 8, steps: 2, warmup: 1 });
  expect(c.cpuMs).toBeGreaterThan(0);
  expect([c.batchSize, c.seqLen, c.config]).toEqual([2, 8, cfg]);
  expect(tf.memory().numTensors).toBe(n0);
  await expect(liquid.measureStepCpuMs(cfg, { batchSize: 0, seqLen: 8 })).rejects.toThrow('measureStepCpuMs: batchSize must be a positive integer, got 0');
});
