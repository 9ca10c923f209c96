/**
 * One run of notebook 01's sweep evaluated for real (the shipped s1-plora, a tiny protocol): every number
 * it returns is consistent with the measurements it comes from, and nothing leaks. The full protocol is
 * the notebook's (`npm run plora:sweep`); this only checks the wiring.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as plora from '../../kernel-lib/papers/redundancy-aware-moe-plora';
import { VQVAE } from '../../kernel-lib/image';
import { ClipModel } from '../../kernel-lib/eval';
import { evalSceneCaptions } from '../../kernel-lib/recipes/mm-moe-small';
import { useBackend } from '../helpers/backend';

const REPO = path.resolve(__dirname, '..', '..');
const CK = path.join(REPO, 'data', 'checkpoints');
jest.setTimeout(300_000);
beforeAll(async () => {
  await useBackend();
});

test('evaluateRun on the shipped s1-plora: shapes, CLIP-T pairs, the probe and the changes vs the base as stated', async () => {
  const protocol = { passages: 4, perplexityTokens: 400, traceCaptions: 2, tracePassages: 2, captions: 2, cfgScale: 3 };
  const vq = VQVAE.load(path.join(CK, 'vqvae-emoji'));
  const clip = ClipModel.load(path.join(CK, 'clip-emoji'));
  try {
    const held = await plora.heldOut(vq, { captions: protocol.traceCaptions, passages: protocol.passages });
    const captions = (await evalSceneCaptions(vq, protocol.captions)).caps;
    const base = { perplexity: 100, scores: { lastWord: 10, shuffled: 60, continuation: 20 }, average: 30, passages: 4 };
    const before = tf.memory().numTensors;
    const { session } = await plora.loadVariant(path.join(CK, 's1-plora'), 'plora');
    const metrics = plora.readRunMetrics(path.join(CK, 's1-plora'));
    const r = await plora.evaluateRun(session, { variant: 'plora', arm: 'paper', seed: 0 }, metrics, { held, captions, base, vq, clip, protocol });
    const L = session.config.numLayers;
    session.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect([r.name, r.variant, r.arm, r.seed]).toEqual(['s1-plora', 'plora', 'paper', 0]);
    expect([r.eca.length, r.exclusivity.length]).toEqual([L, L]);
    expect(r.clipTDiffs).toHaveLength(2);
    expect(r.clipT.captions).toBe(2);
    expect(Math.abs((r.clipTDiffs[0] + r.clipTDiffs[1]) / 2 - r.clipT.difference)).toBeLessThan(1e-3);
    const last = metrics.stages.highres?.probes.at(-1);
    expect(r.probe.own).toBeCloseTo(last?.own ?? NaN, 4);
    expect(r.perplexityChangePercent).toBeCloseTo(r.suite.perplexity - 100, 2); // base 100: percent = points
    expect(r.averageDelta).toBeCloseTo(r.suite.average - 30, 2);
    expect(r.train_wall_time_s).toBeCloseTo(metrics.recipe_wall_time_s, 0);
    expect(plora.RUN_EVAL.check(JSON.parse(JSON.stringify(r)), 'r')).toEqual(r);
  } finally {
    vq.dispose();
    clip.dispose();
  }
});

test('missingRuns: every run and ablation seed of an empty repository, fewer once one has its metrics', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-sweep-'));
  try {
    expect(plora.missingRuns(root).runs.map(plora.runName)).toEqual(plora.sweepRuns().map(plora.runName));
    expect(plora.missingRuns(root).initSeeds).toEqual([0, 1, 2]);
    const dir = plora.sweepRunDir(root, { variant: 'lora', arm: 'paper', seed: 1 });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'metrics.json'), '{}');
    fs.mkdirSync(path.dirname(plora.initAblationFile(root, 2)), { recursive: true });
    fs.writeFileSync(plora.initAblationFile(root, 2), '{}');
    expect(plora.missingRuns(root).runs.map(plora.runName)).not.toContain('s1-lora-paper-seed1');
    expect(plora.missingRuns(root).runs).toHaveLength(9);
    expect(plora.missingRuns(root).initSeeds).toEqual([0, 1]);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
