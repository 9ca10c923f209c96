/**
 * The scene checker below its exact-match bar: per-template best window distances (against a float64
 * brute force of the same formula), the rank of an emoji among them (ties, errors), the object-rank
 * record on data-set scenes (every object ranks first), leaks, and the record inside gateMetrics.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import type { RGBImage } from '../../kernel-lib/image/types';
import { resizeArea } from '../../kernel-lib/image/rgb';
import { DataStore, ensureData } from '../../kernel-lib/data/store';
import { SceneChecker, RANK_TIE_TOLERANCE } from '../../kernel-lib/eval/scene-checker';
import { objectRanks } from '../../kernel-lib/eval/object-rank';
import { gateContext, gateMetrics } from '../../kernel-lib/recipes/ldm-eval';
import { mulberry32 } from '../../kernel-lib/util/random';

let store: DataStore;
let checker: SceneChecker;

beforeAll(async () => {
  await useBackend();
  store = await ensureData();
  checker = SceneChecker.fromStore(store);
});

afterAll(() => checker.dispose());

function realScenes(n: number) {
  const specs = store.scenes('test').slice(0, n);
  return { images: specs.map((_, i) => store.sceneImage('test', i)), specs };
}

/** The checker's distance in float64, straight from its definition: min over sizes and windows of ‖c − t‖² / (‖c‖² + ‖t‖² + 1e-6). */
function bruteTemplateDistances(img: RGBImage, templates: readonly RGBImage[], sizes: readonly number[]): number[] {
  const x = Array.from(img.pixels, (p) => 1 - p / 255);
  return templates.map((tplImage) => {
    let best = Infinity;
    for (const s of sizes) {
      const t = Array.from(resizeArea(tplImage, s, s).pixels, (p) => 1 - p / 255);
      for (let wy = 0; wy + s <= 32; wy++) {
        for (let wx = 0; wx + s <= 32; wx++) {
          let diff = 0;
          let norms = 0;
          for (let r = 0; r < s; r++) {
            for (let q = 0; q < s * 3; q++) {
              const c = x[((wy + r) * 32 + wx) * 3 + q];
              const u = t[r * s * 3 + q];
              diff += (c - u) ** 2;
              norms += c * c + u * u;
            }
          }
          best = Math.min(best, diff / (norms + 1e-6));
        }
      }
    }
    return Math.max(0, best);
  });
}

describe('templateDistances', () => {
  test('matches a float64 brute force on a random image and a small template set (≤ 1e-4)', () => {
    const rand = mulberry32(7);
    const img: RGBImage = { height: 32, width: 32, pixels: Uint8Array.from({ length: 32 * 32 * 3 }, () => Math.floor(rand() * 256)) };
    // real emoji plus one random template, at two window sizes (one small, one a scene object size)
    const tpl = [...checker.templates.slice(0, 5), { emoji: -1, name: 'random', image: { height: 32, width: 32, pixels: Uint8Array.from({ length: 32 * 32 * 3 }, () => Math.floor(rand() * 256)) } }];
    const sizes = [5, 12];
    const small = new SceneChecker(tpl, sizes);
    try {
      const got = small.templateDistances(img);
      const want = bruteTemplateDistances(img, tpl.map((t) => t.image), sizes);
      expect(got).toHaveLength(tpl.length);
      got.forEach((g, v) => expect(Math.abs(g - want[v])).toBeLessThanOrEqual(1e-4));
      // not a degenerate case: the templates are at different distances
      expect(Math.max(...want) - Math.min(...want)).toBeGreaterThan(1e-2);
    } finally {
      small.dispose();
    }
  });

  test('on data-set scenes the stated emoji are at distance ~0 and every object ranks 0', () => {
    const { images, specs } = realScenes(8);
    specs.forEach((spec, i) => {
      const d = checker.templateDistances(images[i]);
      expect(d).toHaveLength(checker.templates.length);
      for (const o of spec.objects) {
        expect(checker.rankOf(d, o.emoji)).toBe(0);
        const v = checker.templates.findIndex((t) => t.emoji === o.emoji);
        expect(d[v]).toBeLessThan(1e-3);
      }
    });
  });

  test('no tensor leaks; used after dispose is named', () => {
    const { images } = realScenes(2);
    const before = tf.memory().numTensors;
    checker.templateDistances(images[0]);
    objectRanks(checker, images, store.scenes('test').slice(0, 2));
    expect(tf.memory().numTensors).toBe(before);
    const small = new SceneChecker(checker.templates.slice(0, 2), [12]);
    small.dispose();
    expect(() => small.templateDistances(images[0])).toThrow('SceneChecker: used after dispose()');
  });
});

describe('rankOf', () => {
  test('counts the templates closer by more than the tie tolerance; ties count in the emoji’s favour', () => {
    const small = new SceneChecker(checker.templates.slice(0, 4), [12]);
    try {
      const [a, b, c, d] = small.templates.map((t) => t.emoji);
      const dist = [0.5, 0.2, 0.2 + RANK_TIE_TOLERANCE / 2, 0.1];
      expect(small.rankOf(dist, d)).toBe(0);
      expect(small.rankOf(dist, b)).toBe(1); // only d is closer; c ties with b
      expect(small.rankOf(dist, c)).toBe(1); // b is within the tolerance: a tie, not closer
      expect(small.rankOf(dist, a)).toBe(3);
      expect(small.rankOf([0.3, 0.2, 0.2 + 2 * RANK_TIE_TOLERANCE, 0.1], c)).toBe(2); // beyond the tolerance, b is closer
      expect(small.rankOf([0.3, 0.3, 0.3, 0.3], a)).toBe(0);
    } finally {
      small.dispose();
    }
  });

  test('identical templates under two names both rank 0 where one of them is drawn', () => {
    const { images, specs } = realScenes(1);
    const e = specs[0].objects[0].emoji;
    const image = store.emojiImage(e);
    const twins = new SceneChecker([{ emoji: e, name: 'a', image }, { emoji: 100000, name: 'twin', image }, ...checker.templates.filter((t) => t.emoji !== e).slice(0, 3)], [specs[0].objects[0].box.w]);
    try {
      const d = twins.templateDistances(images[0]);
      expect(twins.rankOf(d, e)).toBe(0);
      expect(twins.rankOf(d, 100000)).toBe(0);
    } finally {
      twins.dispose();
    }
  });

  test('bad input is named', () => {
    expect(() => checker.rankOf(new Float32Array(3), checker.templates[0].emoji)).toThrow(`SceneChecker.rankOf: 3 distances for ${checker.templates.length} templates`);
    expect(() => checker.rankOf(new Float32Array(checker.templates.length), -5)).toThrow("SceneChecker.rankOf: emoji -5 is not among the checker's templates");
  });
});

describe('objectRanks', () => {
  test('data-set scenes: own ranks all 0; shuffled pairs image i with scene (i+1) mod n', () => {
    const n = 6;
    const { images, specs } = realScenes(n);
    const r = objectRanks(checker, images, specs);
    expect(r.templates).toBe(checker.templates.length);
    expect(r.own).toEqual({ median: 0, mean: 0, top1: 1, top10: 1, top50: 1 });
    // the shuffled ranks, recomputed here from rankOf with the pairing spelled out
    const perScene = images.map((img, i) => {
      const d = checker.templateDistances(img);
      const objs = specs[(i + 1) % n].objects;
      return objs.reduce((a, o) => a + checker.rankOf(d, o.emoji), 0) / objs.length;
    });
    const all = images.flatMap((img, i) => specs[(i + 1) % n].objects.map((o) => checker.rankOf(checker.templateDistances(img), o.emoji)));
    expect(r.shuffled.mean).toBeCloseTo(all.reduce((a, b) => a + b, 0) / all.length, 10);
    expect(r.shuffled.mean).toBeGreaterThan(10); // other scenes' emoji are mostly absent from image i
    const m = perScene.reduce((a, b) => a + b, 0) / n;
    expect(r.paired_difference.mean).toBeCloseTo(-m, 10);
    const sd = Math.sqrt(perScene.reduce((a, v) => a + (v - m) ** 2, 0) / (n - 1));
    expect(r.paired_difference.standard_error).toBeCloseTo(sd / Math.sqrt(n), 10);
  });

  test('bad input is named', () => {
    const { images, specs } = realScenes(2);
    expect(() => objectRanks(checker, images, specs.slice(0, 1))).toThrow('objectRanks: 2 images but 1 claims');
    expect(() => objectRanks(checker, images.slice(0, 1), specs.slice(0, 1))).toThrow('objectRanks: needs at least 2 scenes (the shuffled pairing), got 1');
    expect(() => objectRanks(checker, images, [specs[0], { objects: [] }])).toThrow('objectRanks: claim 1 states no objects');
  });
});

test('gateMetrics reports the object-rank record next to object accuracy', async () => {
  const ctx = await gateContext(path.resolve(__dirname, '../../data/checkpoints/clip-emoji'), 3);
  try {
    const g = gateMetrics(ctx, ctx.scenes.real) as { scenes: Record<string, unknown> };
    expect(g.scenes.object_accuracy).toBe(1);
    expect(g.scenes.object_rank).toEqual({
      own: { median: 0, mean: 0, top1: 1, top10: 1, top50: 1 },
      shuffled: { median: expect.any(Number), mean: expect.any(Number), top10: expect.any(Number) },
      paired_difference: { mean: expect.any(Number), standard_error: expect.any(Number) },
      templates: ctx.checker.templates.length,
    });
    expect(g.scenes.object_rank).toEqual(objectRanks(ctx.checker, ctx.scenes.real, ctx.scenes.claims));
  } finally {
    ctx.clip.dispose();
    ctx.checker.dispose();
  }
});
