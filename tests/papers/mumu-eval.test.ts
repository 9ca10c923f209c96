/**
 * MUMU's held-out scores (papers/mumu-…/evaluate.ts) on outputs whose answers are known — the target scene
 * itself, a blank canvas, a crop's own source — and drawing with a tiny trained-looking arm: one image per
 * prompt, the same whatever the batching (within one 8-bit level), no tensor left behind.
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { mumu, Session } from '../../kernel-lib';
import { clearAttentionCache } from '../../kernel-lib/diffusion/attention';
import { mumuPrompts, MumuMeta } from '../../kernel-lib/data/mumu-prompts';
import { harmonisationPrompts } from '../../kernel-lib/data/mumu-sources';
import type { Example } from '../../kernel-lib/data/example-list';
import type { DataStore } from '../../kernel-lib/data/store';
import { blankImage, cropImage, resizeArea } from '../../kernel-lib/image/rgb';
import type { RGBImage } from '../../kernel-lib/image/types';
import { inkDistance, SceneChecker } from '../../kernel-lib/eval/scene-checker';
import { ClipModel, defaultClipDir } from '../../kernel-lib/eval/clip';
import { useBackend } from '../helpers/backend';
import { tempDir } from '../data/helpers';
import { smallStore, tinyCropEncoder, tinyParts } from './mumu-helpers';

let dir: string;
let store: DataStore;
let checker: SceneChecker;
let same: Array<Example<MumuMeta>>;
beforeAll(async () => {
  await useBackend();
  dir = tempDir('mumu-eval');
  store = await smallStore(dir);
  checker = SceneChecker.fromStore(store);
  const list = mumuPrompts(store, { split: 'test', seed: 0, augment: false });
  same = Array.from({ length: 10 }, (_, i) => list.get(i));
});
afterAll(() => {
  checker.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

const blank = () => blankImage(32, 32);

test('inkDistance: 0 for the same pixels, 1 for ink against white, symmetric; sizes must agree', () => {
  const a = same[0].meta.target;
  const b = same[1].meta.target;
  expect(inkDistance(a, a)).toBe(0);
  expect(inkDistance(a, blank())).toBeCloseTo(1, 5);
  expect(inkDistance(a, b)).toBeCloseTo(inkDistance(b, a), 6);
  expect(inkDistance(blank(), blank())).toBe(0);
  expect(() => inkDistance(a, blankImage(16, 16))).toThrow('inkDistance: a 32×32 image against a 16×16 one');
});

test('identity, copy and harmonised scores: the target scores 1, a blank canvas 0; named prompts have no identity score', () => {
  const metas = same.map((e) => e.meta);
  expect(metas.some((m) => m.generic) && metas.some((m) => !m.generic)).toBe(true);
  const targets = metas.map((m) => m.target);
  const blanks = metas.map(blank);
  const id = mumu.identityScores(checker, targets, metas);
  metas.forEach((m, i) => expect(Number.isNaN(id[i])).toBe(!m.generic));
  expect(id.filter(Number.isFinite).every((x) => x === 1)).toBe(true);
  expect(mumu.identityScores(checker, blanks, metas).filter(Number.isFinite).every((x) => x === 0)).toBe(true);
  expect(mumu.copyScores(targets, same)).toEqual(metas.map(() => 1)); // a same-source crop sits at its box in its own scene
  expect(mumu.copyScores(blanks, same)).toEqual(metas.map(() => 0));
  expect(mumu.harmonisedScores(checker, targets, metas)).toEqual(metas.map(() => 1));
  expect(mumu.harmonisedScores(checker, blanks, metas)).toEqual(metas.map(() => 0));
  // only the first crop, in place: a copy share of 1/crops; moved 4 pixels to the side it is no copy
  const placed = (dx: number) =>
    targets.map((t, i) => {
      const out = blank();
      const c = metas[i].crops[0];
      const src = cropImage(t, c.box);
      for (let y = 0; y < c.box.h; y++) {
        for (let x = 0; x < c.box.w; x++) {
          const to = c.box.x + x + (c.box.x + dx + c.box.w <= 32 ? dx : -dx);
          out.pixels.set(src.pixels.subarray((y * c.box.w + x) * 3, (y * c.box.w + x) * 3 + 3), ((c.box.y + y) * 32 + to) * 3);
        }
      }
      return out;
    });
  expect(mumu.copyScores(placed(0), same)).toEqual(metas.map((m) => 1 / m.crops.length));
  expect(mumu.copyScores(placed(4), same)).toEqual(metas.map(() => 0));
  expect(() => mumu.copyScores(targets.slice(1), same)).toThrow('mumu.copyScores: 9 images for 10 prompts');
});

test('other-source prompts: an emoji-image crop is copied when the output is that emoji, not when it is the scene; two-scenes crops when it is their source scene', () => {
  const emoji = harmonisationPrompts(store, 'emoji', { split: 'test', seed: 0, augment: false });
  const e = emoji.get(2);
  const first = (e.parts[e.meta.crops[0].part] as { image: RGBImage }).image;
  expect(mumu.copyScores([first, e.meta.target], [e, e])).toEqual([1 / e.meta.crops.length, 0]);
  const two = harmonisationPrompts(store, 'two-scenes', { split: 'test', seed: 0, augment: false });
  const t = two.get(4);
  const source = store.sceneImage('test', t.meta.sources[0]);
  expect(mumu.copyScores([source], [t])[0]).toBeGreaterThanOrEqual(0.5);
  expect(mumu.harmonisedScores(checker, [t.meta.target, source], [t.meta, t.meta])).toEqual([1, 0]);
});

test('crop CLIP-I: the mean over crops of CLIP-I(crop, the output at the object’s box), both at 32×32', () => {
  const clip = ClipModel.load(defaultClipDir());
  const targets = same.map((e) => e.meta.target);
  const got = mumu.cropClipI(clip, targets, same);
  // item 0 by hand
  const e = same[0];
  const pairs = e.meta.crops.map((c) => [resizeArea((e.parts[c.part] as { image: RGBImage }).image, 32, 32), resizeArea(cropImage(e.meta.target, e.meta.scene.objects[c.object].box), 32, 32)]);
  const want = clip.clipI(pairs.map((p) => p[0]), pairs.map((p) => p[1])).mean;
  expect(got[0]).toBeCloseTo(want, 5);
  expect(got.every((x) => x > 0.99)).toBe(true); // the same pixels: cosine 1 up to float32
  const blanks = mumu.cropClipI(clip, same.map(blank), same);
  expect(blanks.every((x, i) => x < got[i])).toBe(true);
  clip.dispose();
});

test('drawing held-out prompts: one 32×32 image each, the same whatever the batching; caption-only draws from the words; no leaks', async () => {
  const { session, ldm } = await tinyParts(9);
  const items = mumu.codeExamples(same.slice(0, 3), tinyCropEncoder);
  const connector = mumu.Connector.create({ connector: mumu.defaultConnectorConfig({ hiddenSize: 32, dim: ldm.config.caption.dim }, { layers: 1 }), pooler: mumu.defaultPoolerConfig({ hiddenSize: 32, codes: 16, tokens: 4 }) }, 2);
  const settle = () => {
    clearAttentionCache();
    ldm.denoiser.dispose();
  };
  const p = { session, connector, ldm };
  // warm-up: the LM keeps rotary tables and masks per sequence length
  for (const batch of [2, 3]) await mumu.drawItems(p, items, { steps: 1, batch });
  await mumu.drawItems({ session: null, connector: null, ldm }, items, { steps: 1 });
  settle();
  const n0 = tf.memory().numTensors;
  const one = await mumu.drawItems(p, items, { steps: 2, batch: 3, seed: 5 });
  const two = await mumu.drawItems(p, items, { steps: 2, batch: 2, seed: 5 });
  expect(one.map((im) => [im.height, im.width])).toEqual([[32, 32], [32, 32], [32, 32]]);
  // Within one 8-bit level, not bit for bit: with the decoder's pooled conditioning the adaLN modulations are
  // one row per image, and a matMul's rows can take other last bits when the row count changes its tiling.
  one.forEach((im, i) => {
    let d = 0;
    im.pixels.forEach((v, k) => (d = Math.max(d, Math.abs(v - two[i].pixels[k]))));
    expect(d).toBeLessThanOrEqual(1);
  });
  const cond = mumu.conditionItems(p, items);
  expect(cond.seq.shape[0]).toBe(3);
  expect(cond.seq.shape[2]).toBe(ldm.config.caption.dim);
  tf.dispose([cond.seq, cond.mask]);
  const words = await mumu.drawItems({ session: null, connector: null, ldm }, items, { steps: 2 });
  expect(words.length).toBe(3);
  settle();
  expect(tf.memory().numTensors).toBe(n0);
  await expect(mumu.drawItems(p, items, { batch: 0 })).rejects.toThrow('mumu.drawItems: batch must be a positive integer, got 0');
  connector.dispose();
  ldm.dispose();
  (session as Session).dispose();
});
