/**
 * Prompt types for the multimodal tokenizer and the validation of prompt parts. Every message starts
 * with `prompt part i` so a notebook user can find the bad part in a long interleaved prompt.
 */
import { isObject, show } from './hf-json';

/** What a token is: text (BPE), image (a VQ code), or special (<bos>, <boi>, vokens, …). */
export type Modality = 'text' | 'image' | 'special';

export interface ImageCodes {
  height: number;
  width: number;
  /** Row-major, height·width codes, each in [0, numImageCodes). */
  codes: number[];
}

export type PromptPart = { text: string } | { image: ImageCodes };
/** A string means one text part. */
export type Prompt = string | PromptPart[];

/** Adjacent text parts joined with a space, so texts given one after another (a lead, a narration) read as one run. */
export function joinTextParts(parts: readonly PromptPart[]): PromptPart[] {
  const out: PromptPart[] = [];
  for (const p of parts) {
    const last = out.length > 0 ? out[out.length - 1] : undefined; // (no .at(): widgets/ compiles this for an ES2020 DOM target)
    if ('text' in p && last && 'text' in last) out[out.length - 1] = { text: `${last.text} ${p.text}` };
    else out.push(p);
  }
  return out;
}

/** Where an image-code token sits in its image. */
export interface GridPos {
  /** Index of the image among the prompt's images (0 = first image). */
  image: number;
  row: number;
  col: number;
}

/** One entry per token, aligned: ids[i] has modality modalities[i] and grid position grid[i]. */
export interface EncodedPrompt {
  ids: number[];
  modalities: Modality[];
  /** Position in its image for image codes; null for text and special tokens (including <boi>/<eoi>). */
  grid: (GridPos | null)[];
}

export const NO_IMAGES = 'this tokenizer has no image vocabulary; call extendWithImages first';

/** Normalises a Prompt to its parts (a string is one text part). */
export function promptParts(prompt: Prompt): unknown[] {
  if (typeof prompt === 'string') return [{ text: prompt }];
  if (!Array.isArray(prompt)) throw new Error(`prompt must be a string or an array of parts, got ${show(prompt)}`);
  return prompt;
}

/** 'text' or 'image'; anything else (including a part with both keys) is refused. */
export function partKind(part: unknown, index: number): 'text' | 'image' {
  if (isObject(part)) {
    const hasText = 'text' in part;
    const hasImage = 'image' in part;
    if (hasText && !hasImage && typeof part.text === 'string') return 'text';
    if (hasImage && !hasText) return 'image';
  }
  throw new Error(`prompt part ${index} must be {text} or {image}`);
}

/** Validates an image part against the tokenizer's code range (0 = no image vocabulary). */
export function checkImage(image: unknown, index: number, numImageCodes: number): ImageCodes {
  const where = `prompt part ${index}`;
  if (numImageCodes === 0) throw new Error(`${where}: ${NO_IMAGES}`);
  if (!isObject(image)) throw new Error(`${where}: image must be {height, width, codes}, got ${show(image)}`);
  const { height, width, codes } = image;
  for (const [name, v] of [['height', height], ['width', width]] as const) {
    if (!Number.isInteger(v) || (v as number) <= 0) {
      throw new Error(`${where}: image ${name} must be a positive integer, got ${show(v)}`);
    }
  }
  const h = height as number;
  const w = width as number;
  if (!Array.isArray(codes)) throw new Error(`${where}: image codes must be an array, got ${show(codes)}`);
  if (codes.length !== h * w) {
    throw new Error(`${where}: image codes length ${codes.length} does not match height×width ${h}×${w} = ${h * w}`);
  }
  codes.forEach((c: unknown, i) => {
    if (!Number.isInteger(c)) throw new Error(`${where}: image code ${show(c)} at index ${i} is not an integer`);
    if ((c as number) < 0 || (c as number) >= numImageCodes) {
      throw new Error(`${where}: image code ${c} at index ${i} is outside [0, ${numImageCodes})`);
    }
  });
  return { height: h, width: w, codes: codes as number[] };
}
