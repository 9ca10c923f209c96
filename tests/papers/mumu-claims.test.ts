/**
 * MUMU's verdicts (claims.ts) and results builder (results.ts) on hand-made per-prompt numbers: each claim
 * reproduces exactly when its criterion holds — a clear effect in every seed — and not when the effect is
 * absent, reversed in a part, significant in the wrong direction, or carried by too few seeds; the builder
 * averages, pairs and judges what it is given, and refuses inconsistent measurements by name.
 */
import { mumu } from '../../kernel-lib';
import { mulberry32 } from '../../kernel-lib/util/random';
import { runMetrics } from './mumu-helpers';

const ITEMS = 40;
/** [seed][item]: base + shift + noise (seeded), `seeds` rows. */
function scores(shift: number, o: { seeds?: number; noise?: number; base?: number; seed?: number; items?: number } = {}): number[][] {
  const rand = mulberry32(o.seed ?? 1);
  const n = o.items ?? ITEMS;
  const base = Array.from({ length: n }, (_, i) => (o.base ?? 0.5) + 0.2 * Math.sin(i));
  return Array.from({ length: o.seeds ?? 3 }, () => base.map((b) => b + shift + (o.noise ?? 0.02) * (rand() - 0.5)));
}
const detail = (shift: number, seed: number, seeds = 3): mumu.DetailScores => ({ identity: scores(shift, { seed, seeds }), cropClipI: scores(shift, { seed: seed + 100, seeds }) });
const rising = (steps: [number, number, number, number], seeds = 3) =>
  Object.fromEntries(mumu.TOKENS_PER_CROP.map((t, i) => [t, detail(steps[i], 10 + i, seeds)])) as Record<mumu.TokensPerCrop, mumu.DetailScores>;
const only = (n: mumu.Numbers) => {
  const v = mumu.verdicts(n);
  expect(v.length).toBe(1);
  return v[0];
};

test('Finding 1: reproduces when detail rises with tokens and 64 beats 1 in every seed; not when flat, when a step drops, or with 2 seeds', () => {
  const yes = only({ finding1: rising([0, 0.05, 0.1, 0.15]) });
  expect(yes.reproduces).toBe(true);
  expect(yes.paper).toContain('Finding 1: Long input contexts are important');
  expect(yes.ours).toMatch(/^identity accuracy of generic-word objects: 64 − 1 tokens \+0\.1(49|50|51) ± 0\.00\d \(s\.e\., 40 items, 3 seeds/);
  expect(yes.criterion).toContain('more than 2 s.e. from zero, the same sign in every seed on its own, at least 3 seeds per arm');
  expect(only({ finding1: rising([0, 0, 0, 0]) }).reproduces).toBe(false);
  expect(only({ finding1: rising([0, 0.1, 0.2, 0.05]) }).reproduces).toBe(false); // 64 > 1, but 64 well below 16
  expect(only({ finding1: rising([0, 0.05, 0.1, 0.15], 2) }).reproduces).toBe(false);
  expect(only({ finding1: rising([0, 0.05, 0.1, 0.15], 2), minSeeds: 2 }).reproduces).toBe(true);
  // identity alone rising is not enough: crop CLIP-I must rise too
  const f = rising([0, 0.05, 0.1, 0.15]);
  f[64] = { identity: f[64].identity, cropClipI: f[1].cropClipI };
  expect(only({ finding1: f }).reproduces).toBe(false);
  const { 16: _drop, ...missing } = rising([0, 0, 0, 0]);
  expect(() => mumu.verdicts({ finding1: missing as never })).toThrow('mumu.verdicts: finding1 needs every tokens-per-crop setting; missing 16');
});

test('Finding 2: MUMU must harmonise more than caption-only on every other-source set', () => {
  const sets = (shifts: [number, number, number]) =>
    Object.fromEntries(mumu.OTHER_SOURCES.map((k, i) => [k, { mumu: scores(shifts[i], { seed: i + 1 }), captionOnly: scores(0, { seed: i + 7 }) }])) as unknown as NonNullable<mumu.Numbers['finding2']>;
  const yes = only({ finding2: sets([0.2, 0.1, 0.3]) });
  expect(yes.reproduces).toBe(true);
  expect(yes.ours).toMatch(/^share of prompts with every object found in its caption region, MUMU − caption-only: emoji \+0\.(199|200|201) ± 0\.00\d \(s\.e\., 40 items, 3 seeds/);
  expect(only({ finding2: sets([0.2, 0, 0.3]) }).reproduces).toBe(false);
  expect(only({ finding2: sets([0.2, -0.2, 0.3]) }).reproduces).toBe(false);
  const { 'two-scenes': _t, ...two } = sets([0.2, 0.1, 0.3]);
  expect(() => mumu.verdicts({ finding2: two as never })).toThrow('mumu.verdicts: finding2 needs every other-source set; missing two-scenes');
});

test('§7: reproduces only when no-augment scores higher crop CLIP-I AND copies more AND harmonises less', () => {
  const arm = (clip: number, copy: number, harm: number, seed: number) => ({ cropClipI: scores(clip, { seed }), copied: scores(copy, { seed: seed + 1, base: 0.3 }), harmonised: scores(harm, { seed: seed + 2 }) });
  const aug = arm(0, 0, 0, 1);
  expect(only({ augmentation: { augment: aug, noAugment: arm(0.1, 0.2, -0.15, 20) } }).reproduces).toBe(true);
  expect(only({ augmentation: { augment: aug, noAugment: arm(0, 0.2, -0.15, 20) } }).reproduces).toBe(false); // the metric did not rise
  expect(only({ augmentation: { augment: aug, noAugment: arm(0.1, 0, -0.15, 20) } }).reproduces).toBe(false); // no copying
  expect(only({ augmentation: { augment: aug, noAugment: arm(0.1, 0.2, 0.15, 20) } }).reproduces).toBe(false); // harmonises better
  expect(only({ augmentation: { augment: aug, noAugment: arm(0.1, 0.2, -0.15, 20) } }).criterion).toContain('ink distance ≤ 0.1');
});

test('encoder vs caption-only and §7 Question 1: both measures must be higher', () => {
  expect(only({ captionOnly: { mumu: detail(0.2, 1), captionOnly: detail(0, 2) } }).reproduces).toBe(true);
  expect(only({ captionOnly: { mumu: { identity: detail(0.2, 1).identity, cropClipI: detail(0, 3).cropClipI }, captionOnly: detail(0, 2) } }).reproduces).toBe(false);
  expect(only({ decoder: { lora: detail(0, 1), full: detail(0.1, 2) } }).reproduces).toBe(true);
  expect(only({ decoder: { lora: detail(0.1, 1), full: detail(0, 2) } }).reproduces).toBe(false);
  expect(mumu.verdicts({})).toEqual([]);
  expect(() => mumu.verdicts({ minSeeds: 0 })).toThrow('mumu.verdicts: minSeeds must be a positive integer, got 0');
});

const N_SAME = 12;
const N_OTHER = 6;
/** One seed's scores: identity NaN on odd prompts (named), the rest shifted. */
function seedSet(shift: number, seed: number, n: number): mumu.SeedSet {
  const s = (k: number, base: number) => scores(shift, { seed: seed * 10 + k, seeds: 1, items: n, base })[0];
  return { identity: s(1, 0.5).map((x, i) => (i % 2 ? NaN : x)), cropClipI: s(2, 0.6), copied: s(3, 0.2), harmonised: s(4, 0.4) };
}
function run(arm: mumu.Arm, t: mumu.TokensPerCrop | null, shift: number, seeds = [0, 1, 2]): mumu.RunScores {
  return {
    arm,
    tokensPerCrop: t,
    metrics: seeds.map((k) => runMetrics(arm, t, k)),
    sameSource: seeds.map((k) => seedSet(shift, k + 1, N_SAME)),
    otherSource: seeds.map((k) => Object.fromEntries(mumu.OTHER_SOURCES.map((o, j) => [o, seedSet(shift, k + 5 + j, N_OTHER)])) as Record<mumu.OtherSource, mumu.SeedSet>),
  };
}

test('results: averages, pairs and judges what it is given; the JSON reads back; inconsistent measurements are refused by name', () => {
  const runs = [run('mumu', 1, 0), run('mumu', 4, 0.05), run('mumu', 16, 0.1), run('mumu', 64, 0.15), run('no-augment', 64, 0.1), run('caption-only', null, -0.2), run('decoder-full', 64, 0.2)];
  const m: mumu.Measurements = { quick: true, retrained: false, base: 'mm-moe-small', decoder: 'ldm-emoji', sameSource: { split: 'test', items: N_SAME }, otherSource: { split: 'test', items: N_OTHER }, runs, date: new Date('2026-01-02T00:00:00Z') };
  const r = mumu.results(m);
  expect(r).toEqual(mumu.checkResults(JSON.parse(JSON.stringify(r))));
  expect(r.verdicts.map((v) => v.claim.split(/[ (:]/)[0])).toEqual(['Finding', 'Finding', '§7', 'Multimodal', '§7']);
  const t64 = r.runs.find((x) => x.arm === 'mumu' && x.tokensPerCrop === 64)!;
  // by hand: the mean over prompts of the per-prompt seed means, NaN prompts left out
  const seedMean = (k: 'identity' | 'cropClipI') => Array.from({ length: N_SAME }, (_, i) => runs[3].sameSource.reduce((a, s) => a + s[k][i], 0) / 3).filter(Number.isFinite);
  expect(t64.sameSource.identity).toBeCloseTo(seedMean('identity').reduce((a, b) => a + b, 0) / (N_SAME / 2), 4);
  expect(t64.sameSource.cropClipI).toBeCloseTo(seedMean('cropClipI').reduce((a, b) => a + b, 0) / N_SAME, 4);
  expect(t64.seeds).toEqual([0, 1, 2]);
  expect(t64.stepMs).toBe(1901);
  expect(t64.identityPerSeed.length).toBe(3);
  expect(r.comparisons.map((c) => `${c.claim}|${c.measure}|${c.set}`)).toEqual([
    'Finding 1|identity|same-source', 'Finding 1|cropClipI|same-source',
    'Finding 2|harmonised|emoji', 'Finding 2|harmonised|shifted-emoji', 'Finding 2|harmonised|two-scenes',
    '§7|cropClipI|same-source', '§7|copied|other-source', '§7|harmonised|other-source',
    'encoder vs caption-only|identity|same-source', 'encoder vs caption-only|cropClipI|same-source',
    '§7 Q1|identity|same-source', '§7 Q1|cropClipI|same-source',
  ]);
  const harm = r.comparisons.find((c) => c.claim === '§7' && c.measure === 'harmonised')!;
  expect(harm.items).toBe(3 * N_OTHER); // the three sets, concatenated
  expect(harm.mean).toBeCloseTo(-0.05, 2);
  // only the Finding 1 runs: one verdict
  expect(mumu.results({ ...m, runs: runs.slice(0, 4) }).verdicts.length).toBe(1);
  // an undefined measure is null, not NaN
  const named = run('mumu', 64, 0);
  named.sameSource.forEach((s) => s.identity.fill(NaN));
  expect(mumu.results({ ...m, runs: [named] }).runs[0].sameSource.identity).toBeNull();
  expect(() => mumu.results({ ...m, runs: [runs[0], runs[0]] })).toThrow('mumu.results: a run set (arm and tokens per crop) appears twice');
  expect(() => mumu.results({ ...m, runs: [{ ...runs[0], sameSource: runs[0].sameSource.slice(1) }] })).toThrow('mumu.results: mumu (1 tokens) has 3 run metrics and 2 score sets; give one of each per seed');
  expect(() => mumu.results({ ...m, runs: [{ ...runs[0], metrics: runs[1].metrics }] })).toThrow('mumu.results: run mumu-mumu-t4-seed0 is not mumu at 1 tokens per crop');
  expect(() => mumu.results({ ...m, sameSource: { split: 'test', items: 11 } })).toThrow('mumu.results: mumu (1 tokens) scored 12 same-source prompts on identity, heldOut.sameSource.items is 11');
  expect(() => mumu.checkResults({ ...r, runs: [{ ...r.runs[0], identityPerSeed: [0.1] }] })).toThrow('05-mumu-multimodal-prompts.json: runs[0] (mumu) has 1 identityPerSeed values for 3 seeds');
});

test('each verdict lists the parts of its criterion that failed; a step with no difference at all is no drop', () => {
  expect(only({ finding1: rising([0, 0.05, 0.1, 0.15]) }).failed).toEqual([]);
  expect(only({ finding1: rising([0, 0.05, 0.1, 0.15], 2) }).failed).toEqual(['identity accuracy, 64 − 1 tokens: 2 seeds, 3 needed', 'crop–region CLIP-I, 64 − 1 tokens: 2 seeds, 3 needed']);
  const dropped = only({ finding1: rising([0, 0.1, 0.2, 0.05]) }).failed;
  expect(dropped).toHaveLength(2);
  expect(dropped[0]).toMatch(/^identity accuracy falls from 16 to 64 tokens by more than 2 s\.e\. \(-0\.1(49|50|51) ± 0\.00\d\)$/);
  // the same scores at every setting: no step drops, but 64 is not above 1
  const flat = detail(0, 5);
  const same = Object.fromEntries(mumu.TOKENS_PER_CROP.map((t) => [t, flat])) as Record<mumu.TokensPerCrop, mumu.DetailScores>;
  const v = only({ finding1: same });
  expect(v.reproduces).toBe(false);
  expect(v.failed).toEqual([
    'identity accuracy, 64 − 1 tokens: +0.000 ± 0.000 is not above 0 by more than 2 s.e.; not in every seed (per seed +0.000, +0.000, +0.000)',
    'crop–region CLIP-I, 64 − 1 tokens: +0.000 ± 0.000 is not above 0 by more than 2 s.e.; not in every seed (per seed +0.000, +0.000, +0.000)',
  ]);
  const arm = (clip: number, copy: number, harm: number, seed: number) => ({ cropClipI: scores(clip, { seed }), copied: scores(copy, { seed: seed + 1, base: 0.3 }), harmonised: scores(harm, { seed: seed + 2 }) });
  const noRise = only({ augmentation: { augment: arm(0, 0, 0, 1), noAugment: arm(0, 0.2, -0.15, 20) } }).failed;
  expect(noRise).toHaveLength(1);
  expect(noRise[0]).toMatch(/^\(1\) crop–region CLIP-I, no-augment − augment: [+-]0\.00\d ± 0\.00\d is not above 0 by more than 2 s\.e\./);
  const better = only({ augmentation: { augment: arm(0, 0, 0, 1), noAugment: arm(0.1, 0.2, 0.15, 20) } }).failed;
  expect(better).toHaveLength(1);
  expect(better[0]).toMatch(/^\(2\) harmonised, no-augment − augment: \+0\.1(4[5-9]|5[0-5]) ± 0\.00\d is not below 0 by more than 2 s\.e\.; not in every seed \(per seed \+0\.1\d\d, \+0\.1\d\d, \+0\.1\d\d\)$/);
});

test('results pair run sets seed k with seed k on the seeds they share; s.e. over prompts per run set', () => {
  const t64 = run('mumu', 64, 0.15);
  const caption = run('caption-only', null, -0.2, [0, 2]);
  const m: mumu.Measurements = { quick: false, retrained: true, base: 'mm-moe-small', decoder: 'ldm-emoji', sameSource: { split: 'test', items: N_SAME }, otherSource: { split: 'test', items: N_OTHER }, runs: [t64, caption] };
  const r = mumu.results(m);
  expect(r.runs.map((x) => x.seeds)).toEqual([[0, 1, 2], [0, 2]]);
  const c = r.comparisons.find((x) => x.claim === 'encoder vs caption-only' && x.measure === 'cropClipI')!;
  expect(c.seeds).toBe(2);
  // by hand: per prompt, the mean over seeds 0 and 2 of mumu t64 (its rows 0 and 2) minus caption-only's (its rows 0 and 1)
  const d = Array.from({ length: N_SAME }, (_, i) => (t64.sameSource[0].cropClipI[i] + t64.sameSource[2].cropClipI[i]) / 2 - (caption.sameSource[0].cropClipI[i] + caption.sameSource[1].cropClipI[i]) / 2);
  const mean = d.reduce((a, b) => a + b, 0) / N_SAME;
  expect(c.mean).toBeCloseTo(mean, 4);
  expect(c.perSeed[1]).toBeCloseTo(t64.sameSource[2].cropClipI.reduce((a, x, i) => a + x - caption.sameSource[1].cropClipI[i], 0) / N_SAME, 4);
  // the s.e. over prompts of the per-prompt seed means, by hand
  const seedMean = Array.from({ length: N_SAME }, (_, i) => t64.sameSource.reduce((a, s) => a + s.cropClipI[i], 0) / 3);
  const mu = seedMean.reduce((a, b) => a + b, 0) / N_SAME;
  const se = Math.sqrt(seedMean.reduce((a, x) => a + (x - mu) ** 2, 0) / (N_SAME - 1) / N_SAME);
  expect(r.runs[0].sameSourceSe.cropClipI).toBeCloseTo(se, 4);
  expect(r.runs[0].otherSourceSe!.emoji.harmonised).not.toBeNull();
  // run sets that share no seed are not compared, and their claim is not judged
  const judged = mumu.judge({ ...m, runs: [t64, run('caption-only', null, -0.2, [3])] });
  expect(judged.comparisons).toEqual([]);
  expect(judged.verdicts).toEqual([]);
  expect(() => mumu.results({ ...m, runs: [{ ...t64, metrics: [t64.metrics[0], t64.metrics[0], t64.metrics[2]] }] })).toThrow('mumu.results: mumu (64 tokens) has seed 0 twice');
});

test('figures: built from the results, each with a title and titled axes; the numbers are the rows’ means and s.e.', () => {
  const runs = [run('mumu', 1, 0), run('mumu', 4, 0.05), run('mumu', 16, 0.1), run('mumu', 64, 0.15), run('no-augment', 64, 0.1), run('caption-only', null, -0.2), run('decoder-full', 64, 0.2)];
  const r = mumu.results({ quick: true, retrained: false, base: 'mm-moe-small', decoder: 'ldm-emoji', sameSource: { split: 'test', items: N_SAME }, otherSource: { split: 'test', items: N_OTHER }, runs });
  const routing: mumu.PromptRouting = { split: 'test', prompts: 4, words: { named: 3, generic: 2 }, layers: [0, 1].map((layer) => ({ layer, cropVsText: 0.1, cropVsWord: 0.2, wordKeptNamed: 0.9, wordKeptGeneric: null })) };
  const figs = [
    mumu.tokensFigure(r, 'identity'), mumu.tokensFigure(r, 'cropClipI'), mumu.harmonisationFigure(r), mumu.augmentationFigure(r),
    mumu.detailFigure(r, [{ arm: 'mumu', tokensPerCrop: 64 }, { arm: 'caption-only', tokensPerCrop: null }], 'Identity and crop similarity'),
    ...['Finding 1', 'Finding 2', '§7', 'encoder vs caption-only', '§7 Q1'].map((c) => mumu.comparisonsFigure(r, c)),
    mumu.routingFigure(routing, 'jsd'), mumu.routingFigure(routing, 'kept'),
  ];
  const text = (x: unknown) => (x as { title?: { text?: string } } | undefined)?.title?.text ?? '';
  for (const f of figs) {
    expect(text(f.layout)).not.toBe('');
    expect(text(f.layout.xaxis)).not.toBe('');
    expect(text(f.layout.yaxis)).not.toBe('');
  }
  const t = figs[1].data[0] as unknown as { x: number[]; y: number[]; error_y: { array: number[] } };
  expect(t.x).toEqual([1, 4, 16, 64]);
  expect(t.y).toEqual(mumu.TOKENS_PER_CROP.map((k) => r.runs.find((x) => x.arm === 'mumu' && x.tokensPerCrop === k)!.sameSource.cropClipI));
  expect(t.error_y.array).toEqual(mumu.TOKENS_PER_CROP.map((k) => r.runs.find((x) => x.arm === 'mumu' && x.tokensPerCrop === k)!.sameSourceSe.cropClipI));
  const harm = figs[2].data.map((d) => (d as unknown as { name: string }).name);
  expect(harm).toEqual(['mumu t64', 'caption-only', 'no-augment t64']);
  expect((figs[5].data[0] as unknown as { x: number[] }).x).toEqual(r.comparisons.filter((c) => c.claim === 'Finding 1').map((c) => c.mean));
  expect(() => mumu.tokensFigure({ runs: [] }, 'identity')).toThrow('mumu.tokensFigure: no mumu runs at any tokens per crop');
  expect(() => mumu.comparisonsFigure(r, 'Finding 9')).toThrow("mumu.comparisonsFigure: no comparisons for 'Finding 9'");
});
