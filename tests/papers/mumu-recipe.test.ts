/**
 * The MUMU recipe (papers/mumu-…/recipe.ts) on the tiny LM and a tiny random decoder with the prompts of a
 * small data build, a few steps per arm: what each arm trains changes and everything else stays bit-exact
 * (the LM always; the decoder in the LoRA, frozen and caption-only arms; its caption encoder in the full arm);
 * the output reads back (metrics.json by its shape, the connector, the LoRA, loadMumu); a resumed run ends where the
 * uninterrupted one does; the arms' data augment at their rate; bad combinations are refused by name; no
 * tensor outlives a run.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { mumu, Session } from '../../kernel-lib';
import type { LatentDiffusion } from '../../kernel-lib/diffusion';
import { DecoderLoRA } from '../../kernel-lib/diffusion/lora';
import { clearAttentionCache } from '../../kernel-lib/diffusion/attention';
import type { DataStore } from '../../kernel-lib/data/store';
import { useBackend } from '../helpers/backend';
import { tempDir } from '../data/helpers';
import { smallStore, tinyCropEncoder, tinyParts } from './mumu-helpers';

const host = (m: ReadonlyMap<string, tf.Variable>) => new Map([...m].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]));
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
const changed = (before: Map<string, Float32Array>, after: Map<string, Float32Array>) => [...before.keys()].filter((k) => !same(before.get(k)!, after.get(k)!));
const quiet = () => {};

let root: string;
let baseDir: string;
let ldmDir: string;
let store: DataStore;
let ldm: LatentDiffusion;
beforeAll(async () => {
  await useBackend();
  root = tempDir('mumu-recipe');
  store = await smallStore(path.join(root, 'data'));
  const parts = await tinyParts(7);
  baseDir = path.join(root, 'base');
  parts.session.save(baseDir);
  parts.session.dispose();
  ldm = parts.ldm;
  ldmDir = path.join(root, 'ldm');
  ldm.save(ldmDir, { dtype: 'float32' });
});
afterAll(() => {
  ldm.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

const names = { base: 'base', decoder: 'tiny-ldm' };
const small = { connector: { layers: 1 }, batchSize: 4, lr: 1e-2, log: quiet };
const dataFor = (arm: mumu.Arm, tokens?: number) => mumu.armData(store, mumu.armSettings(arm, tokens, 16), tinyCropEncoder, { probeItems: 3 });

/** Frees the caches that outlive a call on purpose (attention block masks, the denoiser's position table). */
function settle(): void {
  clearAttentionCache();
  ldm.denoiser.dispose();
}

test("mumu (4 tokens per crop): the connector, the pooling and the decoder LoRA train, the LM and the decoder stay bit-exact; output reads back; a resumed run ends where an uninterrupted one does; no leaks", async () => {
  settle();
  const n0 = tf.memory().numTensors;
  const s = await Session.load(baseDir);
  const lmBefore = host(s.model.params);
  const ldmBefore = host(ldm.params);
  const data = dataFor('mumu', 4);
  const outDir = path.join(root, 'mumu-t4');
  const steps: number[] = [];
  const o: mumu.MumuOptions = { ...small, arm: 'mumu', tokensPerCrop: 4, seed: 1, steps: 3, outDir, runDir: path.join(root, 'run-mumu-t4'), onProgress: (e) => steps.push(e.step) };
  const first = await mumu.trainMumuOn({ session: s, ldm, names }, data, o);
  expect(steps).toEqual([1, 2, 3]);
  expect(first.metrics.stopped).toBe('done');
  const m = first.metrics;
  expect(m).toEqual(mumu.readRunMetrics(outDir));
  expect([m.name, m.arm, m.tokensPerCrop, m.encoder, m.augmentRate, m.decoderMode]).toEqual(['mumu-mumu-t4-seed1', 'mumu', 4, 'prompt', 0.2, 'lora']);
  expect(m.files).toEqual({ connector: 'connector', decoderLoRA: 'decoder-lora' });
  expect(m.probes.map((p) => p.step)).toEqual([0, 3]);
  expect(m.pooler).toEqual({ tokens: 4, codes: 16, heads: 4, params: first.connector!.numParams.pooler });
  expect(m.trainable).toEqual({ connector: first.connector!.numParams.connector, pooler: first.connector!.numParams.pooler, decoder: first.lora!.numParams });
  expect(m.stepTime.meanTokens).toBeGreaterThan(0);
  expect(changed(lmBefore, host(s.model.params))).toEqual([]);
  expect(changed(ldmBefore, host(ldm.params))).toEqual([]);
  // every LoRA B left zero; the connector and the pooling moved (the pooling's FF starts at fc2 = 0, so its first layer may wait a step)
  expect([...first.lora!.params.keys()].filter((k) => k.endsWith('.B') && first.lora!.params.get(k)!.dataSync().every((x) => x === 0))).toEqual([]);
  const trained = host(first.connector!.params);
  const fresh = mumu.Connector.create(first.connector!.config, 1);
  expect(changed(host(fresh.params), trained).filter((k) => k.startsWith('connector.')).length).toBe([...trained.keys()].filter((k) => k.startsWith('connector.')).length);
  expect(changed(host(fresh.params), trained).some((k) => k.startsWith('pool.'))).toBe(true);
  fresh.dispose();
  // what was written reads back
  const back = mumu.Connector.load(path.join(outDir, 'connector'));
  expect(changed(trained, host(back.params))).toEqual([]);
  back.dispose();
  const loraHost = host(first.lora!.params);
  first.lora!.detach();
  const l2 = DecoderLoRA.load(ldm, path.join(outDir, 'decoder-lora'));
  expect(changed(loraHost, host(l2.params))).toEqual([]);
  l2.detach();
  first.connector!.dispose();
  // 5 steps stopped after the snapshot at step 3, then resumed, against 5 uninterrupted steps
  const stop = new AbortController();
  const five = { ...o, steps: 5, checkpointEvery: 3, outDir: path.join(root, 'mumu-t4-5'), runDir: path.join(root, 'run-mumu-t4-5') };
  const cut = await mumu.trainMumuOn({ session: s, ldm, names }, data, { ...five, signal: stop.signal, onProgress: (e) => e.step === 3 && stop.abort() });
  expect([cut.metrics.stopped, cut.metrics.files, fs.existsSync(path.join(five.outDir, 'metrics.json'))]).toEqual(['aborted', {}, false]);
  cut.lora!.detach();
  cut.connector!.dispose();
  const resumed = await mumu.trainMumuOn({ session: s, ldm, names }, data, { ...five, onProgress: undefined });
  expect(resumed.metrics.resumedFrom).toBe(3);
  expect(resumed.metrics.lossCurve.map(([k]) => k)).toEqual([1, 2, 3, 4, 5]);
  const after = { connector: host(resumed.connector!.params), lora: host(resumed.lora!.params) };
  resumed.lora!.detach();
  resumed.connector!.dispose();
  const straight = await mumu.trainMumuOn({ session: s, ldm, names }, data, { ...five, onProgress: undefined, outDir: path.join(root, 'mumu-t4-straight'), runDir: path.join(root, 'run-mumu-t4-straight') });
  expect(changed(host(straight.connector!.params), after.connector)).toEqual([]);
  expect(changed(host(straight.lora!.params), after.lora)).toEqual([]);
  expect(resumed.metrics.lossCurve).toEqual(straight.metrics.lossCurve);
  straight.lora!.detach();
  straight.connector!.dispose();
  expect(changed(lmBefore, host(s.model.params))).toEqual([]);
  expect(changed(ldmBefore, host(ldm.params))).toEqual([]);
  s.dispose();
  settle();
  expect(tf.memory().numTensors).toBe(n0);
});

test('decoder-full trains the denoiser (its caption encoder bit-exact); decoder-frozen trains only the connector; caption-only only its LoRA', async () => {
  const s = await Session.load(baseDir);
  const lmBefore = host(s.model.params);
  const ldmBefore = host(ldm.params);
  const full = await mumu.trainMumuOn({ session: s, ldm, names }, dataFor('decoder-full'), { ...small, arm: 'decoder-full', seed: 2, steps: 2, outDir: path.join(root, 'full'), runDir: path.join(root, 'run-full') });
  expect(full.lora).toBeNull();
  expect(full.metrics.files).toEqual({ connector: 'connector', denoiser: 'denoiser.safetensors' });
  expect(full.metrics.tokensPerCrop).toBe(16); // the tiny grid's every code: no pooling
  expect(full.metrics.pooler).toBeUndefined();
  const moved = changed(ldmBefore, host(ldm.params));
  expect(moved.length).toBeGreaterThan(0);
  expect(moved.every((k) => k.startsWith('denoiser.'))).toBe(true);
  expect(full.metrics.trainable.decoder).toBe([...ldm.params].filter(([k]) => k.startsWith('denoiser.')).reduce((n, [, v]) => n + v.size, 0));
  expect(full.metrics.optimizer.decoderLrScale).toBe(0.1);
  // loaded back: the saved decoder with the trained denoiser, the connector
  const back = await mumu.loadMumu(path.join(root, 'full'), { baseDir, ldmDir });
  expect([back.lora, back.session !== null]).toEqual([null, true]);
  expect(changed(host(ldm.params), host(back.ldm.params))).toEqual([]);
  expect(changed(host(full.connector!.params), host(back.connector!.params))).toEqual([]);
  back.dispose();
  full.connector!.dispose();
  tf.tidy(() => {
    for (const [k, v] of ldm.params) v.assign(tf.tensor(ldmBefore.get(k)!, v.shape)); // the decoder back as it was
  });
  const frozen = await mumu.trainMumuOn({ session: s, ldm, names }, dataFor('decoder-frozen'), { ...small, arm: 'decoder-frozen', seed: 2, steps: 2, outDir: path.join(root, 'frozen'), runDir: path.join(root, 'run-frozen') });
  expect([frozen.lora, frozen.metrics.files, frozen.metrics.trainable.decoder]).toEqual([null, { connector: 'connector' }, 0]);
  expect(changed(ldmBefore, host(ldm.params))).toEqual([]);
  frozen.connector!.dispose();
  const caption = await mumu.trainMumuOn({ session: null, ldm, names }, dataFor('caption-only'), { ...small, arm: 'caption-only', seed: 2, steps: 2, outDir: path.join(root, 'caption'), runDir: path.join(root, 'run-caption') });
  expect(caption.connector).toBeNull();
  expect([caption.metrics.encoder, caption.metrics.tokensPerCrop, caption.metrics.base, caption.metrics.files]).toEqual(['caption', null, 'none (caption-only)', { decoderLoRA: 'decoder-lora' }]);
  expect(caption.metrics.stepTime.meanTokens).toBe(0);
  expect([...caption.lora!.params.keys()].some((k) => caption.lora!.params.get(k)!.dataSync().some((x) => x !== 0) && k.endsWith('.B'))).toBe(true);
  const loraAfter = host(caption.lora!.params);
  caption.lora!.detach();
  const cap = await mumu.loadMumu(path.join(root, 'caption'), { baseDir, ldmDir });
  expect([cap.session, cap.connector]).toEqual([null, null]);
  expect(changed(loraAfter, host(cap.lora!.params))).toEqual([]);
  cap.dispose();
  await expect(mumu.loadMumu(path.join(root, 'nowhere'), { baseDir, ldmDir })).rejects.toThrow(`mumu.loadMumu: ${path.join(root, 'nowhere')} holds no finished run (no metrics.json)`);
  expect(changed(ldmBefore, host(ldm.params))).toEqual([]);
  expect(changed(lmBefore, host(s.model.params))).toEqual([]);
  s.dispose();
});

test("the arms' data: 20 % of crops augmented for mumu, none otherwise, the same prompts and generic words for every arm", () => {
  const aug = mumu.armPrompts(store, mumu.armSettings('mumu'), 'train');
  const none = mumu.armPrompts(store, mumu.armSettings('no-augment'), 'train');
  let crops = 0;
  let augmented = 0;
  for (let i = 0; i < aug.size; i++) {
    const a = aug.get(i);
    const b = none.get(i);
    expect([a.meta.generic, a.meta.caption, a.meta.crops.map((c) => c.object)]).toEqual([b.meta.generic, b.meta.caption, b.meta.crops.map((c) => c.object)]);
    expect(b.meta.crops.every((c) => c.augmentation === null)).toBe(true);
    crops += a.meta.crops.length;
    augmented += a.meta.crops.filter((c) => c.augmentation !== null).length;
  }
  expect(crops).toBeGreaterThan(600);
  expect(Math.abs(augmented / crops - 0.2)).toBeLessThan(3 * Math.sqrt(0.16 / crops));
  expect([dataFor('mumu').augmentRate, dataFor('no-augment').augmentRate, dataFor('caption-only').augmentRate]).toEqual([0.2, 0, 0]);
});

test('bad combinations are refused by name before any training', async () => {
  const s = await Session.load(baseDir);
  const o = { ...small, seed: 0, steps: 1, outDir: path.join(root, 'x'), runDir: path.join(root, 'run-x') };
  await expect(mumu.trainMumuOn({ session: s, ldm, names }, dataFor('mumu'), { ...o, arm: 'no-augment' })).rejects.toThrow("mumu: arm 'no-augment' trains on crops augmented at rate 0, the data augments 0.2");
  await expect(mumu.trainMumuOn({ session: null, ldm, names }, dataFor('mumu'), { ...o, arm: 'mumu' })).rejects.toThrow("mumu: arm 'mumu' reads the prompts with a multimodal LM; none was given");
  await expect(mumu.trainMumuOn({ session: null, ldm, names }, dataFor('caption-only'), { ...o, arm: 'caption-only', tokensPerCrop: 4 })).rejects.toThrow("mumu: the 'caption-only' arm has no crops, so no tokens per crop");
  await expect(mumu.trainMumuOn({ session: s, ldm, names }, dataFor('mumu'), { ...o, arm: 'mumu', tokensPerCrop: 64 })).rejects.toThrow('mumu: tokensPerCrop 64 is more than the 16 codes a crop has');
  await expect(mumu.trainMumuOn({ session: s, ldm, names }, dataFor('mumu'), { ...o, arm: 'gill' as mumu.Arm })).rejects.toThrow("mumu: unknown arm 'gill' (arms: mumu, no-augment, decoder-full, decoder-frozen, caption-only)");
  expect(ldm.denoiser.weightOverlay).toBeNull();
  expect(fs.existsSync(path.join(root, 'run-x'))).toBe(false);
  s.dispose();
});
