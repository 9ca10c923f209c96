/**
 * The MoSS recipe's arms (papers/moss-…/arms.ts, recipe.ts) on a tiny model: the parameter counts against
 * the attached adapters, the parameter-matched rank, and a 3-step smoke training of every arm — the base
 * stays bit-identical under an adapter (full fine-tuning changes it), the output directory reads back
 * (metrics.json by its shape, the PEFT adapter or checkpoint scoring as the trained session did), the run
 * directory resumes, the per-step wall time is recorded, and no tensor outlives the run.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { moss, attachLoRA, Session } from '../../kernel-lib';
import { defaultMoEConfig } from '../../kernel-lib/model/config';
import { readSafetensors } from '../../kernel-lib/checkpoint';
import { tinySession } from '../helpers/fixtures';
import { useBackend } from '../helpers/backend';
import { tempDir } from '../data/helpers';
import { countingEncoder, tinySource } from './moss-helpers';

beforeAll(() => useBackend());

test('adapterParams counts what attaching makes; matchedRank gives MoE-LoRA MoSS’s count (1.75·r on mm-moe-small’s shape)', async () => {
  const s = await tinySession({ seed: 1 }); // q 32 → 32, k and v 32 → 16, o 32 → 32: in ≠ out
  for (const rank of [1, 3, 8]) {
    for (const kind of ['lora', 'moe-lora', 'convlora', 'sam-convlora'] as const) {
      const h = attachLoRA(s, kind === 'lora' ? { kind, rank, alpha: 1 } : { kind, rank, alpha: 1, grid: s.tokenizer.imageGrid });
      expect(moss.adapterParams(s.config, kind, rank)).toBe(h.numParams);
      h.detach();
    }
    // matched: the MoE-LoRA rank nearest MoSS's count, found here by trying every rank
    const want = moss.adapterParams(s.config, 'convlora', rank);
    const tries = Array.from({ length: 60 }, (_, i) => i + 1);
    const best = tries.reduce((a, r) => (Math.abs(moss.adapterParams(s.config, 'moe-lora', r) - want) < Math.abs(moss.adapterParams(s.config, 'moe-lora', a) - want) ? r : a), 1);
    expect(moss.matchedRank(s.config, rank)).toBe(best);
  }
  const mm = defaultMoEConfig('small', { vocabSize: 4622 }); // mm-moe-small's shape: hidden 128, 4 heads, 4 layers
  for (const [r, m] of [[4, 7], [8, 14], [16, 28], [32, 56]]) {
    expect(moss.matchedRank(mm, r)).toBe(m);
    expect(moss.adapterParams(mm, 'moe-lora', m)).toBe(moss.adapterParams(mm, 'convlora', r));
  }
  expect(moss.adapterParams(mm, 'convlora', 8)).toBe(114688);
  expect(() => moss.armAdapter(mm, 'nope' as moss.Arm, { rank: 8, seed: 0, grid: null })).toThrow("moss: unknown arm 'nope' (arms: lora, moe-lora, moe-lora-matched, moss, sam-convlora, full)");
  expect(() => moss.armAdapter(mm, 'lora', { rank: 0, seed: 0, grid: null })).toThrow('moss: rank must be a positive integer, got 0');
  s.dispose();
});

const snapshot = (s: Session) => new Map([...s.model.toHost()].map(([k, v]) => [k, Float32Array.from(v.data)]));
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

describe('a 3-step smoke run of every arm', () => {
  let root: string;
  let baseDir: string;
  beforeAll(async () => {
    root = tempDir('moss-recipe');
    baseDir = path.join(root, 'base');
    const s = await tinySession({ seed: 5 });
    s.save(baseDir);
    s.dispose();
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  for (const arm of moss.ARM_NAMES) {
    test(`${arm}: ${moss.ARMS[arm]}`, async () => {
      const n0 = tf.memory().numTensors;
      const s = await Session.load(baseDir);
      const before = snapshot(s);
      const enc = countingEncoder();
      const data: moss.ArmData = { train: new moss.CodedItems(tinySource(30), enc.encode), probe: new moss.CodedItems(tinySource(3), enc.encode).items([0, 1, 2]), description: 'tiny stand-in items', split: 'val' };
      const outDir = path.join(root, arm);
      const runDir = path.join(root, `run-${arm}`);
      const logs: string[] = [];
      const steps: number[] = [];
      const o = { arm, rank: 2, seed: 1, steps: 3, batchSize: 4, lr: 1e-2, outDir, runDir, log: (x: string) => logs.push(x), onProgress: (e: { step: number }) => steps.push(e.step) };
      const { metrics, adapter } = await moss.trainArmOn(s, data, o);
      expect(steps).toEqual([1, 2, 3]);
      expect(metrics).toEqual(moss.readRunMetrics(outDir)); // what was written reads back, by its shape
      expect(metrics.name).toBe(moss.runName(arm, 2, 1));
      expect(metrics.stepTime.steps).toBe(3);
      expect(metrics.stepTime.firstMs).toBeGreaterThan(0);
      expect(metrics.stepTime.medianMs).toBeGreaterThan(0);
      expect(metrics.stepTime.tokensPerStep).toBeGreaterThan(0);
      expect(metrics.probes.map((p) => p.step)).toEqual([0, 3]);
      expect(metrics.probes[0].items).toBe(3);
      expect(logs.length).toBe(2);
      const after = snapshot(s);
      const changed = [...after.keys()].filter((k) => !same(before.get(k)!, after.get(k)!));
      const trained = moss.scoreItems(s, data.probe);
      let back: { session: Session; adapter: { detach(): void } | null };
      if (arm === 'full') {
        expect(adapter).toBeNull();
        expect(changed.length).toBeGreaterThan(0);
        expect(metrics.files).toEqual({ checkpoint: 'checkpoint' });
        expect(metrics.trainableParams).toBe([...before.values()].reduce((n, v) => n + v.length, 0));
        expect(metrics.rank).toBeUndefined();
        back = await moss.loadArm(outDir, baseDir);
      } else {
        expect(changed).toEqual([]); // the base is frozen: bit-identical
        const h = adapter!;
        const kind = { lora: 'lora', 'moe-lora': 'moe-lora', 'moe-lora-matched': 'moe-lora', moss: 'convlora', 'sam-convlora': 'sam-convlora' }[arm] as 'lora';
        const r = arm === 'moe-lora-matched' ? moss.matchedRank(s.config, 2) : 2;
        expect(metrics.adapter?.kind).toBe(kind);
        expect(metrics.adapter?.rank).toBe(r);
        expect(metrics.adapter?.params).toBe(moss.adapterParams(s.config, kind, r));
        expect(metrics.adapter?.dropout).toBe(moss.DROPOUT);
        expect(metrics.trainableParams).toBe(h.numParams);
        // B started at 0 and trained
        const bs = [...h.parameters()].filter(([k]) => /\.B$/.test(k));
        expect(bs.some(([, v]) => tf.tidy(() => tf.max(tf.abs(v)).dataSync()[0]) > 0)).toBe(true);
        const st = readSafetensors(path.join(outDir, 'adapter', 'adapter_model.safetensors'));
        expect([...st.tensors.keys()].every((k) => k.startsWith('base_model.model.model.layers.'))).toBe(true);
        back = await moss.loadArm(outDir, baseDir);
        // the run directory resumes: the same call again trains nothing and leaves the same weights
        const s2 = await Session.load(baseDir);
        const again = await moss.trainArmOn(s2, data, o);
        expect(again.metrics.resumedFrom).toBe(3);
        expect(again.metrics.stepTime.steps).toBe(0);
        for (const [k, v] of again.adapter!.parameters()) expect(same(v.dataSync() as Float32Array, h.parameters().get(k)!.dataSync() as Float32Array)).toBe(true);
        again.adapter!.detach();
        s2.dispose();
        h.detach();
      }
      const reread = moss.scoreItems(back.session, data.probe);
      for (let i = 0; i < 3; i++) expect(Math.abs(reread.imageNll[i] - trained.imageNll[i])).toBeLessThan(1e-5);
      back.adapter?.detach(); // Session.dispose frees the model's weights, not its adapters'
      back.session.dispose();
      s.dispose();
      expect(tf.memory().numTensors).toBe(n0);
    });
  }
});

test('stepTimes: the steps after the resume point, the first apart', () => {
  const ev = (step: number, elapsedMs: number) => ({ step, elapsedMs, threads: 1 }) as Parameters<typeof moss.stepTimes>[0][number];
  const h = [ev(1, 100), ev(2, 130), ev(3, 170), ev(4, 190), ev(5, 260)];
  expect(moss.stepTimes(h, 0, [10, 20])).toEqual({ steps: 5, firstMs: 100, meanMs: 40, medianMs: 35, tokensPerStep: 15, threads: 1 });
  expect(moss.stepTimes(h, 3, [])).toEqual({ steps: 2, firstMs: 20, meanMs: 70, medianMs: 70, tokensPerStep: null, threads: 1 });
  expect(moss.stepTimes(h, 5, [])).toEqual({ steps: 0, firstMs: null, meanMs: null, medianMs: null, tokensPerStep: null, threads: 1 });
});
