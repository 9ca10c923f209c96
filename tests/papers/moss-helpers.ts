/**
 * Shared by the MoSS paper tests: a stand-in instruction list with tiny 4×4 RGB images (the three task
 * shapes of data/instructions.ts: story, edit, continue) and an "encoder" that reads a 4×4 code grid
 * straight off the pixels, so the tiny test model (4×4 grid, 32 codes) can train on it.
 */
import type { Example } from '../../kernel-lib/data/example-list';
import type { InstructionKind, InstructionMeta } from '../../kernel-lib/data/instructions';
import type { RGBImage } from '../../kernel-lib/image';
import type { ImageCodes } from '../../kernel-lib/tokenizer';
import { moss } from '../../kernel-lib';
import { mulberry32 } from '../../kernel-lib/util/random';

/** A 4×4 image whose red channel carries codes drawn from `seed`. */
export function tinyImage(seed: number): RGBImage {
  const rand = mulberry32(seed);
  const pixels = new Uint8Array(4 * 4 * 3);
  for (let i = 0; i < 16; i++) pixels[i * 3] = Math.floor(rand() * 32);
  return { height: 4, width: 4, pixels };
}

/** The code grid of a tinyImage: its red channel. */
export function tinyCodes(im: RGBImage): ImageCodes {
  return { height: 4, width: 4, codes: Array.from({ length: 16 }, (_, i) => im.pixels[i * 3] % 32) };
}

/** Counts calls and images, so tests can see that items are coded once. */
export function countingEncoder(): { encode: moss.ImageEncoder; calls: number; images: number } {
  const e = {
    calls: 0,
    images: 0,
    encode: (imgs: readonly RGBImage[]) => {
      e.calls++;
      e.images += imgs.length;
      return imgs.map(tinyCodes);
    },
  };
  return e;
}

const WORDS = ['the cat sat', 'a red heart', 'an apple', 'the tiger', 'thumbs up'];

/** Example i of a stand-in instruction list: kinds cycle story, edit, continue. */
export function tinyExample(i: number): Example<InstructionMeta> {
  const kinds: InstructionKind[] = ['story', 'edit', 'continue'];
  const kind = kinds[i % 3];
  const w = (k: number) => WORDS[(i + k) % WORDS.length];
  const img = (k: number) => ({ image: tinyImage(1000 * i + k) });
  const scene = { objects: [] };
  const meta = (targetFrom: number): InstructionMeta => ({ kind, split: 'train', source: { set: kind === 'edit' ? 'scenes' : 'stories', index: i }, targetFrom, scene });
  if (kind === 'story') return { id: `tiny/story/${i}`, parts: [{ text: 'Continue the story.' }, { text: w(0) }, img(0), { text: w(1) }, img(1)], meta: meta(3) };
  if (kind === 'edit') return { id: `tiny/edit/${i}`, parts: [img(0), { text: `Change ${w(0)}.` }, img(1)], meta: meta(2) };
  return { id: `tiny/continue/${i}`, parts: [{ text: `Draw ${w(0)}.` }, img(0)], meta: meta(1) };
}

/** A stand-in instruction list of `n` tiny examples. */
export function tinySource(n: number): moss.InstructionSource {
  return { size: n, get: (i) => tinyExample(i) };
}
