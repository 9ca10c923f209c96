/**
 * Stories: 3–5 frames of a little world on a 32×32 canvas, one sentence of narration per frame, for
 * interleaved text+image generation. Objects live in the four quadrants; each frame after the first
 * changes one thing, and the narration says what:
 *
 *   "A tiger face is at the top left."      start (one or two objects)
 *   "An apple appears at the bottom right." enter
 *   "The tiger face moves to the top right." move (to a free quadrant; it keeps its size)
 *   "The tiger face turns into a lion."    change: swap to an emoji of the same sub-category
 *   "The waving hand changes to dark skin tone."  change: skin tone (hands)
 *   "The apple leaves."                     leave
 *
 * Objects that appear together obey the same pair hygiene as scenes (objects.ts). A story is a pure
 * function of (split, index, seed).
 */
import { EmojiInfo, Split } from './emoji';
import { OBJECT_MAX, OBJECT_MIN, placeIn, QUADRANTS, Region } from './layout';
import { isPlural, sentenceCase, toneWords } from './names';
import { pairSplit } from './objects';
import { pick, randInt, Rng, rngFor } from '../util/random';
import { SceneObject } from './scenes';

export type StoryEvent =
  | { type: 'start' }
  | { type: 'enter'; actor: number; region: Region }
  | { type: 'move'; actor: number; from: Region; to: Region }
  | { type: 'swap'; actor: number; from: string; to: string }
  | { type: 'tone'; actor: number; tone: string }
  | { type: 'leave'; actor: number };

export interface StoryObject extends SceneObject {
  /** Identity through the story (stays the same when the object moves, swaps or changes tone). */
  actor: number;
  /** Skin tone word, or null for the default (yellow) or an emoji without tones. */
  tone: string | null;
}

export interface StoryFrame {
  narration: string;
  event: StoryEvent;
  objects: StoryObject[];
}

export interface StorySpec {
  frames: StoryFrame[];
}

/** What stories need from the emoji catalog. */
export interface StoryContext {
  vocab: readonly EmojiInfo[];
  /** base → tone word → catalog index, for emoji with single skin-tone variants. */
  tones: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

export function storyContext(catalog: readonly EmojiInfo[], vocab: readonly EmojiInfo[]): StoryContext {
  const tones = new Map<string, Map<string, number>>();
  for (const e of catalog) {
    if (e.tones.length !== 1) continue;
    let m = tones.get(e.base);
    if (m === undefined) tones.set(e.base, (m = new Map()));
    m.set(e.tones[0], e.index);
  }
  return { vocab, tones };
}

export const MIN_FRAMES = 3;
export const MAX_FRAMES = 5;
const MAX_OBJECTS = 3;
const MAX_TRIES = 1000;
/** Share of newcomers drawn from the emoji with skin tones (hands). */
const TONED_SHARE = 0.15;

function phraseWithTone(e: EmojiInfo, tone: string | null): string {
  return tone ? `${e.phrase} with ${toneWords([tone])}` : e.phrase;
}

/** The verb agreeing with the name: verb('peanuts', 'is', 'are') → 'are'. */
function verb(name: string, singular: string, plural: string): string {
  return isPlural(name) ? plural : singular;
}

/** One attempt at a story; null when it does not satisfy the split's pair rule. */
function tryStory(rand: Rng, ctx: StoryContext, split: Split): StorySpec | null {
  const byIndex = new Map(ctx.vocab.map((e) => [e.index, e]));
  const present: StoryObject[] = [];
  const used = new Set<string>(); // names used so far: "the apple" must always mean one object
  let heldOut = split === 'train';
  let nextActor = 0;
  // A newcomer may join the objects present when every pair it forms is train or this split's.
  const compatible = (e: EmojiInfo): boolean =>
    !used.has(e.name) &&
    present.every((o) => {
      const s = pairSplit(o.base, e.base);
      return s === 'train' || s === split;
    });
  const noteHeldOut = (e: EmojiInfo): void => {
    if (present.some((o) => pairSplit(o.base, e.base) === split)) heldOut = true;
  };
  const freeQuadrants = (): Region[] => QUADRANTS.filter((q) => !present.some((o) => o.region === q));
  const newcomer = (pool: readonly EmojiInfo[]): EmojiInfo | null => {
    const ok = pool.filter(compatible);
    if (ok.length === 0) return null;
    // Hands are few in the vocabulary; draw them more often so that skin-tone changes happen.
    const toned = ok.filter((e) => ctx.tones.has(e.base));
    return toned.length > 0 && rand() < TONED_SHARE ? pick(rand, toned) : pick(rand, ok);
  };
  const toneOf = (e: EmojiInfo): string | null => {
    const variants = ctx.tones.get(e.base);
    return variants && rand() < 0.5 ? pick(rand, [...variants.keys()]) : null;
  };
  const add = (e: EmojiInfo, region: Region): StoryObject => {
    const tone = toneOf(e);
    const o: StoryObject = {
      actor: nextActor++,
      emoji: tone ? (ctx.tones.get(e.base)?.get(tone) as number) : e.index,
      name: e.name,
      base: e.base,
      tone,
      region,
      box: placeIn(region, randInt(rand, OBJECT_MIN, OBJECT_MAX), rand),
    };
    noteHeldOut(e);
    present.push(o);
    used.add(e.name);
    return o;
  };
  const snapshot = (): StoryObject[] => present.map((o) => ({ ...o, box: { ...o.box } })).sort((a, b) => a.actor - b.actor);

  const frames: StoryFrame[] = [];
  // Start: one or two objects.
  const startCount = rand() < 0.5 ? 1 : 2;
  const opening: string[] = [];
  for (let i = 0; i < startCount; i++) {
    const e = newcomer(ctx.vocab);
    if (e === null) return null;
    const o = add(e, pick(rand, freeQuadrants()));
    opening.push(`${phraseWithTone(e, o.tone)} ${verb(e.name, 'is', 'are')} ${regionWords(o.region)}`);
  }
  frames.push({ narration: sentenceCase(`${opening.join(' and ')}.`), event: { type: 'start' }, objects: snapshot() });

  const length = randInt(rand, MIN_FRAMES, MAX_FRAMES);
  while (frames.length < length) {
    const kinds: Array<'enter' | 'move' | 'change' | 'leave'> = ['move', 'move', 'change', 'change'];
    if (present.length < MAX_OBJECTS) kinds.push('enter', 'enter', 'enter');
    if (present.length > 1) kinds.push('leave');
    const kind = pick(rand, kinds);
    const free = freeQuadrants();
    let narration: string;
    let event: StoryEvent;
    if (kind === 'enter' && free.length > 0) {
      const e = newcomer(ctx.vocab);
      if (e === null) continue;
      const o = add(e, pick(rand, free));
      narration = `${phraseWithTone(e, o.tone)} ${verb(e.name, 'appears', 'appear')} ${regionWords(o.region)}.`;
      event = { type: 'enter', actor: o.actor, region: o.region };
    } else if (kind === 'move' && free.length > 0) {
      const o = pick(rand, present);
      const from = o.region;
      o.region = pick(rand, free);
      o.box = placeIn(o.region, o.box.w, rand);
      narration = `the ${o.name} ${verb(o.name, 'moves', 'move')} to the ${o.region}.`;
      event = { type: 'move', actor: o.actor, from, to: o.region };
    } else if (kind === 'change') {
      const o = pick(rand, present);
      const variants = ctx.tones.get(o.base);
      if (variants) {
        const tone = pick(rand, [...variants.keys()].filter((t) => t !== o.tone));
        o.tone = tone;
        o.emoji = variants.get(tone) as number;
        narration = `the ${o.name} ${verb(o.name, 'changes', 'change')} to ${toneWords([tone])}.`;
        event = { type: 'tone', actor: o.actor, tone };
      } else {
        const self = byIndex.get(o.emoji) as EmojiInfo;
        present.splice(present.indexOf(o), 1); // the newcomer will be shown with the others, not with o
        const e = newcomer(ctx.vocab.filter((v) => v.subcategory === self.subcategory && !ctx.tones.has(v.base)));
        if (e !== null) noteHeldOut(e);
        present.push(o);
        if (e === null) continue;
        used.add(e.name);
        narration = `the ${o.name} ${verb(o.name, 'turns', 'turn')} into ${e.phrase}.`;
        event = { type: 'swap', actor: o.actor, from: o.name, to: e.name };
        Object.assign(o, { emoji: e.index, name: e.name, base: e.base });
      }
    } else if (kind === 'leave') {
      const o = pick(rand, present);
      present.splice(present.indexOf(o), 1);
      narration = `the ${o.name} ${verb(o.name, 'leaves', 'leave')}.`;
      event = { type: 'leave', actor: o.actor };
    } else {
      continue;
    }
    frames.push({ narration: sentenceCase(narration), event, objects: snapshot() });
  }
  return heldOut ? { frames } : null;
}

function regionWords(r: Region): string {
  return `at the ${r}`;
}

/** Draws one story (retrying until it satisfies the split's pair rule). */
export function storySpec(index: number, split: Split, ctx: StoryContext, seed = 0): StorySpec {
  const rand = rngFor(`stories/${split}/${index}`, seed);
  for (let t = 0; t < MAX_TRIES; t++) {
    const s = tryStory(rand, ctx, split);
    if (s !== null) return s;
  }
  throw new Error(`storySpec: no story for split '${split}' after ${MAX_TRIES} tries`);
}
