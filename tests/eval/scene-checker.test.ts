/**
 * The scene checker on the data set's own scenes (where it must be exact), on noisy and rearranged
 * copies (where it must notice what changed), and its edge cases: blank images, unknown emoji, leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { Split } from '../../kernel-lib/data/emoji';
import type { RGBImage } from '../../kernel-lib/image/types';
import { renderScene, SceneSpec } from '../../kernel-lib/data/scenes';
import { DataStore, ensureData } from '../../kernel-lib/data/store';
import { SceneChecker } from '../../kernel-lib/eval/scene-checker';
import { mulberry32 } from '../../kernel-lib/util/random';

let store: DataStore;
let checker: SceneChecker;

beforeAll(async () => {
  await useBackend();
  store = await ensureData();
  checker = SceneChecker.fromStore(store);
});

afterAll(() => checker.dispose());

function sample(split: Split, n: number): { images: RGBImage[]; specs: SceneSpec[] } {
  const specs = store.scenes(split).slice(0, n);
  return { images: specs.map((_, i) => store.sceneImage(split, i)), specs };
}

describe('SceneChecker on ground-truth scenes', () => {
  test.each([
    ['test', 40],
    ['val', 20],
    ['train', 20],
  ] as const)('%s: every object, position and relation recovered (first %i scenes)', (split, n) => {
    const { images, specs } = sample(split, n);
    const summary = checker.checkMany(images, specs);
    expect(summary.scenes).toBe(n);
    expect(summary.objectAccuracy).toBeGreaterThanOrEqual(0.99);
    expect(summary.positionAccuracy).toBeGreaterThanOrEqual(0.99);
    expect(summary.sceneAccuracy).toBeGreaterThanOrEqual(0.99);
    if (!Number.isNaN(summary.relationAccuracy)) expect(summary.relationAccuracy).toBeGreaterThanOrEqual(0.99);
  });

  test('the detected boxes are the generator boxes, at distance ~0', () => {
    const { images, specs } = sample('test', 10);
    specs.forEach((spec, i) => {
      const c = checker.check(images[i], spec);
      spec.objects.forEach((o, k) => {
        expect(c.matches[k]?.box).toEqual(o.box);
        expect(c.matches[k]?.distance).toBeLessThan(1e-3);
      });
    });
  });
});

describe('SceneChecker on changed scenes', () => {
  test('pixel noise (±12 levels) does not change the answer', () => {
    const { images, specs } = sample('test', 20);
    const rand = mulberry32(1);
    const noisy = images.map((im) => ({
      ...im,
      pixels: Uint8Array.from(im.pixels, (v) => Math.max(0, Math.min(255, v + Math.round((rand() * 2 - 1) * 12)))),
    }));
    const s = checker.checkMany(noisy, specs);
    expect(s.objectAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(s.positionAccuracy).toBeGreaterThanOrEqual(0.95);
  });

  test('objects moved to the mirrored place: found, but only the top/bottom halves still count as placed right', () => {
    const { specs } = sample('test', 30);
    let expectedRight = 0;
    let objects = 0;
    let right = 0;
    let found = 0;
    for (const spec of specs) {
      const moved = spec.objects.map((o) => ({ ...o, box: { ...o.box, x: 32 - o.box.x - o.box.w } }));
      const c = checker.check(renderScene(moved, (i) => store.emojiImage(i)), spec);
      objects += c.objects;
      found += c.objectsFound;
      right += c.positionsRight;
      expectedRight += spec.objects.filter((o) => o.region === 'top' || o.region === 'bottom').length;
    }
    expect(found).toBe(objects);
    expect(right).toBe(expectedRight);
    expect(right).toBeLessThan(objects);
  });

  test('a different emoji in the claim is not found', () => {
    const { images, specs } = sample('test', 1);
    const spec = specs[0];
    const other = checker.templates.find((t) => !spec.objects.some((o) => o.emoji === t.emoji))!;
    const claim = { objects: [{ emoji: other.emoji, region: spec.objects[0].region }, ...spec.objects.slice(1)] };
    const c = checker.check(images[0], claim);
    expect(c.matches[0]).toBeNull();
    expect(c.objectsFound).toBe(spec.objects.length - 1);
  });

  test('a blank canvas has no detections', () => {
    const blank: RGBImage = { height: 32, width: 32, pixels: new Uint8Array(32 * 32 * 3).fill(255) };
    expect(checker.detect(blank)).toEqual([]);
  });
});

describe('SceneChecker edge cases', () => {
  test('an emoji it has no template for is named', () => {
    const { images } = sample('test', 1);
    expect(() => checker.check(images[0], { objects: [{ emoji: -5, region: 'left' }] })).toThrow(
      "SceneChecker.check: emoji -5 is not among the checker's templates",
    );
  });

  test('no tensor leaks; dispose frees the template banks', () => {
    const { images, specs } = sample('test', 3);
    const before = tf.memory().numTensors;
    checker.checkMany(images, specs);
    checker.detect(images[0], { maxObjects: 1 });
    expect(tf.memory().numTensors).toBe(before);
    const small = new SceneChecker(checker.templates.slice(0, 5), [12, 16]);
    expect(tf.memory().numTensors).toBe(before + 4);
    small.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => small.detect(images[0])).toThrow('SceneChecker: used after dispose()');
  });
});
