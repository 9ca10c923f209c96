/**
 * The MiniGPT-5 recipe (papers/minigpt5-…/recipe.ts) on a tiny LM and a tiny random decoder, a few steps each:
 * stage 1 changes only the voken rows of the LM (every other weight bit-exact) and trains the mapper, the
 * decoder stays bit-exact; its output reads back (metrics.json by its shape, loadStage) and the run directory
 * resumes; the arms change what they say; stage 2 trains LoRA + the voken rows + the mapper's enc-dec with its
 * MLP and queries frozen, the mapper at 10× the rate (first AdamW step); the text-only baseline touches only
 * its LoRA; no tensor outlives a run.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { minigpt5, Session } from '../../kernel-lib';
import type { LatentDiffusion } from '../../kernel-lib/diffusion';
import { clearAttentionCache } from '../../kernel-lib/diffusion/attention';
import { useBackend } from '../helpers/backend';
import { tempDir } from '../data/helpers';
import { captionItems, sourceOf, storyLikeItems, tinyParts } from './minigpt5-helpers';

const host = (m: Map<string, tf.Variable>) => new Map([...m].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]));
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
const quiet = () => {};

let root: string;
let baseDir: string;
let ldm: LatentDiffusion;
beforeAll(async () => {
  await useBackend();
  root = tempDir('minigpt5-recipe');
  baseDir = path.join(root, 'base');
  const parts = await tinyParts(4);
  parts.session.save(baseDir);
  parts.session.dispose();
  ldm = parts.ldm;
});
afterAll(() => {
  ldm.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

const stage1Data: minigpt5.StageData = { train: sourceOf(captionItems(12)), probe: captionItems(3, 20), description: 'tiny captions', split: 'val' };
const stage2Data: minigpt5.StageData = { train: sourceOf(storyLikeItems(12)), probe: storyLikeItems(3, 30), description: 'tiny stories', split: 'val' };
const names = { base: 'base', decoder: 'tiny-ldm' };
const mapperSize = { heads: 2, encoderLayers: 1, decoderLayers: 1 };

/** Frees the caches that outlive a call on purpose (attention block masks, the denoiser's position table) before counting tensors. */
function settle(): void {
  clearAttentionCache();
  ldm.denoiser.dispose();
}

/** The voken range [from, to) of the tiny tokenizer. */
function vokenRange(s: Session): [number, number] {
  const v = minigpt5.vokenIds(s.tokenizer);
  return [v[0], v[v.length - 1] + 1];
}

/** Indices where a and b differ. */
const diffAt = (a: Float32Array, b: Float32Array) => Array.from(a.keys()).filter((i) => !Object.is(a[i], b[i]));

test('stage 1 (full): only the voken rows of the LM change, the decoder is bit-exact, the mapper trains; output reads back; the run resumes; no leaks', async () => {
  settle();
  const n0 = tf.memory().numTensors;
  const s = await Session.load(baseDir);
  const before = host(s.model.params);
  const ldmBefore = host(ldm.params);
  const outDir = path.join(root, 's1-full');
  const runDir = path.join(root, 'run-s1-full');
  const steps: number[] = [];
  const o: minigpt5.StageOptions = { stage: 1, arm: 'full', seed: 1, steps: 3, batchSize: 4, lr: 1e-2, mapper: mapperSize, outDir, runDir, log: quiet, onProgress: (e) => steps.push(e.step) };
  const { metrics, mapper, adapter } = await minigpt5.trainStageOn({ session: s, ldm, mapper: null, names }, stage1Data, o);
  expect(steps).toEqual([1, 2, 3]);
  expect(adapter).toBeNull();
  expect(metrics).toEqual(minigpt5.readRunMetrics(outDir));
  expect(metrics.name).toBe('minigpt5-s1-full-seed1');
  expect(metrics.lossWeights).toEqual({ text: 0.01, ldm: 1, cap: 0.1 });
  expect(metrics.vokenDropout).toBe(0.1);
  expect(metrics.probes.map((p) => p.step)).toEqual([0, 3]);
  expect(metrics.lossCurve.every(([, , , l, c]) => l !== null && c !== null)).toBe(true);
  expect(metrics.stepTime.steps).toBe(3);
  expect(metrics.files).toEqual({ vokens: 'vokens.safetensors', mapper: 'mapper' });
  const H = s.config.hiddenSize;
  const V = s.config.vocabSize;
  const [from, to] = vokenRange(s);
  expect(metrics.trainable).toEqual({ vokenRows: 2 * (to - from) * H, mapper: mapper!.numParams.total, adapter: 0 });
  // the LM: embed rows and head columns of the vokens changed, nothing else
  const after = host(s.model.params);
  for (const [k, a] of after) {
    const d = diffAt(before.get(k)!, a);
    if (k === 'embed') expect(d.length > 0 && d.every((i) => Math.floor(i / H) >= from && Math.floor(i / H) < to)).toBe(true);
    else if (k === 'lm_head') expect(d.length > 0 && d.every((i) => i % V >= from && i % V < to)).toBe(true);
    else expect([k, d.length]).toEqual([k, 0]);
  }
  for (const [k, a] of host(ldm.params)) expect([k, same(a, ldmBefore.get(k)!)]).toEqual([k, true]);
  // what was written reads back: voken rows and mapper equal the trained ones
  const back = await minigpt5.loadStage(outDir, { baseDir });
  for (const k of ['embed', 'lm_head']) expect(same(back.session.model.params.get(k)!.dataSync() as Float32Array, after.get(k)!)).toBe(true);
  for (const [k, v] of mapper!.params) expect(same(back.mapper!.params.get(k)!.dataSync() as Float32Array, v.dataSync() as Float32Array)).toBe(true);
  expect(back.adapter).toBeNull();
  back.mapper!.dispose();
  back.session.dispose();
  // the run directory resumes: the same call again trains nothing and gives the same weights
  const s2 = await Session.load(baseDir);
  const again = await minigpt5.trainStageOn({ session: s2, ldm, mapper: null, names }, stage1Data, o);
  expect(again.metrics.resumedFrom).toBe(3);
  expect(again.metrics.stepTime.steps).toBe(0);
  expect(same(s2.model.params.get('embed')!.dataSync() as Float32Array, after.get('embed')!)).toBe(true);
  for (const [k, v] of mapper!.params) expect(same(again.mapper!.params.get(k)!.dataSync() as Float32Array, v.dataSync() as Float32Array)).toBe(true);
  // a run directory of other options is refused, by name
  const s3 = await Session.load(baseDir);
  await expect(minigpt5.trainStageOn({ session: s3, ldm, mapper: null, names }, stage1Data, { ...o, seed: 2 })).rejects.toThrow(/seed/);
  for (const x of [mapper, again.mapper]) x!.dispose();
  for (const x of [s, s2, s3]) x.dispose();
  settle();
  expect(tf.memory().numTensors).toBe(n0);
});

describe('stage-1 arms change what they say (2 steps each)', () => {
  test.each(['no-cfg', 'no-cap', 'no-ldm', 'fixed-queries', 'decoder-only'] as const)('%s', async (arm) => {
    const s = await Session.load(baseDir);
    const set = minigpt5.armSettings(arm, 1);
    const probe = minigpt5.FeatureMapper.create(minigpt5.defaultMapperConfig({ hiddenSize: s.config.hiddenSize, numVokens: 2, length: ldm.config.caption.maxTokens, dim: ldm.config.caption.dim }, { ...mapperSize, ...set.mapper }), 1);
    const init = host(probe.params); // the mapper trainStageOn makes: the same config and seed
    probe.dispose();
    const weights = arm === 'no-cfg' ? { text: 0.5 } : undefined; // λs can be re-weighted (recorded in metrics.json)
    const { metrics, mapper } = await minigpt5.trainStageOn({ session: s, ldm, mapper: null, names }, stage1Data, { stage: 1, arm, seed: 1, steps: 2, batchSize: 4, lr: 1e-2, mapper: mapperSize, weights, outDir: path.join(root, `s1-${arm}`), runDir: path.join(root, `run-s1-${arm}`), log: quiet });
    expect(metrics.lossWeights).toEqual({ ...set.weights, ...weights });
    const curve = metrics.lossCurve;
    expect(curve.every(([, , , l]) => (arm === 'no-ldm' ? l === null : l !== null))).toBe(true);
    expect(curve.every(([, , , , c]) => (arm === 'no-cap' ? c === null : c !== null))).toBe(true);
    expect(metrics.vokenDropout).toBe(arm === 'no-cfg' ? 0 : 0.1);
    expect(metrics.negative).toBe(arm === 'no-cfg' ? 'null' : 'zero-vokens');
    expect(metrics.mapper!.kind).toBe(arm === 'decoder-only' ? 'decoder-only' : 'enc-dec');
    const m = mapper!;
    if (arm === 'fixed-queries') {
      expect(m.config.learnableQueries).toBe(false);
      expect(same(m.params.get('mapper.queries')!.dataSync() as Float32Array, init.get('mapper.queries')!)).toBe(true);
      expect(metrics.trainable.mapper).toBe(m.numParams.total - m.numParams.queries);
    }
    expect(same(m.params.get('mapper.mlp.fc1.weight')!.dataSync() as Float32Array, init.get('mapper.mlp.fc1.weight')!)).toBe(false);
    m.dispose();
    s.dispose();
  });

  test('text-only is a stage-2 arm; unknown arms and stages are named', async () => {
    const s = await Session.load(baseDir);
    const o = { steps: 1, outDir: path.join(root, 'x'), runDir: path.join(root, 'run-x'), log: quiet };
    await expect(minigpt5.trainStageOn({ session: s, ldm, mapper: null, names }, stage1Data, { ...o, stage: 1, arm: 'text-only' })).rejects.toThrow(
      "minigpt5: the 'text-only' arm is Table 2's stage-2 baseline; stage 1 trains the vokens, which it has none of",
    );
    await expect(minigpt5.trainStageOn({ session: s, ldm, mapper: null, names }, stage1Data, { ...o, stage: 1, arm: 'gill' as minigpt5.Arm })).rejects.toThrow(
      "minigpt5: unknown arm 'gill' (arms: full, no-cfg, no-cap, no-ldm, fixed-queries, decoder-only, text-only)",
    );
    await expect(minigpt5.trainStageOn({ session: s, ldm, mapper: null, names }, stage2Data, { ...o, stage: 2, arm: 'full' })).rejects.toThrow("minigpt5: stage 2 of arm 'full' starts from the stage-1 mapper; none was given");
    await expect(minigpt5.trainStageOn({ session: s, ldm, mapper: null, names }, stage1Data, { ...o, stage: 1, arm: 'no-cap', weights: { cap: 0.1 } })).rejects.toThrow(
      "minigpt5: arm 'no-cap' at stage 1 has no L_CAP (λ 0); weights.cap cannot turn it on",
    );
    await expect(minigpt5.trainStageOn({ session: s, ldm, mapper: null, names }, stage1Data, { ...o, stage: 1, arm: 'full', weights: { text: -1 } })).rejects.toThrow('minigpt5: weights.text must be a finite number ≥ 0, got -1');
    expect(s.model.adapters.parameters().size).toBe(0); // the failed stage 2 left no LoRA attached
    s.dispose();
  });
});

test('stage 2 (full): LoRA + voken rows + the enc-dec train at rates 1 : 10, the MLP and queries stay, the LM and decoder are bit-exact otherwise', async () => {
  settle();
  const n0 = tf.memory().numTensors;
  const s1 = path.join(root, 's1-full');
  const s = await Session.load(baseDir);
  minigpt5.loadVokenRows(s.model, s.tokenizer, path.join(s1, minigpt5.VOKENS_FILE));
  const mapper = minigpt5.FeatureMapper.load(path.join(s1, minigpt5.MAPPER_DIR));
  const before = host(s.model.params);
  const mBefore = host(mapper.params);
  const ldmBefore = host(ldm.params);
  const lr = 1e-3;
  const { metrics, adapter } = await minigpt5.trainStageOn({ session: s, ldm, mapper, names: { ...names, from: s1 } }, stage2Data, {
    stage: 2, arm: 'full', seed: 1, steps: 1, batchSize: 6, lr, outDir: path.join(root, 's2-full'), runDir: path.join(root, 'run-s2-full'), log: quiet,
  });
  expect(metrics.from).toBe('s1-full');
  expect(metrics.optimizer.mapperLrScale).toBe(10);
  expect(metrics.lossWeights).toEqual({ text: 0.01, ldm: 1, cap: 0 });
  expect(metrics.files).toEqual({ vokens: 'vokens.safetensors', mapper: 'mapper', adapter: 'adapter' });
  expect(metrics.trainable.mapper).toBe(mapper.numParams.transformer);
  const H = s.config.hiddenSize;
  const V = s.config.vocabSize;
  const [from, to] = vokenRange(s);
  for (const [k, a] of host(s.model.params)) {
    const d = diffAt(before.get(k)!, a);
    if (k === 'embed') expect(d.every((i) => Math.floor(i / H) >= from && Math.floor(i / H) < to)).toBe(true);
    else if (k === 'lm_head') expect(d.every((i) => i % V >= from && i % V < to)).toBe(true);
    else expect([k, d.length]).toEqual([k, 0]);
  }
  for (const [k, a] of host(ldm.params)) expect([k, same(a, ldmBefore.get(k)!)]).toEqual([k, true]);
  // the MLP and the queries are frozen; the enc-dec trains, its biases (no weight decay) by 10·lr in the first
  // AdamW step (|m̂/√v̂| = 1), LoRA's B (zero at the start, so no decay either) by lr
  let encDecBias = 0;
  for (const [k, v] of mapper.params) {
    const d = diffAt(mBefore.get(k)!, v.dataSync() as Float32Array);
    if (k.startsWith('mapper.mlp.') || k === 'mapper.queries') expect([k, d.length]).toEqual([k, 0]);
    if (k.endsWith('.bias') && !k.startsWith('mapper.mlp.')) {
      const x = v.dataSync();
      const b = mBefore.get(k)!;
      for (let i = 0; i < x.length; i++) encDecBias = Math.max(encDecBias, Math.abs(x[i] - b[i]));
    }
  }
  let loraB = 0;
  for (const [k, v] of adapter!.parameters()) if (k.endsWith('.B')) loraB = Math.max(loraB, ...Array.from(v.dataSync(), Math.abs));
  expect(encDecBias).toBeCloseTo(10 * lr, 5);
  expect(loraB).toBeCloseTo(lr, 6);
  // the stage reads back with its LoRA (PEFT) attached
  const back = await minigpt5.loadStage(path.join(root, 's2-full'), { baseDir });
  expect(back.adapter!.numParams).toBe(adapter!.numParams);
  back.adapter!.detach();
  back.mapper!.dispose();
  back.session.dispose();
  adapter!.detach();
  mapper.dispose();
  s.dispose();
  settle();
  expect(tf.memory().numTensors).toBe(n0);
});

test('stage 2 text-only (Table 2’s baseline): no vokens, no mapper, no image loss; only its LoRA trains', async () => {
  const s = await Session.load(baseDir);
  const before = host(s.model.params);
  const withText = (xs: minigpt5.VokenItem[]) => xs.filter((it) => it.targetText !== null); // its data has no image-only task
  const data = { ...stage2Data, train: sourceOf(withText(storyLikeItems(12))), probe: withText(storyLikeItems(3, 30)) };
  const { metrics, mapper, adapter } = await minigpt5.trainStageOn({ session: s, ldm, mapper: null, names }, data, {
    stage: 2, arm: 'text-only', seed: 0, steps: 2, batchSize: 4, outDir: path.join(root, 's2-text'), runDir: path.join(root, 'run-s2-text'), log: quiet,
  });
  expect(mapper).toBeNull();
  expect(metrics.files).toEqual({ adapter: 'adapter' });
  expect(metrics.lossCurve.every(([, , , l, c]) => l === null && c === null)).toBe(true);
  expect(metrics.trainable).toEqual({ vokenRows: 0, mapper: 0, adapter: adapter!.numParams });
  for (const [k, a] of host(s.model.params)) expect([k, same(a, before.get(k)!)]).toEqual([k, true]);
  adapter!.detach();
  s.dispose();
});
