/**
 * A generic word for every scene and story object, from emoji-datasource's sub-category (already in each
 * EmojiInfo): "animal" for animal-mammal … animal-amphibian, "vehicle" for transport-ground/air/water,
 * "face" for the smiley sub-categories, and so on. MUMU-style prompts replace an object's word with it
 * ("a <crop> animal") so that identity has to come from the crop; understanding questions count by it
 * ("How many animals are there?"). The words are chosen to read well after "a"/"an" and to pluralise.
 */
import { EmojiInfo } from './emoji';
import { indefiniteArticle } from './names';

export interface Category {
  /** "animal" */
  word: string;
  /** "animals" */
  plural: string;
}

const c = (word: string, plural = `${word}s`): Category => ({ word, plural });

/** Sub-category → category (every entry of SCENE_SUBCATEGORIES and STORY_EXTRA_SUBCATEGORIES has one). */
const BY_SUBCATEGORY: ReadonlyArray<[RegExp, Category]> = [
  [/^animal-/, c('animal')],
  [/^plant-/, c('plant')],
  [/^food-fruit$/, c('fruit')],
  [/^food-vegetable$/, c('vegetable')],
  [/^food-(prepared|asian)$/, c('dish', 'dishes')],
  [/^food-sweet$/, c('sweet')],
  [/^drink$/, c('drink')],
  [/^transport-/, c('vehicle')],
  [/^sky & weather$/, c('sky symbol')],
  [/^sport$/, c('sports item')],
  [/^game$/, c('toy')],
  [/^musical-instrument$/, c('instrument')],
  [/^event$/, c('party item')],
  [/^clothing$/, c('clothing item')],
  [/^tool$/, c('tool')],
  [/^household$/, c('household item')],
  [/^light & video$/, c('gadget')],
  [/^(face-|cat-face$|monkey-face$)/, c('face')],
  [/^(hand-|hands$)/, c('hand')],
];

/** The category of an emoji; an error naming the sub-category when it has none. */
export function categoryOf(e: Pick<EmojiInfo, 'subcategory' | 'name'>): Category {
  for (const [re, cat] of BY_SUBCATEGORY) if (re.test(e.subcategory)) return cat;
  throw new Error(`categoryOf: no category for sub-category '${e.subcategory}' (emoji '${e.name}')`);
}

/** The category word with its article: "an animal", "a vehicle". */
export function categoryWithArticle(cat: Category): string {
  return `${indefiniteArticle(cat.word)} ${cat.word}`;
}

/** Every category, once, in table order. */
export const CATEGORIES: readonly Category[] = BY_SUBCATEGORY.map(([, cat]) => cat);
