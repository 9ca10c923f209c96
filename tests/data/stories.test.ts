/**
 * Stories: each frame's narration is read back with a parser written from the narration grammar and
 * checked against the frame's objects and the previous frame (the object that "moves to the top right"
 * is there now and was elsewhere before; the one that "leaves" is gone; …).
 */
import fs from 'fs';
import { SPLITS } from '../../kernel-lib/data/emoji';
import { DataStore, ensureData } from '../../kernel-lib/data/store';
import { StoryFrame } from '../../kernel-lib/data/stories';
import { escapeRe, quiet, regionHolds, SMALL, tempDir } from './helpers';

let dir: string;
let store: DataStore;

beforeAll(async () => {
  dir = tempDir('stories');
  store = await ensureData({ ...SMALL, cacheDir: dir, onProgress: quiet });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const QUADRANT = '(top left|top right|bottom left|bottom right)';
const TONE = '(light|medium-light|medium|medium-dark|dark)';

/** Checks one frame's narration against it and the frame before; returns what is wrong, or null. */
function checkFrame(frame: StoryFrame, prev: StoryFrame | null, allNames: readonly string[]): string | null {
  const names = `(${[...allNames].sort((a, b) => b.length - a.length).map(escapeRe).join('|')})`;
  const np = `(?:(?:a|an|the) )?${names}(?: with ${TONE} skin tone)?`;
  const text = frame.narration[0].toLowerCase() + frame.narration.slice(1);
  const now = (name: string) => frame.objects.find((o) => o.name === name);
  const before = (name: string) => prev?.objects.find((o) => o.name === name);
  let m: RegExpExecArray | null;
  if (prev === null) {
    m = new RegExp(`^${np} (?:is|are) at the ${QUADRANT}(?: and ${np} (?:is|are) at the ${QUADRANT})?\\.$`).exec(text);
    if (!m) return 'opening does not parse';
    const told: Array<[string, string | undefined, string]> = [[m[1], m[2], m[3]]];
    if (m[4]) told.push([m[4], m[5], m[6]]);
    if (told.length !== frame.objects.length) return `opening names ${told.length} objects, the frame has ${frame.objects.length}`;
    for (const [name, tone, region] of told) {
      const o = now(name);
      if (!o || o.region !== region || !regionHolds(region, o.box) || (o.tone ?? undefined) !== tone) return `${name} is not as told`;
    }
    return null;
  }
  const same = (a: typeof frame.objects, b: typeof frame.objects): boolean => JSON.stringify(a) === JSON.stringify(b);
  const others = (name: string) => frame.objects.filter((o) => o.name !== name);
  const othersBefore = (name: string) => (prev?.objects ?? []).filter((o) => o.name !== name);
  if ((m = new RegExp(`^${np} appears? at the ${QUADRANT}\\.$`).exec(text))) {
    const o = now(m[1]);
    if (!o || before(m[1]) || o.region !== m[3] || !regionHolds(m[3], o.box) || (o.tone ?? undefined) !== m[2]) return `${m[1]} did not enter as told`;
    return same(others(m[1]), prev.objects) ? null : 'something else changed';
  }
  if ((m = new RegExp(`^the ${names} moves? to the ${QUADRANT}\\.$`).exec(text))) {
    const o = now(m[1]);
    const b = before(m[1]);
    if (!o || !b || o.region !== m[2] || b.region === m[2] || !regionHolds(m[2], o.box) || o.actor !== b.actor) return `${m[1]} did not move as told`;
    return same(others(m[1]), othersBefore(m[1])) ? null : 'something else changed';
  }
  if ((m = new RegExp(`^the ${names} leaves?\\.$`).exec(text))) {
    if (now(m[1]) || !before(m[1])) return `${m[1]} did not leave`;
    return same(frame.objects, othersBefore(m[1])) ? null : 'something else changed';
  }
  if ((m = new RegExp(`^the ${names} turns? into (?:(?:a|an) )?${names}\\.$`).exec(text))) {
    const b = before(m[1]);
    const o = now(m[2]);
    if (!b || now(m[1]) || !o || o.actor !== b.actor || JSON.stringify(o.box) !== JSON.stringify(b.box)) return `${m[1]} did not turn into ${m[2]}`;
    return same(others(m[2]), othersBefore(m[1])) ? null : 'something else changed';
  }
  if ((m = new RegExp(`^the ${names} changes? to ${TONE} skin tone\\.$`).exec(text))) {
    const o = now(m[1]);
    const b = before(m[1]);
    if (!o || !b || o.tone !== m[2] || b.tone === m[2] || o.emoji === b.emoji || o.region !== b.region) return `${m[1]} did not change tone`;
    return same(others(m[1]), othersBefore(m[1])) ? null : 'something else changed';
  }
  return 'narration does not parse';
}

test('every narration parses and matches its frame and the one before', () => {
  const events = new Map<string, number>();
  const lengths = new Set<number>();
  for (const split of SPLITS) {
    store.stories(split).forEach((story, i) => {
      lengths.add(story.frames.length);
      const allNames = story.frames.flatMap((f) => f.objects.map((o) => o.name));
      story.frames.forEach((f, k) => {
        events.set(f.event.type, (events.get(f.event.type) ?? 0) + 1);
        const problem = checkFrame(f, k > 0 ? story.frames[k - 1] : null, allNames);
        if (problem) throw new Error(`${split} story ${i} frame ${k} "${f.narration}": ${problem}\n${JSON.stringify(story.frames.slice(Math.max(0, k - 1), k + 1))}`);
      });
    });
  }
  expect([...lengths].sort()).toEqual([3, 4, 5]);
  for (const e of ['start', 'enter', 'move', 'swap', 'tone', 'leave']) expect(events.get(e)).toBeGreaterThan(5);
});

test('objects in a frame are 1–3, in distinct quadrants, named once, drawn from their emoji', () => {
  for (const split of SPLITS) {
    store.stories(split).forEach((story) => {
      for (const f of story.frames) {
        expect(f.objects.length).toBeGreaterThanOrEqual(1);
        expect(f.objects.length).toBeLessThanOrEqual(3);
        expect(new Set(f.objects.map((o) => o.region)).size).toBe(f.objects.length);
        expect(new Set(f.objects.map((o) => o.name)).size).toBe(f.objects.length);
        for (const o of f.objects) {
          const e = store.emoji[o.emoji];
          expect(e.name).toBe(o.name);
          expect(e.tones).toEqual(o.tone ? [o.tone] : []);
        }
      }
    });
  }
});

test('frame images are stored in order: frame k of story i is its own picture', () => {
  const split = 'val';
  const story = store.stories(split)[3];
  const a = store.storyFrameImage(split, 3, 0);
  const b = store.storyFrameImage(split, 3, story.frames.length - 1);
  expect(a.pixels.length).toBe(32 * 32 * 3);
  expect(Buffer.compare(Buffer.from(a.pixels), Buffer.from(b.pixels))).not.toBe(0);
  expect(() => store.storyFrameImage(split, 3, story.frames.length)).toThrow(`story 3 of val has ${story.frames.length} frames, not a frame ${story.frames.length}`);
});
