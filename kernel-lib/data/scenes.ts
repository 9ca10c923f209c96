/**
 * Scenes: 32×32 white canvases with 2–3 emoji, each shrunk to 12–16 px and placed in one of eight named
 * regions (quadrants and halves) so that no two overlap, with a caption that states relations the layout
 * guarantees: "a tiger face to the left of an apple", "an apple above a tiger face and a car on the right",
 * "a cat at the top left and a dog at the bottom right". Each object keeps its box and the catalog index
 * of its original 32×32 image (its crop), which MUMU-style prompts interleave with the caption words.
 *
 * A scene is a pure function of (split, index, seed): `sceneSpec` draws from its own named random stream.
 */
import { EmojiInfo, Split } from './emoji';
import { IMAGE_SIZE } from './image';
import type { RGBImage } from '../image/types';
import { blankImage, paste, resizeArea } from '../image/rgb';
import {
  Box, disjointLayouts, impliedRelations, INVERSE, OBJECT_MAX, OBJECT_MIN, placeIn, Region, regionPhrase, Relation,
} from './layout';
import { sampleObjects } from './objects';
import { permutation, pick, randInt, Rng, rngFor } from '../util/random';

export interface SceneObject {
  /** Catalog index of the emoji (its original 32×32 image is the object's crop). */
  emoji: number;
  name: string;
  /** Base code points (the pair-split key). */
  base: string;
  box: Box;
  region: Region;
}

/** A caption as text pieces and object slots: ["", 0, " to the left of ", 1, ""] (slots print the object's phrase). */
export type CaptionTemplate = Array<string | number>;

export interface SceneSpec {
  objects: SceneObject[];
  caption: string;
  template: CaptionTemplate;
  /** What the caption claims, for checking: "objects[a] <relation> objects[b]" and "objects[object] is in region". */
  relations: Array<{ a: number; relation: Relation; b: number }>;
  positions: Array<{ object: number; region: Region }>;
}

const LAYOUTS: Readonly<Record<number, Region[][]>> = { 2: disjointLayouts(2), 3: disjointLayouts(3) };
/** Share of two-object captions that state a relation (the rest give both positions). */
const RELATIONAL_SHARE = 0.7;

/** Fills a caption template with the objects' noun phrases. */
export function renderCaption(template: CaptionTemplate, phrases: readonly string[]): string {
  return template.map((p) => (typeof p === 'number' ? phrases[p] : p)).join('');
}

/** Draws one scene. `vocab` is the object vocabulary (objectVocabulary(catalog, SCENE_SUBCATEGORIES)). */
export function sceneSpec(index: number, split: Split, vocab: readonly EmojiInfo[], seed = 0): SceneSpec {
  const rand = rngFor(`scenes/${split}/${index}`, seed);
  const n = rand() < 0.5 ? 2 : 3;
  return layoutScene(sampleObjects(rand, vocab, n, split), rand);
}

/**
 * Places chosen objects (2 or 3) in disjoint regions and writes the caption: the second half of
 * `sceneSpec`, open to callers that choose the objects themselves (scene edits, prompts that combine
 * objects from several scenes).
 */
export function layoutScene(chosen: readonly EmojiInfo[], rand: Rng): SceneSpec {
  const n = chosen.length;
  if (!(n in LAYOUTS)) throw new Error(`layoutScene: a scene holds 2 or 3 objects, got ${n}`);
  const layout = pick(rand, LAYOUTS[n]);
  const order = permutation(n, rand);
  const objects: SceneObject[] = chosen.map((e, i) => {
    const region = layout[order[i]];
    return { emoji: e.index, name: e.name, base: e.base, region, box: placeIn(region, randInt(rand, OBJECT_MIN, OBJECT_MAX), rand) };
  });
  const relations: SceneSpec['relations'] = [];
  const positions: SceneSpec['positions'] = [];
  let template: CaptionTemplate;
  const relational = n === 3 || rand() < RELATIONAL_SHARE;
  if (relational) {
    // A pair whose regions imply a relation (every pair of disjoint regions implies one or two).
    const pairs: Array<[number, number, Relation[]]> = [];
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) pairs.push([a, b, impliedRelations(objects[a].region, objects[b].region)]);
    }
    const [first, second, rels] = pick(rand, pairs.filter(([, , r]) => r.length > 0));
    let [a, b, relation] = [first, second, pick(rand, rels)];
    if (rand() < 0.5) [a, b, relation] = [b, a, INVERSE[relation]];
    relations.push({ a, relation, b });
    template = ['', a, ` ${relation} `, b];
    if (n === 3) {
      const c = [0, 1, 2].find((i) => i !== a && i !== b) as number;
      positions.push({ object: c, region: objects[c].region });
      template.push(' and ', c, ` ${regionPhrase(objects[c].region)}`);
    }
  } else {
    template = [''];
    objects.forEach((o, i) => {
      positions.push({ object: i, region: o.region });
      template.push(i, ` ${regionPhrase(o.region)}`, i + 1 < n ? ' and ' : '');
    });
  }
  const caption = renderCaption(template, chosen.map((e) => e.phrase));
  return { objects, caption, template, relations, positions };
}

/** Draws a scene's pixels: the objects' images shrunk (area average) and pasted on white. */
export function renderScene(objects: ReadonlyArray<Pick<SceneObject, 'emoji' | 'box'>>, emojiImage: (index: number) => RGBImage): RGBImage {
  const canvas = blankImage(IMAGE_SIZE, IMAGE_SIZE);
  for (const o of objects) paste(canvas, resizeArea(emojiImage(o.emoji), o.box.h, o.box.w), o.box.x, o.box.y);
  return canvas;
}
