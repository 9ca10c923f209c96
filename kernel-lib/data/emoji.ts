/**
 * The emoji data set: every Twemoji image in emoji-datasource-twitter's 32 px clean sheet (base emoji and
 * their skin-tone variants, ~3.8k), alpha composited on white, with captions from templates. Splits are by
 * *base* emoji (hash of its code points), so all skin tones of an emoji land in the same split.
 *
 * Sheet geometry: cells are 34 px apart, a 32 px image with 1 px of transparent padding on each side, so
 * the image at (sheet_x, sheet_y) starts at (34·sheet_x + 1, 34·sheet_y + 1).
 */
import fs from 'fs';
import sharp from 'sharp';
import { IMAGE_BYTES, IMAGE_SIZE } from './image';
import { compositeOnWhite } from '../image/rgb';
import { categoryPhrase, countryPhrase, nameFromKeyword, SKIN_TONES, toneWords, withArticle } from './names';
import { EMOJI_PACKAGE, EMOJILIB_PACKAGE, packageFile } from './paths';
import { unitHash } from '../util/random';

export type Split = 'train' | 'val' | 'test';
export const SPLITS: readonly Split[] = ['train', 'val', 'test'];

/** Fractions of base emoji (and of object pairs, in scenes) held out for val and test. */
export const HELD_OUT = { val: 0.1, test: 0.1 } as const;

/** Split of a key by hash: [0, 0.8) train, [0.8, 0.9) val, [0.9, 1) test. */
export function splitOf(key: string): Split {
  const u = unitHash(key);
  if (u < 1 - HELD_OUT.val - HELD_OUT.test) return 'train';
  return u < 1 - HELD_OUT.test ? 'val' : 'test';
}

export interface EmojiInfo {
  /** Row of this image in the emoji pixel table. */
  index: number;
  /** This image's code points, e.g. "1F44D-1F3FF". */
  unified: string;
  /** The base emoji's code points (the same for all its skin tones); the split key. */
  base: string;
  /** The emoji itself as text. */
  glyph: string;
  /** Caption name without article: "tiger face", "thumbs up", "flag of Brazil". */
  name: string;
  /** The name as a noun phrase: "a tiger face", "thumbs up", "the flag of Brazil". */
  phrase: string;
  /** Skin-tone words of this variant, e.g. ["dark"] or ["light", "medium-dark"]; [] for the base. */
  tones: string[];
  category: string;
  subcategory: string;
  /** emoji-datasource's short name (`tiger`, `+1`, `flag-br`). */
  shortName: string;
  /** emojilib keywords of the base emoji. */
  keywords: string[];
  /** Caption variants; captions[0] is the canonical one. */
  captions: string[];
  split: Split;
}

interface RawVariant {
  unified: string;
  sheet_x: number;
  sheet_y: number;
  has_img_twitter?: boolean;
}

interface RawEmoji extends RawVariant {
  name: string;
  non_qualified: string | null;
  short_name: string;
  category: string;
  subcategory: string;
  sort_order: number;
  skin_variations?: Record<string, RawVariant>;
}

export function glyphOf(unified: string): string {
  return String.fromCodePoint(...unified.split('-').map((h) => parseInt(h, 16)));
}

function baseName(raw: RawEmoji, keywords: string[]): string {
  if (raw.category === 'Component' && raw.subcategory === 'skin-tone') {
    return `${SKIN_TONES.get(raw.unified) ?? 'unknown'} skin tone`;
  }
  if (raw.subcategory === 'country-flag' || raw.subcategory === 'subdivision-flag') {
    return `flag of ${countryPhrase(raw.name.replace(/ Flag$/, ''))}`;
  }
  if (raw.subcategory === 'keycap') {
    const suffix = keywords[0]?.replace(/^keycap_?/, '') || glyphOf(raw.unified)[0];
    return `keycap ${suffix}`;
  }
  if (raw.name.includes(':')) return raw.name.toLowerCase(); // "family: man, boy, boy" (CLDR style)
  return keywords.length > 0 ? nameFromKeyword(keywords[0]) : raw.name.toLowerCase();
}

function phraseOf(name: string): string {
  return name.startsWith('flag of ') ? `the ${name}` : withArticle(name);
}

function captionsFor(name: string, phrase: string, tones: string[], raw: RawEmoji): string[] {
  if (raw.subcategory === 'skin-tone') return [name, `an emoji of ${phrase}`, `${phrase} swatch`];
  if (tones.length > 0) {
    const words = toneWords(tones);
    return [`${name}, ${words}`, `an emoji of ${phrase}, ${words}`, `${phrase} with ${words.replace(', ', ' and ')}`];
  }
  if (name.startsWith('flag of ')) return [phrase, `an emoji of ${phrase}`, `${phrase}, a flag emoji`];
  return [`an emoji of ${phrase}`, phrase, `${phrase}, ${categoryPhrase(raw.category, raw.subcategory)}`];
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** Every image in the sheet with its names and captions, in Unicode's sort order (variants after their base). */
export function emojiCatalog(): EmojiInfo[] {
  const raw = readJson<RawEmoji[]>(packageFile(EMOJI_PACKAGE, 'emoji.json'));
  const lib = readJson<Record<string, string[]>>(packageFile(EMOJILIB_PACKAGE, 'dist/emoji-en-US.json'));
  const sorted = raw.filter((r) => r.has_img_twitter !== false).sort((a, b) => a.sort_order - b.sort_order);
  const out: EmojiInfo[] = [];
  for (const r of sorted) {
    const keywords = lib[glyphOf(r.unified)] ?? (r.non_qualified ? lib[glyphOf(r.non_qualified)] : undefined) ?? [];
    const name = baseName(r, keywords);
    const phrase = phraseOf(name);
    const variants: Array<[RawVariant, string[]]> = [[r, []]];
    for (const key of Object.keys(r.skin_variations ?? {}).sort()) {
      const v = (r.skin_variations as Record<string, RawVariant>)[key];
      if (v.has_img_twitter === false) continue;
      variants.push([v, key.split('-').map((t) => SKIN_TONES.get(t) ?? t)]);
    }
    for (const [v, tones] of variants) {
      out.push({
        index: out.length,
        unified: v.unified,
        base: r.unified,
        glyph: glyphOf(v.unified),
        name,
        phrase,
        tones,
        category: r.category,
        subcategory: r.subcategory,
        shortName: r.short_name,
        keywords: keywords.slice(1),
        captions: captionsFor(name, phrase, tones, r),
        split: splitOf(`emoji:${r.unified}`),
      });
    }
  }
  return out;
}

/** Where each catalog entry sits in the sheet (variants carry their own coordinates). */
function sheetCells(): Map<string, [number, number]> {
  const cells = new Map<string, [number, number]>();
  for (const r of readJson<RawEmoji[]>(packageFile(EMOJI_PACKAGE, 'emoji.json'))) {
    cells.set(r.unified, [r.sheet_x, r.sheet_y]);
    for (const v of Object.values(r.skin_variations ?? {})) cells.set(v.unified, [v.sheet_x, v.sheet_y]);
  }
  return cells;
}

export const SHEET_FILE = 'img/twitter/sheets-clean/32.png';
const CELL = IMAGE_SIZE + 2;

/**
 * Cuts every catalog image out of the sheet: `pixels` holds catalog.length images of IMAGE_BYTES each, in
 * catalog order. Images that are fully transparent in the sheet (none in Twemoji 16) are reported.
 */
export async function cutEmojiSheet(catalog: readonly EmojiInfo[]): Promise<{ pixels: Uint8Array; blank: string[] }> {
  const { data, info } = await sharp(packageFile(EMOJI_PACKAGE, SHEET_FILE)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const rgba = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const cells = sheetCells();
  const pixels = new Uint8Array(catalog.length * IMAGE_BYTES);
  const blank: string[] = [];
  for (const e of catalog) {
    const cell = cells.get(e.unified);
    if (!cell) throw new Error(`emoji ${e.unified} has no sheet position in emoji.json`);
    const x0 = cell[0] * CELL + 1;
    const y0 = cell[1] * CELL + 1;
    if (x0 + IMAGE_SIZE > info.width || y0 + IMAGE_SIZE > info.height) {
      throw new Error(`emoji ${e.unified} at sheet cell (${cell[0]}, ${cell[1]}) is outside the ${info.width}×${info.height} sheet`);
    }
    let opaque = false;
    for (let y = 0; y < IMAGE_SIZE && !opaque; y++) {
      for (let x = 0; x < IMAGE_SIZE; x++) if (rgba[((y0 + y) * info.width + x0 + x) * 4 + 3] > 0) opaque = true;
    }
    if (!opaque) blank.push(e.unified);
    pixels.set(compositeOnWhite(rgba, info.width, x0, y0, IMAGE_SIZE).pixels, e.index * IMAGE_BYTES);
  }
  return { pixels, blank };
}
