/**
 * MUMU prompts: crops stand right before the words naming their object, at most maxCrops of them in
 * caption order; crops are the scene's own pixels in the object's box (checked with loops here); the
 * generic-word rule follows its documented stream and rate; augmentation hits about 20 % of crops; other-
 * source crops are what they claim to be; everything is a pure function of the seed.
 */
import crypto from 'crypto';
import fs from 'fs';
import { flipHorizontal, rescaleCentred, rotateChannels, scaleInk } from '../../kernel-lib/data/augment';
import { categoryOf } from '../../kernel-lib/data/categories';
import { Split, SPLITS } from '../../kernel-lib/data/emoji';
import { Example } from '../../kernel-lib/data/example-list';
import type { RGBImage } from '../../kernel-lib/image/types';
import { resizeArea } from '../../kernel-lib/image/rgb';
import { harmonisationPrompts } from '../../kernel-lib/data/mumu-sources';
import { MumuMeta, mumuPrompts } from '../../kernel-lib/data/mumu-prompts';
import { objectVocabulary, pairSplit, SCENE_SUBCATEGORIES, STORY_EXTRA_SUBCATEGORIES } from '../../kernel-lib/data/objects';
import { rngFor } from '../../kernel-lib/util/random';
import { DataStore, ensureData } from '../../kernel-lib/data/store';
import { quiet, SMALL, tempDir, TestBox } from './helpers';

let dir: string;
let store: DataStore;

beforeAll(async () => {
  dir = tempDir('mumu');
  store = await ensureData({ ...SMALL, cacheDir: dir, onProgress: quiet });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const digest = (ex: Example<MumuMeta>): string =>
  JSON.stringify([ex.id, ex.parts.map((p) => ('text' in p ? p.text : crypto.createHash('sha1').update(p.image.pixels).digest('hex'))), { ...ex.meta, target: null }]);

/** The box's pixels, read with loops. */
function cut(img: RGBImage, b: TestBox): Uint8Array {
  const out: number[] = [];
  for (let y = b.y; y < b.y + b.h; y++) for (let x = b.x; x < b.x + b.w; x++) for (let c = 0; c < 3; c++) out.push(img.pixels[(y * img.width + x) * 3 + c]);
  return Uint8Array.from(out);
}

function all(split: Split, o = {}): Array<Example<MumuMeta>> {
  return [...mumuPrompts(store, { split, ...o })];
}

test('categories: a hand-checked word for known emoji, and one for every scene and story object', () => {
  const byName = new Map(store.emoji.map((e) => [e.name, e]));
  const want: Record<string, string> = { 'cat face': 'animal', 'grinning cat': 'face', dog: 'animal', cactus: 'plant', 'red apple': 'fruit', carrot: 'vegetable', pizza: 'dish', doughnut: 'sweet', 'hot beverage': 'drink', bicycle: 'vehicle', airplane: 'vehicle', 'soccer ball': 'sports item', hammer: 'tool', 'waving hand': 'hand', 'grinning face': 'face' };
  for (const [name, word] of Object.entries(want)) {
    const e = byName.get(name);
    if (!e) throw new Error(`no emoji named ${name}`);
    expect([name, categoryOf(e).word]).toEqual([name, word]);
  }
  expect(categoryOf(byName.get('pizza') as never).plural).toBe('dishes');
  for (const e of objectVocabulary(store.emoji, [...SCENE_SUBCATEGORIES, ...STORY_EXTRA_SUBCATEGORIES])) expect(categoryOf(e).word.length).toBeGreaterThan(2);
  expect(() => categoryOf({ name: 'flag of Chad', subcategory: 'country-flag' })).toThrow("categoryOf: no category for sub-category 'country-flag' (emoji 'flag of Chad')");
});

test('crops stand before the words that name them; named prompts read the caption, generic ones the categories', () => {
  let generic = 0;
  let n = 0;
  for (const split of SPLITS) {
    for (const ex of all(split)) {
      const { scene, crops } = ex.meta;
      n++;
      if (ex.meta.generic) generic++;
      expect(crops.length).toBe(Math.min(3, scene.objects.length));
      expect(ex.parts.filter((p) => 'image' in p).length).toBe(crops.length);
      const joined = ex.parts.map((p) => ('text' in p ? p.text : '')).join('');
      expect(joined).toBe(ex.meta.caption);
      // Expected words: the caption with each object's phrase (or its category with an article) in slot order.
      const expected = scene.template
        .map((t) => {
          if (typeof t === 'string') return t;
          const e = store.emoji[scene.objects[t].emoji];
          if (!ex.meta.generic) return e.phrase;
          const w = categoryOf(e).word;
          return `${/^[aeiou]/.test(w) ? 'an' : 'a'} ${w}`;
        })
        .join('');
      expect(joined).toBe(ex.meta.generic ? expected : scene.caption);
      for (const c of crops) {
        const e = store.emoji[scene.objects[c.object].emoji];
        expect(c.word).toBe(ex.meta.generic ? categoryOf(e).word : e.name);
        expect('image' in ex.parts[c.part]).toBe(true);
        const after = ex.parts[c.part + 1];
        if (!after || !('text' in after)) throw new Error(`${ex.id}: no words after crop ${c.part}`);
        expect(after.text.replace(/^ /, '').startsWith(c.word)).toBe(true);
        // The article (if the phrase has one) ends the words before the crop: "a" <crop> "cat".
        const article = ex.meta.generic ? (/^[aeiou]/.test(c.word) ? 'an' : 'a') : /^(a|an|the) /.exec(e.phrase)?.[1];
        const before = ex.parts[c.part - 1];
        if (article) expect(before && 'text' in before && (before.text === article || before.text.endsWith(` ${article}`))).toBe(true);
      }
      // Crops in caption order: the objects in the order the template names them.
      expect(crops.map((c) => c.object)).toEqual(scene.template.filter((t): t is number => typeof t === 'number').slice(0, 3));
    }
  }
  expect(Math.abs(generic / n - 0.5)).toBeLessThan(3 * Math.sqrt(0.25 / n));
});

test('generic rule: a prompt is generic exactly when its seeded stream draws below the share; maxCrops keeps the first objects', () => {
  for (const ex of all('val', { seed: 5 })) expect(ex.meta.generic).toBe(rngFor(`mumu-generic/${ex.id}`, 5)() < 0.5);
  expect(all('val', { genericShare: 0 }).some((e) => e.meta.generic)).toBe(false);
  expect(all('val', { genericShare: 1 }).every((e) => e.meta.generic)).toBe(true);
  for (const ex of all('test', { maxCrops: 1 })) {
    expect(ex.meta.crops.map((c) => c.object)).toEqual([ex.meta.scene.template.find((t) => typeof t === 'number')]);
    if (!ex.meta.generic) expect(ex.meta.caption).toBe(ex.meta.scene.caption);
  }
  for (const ex of all('test', { maxCrops: 0 })) expect(ex.parts).toEqual([{ text: ex.meta.scene.caption }]);
});

test("crop pixels are the scene's pixels in the object's box; augmented ones are changed copies of the same size", () => {
  let crops = 0;
  let augmented = 0;
  for (const split of SPLITS) {
    for (const ex of all(split, { seed: 2 })) {
      for (const c of ex.meta.crops) {
        const p = ex.parts[c.part] as { image: RGBImage };
        const box = ex.meta.scene.objects[c.object].box;
        expect(c.box).toEqual(box);
        expect([p.image.height, p.image.width]).toEqual([box.h, box.w]);
        crops++;
        if (c.augmentation === null) expect(same(p.image.pixels, cut(ex.meta.target, box))).toBe(true);
        else {
          augmented++;
          expect(same(p.image.pixels, cut(ex.meta.target, box))).toBe(false);
        }
      }
    }
  }
  expect(crops).toBeGreaterThan(1000);
  expect(Math.abs(augmented / crops - 0.2)).toBeLessThan(3 * Math.sqrt(0.16 / crops));
  expect(all('val', { augment: false }).every((e) => e.meta.crops.every((c) => c.augmentation === null))).toBe(true);
  expect(all('val', { augment: { rate: 1 } }).every((e) => e.meta.crops.every((c) => c.augmentation !== null))).toBe(true);
  const big = mumuPrompts(store, { split: 'val', augment: false, cropSize: 32 }).get(3);
  const raw = mumuPrompts(store, { split: 'val', augment: false }).get(3);
  for (const c of big.meta.crops) {
    expect((big.parts[c.part] as { image: RGBImage }).image).toEqual(resizeArea((raw.parts[c.part] as { image: RGBImage }).image, 32, 32));
  }
});

test('augmentation ops: flip mirrors, ink gains keep white, rescale keeps the size and centres', () => {
  const img: RGBImage = { height: 2, width: 3, pixels: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 255, 255, 255]) };
  expect(Array.from(flipHorizontal(img).pixels)).toEqual([7, 8, 9, 4, 5, 6, 1, 2, 3, 255, 255, 255, 13, 14, 15, 10, 11, 12]);
  expect(Array.from(scaleInk(img, [0.5, 1, 2]).pixels.slice(0, 3))).toEqual([255 - Math.round(254 * 0.5), 2, 0]);
  expect(Array.from(scaleInk(img, [0.5, 1, 2]).pixels.slice(15))).toEqual([255, 255, 255]);
  expect(rescaleCentred(img, 2, 3)).toEqual(img);
  const dot: RGBImage = { height: 4, width: 4, pixels: new Uint8Array(48).fill(0) };
  const small = rescaleCentred(dot, 2, 2); // black 2×2 in the middle of white
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) expect(small.pixels[(y * 4 + x) * 3]).toBe(y >= 1 && y < 3 && x >= 1 && x < 3 ? 0 : 255);
  expect(Array.from(rotateChannels(img).pixels.slice(0, 3))).toEqual([2, 3, 1]);
  expect(() => mumuPrompts(store, { augment: { rate: 2 } }).get(0)).toThrow('augment: rate must be in [0, 1], got 2');
});

test('other-source crops: full emoji, colour-shifted emoji, crops from two different scenes', () => {
  for (const ex of harmonisationPrompts(store, 'emoji', { split: 'val', augment: false })) {
    for (const c of ex.meta.crops) expect(same((ex.parts[c.part] as { image: RGBImage }).image.pixels, store.emojiImage(ex.meta.scene.objects[c.object].emoji).pixels)).toBe(true);
  }
  for (const ex of harmonisationPrompts(store, 'shifted-emoji', { split: 'val', augment: false })) {
    for (const c of ex.meta.crops) {
      const got = (ex.parts[c.part] as { image: RGBImage }).image.pixels;
      const orig = store.emojiImage(ex.meta.scene.objects[c.object].emoji).pixels;
      const want = new Uint8Array(got.length);
      for (let i = 0; i < got.length; i += 3) want.set([orig[i + 1], orig[i + 2], orig[i]], i);
      expect(same(got, want)).toBe(true);
    }
  }
  for (const split of ['train', 'test'] as const) {
    for (const ex of harmonisationPrompts(store, 'two-scenes', { split, augment: false, seed: 1 })) {
      const [i, j] = ex.meta.sources;
      expect(i).not.toBe(j);
      const objs = ex.meta.scene.objects;
      expect(objs.length).toBe(2);
      expect(ex.meta.crops.length).toBe(2);
      expect([split, 'train']).toContain(pairSplit(objs[0].base, objs[1].base));
      const [ca, cb] = [...ex.meta.crops].sort((a, b) => a.object - b.object);
      const fromI = store.scenes(split)[i].objects.find((o) => o.emoji === objs[0].emoji) as { box: TestBox };
      const fromJ = store.scenes(split)[j].objects.find((o) => o.emoji === objs[1].emoji) as { box: TestBox };
      expect(same((ex.parts[ca.part] as { image: RGBImage }).image.pixels, cut(store.sceneImage(split, i), fromI.box))).toBe(true);
      expect(same((ex.parts[cb.part] as { image: RGBImage }).image.pixels, cut(store.sceneImage(split, j), fromJ.box))).toBe(true);
      // The target: white, with each emoji shrunk into its new box.
      const want = new Uint8Array(32 * 32 * 3).fill(255);
      for (const o of objs) {
        const s = resizeArea(store.emojiImage(o.emoji), o.box.h, o.box.w);
        for (let y = 0; y < o.box.h; y++) want.set(s.pixels.subarray(y * o.box.w * 3, (y + 1) * o.box.w * 3), ((o.box.y + y) * 32 + o.box.x) * 3);
      }
      expect(same(ex.meta.target.pixels, want)).toBe(true);
    }
  }
  expect(() => harmonisationPrompts(store, 'scene')).toThrow("harmonisationPrompts: source must be one of emoji, shifted-emoji, two-scenes, got 'scene'");
});

test('deterministic in the seed; bad options are named', () => {
  const a = mumuPrompts(store, { split: 'test', seed: 9 });
  const b = mumuPrompts(store, { split: 'test', seed: 9 });
  const c = mumuPrompts(store, { split: 'test', seed: 10 });
  let differs = 0;
  for (let i = 0; i < a.size; i++) {
    expect(digest(a.get(i))).toBe(digest(b.get(i)));
    if (a.get(i).meta.generic !== c.get(i).meta.generic) differs++;
  }
  expect(differs).toBeGreaterThan(20);
  expect(() => mumuPrompts(store, { maxCrops: 4 })).toThrow('mumuPrompts: maxCrops must be an integer in [0, 3], got 4');
  expect(() => mumuPrompts(store, { genericShare: -0.1 })).toThrow('mumuPrompts: genericShare must be in [0, 1], got -0.1');
  expect(() => mumuPrompts(store, { cropSize: 0 })).toThrow('mumuPrompts: cropSize must be a positive integer, got 0');
});
