/**
 * MiniGPT-5's verdicts (papers/minigpt5-…/claims.ts) and notebook 04's results builder (results.ts) on
 * hand-made numbers: each claim holds on numbers built to satisfy its criterion and fails when any part of
 * the criterion fails (the 2 s.e. margin, a seed of the wrong sign, FID in one seed, too few seeds, the
 * non-inferiority margin); the paper's numbers are quoted; the builder pairs, rounds and checks itself.
 */
import { minigpt5, checkShape } from '../../kernel-lib';
import { compare } from '../../kernel-lib/papers/paired';

/** [seed][item]: `level` + a per-item pattern (shared by arms with the same key) + a per-seed shift. */
function arm(level: number, o: { key?: number; seeds?: number; items?: number; seedShift?: number[]; noise?: number } = {}): number[][] {
  const S = o.seeds ?? 3;
  const n = o.items ?? 24;
  return Array.from({ length: S }, (_, k) =>
    Array.from({ length: n }, (_, i) => level + 0.1 * Math.sin(i * 1.7) + (o.noise ?? 0.01) * Math.sin(i * (o.key ?? 1) * 2.3 + k) + (o.seedShift?.[k] ?? 0)),
  );
}

function images(clipI: number, clipT: number, scene: number, fid: number[], o: { key?: number; seeds?: number } = {}): minigpt5.ImageScores {
  return { clipI: arm(clipI, o), clipT: arm(clipT, { ...o, key: (o.key ?? 1) + 1 }), scene: arm(scene, { ...o, key: (o.key ?? 1) + 2 }), fid };
}

/** Numbers shaped like the paper's tables (differences well beyond 2 s.e.). */
function paperLike(seeds = 3): minigpt5.Numbers {
  const f = (x: number) => Array.from({ length: seeds }, (_, k) => x + k * 0.01);
  const o = { seeds };
  return {
    table5: {
      full: images(0.61, 0.22, 0.8, f(0.3), { ...o, key: 1 }),
      'no-cfg': images(0.58, 0.22, 0.7, f(0.4), { ...o, key: 2 }),
      'no-cap': images(0.5, 0.15, 0.5, f(0.6), { ...o, key: 3 }),
      'no-ldm': images(0.56, 0.19, 0.6, f(0.45), { ...o, key: 4 }),
    },
    table7: {
      full: images(0.61, 0.22, 0.8, f(0.3), { ...o, key: 1 }),
      'fixed-queries': images(0.6, 0.19, 0.8, f(0.25), { ...o, key: 5 }),
      'decoder-only': images(0.55, 0.18, 0.6, f(0.5), { ...o, key: 6 }),
    },
    table6: {
      minigpt5: { none: arm(0.6, { seeds, key: 7 }), text: arm(0.64, { seeds, key: 8 }), image: arm(0.69, { seeds, key: 9 }), 'image-text': arm(0.7, { seeds, key: 10 }) },
      twoStage: { none: arm(0.54, { seeds, key: 11 }), text: arm(0.56, { seeds, key: 12 }), image: arm(0.57, { seeds, key: 13 }), 'image-text': arm(0.58, { seeds, key: 14 }) },
    },
    table2: { minigpt5: arm(2.01, { seeds, key: 15, noise: 0.002 }), textOnly: arm(2.0, { seeds, key: 16, noise: 0.002 }) },
    minSeeds: 3,
  };
}

const byClaim = (v: minigpt5.Verdict[], start: string) => {
  const found = v.find((x) => x.claim.startsWith(start));
  if (!found) throw new Error(`no verdict starting '${start}'`);
  return found;
};

test('numbers shaped like the paper’s tables reproduce every claim; the paper’s numbers are quoted', () => {
  const v = minigpt5.verdicts(paperLike());
  expect(v).toHaveLength(9);
  for (const x of v) expect([x.claim, x.reproduces]).toEqual([x.claim, true]);
  expect(minigpt5.PAPER.table5['no-cap']).toEqual({ clipI: 0.54, clipT: 0.16, is: 21.27, fid: 40.24 });
  expect(minigpt5.PAPER.table7['fixed-queries']).toEqual({ clipI: 0.6, clipT: 0.21, is: 28.55, fid: 30.56 });
  expect(byClaim(v, 'Table 5: without L_CAP').paper).toBe('full CLIP-I 0.61, CLIP-T 0.22, IS 28.09, FID 31.47; w/o L_CAP CLIP-I 0.54, CLIP-T 0.16, IS 21.27, FID 40.24');
  expect(byClaim(v, 'Table 6: MiniGPT-5 beats').paper).toBe('CLIP-I MiniGPT-5 0.61 / 0.64 / 0.69 / 0.7 vs two-stage 0.54 / 0.56 / 0.57 / 0.58 (none / text / image / image + text)');
  expect(byClaim(v, 'Table 2').paper).toContain('0.6315 / 0.3373 / 0.3263 (MiniGPT-5) vs 0.6273 / 0.3401 / 0.3296');
  expect(byClaim(v, 'Table 2').criterion).toContain(`below ${minigpt5.TEXT_MARGIN} nats per token`);
  // only the tables given are judged
  expect(minigpt5.verdicts({ table2: paperLike().table2 }).map((x) => x.claim)).toEqual(['Table 2: adding generative vokens does not hurt narration']);
});

test('each criterion fails when a part of it fails', () => {
  const n = paperLike();
  // CFG: one seed of FID the wrong way; a CLIP-T far below full's
  const t5 = n.table5!;
  const cfg = (t: typeof t5) => byClaim(minigpt5.verdicts({ ...n, table5: t }), 'Table 5: CFG').reproduces;
  expect(cfg({ ...t5, 'no-cfg': { ...t5['no-cfg'], fid: [0.4, 0.4, 0.3] } })).toBe(false);
  expect(cfg({ ...t5, 'no-cfg': { ...t5['no-cfg'], clipT: arm(0.3, { key: 3 }) } })).toBe(false);
  expect(cfg({ ...t5, 'no-cfg': { ...t5['no-cfg'], clipT: arm(0.21, { key: 3 }) } })).toBe(true); // slightly above: "not lower" is not "higher"
  // L_CAP hurting most: no-cap above no-ldm
  expect(byClaim(minigpt5.verdicts({ ...n, table5: { ...t5, 'no-cap': images(0.57, 0.15, 0.5, [0.6, 0.61, 0.62], { key: 3 }) } }), 'Table 5: removing L_CAP').reproduces).toBe(false);
  // a difference whose sign flips in one seed
  const flipped = { ...t5, 'no-ldm': { ...t5['no-ldm'], clipI: arm(0.56, { key: 4, seedShift: [0, 0, 0.2] }) } };
  expect(byClaim(minigpt5.verdicts({ ...n, table5: flipped }), 'Table 5: L_LDM').reproduces).toBe(false);
  // within noise: full − no-ldm 0.002 with per-item noise 0.05
  const noisy = { ...t5, full: { ...t5.full, clipI: arm(0.562, { key: 1, noise: 0.05 }) }, 'no-ldm': { ...t5['no-ldm'], clipI: arm(0.56, { key: 4, noise: 0.05 }) } };
  expect(byClaim(minigpt5.verdicts({ ...n, table5: noisy }), 'Table 5: L_LDM').reproduces).toBe(false);
  // fixed queries: FID not lower → no trade-off
  const t7 = n.table7!;
  expect(byClaim(minigpt5.verdicts({ ...n, table7: { ...t7, 'fixed-queries': { ...t7['fixed-queries'], fid: [0.35, 0.35, 0.35] } } }), 'Table 7: fixed').reproduces).toBe(false);
  // Table 6: image + text no better than text
  const m6 = n.table6!.minigpt5;
  expect(byClaim(minigpt5.verdicts({ ...n, table6: { ...n.table6!, minigpt5: { ...m6, 'image-text': arm(0.64, { key: 10 }) } } }), 'Table 6: more context').reproduces).toBe(false);
  // two-stage ahead in one column
  expect(byClaim(minigpt5.verdicts({ ...n, table6: { ...n.table6!, twoStage: { ...n.table6!.twoStage, none: arm(0.62, { key: 11 }) } } }), 'Table 6: MiniGPT-5 beats').reproduces).toBe(false);
  // Table 2: a difference of 0.04 ± ~0.01 crosses the 0.05 margin at 2 s.e.; one seed past the margin fails too
  const t2 = (d: number, o: { noise?: number; seedShift?: number[] } = {}) =>
    byClaim(minigpt5.verdicts({ table2: { minigpt5: arm(2 + d, { key: 15, noise: o.noise ?? 0.05, seedShift: o.seedShift }), textOnly: arm(2, { key: 16, noise: 0.05 }) } }), 'Table 2').reproduces;
  expect(t2(0.0)).toBe(true);
  expect(t2(0.04)).toBe(false);
  expect(t2(0.0, { noise: 0.002, seedShift: [0, 0, 0.08] })).toBe(false);
  // too few seeds: nothing reproduces
  for (const x of minigpt5.verdicts({ ...paperLike(2), minSeeds: 3 })) expect([x.claim, x.reproduces]).toEqual([x.claim, false]);
  expect(minigpt5.verdicts({ ...paperLike(2), minSeeds: 2 }).every((x) => x.reproduces)).toBe(true);
  expect(() => minigpt5.verdicts({ minSeeds: 0 })).toThrow('minigpt5.verdicts: minSeeds must be a positive integer, got 0');
  expect(() => minigpt5.fidLower([1, 2], [3], 1)).toThrow('minigpt5: FID has 2 and 1 seeds; pair seed k with seed k');
  expect(minigpt5.fidLower([1, NaN], [3, 3], 1)).toBe(false);
});

/** A valid stage-1 metrics.json for (arm, seed). */
function metricsFor(arm: minigpt5.Arm, seed: number): minigpt5.RunMetrics {
  const m = {
    name: minigpt5.runName(1, arm, seed), paper: 'MiniGPT-5', stage: 1, arm, seed, base: 'mm-moe-small', decoder: 'ldm-emoji',
    mapper: { kind: arm === 'decoder-only' ? 'decoder-only' : 'enc-dec', encoderLayers: 2, decoderLayers: 2, heads: 4, dim: 128, length: 24, learnableQueries: arm !== 'fixed-queries', params: 1000 },
    trainable: { vokenRows: 2048, mapper: 1000, adapter: 0 }, lossWeights: { text: 0.01, ldm: 1, cap: 0.1 }, vokenDropout: 0.1, negative: 'zero-vokens',
    data: { description: 'x', split: 'train', items: 10000 },
    optimizer: { name: 'AdamW', lr: 1e-3, minLr: 1e-4, schedule: 'warmup + cosine', warmupSteps: 10, weightDecay: 0.1, batchSize: 16, clipNorm: 1, mapperLrScale: 1 },
    steps: 100, resumedFrom: 0, stopped: 'done', lossCurve: [[1, 2.5, 4.1, 0.9, 1.2]],
    stepTime: { steps: 100, firstMs: 900, meanMs: 500 + seed, medianMs: 490 + seed, meanCpuMs: 480, meanTokens: 300, meanImages: 16 },
    probes: [], files: { vokens: 'vokens.safetensors', mapper: 'mapper' }, backend: { backend: 'wasm', tfBackend: 'wasm', threads: 1 },
    date: '2026-12-06T00:00:00.000Z', train_wall_time_s: 50, recipe_wall_time_s: 60,
  };
  return checkShape(minigpt5.RUN_METRICS, m, 'fixture');
}

test('results: rows per arm, comparisons, verdicts; what it returns reads back; inconsistent input is named', () => {
  const n = paperLike();
  const asRun = (a: keyof NonNullable<minigpt5.Numbers['table5']> | 'fixed-queries' | 'decoder-only', x: minigpt5.ImageScores): minigpt5.ArmImages => ({
    arm: a,
    metrics: [0, 1, 2].map((k) => metricsFor(a, k)),
    scores: [0, 1, 2].map((k) => ({ clipI: x.clipI[k] as number[], clipT: x.clipT[k] as number[], scene: x.scene[k] as number[], fid: x.fid[k] })),
  });
  const imageArms = [...Object.entries(n.table5!), ['fixed-queries', n.table7!['fixed-queries']], ['decoder-only', n.table7!['decoder-only']]].map(([a, x]) => asRun(a as 'full', x as minigpt5.ImageScores));
  const m: minigpt5.Measurements = {
    quick: false, retrained: true, base: 'mm-moe-small', decoder: 'ldm-emoji', scenes: { split: 'test', items: 24 }, stories: { split: 'test', items: 24 },
    imageArms, contexts: n.table6, narration: n.table2, cfgSweep: [{ scale: 1, clipI: 0.5, clipT: 0.1 }], lossScales: { text: 4.1, ldm: 0.9, cap: 1.2 }, date: new Date('2026-12-06T00:00:00Z'),
  };
  const r = minigpt5.results(m);
  expect(minigpt5.checkResults(JSON.parse(JSON.stringify(r)))).toEqual(r);
  expect(r.imageArms.map((x) => x.arm)).toEqual(['full', 'no-cfg', 'no-cap', 'no-ldm', 'fixed-queries', 'decoder-only']);
  const full = r.imageArms[0];
  const mean = (xs: readonly (readonly number[])[]) => xs.flat().reduce((a, b) => a + b, 0) / xs.flat().length;
  expect(full.clipI).toBeCloseTo(mean(n.table5!.full.clipI), 4);
  expect(full.fidPerSeed).toEqual([0.3, 0.31, 0.32]);
  expect(full.stepMs).toBe(491);
  expect(r.verdicts).toHaveLength(9);
  expect(r.verdicts.every((v) => v.reproduces)).toBe(true);
  // comparisons: 3 measures × (3 Table 5 arms + 2 Table 7 arms) + 4 contexts + Table 2
  expect(r.comparisons).toHaveLength(3 * 5 + 4 + 1);
  const noCap = r.comparisons.find((c) => c.table === 'Table 5' && c.b === 'no-cap' && c.measure === 'clipI')!;
  expect(noCap.mean).toBeCloseTo(0.11, 2);
  expect(r.contexts).toHaveLength(8);
  expect(r.narration!.map((x) => x.model)).toEqual(['minigpt5', 'textOnly']);
  // without Table 5's four arms there is no Table 5 verdict
  expect(minigpt5.results({ ...m, imageArms: imageArms.filter((x) => x.arm !== 'no-cap') }).verdicts.some((v) => v.claim.startsWith('Table 5'))).toBe(false);
  expect(() => minigpt5.results({ ...m, imageArms: [...imageArms, imageArms[0]] })).toThrow('minigpt5.results: an arm appears twice');
  expect(() => minigpt5.results({ ...m, imageArms: [{ ...imageArms[0], metrics: imageArms[0].metrics.slice(1) }] })).toThrow('minigpt5.results: full has 2 run metrics and 3 score sets; give one of each per seed');
  expect(() => minigpt5.results({ ...m, imageArms: [{ ...imageArms[0], metrics: [metricsFor('no-cfg', 0), ...imageArms[0].metrics.slice(1)] }] })).toThrow('minigpt5.results: run minigpt5-s1-no-cfg-seed0 is not stage 1 of full');
  expect(() => minigpt5.results({ ...m, scenes: { split: 'test', items: 10 } })).toThrow('minigpt5.results: full scored 24 items, heldOut.scenes.items is 10');
  const nan = imageArms.map((x) => ({ ...x, scores: x.scores.map((s) => ({ ...s, fid: NaN })) }));
  expect(() => minigpt5.results({ ...m, imageArms: nan, contexts: undefined, narration: undefined })).toThrow('minigpt5.results.imageArms[0].fid: expected a finite number, got null');
  const bad = JSON.parse(JSON.stringify(r));
  bad.imageArms[1].fidPerSeed.pop();
  expect(() => minigpt5.checkResults(bad)).toThrow('04-minigpt5-generative-vokens.json: imageArms[1] (no-cfg) has 2 fidPerSeed values for 3 seeds');
});

test('the paired comparison shared with MoSS: per-item seed means, their mean and s.e., each seed’s own mean', () => {
  const c = compare([[1, 2, 3], [3, 4, 5]], [[0, 0, 0], [0, 0, 0]]);
  expect(c.mean).toBe(3); // per item (1+3)/2, (2+4)/2, (3+5)/2 = 2, 3, 4
  expect(c.standardError).toBeCloseTo(1 / Math.sqrt(3), 12);
  expect(c.perSeed).toEqual([2, 4]);
  expect(() => compare([[1, 2]], [[1]], 'Table 9')).toThrow('Table 9: seed row 1 has 1 items, the first has 2; every arm and seed must score the same items');
});

test('each verdict lists the parts of its criterion that failed, in words; none when it reproduces', () => {
  const judgedBy = (v: minigpt5.JudgedVerdict[], start: string) => v.find((x) => x.claim.startsWith(start)) ?? (() => { throw new Error(`no verdict starting '${start}'`); })();
  for (const v of minigpt5.verdicts(paperLike())) expect([v.claim, v.failed]).toEqual([v.claim, []]);
  // two seeds where three are needed: every part says so, once
  const few = judgedBy(minigpt5.verdicts({ ...paperLike(2), minSeeds: 3 }), 'Table 5: without L_CAP');
  expect(few.failed).toEqual(['full − w/o L_CAP CLIP-I: 2 seeds, the criterion needs 3', 'full − w/o L_CAP CLIP-T: 2 seeds, the criterion needs 3']);
  // a seed of the wrong sign; the margin; FID in one seed
  const n = paperLike();
  const t5 = n.table5!;
  const flipped = { ...t5, 'no-ldm': { ...t5['no-ldm'], clipT: arm(0.19, { key: 5, seedShift: [0, 0, 0.2] }) } };
  expect(judgedBy(minigpt5.verdicts({ ...n, table5: flipped }), 'Table 5: L_LDM').failed.some((f) => /^full − w\/o L_LDM CLIP-T: not above zero in every seed \(seed 2 -0\.\d{3}\)$/.test(f))).toBe(true);
  const equal = { ...t5, 'no-cap': t5.full };
  expect(judgedBy(minigpt5.verdicts({ ...n, table5: equal }), 'Table 5: without L_CAP').failed[0]).toBe('full − w/o L_CAP CLIP-I: +0.000 is not above 2 s.e. (0.000)');
  const fid = { ...t5, 'no-cfg': { ...t5['no-cfg'], fid: [0.4, 0.2, 0.4] } };
  expect(judgedBy(minigpt5.verdicts({ ...n, table5: fid }), 'Table 5: CFG').failed).toEqual(['FID of full below w/o CFG: not lower in every seed (0.300, 0.310, 0.320 vs 0.400, 0.200, 0.400)']);
  const text = judgedBy(minigpt5.verdicts({ table2: { minigpt5: arm(2.2, { key: 15 }), textOnly: arm(2, { key: 16 }) } }), 'Table 2');
  expect(text.reproduces).toBe(false);
  expect(text.failed[0]).toMatch(/^narration NLL MiniGPT-5 − text-only: mean \+ 2 s\.e\. = \+0\.2\d\d, not below the 0\.05 margin$/);
  expect(text.failed[1]).toMatch(/^narration NLL MiniGPT-5 − text-only: not below 0\.05 in every seed \(\+0\.2\d\d, \+0\.2\d\d, \+0\.\d{3}\)$/);
});
