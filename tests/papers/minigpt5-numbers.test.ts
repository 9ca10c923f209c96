/**
 * From finished runs to notebook 04's numbers (papers/minigpt5-…/numbers.ts) on hand-made records: routing counts
 * of several seeds add up, the per-layer JSD of voken vs text and voken vs image-code picks equals an independent
 * computation (null where a group has no picks), each table uses the seeds finished in every arm it compares, and
 * the CFG sweep and loss scales average what the runs hold.
 */
import { minigpt5 } from '../../kernel-lib';

/** JSD in bits, written from the definition (not the library's). */
function jsdBits(p: number[], q: number[]): number {
  const sp = p.reduce((a, b) => a + b, 0);
  const sq = q.reduce((a, b) => a + b, 0);
  let d = 0;
  p.forEach((x, i) => {
    const a = x / sp;
    const b = q[i] / sq;
    const m = (a + b) / 2;
    if (a > 0) d += 0.5 * a * Math.log2(a / m);
    if (b > 0) d += 0.5 * b * Math.log2(b / m);
  });
  return d;
}

const counts = (v: number[][], t: number[][], im: number[][]): minigpt5.RoutingCounts => ({
  split: 'test', rows: 2, tokens: { voken: 16, text: 20, image: im.some((r) => r.some((x) => x > 0)) ? 128 : 0 }, voken: v, text: t, image: im,
});

/** A finished run with only what numbers.ts reads. */
function run(stage: 1 | 2, arm: minigpt5.Arm, seed: number, ev: Partial<minigpt5.EvalRecord>, probe0?: { text: number; ldm: number; cap: number }): minigpt5.FinishedRun {
  const name = minigpt5.runName(stage, arm, seed);
  return {
    place: { name, stage, arm, seed, dir: `/runs/${name}`, state: 'finished', problem: null, command: minigpt5.trainCommand(stage, arm, seed) },
    metrics: { name, base: 'mm-moe-small', decoder: 'ldm-emoji', seed, stage, arm, probes: probe0 ? [{ step: 0, split: 'val', items: 16, ...probe0 }] : [] } as unknown as minigpt5.RunMetrics,
    eval: { run: name, stage, arm, seed, drawing: { cfgScale: 4, steps: 25, negative: 'zero-vokens', seed: 0 }, wallTimeS: 1, date: '', ...ev } as minigpt5.EvalRecord,
  };
}

test('routing: seeds summed; JSD per layer as defined; null without image codes', () => {
  const a = counts([[4, 0, 2], [1, 1, 1]], [[1, 1, 1], [0, 3, 0]], [[0, 2, 2], [3, 0, 0]]);
  const b = counts([[0, 4, 2], [2, 2, 2]], [[2, 0, 1], [1, 1, 1]], [[1, 1, 2], [0, 0, 3]]);
  const sum = minigpt5.sumRouting([a, b]);
  expect(sum.voken).toEqual([[4, 4, 4], [3, 3, 3]]);
  expect(sum.tokens).toEqual({ voken: 32, text: 40, image: 256 });
  expect(sum.rows).toBe(4);
  const rows = minigpt5.routingRows([{ model: 's1-full', counts: sum }, { model: 'none', counts: counts([[1, 1, 0]], [[0, 1, 1]], [[0, 0, 0]]) }]);
  expect(rows.map((r) => [r.model, r.layer])).toEqual([['s1-full', 0], ['s1-full', 1], ['none', 0]]);
  expect(rows[0].vokensVsText).toBeCloseTo(jsdBits([4, 4, 4], [3, 1, 2]), 4);
  expect(rows[1].vokensVsImage!).toBeCloseTo(jsdBits([3, 3, 3], [3, 0, 3]), 4);
  expect(rows[2].vokensVsImage).toBeNull();
  expect(rows[2].vokensVsText).toBeCloseTo(jsdBits([1, 1, 0], [0, 1, 1]), 4);
});

test('each table on the seeds finished in every arm it pairs; the sweep and the loss scales averaged over seeds', () => {
  const scenes = (x: number) => ({ split: 'test', items: 2, clipI: [x, x + 0.1], clipT: [x, x], scene: [1, 0], fid: 0.5, samples: [] });
  const sweep = (x: number) => [{ scale: 1, items: 2, clipI: [x, x], clipT: [0.1, 0.3] }, { scale: 4, items: 2, clipI: [x + 1, x + 1], clipT: [0.2, 0.2] }];
  const runs = [
    ...minigpt5.STAGE1_ARMS.map((a) => run(1, a, 0, { scenes: scenes(0.5) }, a === 'full' ? { text: 6, ldm: 0.7, cap: 1.5 } : undefined)),
    run(1, 'full', 1, { scenes: scenes(0.6), cfgSweep: sweep(0.2) }, { text: 5, ldm: 0.5, cap: 1.3 }),
    run(1, 'no-cfg', 1, { scenes: scenes(0.6) }),
    run(2, 'full', 0, { narration: { split: 'test', items: 2, nll: [2, 3], tokens: [5, 5] } }),
    run(2, 'full', 1, { narration: { split: 'test', items: 2, nll: [2, 3], tokens: [5, 5] } }),
    run(2, 'text-only', 1, { narration: { split: 'test', items: 2, nll: [1, 3], tokens: [5, 5] } }),
  ];
  runs[0].eval.cfgSweep = sweep(0.4);
  const seeds = minigpt5.tableSeeds(runs);
  expect(seeds).toEqual({ images: [0], contexts: [], narration: [1] });
  const m = minigpt5.measurementsOf(runs, { quick: true, retrained: false });
  expect(m.imageArms.map((x) => [x.arm, x.metrics.map((r) => r.seed)])).toEqual(minigpt5.STAGE1_ARMS.map((a) => [a, [0]]));
  expect(m.narration).toEqual({ minigpt5: [[2, 3]], textOnly: [[1, 3]] });
  expect(m.contexts).toBeUndefined();
  expect(m.lossScales).toEqual({ text: 5.5, ldm: 0.6, cap: 1.4 });
  const sw = minigpt5.cfgSweepOf(runs);
  expect(sw.map((s) => [s.scale, s.clipIPerSeed, s.clipTPerSeed])).toEqual([[1, [0.4, 0.2], [0.2, 0.2]], [4, [1.4, 1.2], [0.2, 0.2]]]);
  expect(sw[0].clipI).toBeCloseTo(0.3, 10);
  expect(m.cfgSweep).toEqual(sw.map(({ scale, clipI, clipT }) => ({ scale, clipI, clipT })));
  expect(m.scenes).toEqual({ split: 'test', items: 2 });
});
