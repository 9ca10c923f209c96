/**
 * Scene edits with ground truth, for instruction data ("change the cat into a dog", "move the tree to the
 * right"): the scene generator applies the edit to the scene's spec and renders the edited spec, so the
 * target image is exactly what the instruction asks for. Two kinds:
 *
 *   replace  one object becomes another scene object (same box); the new set of objects must obey the
 *            split's pair rule (objects.ts), so a train edit never shows a held-out pair and a val/test
 *            edit still shows one of its split's held-out pairs;
 *   move     one object goes to a region disjoint from its own and from every other object's region
 *            (so the move is visible and nothing overlaps), keeping its size, at a position drawn as the
 *            generator draws one (placeIn).
 *
 * The edited spec keeps a replaced object's caption template; a moved scene's caption lists every object's
 * region ("a cat at the top left and a tree on the right"), since a relation the old caption stated may no
 * longer hold. Everything is drawn from the `rand` passed in.
 */
import { EmojiInfo, Split } from './emoji';
import { Box, boxesOverlap, placeIn, Region, REGION_RECTS, regionPhrase } from './layout';
import { pairsAllowed, pairsOf } from './objects';
import { pick, Rng } from '../util/random';
import { CaptionTemplate, renderCaption, SceneObject, SceneSpec } from './scenes';

export type SceneEdit =
  | { kind: 'replace'; object: number; from: string; to: string; emoji: number }
  | { kind: 'move'; object: number; name: string; from: Region; to: Region };

export interface EditedScene {
  edit: SceneEdit;
  /** The instruction as a sentence: "Change the cat into a dog." */
  instruction: string;
  /** The scene after the edit (render it with renderScene(after.objects, …)). */
  after: SceneSpec;
}

const REPLACE_TEMPLATES = ['change the {a} into {b}.', 'replace the {a} with {b}.', 'turn the {a} into {b}.'];
const MOVE_TEMPLATES = ['move the {a} to the {r}.', 'put the {a} {at}.', 'the {a} should be {at} now.'];

function sentence(template: string, fill: Record<string, string>): string {
  const s = template.replace(/\{(\w+)\}/g, (_, k: string) => fill[k]);
  return s[0].toUpperCase() + s.slice(1);
}

/** Regions an object may move to: disjoint from every object's region, its own included (so the move shows). */
export function moveTargets(spec: SceneSpec): Region[] {
  const rect = (r: Region): Box => REGION_RECTS.get(r) as Box;
  return [...REGION_RECTS.keys()].filter((r) => spec.objects.every((o) => !boxesOverlap(rect(r), rect(o.region))));
}

/** Scene objects that may replace `object` in `split`: not already in the scene, and the pair rule holds. */
export function replacements(spec: SceneSpec, object: number, vocab: readonly EmojiInfo[], split: Split): EmojiInfo[] {
  const names = new Set(spec.objects.map((o) => o.name));
  const others = spec.objects.filter((_, i) => i !== object).map((o) => o.base);
  return vocab.filter((e) => !names.has(e.name) && pairsAllowed(pairsOf([...others, e.base]), split));
}

function positionalSpec(objects: SceneObject[], phrases: readonly string[]): SceneSpec {
  const template: CaptionTemplate = [''];
  objects.forEach((o, i) => template.push(i, ` ${regionPhrase(o.region)}`, i + 1 < objects.length ? ' and ' : ''));
  return {
    objects,
    caption: renderCaption(template, phrases),
    template,
    relations: [],
    positions: objects.map((o, i) => ({ object: i, region: o.region })),
  };
}

/**
 * Applies an edit to a spec. `byIndex` gives the catalog entry of an emoji index (for the new object's name
 * and phrase and for every object's phrase); `rand` places a moved object.
 */
export function applyEdit(spec: SceneSpec, edit: SceneEdit, byIndex: (emoji: number) => EmojiInfo, rand: Rng): SceneSpec {
  const o = spec.objects[edit.object];
  if (o === undefined) throw new Error(`applyEdit: the scene has ${spec.objects.length} objects, not an object ${edit.object}`);
  const objects = spec.objects.map((x) => ({ ...x, box: { ...x.box } }));
  if (edit.kind === 'replace') {
    const e = byIndex(edit.emoji);
    objects[edit.object] = { ...objects[edit.object], emoji: e.index, name: e.name, base: e.base };
    const phrases = objects.map((x) => byIndex(x.emoji).phrase);
    return { ...spec, objects, caption: renderCaption(spec.template, phrases) };
  }
  if (!moveTargets(spec).includes(edit.to)) {
    throw new Error(`applyEdit: the ${o.name} cannot move to the ${edit.to} (it overlaps its own or another object's region)`);
  }
  objects[edit.object] = { ...objects[edit.object], region: edit.to, box: placeIn(edit.to, o.box.w, rand) };
  return positionalSpec(objects, objects.map((x) => byIndex(x.emoji).phrase));
}

/**
 * Draws one edit of a scene: the kind (replace or move, even odds; the other when the first is impossible),
 * the object, the change, the wording (one of three templates), then applies it.
 */
export function drawEdit(spec: SceneSpec, vocab: readonly EmojiInfo[], byIndex: (emoji: number) => EmojiInfo, split: Split, rand: Rng): EditedScene {
  const order: Array<'replace' | 'move'> = rand() < 0.5 ? ['replace', 'move'] : ['move', 'replace'];
  const object = Math.floor(rand() * spec.objects.length);
  const o = spec.objects[object];
  for (const kind of order) {
    if (kind === 'replace') {
      const options = replacements(spec, object, vocab, split);
      if (options.length === 0) continue;
      const e = pick(rand, options);
      const edit: SceneEdit = { kind, object, from: o.name, to: e.name, emoji: e.index };
      const instruction = sentence(pick(rand, REPLACE_TEMPLATES), { a: o.name, b: e.phrase });
      return { edit, instruction, after: applyEdit(spec, edit, byIndex, rand) };
    }
    const targets = moveTargets(spec);
    if (targets.length === 0) continue;
    const to = pick(rand, targets);
    const edit: SceneEdit = { kind, object, name: o.name, from: o.region, to };
    const instruction = sentence(pick(rand, MOVE_TEMPLATES), { a: o.name, r: to, at: regionPhrase(to) });
    return { edit, instruction, after: applyEdit(spec, edit, byIndex, rand) };
  }
  throw new Error(`drawEdit: no edit of the ${o.name} is possible in this scene (split '${split}')`);
}
