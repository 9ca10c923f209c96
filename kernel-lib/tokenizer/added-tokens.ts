/**
 * The tokens a MultimodalTokenizer appends after the BPE vocabulary, their order, and the
 * TokenizerLayout that records where each range starts (saved in the checkpoint config's `switchboard`
 * block, since the image grid has no place in tokenizer.json). Id layout, with V = textVocabSize and
 * K = numImageCodes:
 *
 *   0 .. V-1             BPE text tokens
 *   V, V+1, V+2          <bos> <eos> <pad>                 every tokenizer
 *   V+3, V+4, V+5        <boi> <eoi> <img>                 with an image vocabulary only
 *   V+6 .. V+5+K         <img_0> … <img_{K-1}>             image codes
 *   V+6+K ..             [IMG1] … [IMGn]                   vokens (n = numVokens, may be 0)
 *   last (optional)      <unconditional>                   Liquid's empty condition for classifier-free
 *                                                          guidance (withUnconditional); absent in every
 *                                                          checkpoint made before it, which load unchanged
 *
 * Appending keeps every earlier id fixed: adding images to a text tokenizer leaves text ids and
 * <bos>/<eos>/<pad> where they were, so a text model's embedding rows stay valid.
 */
import { fail, isObject, show } from './hf-json';

export interface ImageGrid {
  height: number;
  width: number;
}

export interface ImageVocabulary {
  numImageCodes: number;
  /** The image tokenizer's code grid; an image is height·width codes, row-major. */
  grid: ImageGrid;
  numVokens: number;
}

export interface TokenizerLayout {
  textVocabSize: number;
  numImageCodes: number;
  imageGrid: ImageGrid | null;
  numVokens: number;
  specials: { bos: number; eos: number; pad: number; boi?: number; eoi?: number; img?: number; unconditional?: number };
  imageCodeStart: number | null;
  vokenStart: number | null;
}

export const TEXT_SPECIALS = ['<bos>', '<eos>', '<pad>'] as const;
export const IMAGE_SPECIALS = ['<boi>', '<eoi>', '<img>'] as const;
/** Liquid's condition-free prompt token: a caption dropped for classifier-free guidance is replaced by it. */
export const UNCONDITIONAL_TOKEN = '<unconditional>';
/** Offset of the first image code from textVocabSize. */
export const IMAGE_CODE_OFFSET = TEXT_SPECIALS.length + IMAGE_SPECIALS.length;

export const imageCodeName = (code: number): string => `<img_${code}>`;
export const vokenName = (n: number): string => `[IMG${n}]`;

const isPositiveInt = (x: unknown): x is number => Number.isInteger(x) && (x as number) > 0;

/** Added-token names in id order. */
export function addedTokenNames(image: ImageVocabulary | null, unconditional = false): string[] {
  const names: string[] = [...TEXT_SPECIALS];
  if (image !== null) {
    names.push(...IMAGE_SPECIALS);
    for (let k = 0; k < image.numImageCodes; k++) names.push(imageCodeName(k));
    for (let n = 1; n <= image.numVokens; n++) names.push(vokenName(n));
  }
  if (unconditional) names.push(UNCONDITIONAL_TOKEN);
  return names;
}

export function layoutOf(
  textVocabSize: number,
  numImageCodes: number,
  numVokens: number,
  imageGrid: ImageGrid | null,
  unconditional = false,
): TokenizerLayout {
  const V = textVocabSize;
  const hasImages = numImageCodes > 0;
  const layout: TokenizerLayout = {
    textVocabSize: V,
    numImageCodes,
    imageGrid: imageGrid && { height: imageGrid.height, width: imageGrid.width },
    numVokens,
    specials: hasImages
      ? { bos: V, eos: V + 1, pad: V + 2, boi: V + 3, eoi: V + 4, img: V + 5 }
      : { bos: V, eos: V + 1, pad: V + 2 },
    imageCodeStart: hasImages ? V + IMAGE_CODE_OFFSET : null,
    vokenStart: hasImages && numVokens > 0 ? V + IMAGE_CODE_OFFSET + numImageCodes : null,
  };
  // Last of all, so every other id is where it was without it.
  if (unconditional) {
    layout.specials.unconditional = V + (hasImages ? IMAGE_CODE_OFFSET + numImageCodes + numVokens : TEXT_SPECIALS.length);
  }
  return layout;
}

/** Validates extendWithImages options. */
export function checkImageOptions(opts: {
  numImageCodes: number;
  grid: ImageGrid;
  numVokens?: number;
}): ImageVocabulary {
  const { numImageCodes, grid, numVokens = 0 } = opts;
  if (!isPositiveInt(numImageCodes)) {
    throw new Error(`extendWithImages: numImageCodes must be a positive integer, got ${show(numImageCodes)}`);
  }
  if (!isObject(grid) || !isPositiveInt(grid.height) || !isPositiveInt(grid.width)) {
    throw new Error(`extendWithImages: grid must be {height, width} of positive integers, got ${show(grid)}`);
  }
  if (!Number.isInteger(numVokens) || numVokens < 0) {
    throw new Error(`extendWithImages: numVokens must be a non-negative integer, got ${show(numVokens)}`);
  }
  return { numImageCodes, grid: { height: grid.height, width: grid.width }, numVokens };
}

/**
 * Reads tokenizer.json's added_tokens: they must be exactly the table above, with ids continuing from
 * model.vocab. Returns the sizes of the image-code and voken ranges (0 for a text-only tokenizer).
 */
export function parseAddedTokens(
  added: unknown,
  textVocabSize: number,
): { numImageCodes: number; numVokens: number; unconditional: boolean } {
  if (!Array.isArray(added)) fail(`added_tokens must be an array, got ${show(added)}`);
  const entries = added.map((t: unknown, i) => {
    if (!isObject(t) || !Number.isInteger(t.id) || typeof t.content !== 'string') {
      fail(`added_tokens[${i}] must have an integer id and a string content, got ${show(t)}`);
    }
    return { id: t.id as number, content: t.content };
  });
  entries.sort((x, y) => x.id - y.id);
  entries.forEach(({ id, content }, i) => {
    const want = textVocabSize + i;
    if (id !== want) {
      fail(`added token ${show(content)} has id ${id}; expected ${want} (added tokens follow model.vocab without gaps)`);
    }
  });
  const names = entries.map((e) => e.content);
  // <unconditional> may only come last; the rest is read as without it.
  const unconditional = names.length > TEXT_SPECIALS.length && names[names.length - 1] === UNCONDITIONAL_TOKEN;
  if (unconditional) names.pop();
  const misplacedUnconditional = names.indexOf(UNCONDITIONAL_TOKEN);
  if (misplacedUnconditional >= 0) {
    fail(`added_tokens: ${show(UNCONDITIONAL_TOKEN)} has id ${textVocabSize + misplacedUnconditional}; it must be the last added token`);
  }
  const misplaced = (i: number, ...expected: string[]): never => {
    const id = textVocabSize + i;
    const want = expected.map(show).join(' or ');
    return i < names.length
      ? fail(`added_tokens: id ${id} is ${show(names[i])}; expected ${want}`)
      : fail(`added_tokens: missing id ${id}; expected ${want}`);
  };
  TEXT_SPECIALS.forEach((name, i) => {
    if (names[i] !== name) misplaced(i, name);
  });
  if (names.length === TEXT_SPECIALS.length) return { numImageCodes: 0, numVokens: 0, unconditional };
  IMAGE_SPECIALS.forEach((name, j) => {
    const i = TEXT_SPECIALS.length + j;
    if (names[i] !== name) misplaced(i, name);
  });
  let k = 0;
  while (names[IMAGE_CODE_OFFSET + k] === imageCodeName(k)) k++;
  if (k === 0) misplaced(IMAGE_CODE_OFFSET, imageCodeName(0));
  let n = 0;
  while (names[IMAGE_CODE_OFFSET + k + n] === vokenName(n + 1)) n++;
  const end = IMAGE_CODE_OFFSET + k + n;
  if (end < names.length) {
    if (n === 0) misplaced(end, imageCodeName(k), vokenName(1));
    else misplaced(end, vokenName(n + 1));
  }
  return { numImageCodes: k, numVokens: n, unconditional };
}

/**
 * Cross-checks a checkpoint's layout against the one tokenizer.json implies (every field but
 * imageGrid, which only the layout holds) and returns the validated grid (null without images).
 */
export function checkLayout(expected: TokenizerLayout, given: unknown): ImageGrid | null {
  if (!isObject(given)) throw new Error(`layout must be an object, got ${show(given)}`);
  const same = (field: string, want: unknown, got: unknown): void => {
    // JSON has no undefined: an absent optional special and a null one mean the same.
    if ((want ?? null) !== (got ?? null)) {
      throw new Error(`layout.${field} is ${show(got)} but tokenizer.json has ${show(want ?? null)}`);
    }
  };
  same('textVocabSize', expected.textVocabSize, given.textVocabSize);
  same('numImageCodes', expected.numImageCodes, given.numImageCodes);
  same('numVokens', expected.numVokens, given.numVokens);
  const specials = given.specials;
  if (!isObject(specials)) throw new Error(`layout.specials must be an object, got ${show(specials)}`);
  for (const key of ['bos', 'eos', 'pad', 'boi', 'eoi', 'img', 'unconditional'] as const) {
    same(`specials.${key}`, expected.specials[key], specials[key]);
  }
  same('imageCodeStart', expected.imageCodeStart, given.imageCodeStart);
  same('vokenStart', expected.vokenStart, given.vokenStart);

  const grid = given.imageGrid;
  if (expected.numImageCodes === 0) {
    if (grid !== null && grid !== undefined) {
      throw new Error(`layout.imageGrid must be null for a tokenizer without images, got ${show(grid)}`);
    }
    return null;
  }
  if (!isObject(grid) || !isPositiveInt(grid.height) || !isPositiveInt(grid.width)) {
    throw new Error(`layout.imageGrid must be {height, width} of positive integers, got ${show(grid)}`);
  }
  return { height: grid.height, width: grid.width };
}
