/**
 * Notebook 02's results builder (papers/moss-…/results.ts) on made-up measurements: the shape it writes
 * reads back, the per-arm means are the means of per-item seed means, the verdicts present are those the
 * measurements allow, and inconsistent inputs are refused with a message naming the run.
 */
import { moss } from '../../kernel-lib';
import { mulberry32 } from '../../kernel-lib/util/random';

const IDS = ['instructions/story/test/0', 'instructions/story/test/1', 'instructions/edit/test/0', 'instructions/edit/test/1', 'instructions/continue/test/0', 'instructions/continue/test/1'];
const KINDS = ['story', 'story', 'edit', 'edit', 'continue', 'continue'] as const;

function metrics(arm: moss.Arm, rank: number | undefined, seed: number): moss.RunMetrics {
  const params = arm === 'full' ? 1000 : arm === 'lora' ? 10 : 20;
  return {
    name: moss.runName(arm, rank ?? 8, seed), paper: 'MoSS', base: 'mm-moe-small', arm, ...(rank === undefined ? {} : { rank }), seed,
    ...(arm === 'full' ? {} : { adapter: { kind: arm, name: `moss-${arm}`, rank: rank as number, alpha: 8, dropout: 0.05, scaling: 1, params, layers: [0], targets: ['q' as const] } }),
    trainableParams: params,
    data: { description: 'd', split: 'train', items: 10, kinds: ['story', 'edit', 'continue'] },
    optimizer: { name: 'AdamW', lr: 1e-3, minLr: 1e-4, schedule: 's', warmupSteps: 1, weightDecay: 0.1, batchSize: 8, clipNorm: 1 },
    steps: 10, resumedFrom: 0, stopped: 'done', lossCurve: [[1, 3]],
    stepTime: { steps: 10, firstMs: 100, meanMs: 50 + seed, medianMs: 40 + seed, tokensPerStep: 100, threads: 1 },
    probes: [], files: {}, backend: { backend: 'wasm', tfBackend: 'wasm', gpu: false, threads: 1, simd: true, skipped: [] },
    date: '2026-01-01T00:00:00.000Z', train_wall_time_s: 1, recipe_wall_time_s: 2,
  };
}

/** Scores of one seed: image NLL = base + offset + noise, text on the story items only. */
function itemScores(offset: number, seed: number, key: number): moss.ItemScores {
  const rand = mulberry32(key * 100 + seed);
  return {
    ids: IDS, kinds: [...KINDS],
    imageNll: IDS.map((_, i) => 3 + i / 10 + offset + 0.001 * rand()),
    imageTokens: IDS.map(() => 64),
    textNll: IDS.map((_, i) => (i < 2 ? 5 + offset + 0.001 * rand() : NaN)),
    textTokens: IDS.map((_, i) => (i < 2 ? 9 : 0)),
  };
}

function run(arm: moss.Arm, rank: number | undefined, offset: number, key: number, seeds = [0, 1, 2]): moss.ArmRun {
  return { arm, ...(rank === undefined ? {} : { rank }), metrics: seeds.map((k) => metrics(arm, rank, k)), scores: seeds.map((k) => itemScores(offset, k, key)) };
}

const table2 = () => [run('lora', 8, 0, 1), run('moe-lora', 8, -0.1, 2), run('moss', 8, -0.2, 3), run('moe-lora-matched', 8, -0.1, 4)];

test('results: the file’s shape reads back; means are of per-item seed means; verdicts as the measurements allow', () => {
  const r = moss.results({ quick: true, retrained: false, base: 'mm-moe-small', split: 'test', runs: table2(), date: new Date('2026-02-03T04:05:06Z') });
  expect(moss.checkResults(JSON.parse(JSON.stringify(r)))).toEqual(r);
  expect(r.notebook).toBe('02-moss-modality-specialized-synergizers');
  expect(r.heldOut).toEqual({ split: 'test', items: 6, perKind: { story: 2, edit: 2, continue: 2 }, textItems: 2, ids: IDS });
  const lora = r.runs.find((x) => x.arm === 'lora')!;
  const by = [0, 1, 2].map((k) => itemScores(0, k, 1));
  const seedMean = IDS.map((_, i) => (by[0].imageNll[i] + by[1].imageNll[i] + by[2].imageNll[i]) / 3);
  expect(lora.imageNll).toBeCloseTo(seedMean.reduce((a, b) => a + b, 0) / 6, 4);
  expect(lora.textNllPerSeed).toEqual(by.map((s) => Number(((s.textNll[0] + s.textNll[1]) / 2).toFixed(4))));
  expect(lora).toMatchObject({ rank: 8, adapterRank: 8, params: 10, seeds: [0, 1, 2], steps: 10, stepMs: 41 });
  expect(r.perItem[0].textNll.slice(2)).toEqual([null, null, null, null]);
  expect(r.verdicts.map((v) => v.reproduces)).toEqual([true, true, true]); // Table 2 only: nothing else was measured
  expect(r.comparisons.filter((c) => c.rank === 8 && c.measure === 'image').map((c) => `${c.a}-${c.b}`)).toEqual(['moss-moe-lora', 'moe-lora-lora', 'moss-lora', 'moss-moe-lora-matched']);
  expect(r.decode).toBeUndefined();
});

test('results: ranks, Table 10, Table 12 and C.3 join in when measured', () => {
  const runs = [...table2(), run('lora', 4, 0, 5), run('moe-lora', 4, -0.05, 6), run('moss', 4, -0.1, 7), run('sam-convlora', 8, -0.15, 8), run('full', undefined, -0.1, 9)];
  const r = moss.results({ quick: false, retrained: true, base: 'mm-moe-small', split: 'test', runs, decodeMs: { base: 400, lora: 420, moss: 480 } });
  expect(r.verdicts.map((v) => v.claim.split(':')[0])).toEqual([
    'Table 2', 'MoSS’s image advantage is not its size', 'Table 2', 'Fig. 5', 'Fig. 5', 'Table 10', 'Table 12', 'Table 12', 'C.3',
  ]);
  expect(r.decode).toEqual([{ model: 'base', msPerImage: 400 }, { model: 'lora', msPerImage: 420 }, { model: 'moss', msPerImage: 480 }]);
  expect(r.runs.find((x) => x.arm === 'full')).toMatchObject({ params: 1000, seeds: [0, 1, 2] });
  expect(r.runs.find((x) => x.arm === 'full')!.rank).toBeUndefined();
  expect(r.comparisons.some((c) => c.a === 'full' && c.b === 'moss' && c.rank === undefined)).toBe(true);
});

test('results: inconsistent measurements are refused, naming the run', () => {
  const base = { quick: true, retrained: false, base: 'mm-moe-small', split: 'test' };
  expect(() => moss.results({ ...base, runs: table2().slice(0, 3) })).toThrow('moss.results: Table 2 needs moe-lora-matched at r = 8');
  const other = table2();
  other[2].scores[1] = { ...other[2].scores[1], ids: [...IDS].reverse() };
  expect(() => moss.results({ ...base, runs: other })).toThrow('moss.results: moss r=8 seed 1 scored other items than lora r=8; every arm and seed must score the same held-out list');
  const short = table2();
  short[0].scores.pop();
  expect(() => moss.results({ ...base, runs: short })).toThrow('moss.results: lora r=8 has 3 run metrics and 2 score sets; give one of each per seed');
  const twice = table2();
  twice[1].metrics[2] = metrics('moe-lora', 8, 0);
  expect(() => moss.results({ ...base, runs: twice })).toThrow('moss.results: moe-lora r=8 repeats a seed (0, 1, 0)');
  expect(() => moss.results({ ...base, runs: [...table2(), run('lora', 8, 0, 1)] })).toThrow('moss.results: an arm appears twice at the same rank');
  const r = moss.results({ ...base, runs: table2() });
  const bad = JSON.parse(JSON.stringify(r));
  bad.perItem[1].imageNll.pop();
  expect(() => moss.checkResults(bad)).toThrow('02-moss-modality-specialized-synergizers.json: perItem[1] (moe-lora) has 5 image and 6 text scores for 6 items');
});
