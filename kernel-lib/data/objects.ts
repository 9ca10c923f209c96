/**
 * The objects that scenes and stories are made of, and which of their pairs each split may use.
 *
 * Objects are base emoji from the *train* split of the emoji data set (so no val/test emoji leaks into
 * training through a scene), with names of at most three words. What val and test hold out is
 * *combinations*: every unordered pair of objects is assigned a split by hash, a train scene or story
 * only ever shows train pairs together, and a val (test) one shows at least one val (test) pair and no
 * test (val) pair. So a held-out pair is never seen together in training, though each object is.
 */
import { EmojiInfo, Split, splitOf } from './emoji';
import { Rng, pick } from '../util/random';

/** Sub-categories that make good scene objects: concrete things with short names. */
export const SCENE_SUBCATEGORIES: readonly string[] = [
  'animal-mammal', 'animal-bird', 'animal-marine', 'animal-bug', 'animal-reptile', 'animal-amphibian',
  'plant-flower', 'plant-other',
  'food-fruit', 'food-vegetable', 'food-prepared', 'food-asian', 'food-sweet', 'drink',
  'transport-ground', 'transport-air', 'transport-water', 'sky & weather',
  'sport', 'game', 'musical-instrument', 'event', 'clothing', 'tool', 'household', 'light & video',
  'face-smiling', 'face-affection', 'face-tongue', 'face-hand', 'face-neutral-skeptical', 'face-sleepy',
  'face-unwell', 'face-hat', 'face-glasses', 'face-concerned', 'face-negative', 'face-costume', 'cat-face', 'monkey-face',
];

/** Extra sub-categories for stories: hands, whose skin tone can change. */
export const STORY_EXTRA_SUBCATEGORIES: readonly string[] = [
  'hand-fingers-open', 'hand-fingers-partial', 'hand-single-finger', 'hand-fingers-closed', 'hands',
];

const MAX_NAME_WORDS = 3;
/** Left out of scenes and stories. */
const EXCLUDED_NAMES = new Set(['middle finger']);

/** Train-split base emoji in the given sub-categories, one per name, in catalog order. */
export function objectVocabulary(catalog: readonly EmojiInfo[], subcategories: readonly string[]): EmojiInfo[] {
  const seen = new Set<string>();
  const out: EmojiInfo[] = [];
  for (const e of catalog) {
    if (e.tones.length > 0 || e.split !== 'train' || !subcategories.includes(e.subcategory)) continue;
    if (e.name.includes(':') || e.name.split(' ').length > MAX_NAME_WORDS || seen.has(e.name) || EXCLUDED_NAMES.has(e.name)) continue;
    seen.add(e.name);
    out.push(e);
  }
  return out;
}

/** The split an unordered pair of objects (by base code points) belongs to. */
export function pairSplit(a: string, b: string): Split {
  return splitOf(a < b ? `pair:${a}|${b}` : `pair:${b}|${a}`);
}

/** Every unordered pair among the keys. */
export function pairsOf(keys: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < keys.length; i++) for (let j = i + 1; j < keys.length; j++) out.push([keys[i], keys[j]]);
  return out;
}

/** True when objects shown together (all pairs of `keys`) may appear in `split` (see the file comment). */
export function pairsAllowed(pairs: ReadonlyArray<readonly [string, string]>, split: Split): boolean {
  let heldOut = false;
  for (const [a, b] of pairs) {
    const s = pairSplit(a, b);
    if (s === split) heldOut = true;
    else if (s !== 'train') return false;
  }
  return split === 'train' || heldOut;
}

/**
 * n distinct objects whose pairs are allowed in `split`. For val/test the first two are drawn from a
 * held-out pair (found by rejection), the rest so as not to bring in the other held-out split.
 */
export function sampleObjects(rand: Rng, vocab: readonly EmojiInfo[], n: number, split: Split, maxTries = 10_000): EmojiInfo[] {
  for (let t = 0; t < maxTries; t++) {
    const chosen: EmojiInfo[] = [];
    while (chosen.length < n) {
      const e = pick(rand, vocab);
      if (!chosen.includes(e)) chosen.push(e);
    }
    if (pairsAllowed(pairsOf(chosen.map((e) => e.base)), split)) return chosen;
  }
  throw new Error(`sampleObjects: no ${n} objects allowed in split '${split}' after ${maxTries} tries`);
}
