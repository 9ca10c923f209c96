/**
 * Shared by the MUMU paper tests: the tiny LM (4×4 image codes, 32 codes) and tiny random decoder of the
 * MiniGPT-5 tests (fast stand-ins for mm-moe-small and ldm-emoji), a stand-in crop encoder (each crop's 4×4
 * area average, each cell's colour quantised to one of the 32 codes), and the multimodal prompts of a small
 * data build.
 */
import type { ImageCodes } from '../../kernel-lib/tokenizer';
import type { RGBImage } from '../../kernel-lib/image/types';
import { resizeArea } from '../../kernel-lib/image/rgb';
import { DataStore, ensureData } from '../../kernel-lib/data/store';
import { quiet, SMALL } from '../data/helpers';
export { tinyParts } from './minigpt5-helpers';

/** Crops → 4×4 codes in [0, 32): a deterministic function of the crop's colours. */
export function tinyCropEncoder(images: readonly RGBImage[]): ImageCodes[] {
  return images.map((img) => {
    const small = resizeArea(img, 4, 4);
    const codes = Array.from({ length: 16 }, (_, i) => {
      const [r, g, b] = small.pixels.subarray(i * 3, i * 3 + 3);
      return ((r >> 6) * 8 + (g >> 6) * 2 + (b >> 7)) % 32;
    });
    return { height: 4, width: 4, codes };
  });
}

/** A small data build (300 train scenes) in `dir`. */
export function smallStore(dir: string): Promise<DataStore> {
  return ensureData({ ...SMALL, cacheDir: dir, onProgress: quiet });
}
