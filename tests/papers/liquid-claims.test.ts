/**
 * Liquid's four verdicts on hand-made numbers, each both ways (the criteria of claims.ts: rank correlation
 * ≤ −0.8 and the largest model's gap under half the smallest's; > 2 s.e. paired over items), the rank
 * correlation and log–log fit against hand values, the results builder on synthetic runs (it reads back by
 * its shape and carries the verdicts), and every figure titled with labelled axes.
 */
import { liquid } from '../../kernel-lib';
import { logLogFit, spearman } from '../../kernel-lib/util/stats';
import { mulberry32 } from '../../kernel-lib/util/random';
import type { Figure } from '../../kernel-lib/display/plotly';

const N = 40;
/** [seeds][items]: base + shift + deterministic noise of scale `noise`. */
function scores(seeds: number, base: number, shift: number, noise: number, seed: number): number[][] {
  const r = mulberry32(seed);
  return Array.from({ length: seeds }, () => Array.from({ length: N }, (_, i) => base + 0.01 * i + shift + noise * (r() - 0.5)));
}
const PARAMS = { 'moe-h64': 461_000, 'moe-h96': 1_000_000, 'moe-h128': 1_800_000, 'moe-h192': 6_200_000 } as const;
const SIZES = Object.keys(PARAMS) as Array<keyof typeof PARAMS>;

test('spearman (ties at their mean rank) and the log–log fit against hand values', () => {
  expect(spearman([1, 2, 3, 4], [10, 20, 30, 45])).toBe(1);
  expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
  // ranks x [1, 2.5, 2.5, 4], y [1, 2, 3, 4]: Σdxdy 4.5 / √(4.5 · 5)
  expect(spearman([1, 2, 2, 3], [1, 2, 3, 4])).toBeCloseTo(4.5 / Math.sqrt(22.5), 12);
  expect(spearman([1, 2, 3], [5, 5, 5])).toBeNaN();
  expect(() => spearman([1], [1])).toThrow('spearman: needs at least 2 pairs, got 1');
  expect(() => spearman([1, 2], [1])).toThrow('spearman: 2 x values but 1 y values');
  expect(() => spearman([1, NaN], [1, 2])).toThrow('spearman: every value must be a finite number');
  const f = logLogFit([1, 10, 100, 1000], [3, 3 / Math.sqrt(10), 0.3, 3 / Math.sqrt(1000)]);
  expect(f.exponent).toBeCloseTo(-0.5, 12);
  expect(f.prefactor).toBeCloseTo(3, 12);
  expect(f.r2).toBeCloseTo(1, 12);
  expect(() => logLogFit([1, 1], [2, 3])).toThrow('logLogFit: needs two distinct x values');
  expect(() => logLogFit([1, 2], [0, 3])).toThrow('logLogFit: every value must be a finite number > 0');
});

const lcRows = (deltas: number[]) =>
  SIZES.map((size, i) => {
    const text = scores(1, 5, 0, 0.02, 10 + i);
    return { size, params: PARAMS[size], text, mixed: text.map((row) => row.map((x, j) => x + deltas[i] + 0.004 * ((j % 3) - 1))) };
  });

test('experiment 1: Δ falling with size to under half the smallest’s reproduces; a slow fall or a rise does not', () => {
  const yes = liquid.languageCostVerdict(lcRows([0.4, 0.3, 0.2, 0.1]));
  expect(yes.deltas.map((d) => d.mean)).toEqual([0.4, 0.3, 0.2, 0.1].map((x) => expect.closeTo(x - 0.0001, 10))); // the wiggle 0.004·((j mod 3) − 1) sums to −0.004 over 40 items
  expect(yes.deltas[0].standardError).toBeGreaterThan(0);
  expect(yes.rho).toBe(-1);
  expect(yes.reproduces).toBe(true);
  expect(yes.criterion).toContain('rank correlation ≤ −0.8');
  expect(yes.criterion).toContain("the largest model's Δ is under half the smallest's");
  expect(yes.failed).toEqual([]);
  // ρ = −1 but the largest's Δ (0.21) is not under half the smallest's (0.2)
  const slow = liquid.languageCostVerdict(lcRows([0.4, 0.3, 0.25, 0.21]));
  expect(slow.reproduces).toBe(false);
  expect(slow.failed).toEqual(["the largest model's Δ (+0.210) is not under half the smallest's (+0.400)"]);
  // one swap: ρ = −0.8 exactly still counts
  const swap = liquid.languageCostVerdict(lcRows([0.4, 0.2, 0.3, 0.1]));
  expect(swap.rho).toBeCloseTo(-0.8, 12);
  expect(swap.reproduces).toBe(true);
  const rise = liquid.languageCostVerdict(lcRows([0.1, 0.3, 0.2, 0.4]));
  expect(rise.reproduces).toBe(false);
  expect(rise.failed).toEqual(['Δ does not fall with size: rank correlation +0.80, not ≤ −0.8', "the largest model's Δ (+0.400) is not under half the smallest's (+0.100)"]);
  expect(() => liquid.languageCostVerdict(lcRows([0.1, 0.2, 0.3, 0.4]).slice(0, 1))).toThrow('liquid.languageCostVerdict: needs at least 2 sizes, got 1');
});

const scRows = (o: { loss?: number[]; acc?: number[]; chk?: number[]; bump?: boolean } = {}) =>
  SIZES.map((size, i) => ({
    size,
    params: PARAMS[size],
    imageNll: scores(2, (o.loss ?? [5, 4.5, 4, 3.5])[i], 0, 0.05, 20 + i),
    imageAccuracy: scores(2, (o.acc ?? [0.1, 0.15, 0.2, 0.25])[i], 0, 0.01, 30 + i),
    checker: scores(2, (o.chk ?? [0.1, 0.2, 0.3, 0.4])[i], 0, 0.01, 40 + i),
    curves: [[6, 5.5, 5.2, 5.1, 5], o.bump && i === 2 ? [6, 5.5, 5.6, 5.1, 5] : [6, 5.4, 5.1, 5.05, 5]],
  }));

test('experiment 2: loss down, accuracy and drawn quality up with size, every curve falling reproduces; any one failing does not', () => {
  expect(liquid.scalingVerdict(scRows()).reproduces).toBe(true);
  expect(liquid.scalingVerdict(scRows()).failed).toEqual([]);
  expect(liquid.scalingVerdict(scRows({ acc: [0.25, 0.2, 0.15, 0.1], bump: true })).failed).toEqual(['token accuracy does not rise with size: rank correlation -1.00, not ≥ +0.8', "moe-h128's image-code NLL rises between two checkpoints"]);
  expect(liquid.scalingVerdict(scRows({ loss: [5, 4, 4.5, 3.5] })).reproduces).toBe(true); // ρ −0.8
  expect(liquid.scalingVerdict(scRows({ loss: [4, 4.5, 5, 3.5] })).reproduces).toBe(false);
  expect(liquid.scalingVerdict(scRows({ acc: [0.25, 0.2, 0.15, 0.1] })).reproduces).toBe(false);
  expect(liquid.scalingVerdict(scRows({ chk: [0.4, 0.1, 0.2, 0.3] })).reproduces).toBe(false);
  const bump = liquid.scalingVerdict(scRows({ bump: true }));
  expect(bump.reproduces).toBe(false);
  expect(bump.ours).toContain('moe-h128 no');
});

test('experiment 2: a measure every size scores the same has no rank correlation, and the verdict says so in words', () => {
  const flat = (base: number, seed: number) => scores(2, base, 0, 0, seed); // no noise: every size has the same mean
  const rows = scRows().map((r, i) => ({ ...r, imageAccuracy: flat(0.07, 30 + i), checker: flat(0, 40 + i) }));
  const v = liquid.scalingVerdict(rows);
  expect(v.reproduces).toBe(false);
  expect(v.failed).toEqual([
    'token accuracy does not rise with size: rank correlation not defined (every size scores the same), not ≥ +0.8',
    "drawn scenes' objects in place do not rise with size: rank correlation not defined (every size scores the same), not ≥ +0.8",
  ]);
  expect(v.ours).toContain('(ρ not defined (every size scores the same))');
  expect(v.ours).not.toContain('undefined');
  const unscored = liquid.scalingVerdict(scRows().map((r, i) => (i === 1 ? { ...r, checker: r.checker.map((s) => s.map(() => NaN)) } : r)));
  expect(unscored.failed).toEqual(['not every size has its drawn scenes scored by the scene checker']);
});

const icRows = (lossGap: number[], drawnGap: number[]) =>
  SIZES.map((size, i) => {
    const gen = { imageNll: scores(1, 4, 0, 0.05, 50 + i), checker: scores(1, 0.5, 0, 0.05, 60 + i) };
    return {
      size,
      params: PARAMS[size],
      gen,
      mixed: { imageNll: gen.imageNll.map((r) => r.map((x, j) => x + lossGap[i] + 0.01 * ((j % 3) - 1))), checker: gen.checker.map((r) => r.map((x, j) => x - drawnGap[i] + 0.01 * ((j % 3) - 1))) },
    };
  });

test('experiment 3: a loss gap at every size with a drawn-image gap shrinking to under half reproduces; otherwise not', () => {
  expect(liquid.imageCostVerdict(icRows([0.2, 0.2, 0.2, 0.2], [0.3, 0.2, 0.1, 0.05])).reproduces).toBe(true);
  expect(liquid.imageCostVerdict(icRows([0.2, 0.2, 0.2, 0.2], [0.3, 0.2, 0.1, 0.05])).failed).toEqual([]);
  const noGap = liquid.imageCostVerdict(icRows([0.2, 0.2, 0.001, 0.2], [0.3, 0.2, 0.1, 0.05]));
  expect(noGap.reproduces).toBe(false); // no loss gap at one size
  expect(noGap.failed).toHaveLength(1);
  expect(noGap.failed[0]).toMatch(/^at moe-h128 the mixed run's image-code NLL is not above the generation-only run's by more than 2 s\.e\. \(\+0\.00\d ± 0\.\d{3}\)$/);
  expect(liquid.imageCostVerdict(icRows([0.2, 0.2, 0.2, 0.2], [0.3, 0.25, 0.2, 0.18])).reproduces).toBe(false); // shrinks, not to half
});

const mutual = (o: { i2tGain?: number; t2iGain?: number; matchedLikeI2t?: boolean } = {}): liquid.MutualScores => {
  const img = (shift: number, s: number) => scores(2, 4, shift, 0.02, s);
  const q = (p: number, s: number) => {
    const r = mulberry32(s);
    return [0, 1].map(() => Array.from({ length: N }, () => (r() < p ? 1 : 0)));
  };
  const gain = o.i2tGain ?? 0.1;
  return {
    base: { imageNll: img(0, 1), questions: q(0.4, 2) },
    addT2i: { imageNll: img(0, 3), questions: q(0.4 + (o.t2iGain ?? 0.5), 4) },
    addI2t: { imageNll: img(-gain, 5), questions: q(0.4, 6) },
    matched: { imageNll: img(o.matchedLikeI2t ? -gain : 0, 7), questions: q(0.4, 8) },
    addText: { imageNll: img(0, 9), questions: q(0.4, 10) },
  };
};

test('experiment 4: +I2T beats the baseline and both controls on generation and +T2I on understanding; a control that matches it fails it', () => {
  const yes = liquid.mutualVerdict(mutual(), 'moe-h64');
  expect(yes.reproduces).toBe(true);
  expect(yes.generation.base.mean).toBeLessThan(-2 * yes.generation.base.standardError);
  expect(yes.understanding.addText.mean).toBeGreaterThan(2 * yes.understanding.addText.standardError);
  expect(yes.ours).toContain('at moe-h64');
  expect(yes.failed).toEqual([]);
  const matched = liquid.mutualVerdict(mutual({ matchedLikeI2t: true }));
  expect(matched.reproduces).toBe(false); // the compute-matched control is as good
  expect(matched.failed).toHaveLength(1);
  expect(matched.failed[0]).toMatch(/^1:1:2 does not beat 1:1:1 compute-matched on image-code NLL by more than 2 s\.e\. \(/);
  expect(liquid.mutualVerdict(mutual({ t2iGain: 0 })).reproduces).toBe(false);
  expect(liquid.mutualVerdict(mutual({ i2tGain: 0 })).reproduces).toBe(false);
  expect(liquid.verdicts({ mutual: { size: 'moe-h64', scores: mutual() } })).toHaveLength(1);
});

/** A synthetic run: metrics by the shape, evaluation files at steps 2 and 4 whose image NLL falls with size and step. */
function run(arm: string, size: keyof typeof PARAMS, seed: number, o: { brown: number; image: number; text?: boolean; q?: number }): liquid.RunRecord {
  const i = SIZES.indexOf(size);
  const kind = arm.slice(size.length + 1);
  const group = kind === 'text' || kind === 'mixed' ? 'language-cost' : kind === 'gen' ? 'gen-only' : 'mutual';
  const textRows = o.text ? 24 : kind === 'gen' ? 0 : 8;
  const metrics: liquid.RunMetrics = liquid.checkRunMetrics({
    name: `${arm}-seed${seed}`, paper: 'Liquid', arm, size, group, seed, base: `text-${size}`,
    vocabulary: { total: 4615, textModel: 4099, imageCodes: 512, init: 'mean' },
    params: { total: PARAMS[size] + 1_000_000, nonEmbedding: PARAMS[size] },
    mixture: { ratios: { text: 1, t2i: 1, i2t: 0.5, i2a: 0.5 }, rowsPerBatch: { text: textRows, t2i: 8, i2t: 4, i2a: 4 }, batchSize: 24, seqLen: 104, captionDropout: 0.1 },
    budget: { textTokens: 4 * textRows * 104, totalTokens: 4 * 24 * 104, trainFlopsPerToken: 1e6 * (i + 1) },
    evalSteps: [2, 4],
    optimizer: { name: 'AdamW', lr: 1e-3, minLr: 1e-4, schedule: 'warmup + cosine', warmupSteps: 0, weightDecay: 0.1, batchSize: 24, clipNorm: 1 },
    steps: 4, resumedFrom: 0, stopped: 'done', lossCurve: [[1, 5], [4, 4]],
    stepTime: { steps: 4, firstMs: 10, meanMs: 5, medianMs: 5, meanCpuMs: 5 + i, meanTokens: 2496 },
    probes: [], files: { checkpoints: ['checkpoints/step-000002', 'checkpoints/step-000004'] },
    backend: { backend: 'wasm', tfBackend: 'wasm', threads: 1 }, date: '2026-01-01T00:00:00.000Z', train_wall_time_s: 1, recipe_wall_time_s: 2,
  }, 'synthetic');
  const r = mulberry32(100 * i + seed + arm.length);
  const items = (base: number) => Array.from({ length: 8 }, (_, j) => base + 0.05 * j + 0.01 * r());
  const evals = [2, 4].map((step): liquid.EvalFile => ({
    arm, size, seed, step, split: 'test', tokens: { text: step * textRows * 104, total: step * 2496 }, flops: step * 2496 * 1e6 * (i + 1),
    brown: { nll: items(o.brown), textNll: items(o.brown - 0.01) },
    ...(o.text ? {} : {
      image: { ids: items(0).map((_, j) => `t2i/${j}`), nll: items(o.image + (4 - step) * 0.2), accuracy: items(0.1), shuffledNll: items(o.image + 0.1) },
      drawn: { ids: ['d0', 'd1'], captions: ['a', 'b'], codes: [[1, 2], [3, 4]], objectsRight: [0.5, 0.25], cfgScale: 7, msPerImage: 10 },
      ...(step === 4 ? { caption: { ids: items(0).map((_, j) => `i2t/${j}`), nll: items(3) }, questions: { ids: items(0).map((_, j) => `q/${j}`), kinds: items(0).map(() => 'count'), correct: items(0).map((_, j) => (j < (o.q ?? 4) ? 1 : 0)) }, routing: { exclusivity: [0.1 * (i + 1), null] } } : {}),
    }),
  }));
  return { metrics, evals };
}

test('the results builder: curves, Δ per size, experiment 4’s arms, routing, the compute fit, samples and verdicts; it reads back by its shape', () => {
  const runs: liquid.RunRecord[] = [];
  for (const [k, size] of (['moe-h64', 'moe-h96'] as const).entries()) {
    runs.push(run(`${size}-text`, size, 0, { brown: 5 - k * 0.5, image: 0, text: true }));
    runs.push(run(`${size}-mixed`, size, 0, { brown: 5.2 - k * 0.5, image: 4 - k * 0.3 }));
    runs.push(run(`${size}-gen`, size, 0, { brown: 6, image: 3.9 - k * 0.3 }));
  }
  runs.push(run('moe-h64-mixed', 'moe-h64', 1, { brown: 5.2, image: 4 }));
  for (const [arm, q] of [['moe-h64-add-t2i', 7], ['moe-h64-add-i2t', 4], ['moe-h64-matched', 4], ['moe-h64-add-text', 3]] as const) {
    for (const seed of [0, 1]) runs.push(run(arm, 'moe-h64', seed, { brown: 5.1, image: arm === 'moe-h64-add-i2t' ? 3.8 : 4, q }));
  }
  const text = (['moe-h64', 'moe-h96'] as const).map((size) => ({ size, checkpoint: `text-${size}`, tokens: 1_638_400, testPerplexity: 200, bigramTestPerplexity: 160, params: PARAMS[size] + 1_000_000, nonEmbedding: PARAMS[size] }));
  const r = liquid.results({ quick: true, retrained: false, text, runs, mutualSize: 'moe-h64', date: new Date('2026-01-01') });
  expect(liquid.checkResults(JSON.parse(JSON.stringify(r)))).toEqual(r);
  expect(r.notebook).toBe('03-liquid-unified-vq-language-model');
  expect(r.languageCost.map((x) => x.size)).toEqual(['moe-h64', 'moe-h96']);
  expect(r.languageCost[0].mean).toBeCloseTo(0.2, 1); // mixed's Brown 5.2 vs text's 5.0 (+ item noise)
  expect(r.curves.find((c) => c.arm === 'moe-h96-mixed')!.points.map((p) => p.step)).toEqual([2, 4]);
  expect(r.curves.find((c) => c.arm === 'moe-h96-mixed')!.points[1].conditioningGap).toBeGreaterThan(0);
  expect(r.mutual!.arms.map((a) => [a.role, a.seeds])).toEqual([['base', [0, 1]], ['addT2i', [0, 1]], ['addI2t', [0, 1]], ['matched', [0, 1]], ['addText', [0, 1]]]);
  expect(r.mutual!.comparisons).toHaveLength(6);
  expect(r.routing.filter((x) => x.arm === 'moe-h96-mixed')[0].exclusivity).toEqual([0.2, null]);
  expect(r.computeFit!.exponent).toBeLessThan(0);
  expect(r.samples.map((s) => [s.size, s.step])).toEqual([['moe-h64', 2], ['moe-h64', 4], ['moe-h96', 2], ['moe-h96', 4]]);
  expect(r.verdicts.map((v) => v.claim.slice(0, 20))).toHaveLength(4);
  expect(r.runs.find((x) => x.arm === 'moe-h64-mixed')).toMatchObject({ seeds: [0, 1], steps: 4, stepCpuMs: 5 });
  // NaN would be written as null where a number is required: refused, naming the field
  const broken = JSON.parse(JSON.stringify(r));
  broken.languageCost[0].mean = null;
  expect(() => liquid.checkResults(broken, 'x.json')).toThrow('x.json.languageCost[0].mean: expected a finite number, got null');

  const labelled = (f: Figure) => {
    expect((f.layout.title as { text: string }).text.length).toBeGreaterThan(10);
    for (const axis of ['xaxis', 'yaxis']) expect(((f.layout[axis] as { title: { text: string } }).title.text).length).toBeGreaterThan(3);
    expect(f.data.length).toBeGreaterThan(0);
  };
  labelled(liquid.languageCostFigure(r));
  for (const m of ['imageNll', 'imageAccuracy', 'checker', 'brownNll'] as const) {
    labelled(liquid.scalingStepFigure(r, m));
    labelled(liquid.scalingSizeFigure(r, m));
  }
  labelled(liquid.computeFigure(r));
  labelled(liquid.imageCostFigure(r));
  for (const m of ['imageNll', 'questionAccuracy', 'captionNll', 'conditioningGap', 'checker'] as const) labelled(liquid.mutualFigure(r, m));
  labelled(liquid.routingFigure(r));
  labelled(liquid.routingSizeFigure(r));
  // size axes: a tick at each size, named and counted (Plotly's own log ticks skip the smallest)
  expect(liquid.languageCostFigure(r).layout.xaxis).toMatchObject({ type: 'log', tickvals: [461_000, 1_000_000], ticktext: ['moe-h64<br>0.46M', 'moe-h96<br>1.00M'] });
  // compute axis: ticks at 1, 2, 5 × 10^k over the checkpoints' FLOPs
  expect(liquid.logTicks([1.3e11, 1.9e12])).toEqual([1e11, 2e11, 5e11, 1e12, 2e12]);
  expect(liquid.logTicks([])).toEqual([]);
  // shares and accuracies start at 0; losses keep Plotly's range
  expect(liquid.scalingSizeFigure(r, 'imageAccuracy').layout.yaxis).toMatchObject({ rangemode: 'tozero' });
  expect(liquid.scalingStepFigure(r, 'checker').layout.yaxis).toMatchObject({ rangemode: 'tozero' });
  expect(liquid.scalingSizeFigure(r, 'imageNll').layout.yaxis).not.toHaveProperty('rangemode');
  // experiment 3: the loss gap and the drawn gap in two panels over one size axis, not on two y axes of one plot
  expect(r.imageCost.every((x) => x.drawn)).toBe(true);
  const ic = liquid.imageCostFigure(r);
  const gaps = ic.data.filter((t) => t.mode === 'lines+markers');
  expect(gaps.map((t) => t.yaxis ?? 'y')).toEqual(['y', 'y2']);
  expect(gaps[0].y).toEqual(r.imageCost.map((x) => x.loss.mean));
  expect(ic.layout.yaxis2).toMatchObject({ domain: [0, 0.42], anchor: 'x' });
  expect(ic.layout.yaxis2).not.toHaveProperty('overlaying');
  // experiment 4: one point per arm at its seed mean (points: bars from zero hide differences of hundredths)
  const mf = liquid.mutualFigure(r, 'imageNll');
  expect(mf.data[0]).toMatchObject({ type: 'scatter', mode: 'markers' });
  (mf.data[0].y as number[]).forEach((y, i) => expect(y).toBeCloseTo(r.mutual!.arms[i].imageNll.reduce((a, b) => a + b, 0) / r.mutual!.arms[i].imageNll.length, 12));
  expect((mf.data[0].x as string[])[0]).toBe('1:1:1 baseline<br>4 steps · 2 seeds');
  // routing against size: one point per size and kind of arm, the mean over its seeds (moe-h64's mixed run has 2)
  const rsf = liquid.routingSizeFigure(r).data;
  const mixed = rsf.find((t) => t.name === '1:1:1 mixed')!;
  const dodge = 1.03 ** (0 - (rsf.length - 1) / 2); // the kinds side by side around each size; mixed is the first
  (mixed.x as number[]).forEach((x, i) => expect(x).toBeCloseTo([461_000, 1_000_000][i] * dodge, 6));
  const layerMean = (arm: string, seed: number) => {
    const e = r.routing.find((x) => x.arm === arm && x.seed === seed)!.exclusivity.filter((x): x is number => x !== null);
    return e.reduce((a, b) => a + b, 0) / e.length;
  };
  expect((mixed.y as number[])[0]).toBeCloseTo((layerMean('moe-h64-mixed', 0) + layerMean('moe-h64-mixed', 1)) / 2, 12);
  expect((mixed.y as number[])[1]).toBeCloseTo(layerMean('moe-h96-mixed', 0), 12);
  expect(() => liquid.languageCostFigure({ languageCost: [] })).toThrow('languageCostFigure: no language-cost measurements');
  expect(() => liquid.mutualFigure({}, 'imageNll')).toThrow('mutualFigure: no mutual-improvement measurements');
});
