/**
 * MoSS instruction data: edit targets are checked pixel by pixel against an independent re-rendering
 * (the stored source scene with the edited object's old box whitened and the new emoji, area-shrunk, pasted
 * in its new box), and by the scene checker; story and continue targets are the stored frames; no train
 * item shows a held-out pair; items are a pure function of (split, index, seed).
 */
import crypto from 'crypto';
import fs from 'fs';
import { Split, SPLITS } from '../../kernel-lib/data/emoji';
import { Example } from '../../kernel-lib/data/example-list';
import type { RGBImage } from '../../kernel-lib/image/types';
import { downscale2x, resizeArea } from '../../kernel-lib/image/rgb';
import { InstructionMeta, instructionData, promptAndTarget } from '../../kernel-lib/data/instructions';
import { pairSplit } from '../../kernel-lib/data/objects';
import { DataStore, ensureData } from '../../kernel-lib/data/store';
import { SceneChecker } from '../../kernel-lib/eval/scene-checker';
import { useBackend } from '../helpers/backend';
import { quiet, regionHolds, SMALL, tempDir, TestBox } from './helpers';

let dir: string;
let store: DataStore;

beforeAll(async () => {
  await useBackend();
  dir = tempDir('instructions');
  store = await ensureData({ ...SMALL, cacheDir: dir, onProgress: quiet });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const image = (p: { text: string } | { image: RGBImage }): RGBImage => {
  if (!('image' in p)) throw new Error(`expected an image part, got text ${JSON.stringify(p.text)}`);
  return p.image;
};
/** Byte equality (jest's element-wise toEqual on pixel arrays is slow). */
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
/** An example as a string: ids, text, a hash of every image's bytes, metadata. */
const digest = (ex: Example<unknown>): string =>
  JSON.stringify([ex.id, ex.parts.map((p) => ('text' in p ? p.text : crypto.createHash('sha1').update(p.image.pixels).digest('hex'))), ex.meta]);
const text = (p: { text: string } | { image: RGBImage }): string => {
  if (!('text' in p)) throw new Error('expected a text part, got an image');
  return p.text;
};

/** White-out `box`, then paste the emoji shrunk to `at` (written here with loops, not the generator's paste). */
function redraw(scene: RGBImage, erase: TestBox, emoji: number, at: TestBox): Uint8Array {
  const out = Uint8Array.from(scene.pixels);
  for (let y = erase.y; y < erase.y + erase.h; y++) for (let x = erase.x; x < erase.x + erase.w; x++) out.fill(255, (y * 32 + x) * 3, (y * 32 + x) * 3 + 3);
  const small = resizeArea(store.emojiImage(emoji), at.h, at.w);
  for (let y = 0; y < at.h; y++) {
    for (let x = 0; x < at.w; x++) for (let c = 0; c < 3; c++) out[((at.y + y) * 32 + at.x + x) * 3 + c] = small.pixels[(y * at.w + x) * 3 + c];
  }
  return out;
}

function edits(split: Split): Array<Example<InstructionMeta>> {
  return [...instructionData(store, { split, kinds: ['edit'] })];
}

test('edit targets equal the source scene re-drawn with the edit; instructions name the change', () => {
  const kinds = { replace: 0, move: 0 };
  for (const split of SPLITS) {
    for (const ex of edits(split)) {
      const { edit, source } = ex.meta;
      if (!edit) throw new Error('edit item without an edit');
      const before = store.scenes(split)[source.index];
      const o = before.objects[edit.object];
      const after = ex.meta.scene.objects[edit.object];
      const [src, instr, tgt] = ex.parts;
      expect(same(image(src).pixels, store.sceneImage(split, source.index).pixels)).toBe(true);
      expect(ex.meta.targetFrom).toBe(2);
      kinds[edit.kind]++;
      if (edit.kind === 'replace') {
        expect(after.box).toEqual(o.box);
        expect(store.emoji[after.emoji].name).toBe(edit.to);
        expect(text(instr)).toMatch(new RegExp(`^(Change|Replace|Turn) the ${o.name} (into|with) ${store.emoji[after.emoji].phrase}\\.$`));
      } else {
        expect(after.emoji).toBe(o.emoji);
        expect(after.region).toBe(edit.to);
        expect(regionHolds(edit.to, after.box)).toBe(true);
        expect(after.box.w).toBe(o.box.w);
        expect(text(instr)).toMatch(new RegExp(`^(Move|Put|The) (the )?${o.name} .*(${edit.to})`));
      }
      // Every other object is untouched, and no two boxes overlap.
      ex.meta.scene.objects.forEach((x, i) => {
        if (i !== edit.object) expect(x).toEqual({ emoji: before.objects[i].emoji, name: before.objects[i].name, box: before.objects[i].box, region: before.objects[i].region });
        for (const y of ex.meta.scene.objects.slice(i + 1)) {
          expect(x.box.x + x.box.w <= y.box.x || y.box.x + y.box.w <= x.box.x || x.box.y + x.box.h <= y.box.y || y.box.y + y.box.h <= x.box.y).toBe(true);
        }
      });
      expect(same(image(tgt).pixels, redraw(store.sceneImage(split, source.index), o.box, after.emoji, after.box))).toBe(true);
    }
  }
  expect(kinds.replace).toBeGreaterThan(150);
  expect(kinds.move).toBeGreaterThan(150);
});

test('the scene checker finds the edited object where the edit put it, in every checked target', () => {
  const checker = SceneChecker.fromStore(store);
  try {
    for (const ex of edits('val').slice(0, 12)) {
      const edit = ex.meta.edit as NonNullable<InstructionMeta['edit']>;
      const want = ex.meta.scene.objects[edit.object];
      const c = checker.check(image(ex.parts[2]), ex.meta.scene);
      expect(c.objectsFound).toBe(c.objects);
      expect(c.positionsRight).toBe(c.objects);
      expect(c.matches[edit.object]?.box).toEqual(want.box);
      expect(c.matches[edit.object]?.distance).toBeLessThan(1e-3);
    }
  } finally {
    checker.dispose();
  }
});

test('story and continue items: the prompt shows frames before the target, the target is the stored frame', () => {
  for (const split of SPLITS) {
    const stories = store.stories(split);
    for (const ex of instructionData(store, { split, kinds: ['story', 'continue'] })) {
      const { index } = ex.meta.source;
      const k = ex.meta.frame as number;
      const frames = stories[index].frames;
      const { prompt, target } = promptAndTarget(ex);
      expect(ex.meta.scene.objects.map((o) => o.emoji)).toEqual(frames[k].objects.map((o) => o.emoji));
      expect(same(image(target[target.length - 1]).pixels, store.storyFrameImage(split, index, k).pixels)).toBe(true);
      if (ex.meta.kind === 'story') {
        expect(k).toBeGreaterThanOrEqual(1);
        expect(prompt.length).toBe(1 + 2 * k);
        for (let f = 0; f < k; f++) {
          expect(text(prompt[1 + 2 * f])).toBe(frames[f].narration);
          expect(same(image(prompt[2 + 2 * f]).pixels, store.storyFrameImage(split, index, f).pixels)).toBe(true);
        }
        expect(text(target[0])).toBe(frames[k].narration);
      } else {
        expect(prompt.length).toBe(1);
        expect(target.length).toBe(1);
        expect(text(prompt[0]).endsWith(frames.slice(0, k + 1).map((f) => f.narration).join(' '))).toBe(true);
      }
    }
  }
});

test('splits held out: objects are train emoji; train items show only train pairs, held-out items no other split pair, edits keep their split pair', () => {
  for (const split of SPLITS) {
    for (const ex of instructionData(store, { split })) {
      const shown: number[][] = [ex.meta.scene.objects.map((o) => o.emoji)];
      if (ex.meta.kind === 'edit') shown.push(store.scenes(split)[ex.meta.source.index].objects.map((o) => o.emoji));
      if (ex.meta.kind === 'story') for (let f = 0; f < (ex.meta.frame as number); f++) shown.push(store.stories(split)[ex.meta.source.index].frames[f].objects.map((o) => o.emoji));
      let ownPair = false;
      for (const group of shown) {
        for (const e of group) expect(store.emoji[e].split).toBe('train');
        for (let i = 0; i < group.length; i++) {
          for (let j = i + 1; j < group.length; j++) {
            const s = pairSplit(store.emoji[group[i]].base, store.emoji[group[j]].base);
            if (s !== 'train' && s !== split) throw new Error(`${ex.id} shows a ${s} pair`);
            if (s === split && i < j && group === shown[0]) ownPair = true;
          }
        }
      }
      if (split !== 'train' && ex.meta.kind === 'edit') expect(ownPair).toBe(true);
    }
  }
});

test('deterministic: the same seed gives the same items; another seed other choices; 16 px halves every image', () => {
  const a = instructionData(store, { split: 'val', seed: 3 });
  const b = instructionData(store, { split: 'val', seed: 3 });
  const c = instructionData(store, { split: 'val', seed: 4 });
  expect(a.size).toBe(100 + 2 * 40);
  expect([...a.epoch(1)].map((e) => e.id)).toEqual([...b.epoch(1)].map((e) => e.id));
  let differs = 0;
  for (let i = 0; i < a.size; i++) {
    expect(digest(a.get(i))).toBe(digest(b.get(i)));
    if (JSON.stringify(a.get(i).meta) !== JSON.stringify(c.get(i).meta)) differs++;
  }
  expect(differs).toBeGreaterThan(a.size / 2);
  const low = instructionData(store, { split: 'val', seed: 3, resolution: 16 });
  const full = a.get(10);
  low.get(10).parts.forEach((p, i) => {
    if ('image' in p) expect(same(p.image.pixels, downscale2x(image(full.parts[i])).pixels) && p.image.height === 16).toBe(true);
    else expect(p).toEqual(full.parts[i]);
  });
});

test('bad options are named', () => {
  expect(() => instructionData(store, { kinds: ['edit', 'draw' as never] })).toThrow("instructionData: unknown kind 'draw'; expected story, edit, continue");
  expect(() => instructionData(store, { kinds: [] })).toThrow('instructionData: kinds must be distinct and not empty, got []');
  expect(() => instructionData(store, { split: 'dev' as never })).toThrow("instructionData: split must be one of train, val, test, got 'dev'");
  expect(() => instructionData(store, { resolution: 8 as never })).toThrow('instructionData: resolution must be 32 or 16, got 8');
});
