/**
 * Notebook 01's sweep (issue #18): the run list and where each run lives, the sweep file's checks, and
 * what the seeds and arms say, on hand-made numbers worked out by hand below.
 */
import * as path from 'node:path';
import * as plora from '../../kernel-lib/papers/redundancy-aware-moe-plora';
import { handMadeSweep as sweep, sweepRun as run } from '../helpers/plora-sweep';

test('the sweep: both variants at three seeds, PLoRA’s four mechanism arms at seed 0; where each run lives', () => {
  const runs = plora.sweepRuns();
  expect(runs.map(plora.runName)).toEqual([
    's1-plora', 's1-plora-paper-seed1', 's1-plora-paper-seed2', 's1-lora', 's1-lora-paper-seed1', 's1-lora-paper-seed2',
    's1-plora-frozen-seed0', 's1-plora-routers-seed0', 's1-plora-experts-seed0', 's1-plora-replay-seed0',
  ]);
  expect(plora.sweepRunDir('/r', { variant: 'plora', arm: 'paper', seed: 0 })).toBe(path.join('/r', 'data', 'checkpoints', 's1-plora'));
  expect(plora.sweepRunDir('/r', { variant: 'lora', arm: 'paper', seed: 2 })).toBe(path.join('/r', '.cache', 's1', 's1-lora-paper-seed2'));
  expect(plora.initAblationFile('/r', 0)).toBe(path.join('/r', 'notebooks', 'results', plora.INIT_ABLATION_FILE));
  expect(plora.initAblationFile('/r', 1)).toBe(path.join('/r', '.cache', 's1', 's1-init-ablation-seed1', 'metrics.json'));
});

test('checkSweep: the shape, per-layer lengths, CLIP-T differences per caption, one entry per run', () => {
  const s = sweep();
  expect(plora.checkSweep(JSON.parse(JSON.stringify(s)))).toEqual(s);
  const short = sweep();
  short.runs[3].eca = [0.1];
  expect(() => plora.checkSweep(short)).toThrow(`${plora.SWEEP_FILE}: s1-lora.eca has 1 layers, before.eca 4`);
  const twice = sweep();
  twice.runs.push(twice.runs[0]);
  expect(() => plora.checkSweep(twice)).toThrow(`${plora.SWEEP_FILE}: run s1-plora appears twice`);
  const diffs = sweep();
  diffs.runs[0].clipTDiffs = [0.1];
  expect(() => plora.checkSweep(diffs)).toThrow(`${plora.SWEEP_FILE}: s1-plora has 1 CLIP-T differences for 4 captions`);
  expect(() => plora.checkSweep({ ...sweep(), runs: [] })).toThrow(/runs/);
});

test('meanSe and the seed summary: means and standard errors over seeds', () => {
  expect(plora.meanSe([5])).toEqual({ mean: 5, se: 0, n: 1 });
  const m = plora.meanSe([200, 220, 240]);
  expect(m.mean).toBeCloseTo(220, 12);
  expect(m.se).toBeCloseTo(20 / Math.sqrt(3), 12); // s.d. 20, n 3
  const s = plora.seedSummary(sweep(), 'plora');
  expect(s.seeds).toEqual([0, 1, 2]);
  expect(s.perplexityChangePercent.mean).toBeCloseTo(120, 10);
  expect(s.averageDelta.mean).toBeCloseTo(-2, 12);
  expect(() => plora.seedSummary({ ...sweep(), runs: sweep().runs.filter((r) => r.variant === 'plora') }, 'lora')).toThrow("plora.seedSummary: the sweep has no lora runs of the paper's arm");
});

test('pooled CLIP-T: per caption, the mean over seeds', () => {
  const pooled = plora.pooledClipTDiffs(plora.runsOf(sweep(), 'plora', 'paper'));
  [0.2, 0.1, 0.1, 0.1].forEach((x, i) => expect(pooled[i]).toBeCloseTo(x, 12));
  const bad = plora.runsOf(sweep(), 'plora', 'paper');
  bad[1] = { ...bad[1], clipTDiffs: [0.1, 0.2] };
  expect(() => plora.pooledClipTDiffs(bad)).toThrow('plora.pooledClipTDiffs: s1-plora-paper-seed1 has 2 captions, s1-plora 4');
});

test('seedVerdicts: the paper’s claims judged on seed means, with the spread over seeds', () => {
  const v = Object.fromEntries(plora.seedVerdicts(sweep()).map((x) => [x.claim, x]));
  // perplexity 100 → 220 (seed mean): not preserved; LoRA Δ −6 < PLoRA Δ −2 − 1: reproduces
  expect(v['PLoRA preserves text performance'].reproduces).toBe(false);
  expect(v['PLoRA preserves text performance'].ours).toContain('perplexity 100.0 → 220.0 (+120.0 %)');
  expect(v['PLoRA preserves text performance'].ours).toContain('mean of seeds 0, 1, 2; over seeds (mean ± s.e.): Δ average -2.00 ± 0.58 pp');
  expect(v['plain LoRA degrades text performance more than PLoRA'].reproduces).toBe(true);
  // co-activation 0.425 → 0.3: falls; exclusivity ends 0.4 > middle 0.1 and ≥ 0.2
  expect(v['expert co-activation falls after multimodal training'].reproduces).toBe(true);
  expect(v['routing is modality-exclusive at the first and last layers, shared in the middle'].reproduces).toBe(true);
  // pooled differences 0.2, 0.1, 0.1, 0.1: mean 0.125, s.e. 0.025 → 5 s.e.
  expect(v['PLoRA images follow their captions'].reproduces).toBe(true);
  expect(v['PLoRA images follow their captions'].ours).toContain('CLIP-T own − shuffled caption +0.125 ± 0.025 (s.e., 4 held-out captions)');
});

test('mechanismFindings: frozen text, which part carries the damage, replay, and GW vs mean over seeds', () => {
  const f = plora.mechanismFindings(sweep());
  expect(f.map((x) => x.holds)).toEqual([true, true, true, true]);
  expect(f[0].answer).toContain('perplexity 100.0 → 100.5 (+0.5 %)');
  expect(f[0].answer).toContain('image NLL 4.500 vs the paper arm');
  expect(f[1].answer).toContain('routers only 0.150 (118.0), experts only 0.800 (196.0); the experts carry it');
  expect(f[2].answer).toContain('perplexity 100.0 → 104.0 (+4.0 %)');
  // gaps over steps 10 and 50: seed 0 (1 + 0.5)/2 = 0.75, seed 1 0.5, seed 2 0.3 → mean 0.517, s.e. 0.130
  expect(plora.initGaps(sweep()).map((g) => Number(g.gap.toFixed(6)))).toEqual([0.75, 0.5, 0.3]);
  expect(f[3].answer).toContain('0.517 ± 0.130 nats/code over seeds 0, 1, 2');

  const worse = sweep();
  worse.runs = worse.runs.map((r) => (r.arm === 'routers' ? run('plora', 'routers', 0, { ppl: 190 }) : r.arm === 'frozen' ? run('plora', 'frozen', 0, { ppl: 103 }) : r.arm === 'replay' ? run('plora', 'replay', 0, { ppl: 130 }) : r));
  const g = plora.mechanismFindings(worse);
  expect(g.slice(0, 3).map((x) => x.holds)).toEqual([false, false, false]);
  expect(g[1].answer).toContain('each alone carries most of it');
  const none = sweep();
  none.runs = none.runs.filter((r) => r.arm !== 'replay');
  expect(() => plora.mechanismFindings(none)).toThrow("plora.mechanismFindings: the sweep has no PLoRA run of the 'replay' arm");
});

test('damageDecomposition: the NLL rise splits exactly into new-id mass and text-id prediction', () => {
  const seeds = plora.seedsEntry(sweep());
  expect(seeds.basePerplexity).toBe(100);
  const d = plora.damageDecomposition(seeds, seeds.basePerplexity);
  expect(d.map((x) => x.arm)).toEqual(['paper', 'frozen', 'routers', 'experts', 'replay']);
  // paper, seed 0: perplexity 200, over text ids 160 (the hand-made sweep's 0.8 ×), base 100
  expect(d[0].total).toBeCloseTo(Math.log(2), 12);
  expect(d[0].newIds).toBeCloseTo(Math.log(1.25), 12);
  expect(d[0].textIds).toBeCloseTo(Math.log(1.6), 12);
  for (const x of d) expect(x.newIds + x.textIds).toBeCloseTo(x.total, 12);
});
