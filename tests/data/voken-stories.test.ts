/**
 * MiniGPT-5's story items (data/voken-stories.ts) on a hand-made story source: each task and context puts the
 * frames where the paper's §3.3 and Table 6 say, the target image is the frame's own, items are a pure
 * function of (split, index, seed); and the paper folder's coding of them (items.ts storyItems) codes each
 * context image once and never the generated target.
 */
import type { StorySpec } from '../../kernel-lib/data/stories';
import type { RGBImage } from '../../kernel-lib/image/types';
import type { Split } from '../../kernel-lib/data/emoji';
import { storyItem, vokenStories, lastFrameItems, StorySource } from '../../kernel-lib/data/voken-stories';
import { minigpt5 } from '../../kernel-lib';
import { synthImage } from '../helpers/images';

const obj = (actor: number, name: string) => ({ actor, emoji: actor, name, base: name, tone: null, region: 'top left' as const, box: { x: 0, y: 0, w: 12, h: 12 } });
/** Story i has 3 + i % 3 frames; frame f's narration names it; its image is synthImage(100·i + f). */
function source(n = 6): StorySource & { imageCalls: number } {
  const specs: StorySpec[] = Array.from({ length: n }, (_, i) => ({
    frames: Array.from({ length: 3 + (i % 3) }, (_, f) => ({ narration: `Story ${i} frame ${f}.`, event: { type: 'start' as const }, objects: [obj(f, `thing${f}`)] })),
  }));
  const src = {
    imageCalls: 0,
    stories: (_split: Split) => specs,
    storyFrameImage: (_split: Split, i: number, f: number): RGBImage => {
      src.imageCalls++;
      return synthImage(100 * i + f);
    },
  };
  return src as unknown as StorySource & { imageCalls: number };
}

const show = (p: { text: string } | { image: RGBImage }) => ('text' in p ? p.text : `img:${p.image.pixels.slice(0, 12).join('.')}`);
const img = (i: number, f: number) => `img:${synthImage(100 * i + f).pixels.slice(0, 12).join('.')}`;

test('tasks and contexts: the parts, where the target starts, which part is the generated image', () => {
  const s = source();
  const ex = (task: 'text' | 'image' | 'text-image', context: 'none' | 'text' | 'image' | 'image-text') => storyItem(s, 'val', 1, 2, task, context);
  const full = ex('text-image', 'image-text');
  expect(full.parts.map(show)).toEqual(['Story 1 frame 0.', img(1, 0), 'Story 1 frame 1.', img(1, 1), 'Story 1 frame 2.', img(1, 2)]);
  expect([full.meta.targetFrom, full.meta.targetImage]).toEqual([4, 5]);
  expect(full.meta.scene.objects.map((o) => o.name)).toEqual(['thing2']);
  const image = ex('image', 'text');
  expect(image.parts.map(show)).toEqual(['Story 1 frame 0.', 'Story 1 frame 1.', 'Story 1 frame 2.', img(1, 2)]);
  expect([image.meta.targetFrom, image.meta.targetImage]).toEqual([3, 3]);
  const text = ex('text', 'image');
  expect(text.parts.map(show)).toEqual([img(1, 0), img(1, 1), img(1, 2), 'Story 1 frame 2.']);
  expect([text.meta.targetFrom, text.meta.targetImage]).toEqual([3, -1]);
  expect(ex('image', 'none').parts.map(show)).toEqual(['Story 1 frame 2.', img(1, 2)]);
  expect(() => storyItem(s, 'val', 1, 9, 'image', 'none')).toThrow('storyItem: story 1 has frames 0..3, got 9');
  expect(() => storyItem(s, 'val', 1, 1, 'video' as 'image', 'none')).toThrow("storyItem: task must be one of text, image, text-image, got 'video'");
  expect(() => storyItem(s, 'val', 1, 1, 'image', 'all' as 'none')).toThrow("storyItem: context must be one of none, text, image, image-text, got 'all'");
});

test('the training set: one item per story, frame in [1, frames − 1], the task drawn; a pure function of (split, index, seed)', () => {
  const s = source(30);
  const list = vokenStories(s, { split: 'train', seed: 2 });
  expect(list.size).toBe(30);
  const items = Array.from({ length: 30 }, (_, i) => list.get(i));
  for (const [i, it] of items.entries()) {
    const frames = 3 + (i % 3);
    expect(it.meta.frame).toBeGreaterThanOrEqual(1);
    expect(it.meta.frame).toBeLessThanOrEqual(frames - 1);
    expect(it.meta.context).toBe('image-text');
  }
  expect(new Set(items.map((it) => it.meta.task))).toEqual(new Set(['text', 'image', 'text-image']));
  expect(vokenStories(s, { split: 'train', seed: 2 }).get(17)).toEqual(items[17]);
  expect(items.map((it) => it.id)).not.toEqual(Array.from({ length: 30 }, (_, i) => vokenStories(s, { split: 'train', seed: 3 }).get(i).id));
  expect(new Set(Array.from({ length: 30 }, (_, i) => vokenStories(s, { tasks: ['text', 'text-image'] }).get(i).meta.task))).toEqual(new Set(['text', 'text-image']));
  expect(() => vokenStories(s, { tasks: [] })).toThrow('vokenStories: tasks must be a non-empty list of text, image, text-image, got []');
});

test('Table 6 items: the last frame under each context, drawn (task image); held-out splits only', () => {
  const s = source(5);
  for (const context of ['none', 'text', 'image', 'image-text'] as const) {
    const items = lastFrameItems(s, { split: 'test', context, count: 3 });
    expect(items).toHaveLength(3);
    items.forEach((it, i) => {
      expect(it.meta.frame).toBe(2 + (i % 3));
      expect(it.meta.task).toBe('image');
      expect(show(it.parts[it.meta.targetImage])).toBe(img(i, it.meta.frame));
    });
  }
  expect(() => lastFrameItems(s, { split: 'train', context: 'none' })).toThrow("lastFrameItems: split must be 'val' or 'test' (held out), got 'train'");
});

test('storyItems codes each context image once, never the generated target; the item keeps the target image and narration', () => {
  const s = source(6);
  const list = vokenStories(s, { split: 'val' });
  let coded = 0;
  const encode = (imgs: readonly RGBImage[]) => {
    coded += imgs.length;
    return imgs.map(() => ({ height: 4, width: 4, codes: new Array<number>(16).fill(1) }));
  };
  const src = minigpt5.storyItems(list, encode);
  const items = src.items([0, 1, 2, 0]);
  const want = [0, 1, 2].reduce((n, i) => {
    const m = list.get(i).meta;
    return n + m.frame + (m.task === 'text' ? 1 : 0); // context frames' images (+ the given image of a text task)
  }, 0);
  expect(coded).toBe(want);
  src.items([1, 2]);
  expect(coded).toBe(want); // kept
  expect(items[3]).toBe(items[0]);
  for (const [k, it] of items.slice(0, 3).entries()) {
    const ex = list.get(k);
    expect(it.caption).toBeNull(); // description-free
    expect(it.image === null).toBe(ex.meta.task === 'text');
    expect(it.targetText === null).toBe(ex.meta.task === 'image');
    expect(it.prompt.length).toBe(ex.meta.targetFrom);
  }
});
