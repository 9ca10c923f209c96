/**
 * Host-side inputs of the CLIP towers. The first image layer's patches and the text bags are built in
 * plain JS, because the input needs no gradient: an im2col of the pixels costs nothing here, whereas
 * gather/slice on large tensors is slow on the wasm backend.
 */
import type { RGBImage } from '../image/types';
import { resizeArea } from '../image/rgb';
import { ClipConfig, patchGrid } from './clip-config';

/** Grid position (row, column) of Morton index m: even bits are the column, odd bits the row. */
export function mortonToGrid(m: number): [number, number] {
  let y = 0;
  let x = 0;
  for (let bit = 0; bit < 16; bit++) {
    x |= ((m >> (2 * bit)) & 1) << bit;
    y |= ((m >> (2 * bit + 1)) & 1) << bit;
  }
  return [y, x];
}

/**
 * Overlapping patches of each image as rows of [B·G², P·P·3] (G = 8), pixels as *ink* 1 − v/255 so
 * that white and the zero padding agree. Rows of an image come in Morton (Z) order: each 2×2 block of
 * neighbours is 4 consecutive rows, and so is each 2×2 block of blocks — so the two merge layers are
 * plain reshapes, [B·64, w] → [B·16, 4w] → [B·4, 16w·…], with no transpose.
 *
 * `shifts` (optional, 2 per image: dy, dx) translates an image by whole pixels, white coming in from
 * the edge (training augmentation).
 */
export function imagePatches(images: readonly RGBImage[], c: ClipConfig, shifts?: ArrayLike<number>): Float32Array {
  const G = patchGrid(c);
  const P = c.patchSize;
  const S = c.imageSize;
  const rowLen = P * P * 3;
  const out = new Float32Array(images.length * G * G * rowLen);
  const grid = Array.from({ length: G * G }, (_, m) => mortonToGrid(m));
  images.forEach((raw, b) => {
    const img = raw.height === S && raw.width === S ? raw : resizeArea(raw, S, S);
    if (img.pixels.length !== S * S * 3) throw new Error(`imagePatches: image ${b} has ${img.pixels.length} bytes, expected ${S}×${S}×3`);
    const dy = shifts ? shifts[2 * b] : 0;
    const dx = shifts ? shifts[2 * b + 1] : 0;
    const px = img.pixels;
    for (let m = 0; m < G * G; m++) {
      const [gy, gx] = grid[m];
      let o = ((b * G * G) + m) * rowLen;
      for (let py = 0; py < P; py++) {
        const y = gy * c.patchStride - c.patchPad + py - dy;
        for (let pxi = 0; pxi < P; pxi++, o += 3) {
          const x = gx * c.patchStride - c.patchPad + pxi - dx;
          if (y < 0 || y >= S || x < 0 || x >= S) continue; // white: ink 0
          const s = (y * S + x) * 3;
          out[o] = 1 - px[s] / 255;
          out[o + 1] = 1 - px[s + 1] / 255;
          out[o + 2] = 1 - px[s + 2] / 255;
        }
      }
    }
  });
  return out;
}

/**
 * Token bags of the captions as rows of [2B, V]: row 2b weighs caption b's tokens towards its front,
 * row 2b+1 towards its back (position p ∈ [0, 1]: weights 2(1 − p)/L and 2p/L, so each row sums to 1
 * and their mean is the plain mean). Multiplied by the embedding table this is two mean-pooled
 * embeddings, and the interleaved order makes [2B, e] → [B, 2e] a reshape.
 */
export function textBags(tokenIds: readonly (readonly number[])[], vocabSize: number): Float32Array {
  const out = new Float32Array(2 * tokenIds.length * vocabSize);
  tokenIds.forEach((ids, b) => {
    const L = ids.length;
    for (let j = 0; j < L; j++) {
      const id = ids[j];
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new Error(`textBags: caption ${b} has token id ${id}, outside [0, ${vocabSize})`);
      const p = L > 1 ? j / (L - 1) : 0.5;
      out[2 * b * vocabSize + id] += (2 * (1 - p)) / L;
      out[(2 * b + 1) * vocabSize + id] += (2 * p) / L;
    }
  });
  return out;
}
