/** Synthetic RGB test images. */
import type { RGBImage } from '../../kernel-lib/image/types';

/** Blobs of colour on white: enough structure for a few training steps to mean something. */
export function synthImage(i: number, size = 32): RGBImage {
  const pixels = new Uint8Array(size * size * 3).fill(255);
  const cx = (i * 7) % size;
  const cy = (i * 13) % size;
  const r = 4 + (i % 6);
  const rgb = [(i * 50) % 256, (i * 90) % 256, (i * 140) % 256];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) pixels.set(rgb, (y * size + x) * 3);
    }
  }
  return { height: size, width: size, pixels };
}
