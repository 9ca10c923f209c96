/**
 * The shipped clip-emoji checkpoint: it loads, is float16 and small, its metrics.json agrees with a
 * re-measurement on the fixed sample, it tells matching captions from shuffled ones on held-out emoji,
 * and FID on its features behaves (same set 0, different sets clearly apart).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { readSafetensors } from '../../kernel-lib/checkpoint/safetensors';
import { DataStore, ensureData } from '../../kernel-lib/data/store';
import { ClipModel, defaultClipDir } from '../../kernel-lib/eval/clip';
import { canonicalCaptions, CHECK_SAMPLE, clipExamples } from '../../kernel-lib/eval/clip-data';
import { clipFid } from '../../kernel-lib/eval/fid';
import { CaptionedImage, clipRetrieval, RetrievalMetrics } from '../../kernel-lib/eval/retrieval';

const dir = defaultClipDir();
let store: DataStore;
let clip: ClipModel;
let emojiTest: CaptionedImage[];
let scenesTest: CaptionedImage[];
interface Metrics {
  weightsBytes: number;
  dtype: string;
  backend: { name: string };
  training: { trainWallSeconds: number; steps: number };
  lossCurve: Array<[number, number]>;
  heldOut: Record<string, RetrievalMetrics>;
  check: Record<string, RetrievalMetrics>;
  clipT: { matched: number; shuffled: number };
}
let metrics: Metrics;

beforeAll(async () => {
  await useBackend();
  store = await ensureData();
  clip = ClipModel.load(dir);
  metrics = JSON.parse(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8')) as Metrics;
  emojiTest = canonicalCaptions(clipExamples(store, 'emoji', 'test'));
  scenesTest = canonicalCaptions(clipExamples(store, 'scenes', 'test', CHECK_SAMPLE.scenes));
});

afterAll(() => clip?.dispose());

test('loads as a float16 checkpoint of at most 15 MB with its own tokenizer', () => {
  const weights = path.join(dir, 'model.safetensors');
  expect(fs.statSync(weights).size).toBeLessThanOrEqual(15e6);
  for (const t of readSafetensors(weights).tensors.values()) expect(t.dtype).toBe('F16');
  expect(fs.existsSync(path.join(dir, 'tokenizer.json'))).toBe(true);
  expect(clip.tokenizer.vocabSize).toBe(clip.config.vocabSize);
  expect(metrics.dtype).toBe('float16');
  expect(metrics.weightsBytes).toBe(fs.statSync(weights).size);
});

test('metrics.json records a loss curve that went down, the wall time and the backend', () => {
  expect(metrics.lossCurve.length).toBeGreaterThan(10);
  const first = metrics.lossCurve[0][1];
  const last = metrics.lossCurve[metrics.lossCurve.length - 1][1];
  expect(last).toBeLessThan(first / 2);
  expect(metrics.lossCurve[metrics.lossCurve.length - 1][0]).toBe(metrics.training.steps);
  expect(metrics.training.trainWallSeconds).toBeGreaterThan(0);
  expect(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).toContain(metrics.backend.name);
});

test('re-measured retrieval on the fixed sample matches metrics.json', () => {
  const samples: Record<string, CaptionedImage[]> = {
    [`emoji-test-${CHECK_SAMPLE.emoji}`]: emojiTest.slice(0, CHECK_SAMPLE.emoji),
    [`scenes-test-${CHECK_SAMPLE.scenes}`]: scenesTest,
    'emoji-test': emojiTest,
  };
  for (const [name, items] of Object.entries(samples)) {
    const now = clipRetrieval(clip, items);
    const recorded = name === 'emoji-test' ? metrics.heldOut[name] : metrics.check[name];
    for (const dirn of ['imageToText', 'textToImage'] as const) {
      for (const k of ['top1', 'top5'] as const) expect(Math.abs(now[dirn][k] - recorded[dirn][k])).toBeLessThanOrEqual(0.02);
    }
    expect(now.images).toBe(recorded.images);
  }
});

test('held-out retrieval is far above chance', () => {
  for (const name of ['emoji-test', 'scenes-test']) {
    const m = metrics.heldOut[name];
    expect(m.imageToText.top1).toBeGreaterThan(10 * m.chance.imageToText.top1);
    expect(m.textToImage.top5).toBeGreaterThan(10 * m.chance.textToImage.top5);
  }
});

test('CLIP-T: matching captions score higher than shuffled ones on held-out emoji', () => {
  const images = emojiTest.map((x) => x.image);
  const captions = emojiTest.map((x) => x.caption);
  // Each image against its neighbour's caption: a hard shuffle, since the neighbour is often a skin-tone
  // variant of the same emoji whose caption differs only in the tone words.
  const shifted = captions.map((_, i) => captions[(i + 1) % captions.length]);
  const matched = clip.clipT(images, captions);
  const shuffled = clip.clipT(images, shifted);
  expect(matched.mean).toBeGreaterThan(shuffled.mean + 0.1);
  let wins = 0;
  for (let i = 0; i < images.length; i++) if (matched.scores[i] > shuffled.scores[i]) wins++;
  expect(wins / images.length).toBeGreaterThan(0.7);
  expect(Math.abs(matched.mean - metrics.clipT.matched)).toBeLessThan(0.01);
});

test('CLIP-I: an image is closer to itself shifted by a pixel than to another emoji', () => {
  const a = emojiTest.slice(0, 64).map((x) => x.image);
  const shifted = a.map((im) => {
    const p = new Uint8Array(im.pixels.length).fill(255);
    for (let y = 0; y < 32; y++) p.set(im.pixels.subarray(y * 96, y * 96 + 93), y * 96 + 3); // one pixel right
    return { ...im, pixels: p };
  });
  const others = a.map((_, i) => a[(i + 7) % a.length]);
  expect(clip.clipI(a, shifted).mean).toBeGreaterThan(clip.clipI(a, others).mean + 0.2);
});

test('FID on CLIP features: same set ≈ 0, two halves of one set small, emoji vs scenes large', () => {
  const emoji = emojiTest.slice(0, 128).map((x) => x.image);
  const scenes = scenesTest.slice(0, 128).map((x) => x.image);
  const same = clipFid(clip, scenes, scenes).distance;
  const halves = clipFid(clip, scenes.slice(0, 64), scenes.slice(64)).distance;
  const apart = clipFid(clip, emoji, scenes).distance;
  expect(Math.abs(same)).toBeLessThan(1e-9);
  expect(halves).toBeGreaterThan(0);
  expect(apart).toBeGreaterThan(2 * halves);
});

test('no tensor leaks from the loaded model', () => {
  const before = tf.memory().numTensors;
  clip.clipT(emojiTest.slice(0, 10).map((x) => x.image), emojiTest.slice(0, 10).map((x) => x.caption));
  clipRetrieval(clip, emojiTest.slice(0, 10));
  expect(tf.memory().numTensors).toBe(before);
});
