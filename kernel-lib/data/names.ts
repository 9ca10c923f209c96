/**
 * English for captions: emoji names as noun phrases ("a tiger face", "an apple", "thumbs up", "the flag of
 * Brazil"), skin-tone words and category phrases. Rules are small heuristics over CLDR-style names; they
 * are right for the common cases and harmless when wrong (a caption reads "a dashing away").
 */

/** Emoji skin-tone modifiers (Fitzpatrick types) and their CLDR words. */
export const SKIN_TONES: ReadonlyMap<string, string> = new Map([
  ['1F3FB', 'light'],
  ['1F3FC', 'medium-light'],
  ['1F3FD', 'medium'],
  ['1F3FE', 'medium-dark'],
  ['1F3FF', 'dark'],
]);

/** "light skin tone" or, for two people, "light skin tone, dark skin tone" (CLDR's way). */
export function toneWords(tones: readonly string[]): string {
  const distinct = tones.filter((t, i) => tones.indexOf(t) === i);
  return distinct.map((t) => `${t} skin tone`).join(', ');
}

/** Words that start a modifier, so the noun before them is the head of the phrase. */
const MODIFIER = / (with|in|of|on|at|facing|holding|showing|pointing|wearing|behind|under|over|and|from|for|without)( |$)/;
/** Particles after the head noun ("thumbs up", "dashing away"). */
const PARTICLES = new Set(['up', 'down', 'left', 'right', 'away', 'off', 'out']);
/** Words ending in s that are singular (bus, dress, iris, woman's, rightwards). */
const SINGULAR_S = /(ss|us|is|'s|wards)$/;
const PLURAL_WORDS = new Set(['people', 'men', 'women', 'children', 'feet', 'teeth']);
const SINGULAR_WORDS = new Set(['rhinoceros', 'hippopotamus', 'bus', 'lotus', 'canvas', 'atlas', 'news']);

/** True when the name reads as plural or mass ("thumbs up", "sparkles", "people hugging"): no article. */
export function isPlural(name: string): boolean {
  const words = name.split(':')[0].split(MODIFIER)[0].split(' ');
  while (words.length > 1 && PARTICLES.has(words[words.length - 1])) words.pop();
  const last = words[words.length - 1];
  if (PLURAL_WORDS.has(words[0]) || PLURAL_WORDS.has(last)) return true;
  return last.length > 2 && last.endsWith('s') && !SINGULAR_S.test(last) && !SINGULAR_WORDS.has(last);
}

/** "a" or "an" for a word, by sound as far as spelling tells. */
export function indefiniteArticle(word: string): 'a' | 'an' {
  const w = word.toLowerCase();
  if (/^(uni|use|usu|eu|one|once|u\.)/.test(w)) return 'a';
  if (/^(hour|honest|honou?r|herb)/.test(w)) return 'an';
  if (/^[8]/.test(w) || /^(11|18)(\D|$)/.test(w)) return 'an';
  return /^[aeiou]/.test(w) ? 'an' : 'a';
}

/** The name with an article where English wants one: "a tiger", "an apple", "thumbs up", "the flag of Chad". */
export function withArticle(name: string): string {
  if (/^(the|a|an) /.test(name) || isPlural(name)) return name;
  return `${indefiniteArticle(name)} ${name}`;
}

/** "the" before country names that take it: "the flag of the United States", "the Gambia". */
export function countryPhrase(country: string): string {
  const takesThe =
    /(Islands|Republic|Emirates|Kingdom|States|Netherlands|Philippines|Bahamas|Maldives|Comoros|Seychelles|Union|Nations|Territories|Territory)$/.test(
      country,
    ) || /^(Isle of|Gambia$)/.test(country);
  return takesThe ? `the ${country}` : country;
}

/** A short phrase for a category, used in the third caption template ("a tiger face, an animal emoji"). */
export function categoryPhrase(category: string, subcategory: string): string {
  if (subcategory.startsWith('animal-')) return 'an animal emoji';
  if (subcategory.startsWith('plant-')) return 'a plant emoji';
  if (subcategory.startsWith('face-') || subcategory.endsWith('-face')) return 'a face emoji';
  const byCategory: Record<string, string> = {
    'Smileys & Emotion': 'a smiley emoji',
    'People & Body': 'a people emoji',
    'Food & Drink': 'a food emoji',
    'Travel & Places': 'a travel emoji',
    Activities: 'an activity emoji',
    Objects: 'an object emoji',
    Symbols: 'a symbol emoji',
    Flags: 'a flag emoji',
    Component: 'a skin tone emoji',
  };
  return byCategory[category] ?? 'an emoji';
}

/**
 * A CLDR-style name from an emojilib keyword (`woman_s_hat` → "woman's hat", `seven_o_clock` →
 * "seven o'clock"). emojilib drops apostrophes; these put the common ones back.
 */
export function nameFromKeyword(keyword: string): string {
  return keyword
    .replace(/_/g, ' ')
    .replace(/ +/g, ' ')
    .trim()
    .replace(/(\w) s( |$)/g, "$1's$2")
    .replace(/\bo clock\b/g, "o'clock");
}

/** Capitalises the first letter (narration sentences). */
export function sentenceCase(s: string): string {
  return s.length === 0 ? s : s[0].toUpperCase() + s.slice(1);
}
