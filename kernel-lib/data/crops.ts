/**
 * Crops: the pixels of a box cut out of an image. A scene knows every object's box (the generator placed
 * it), so cutting the box is an exact "detector" for MUMU-style prompts: the crop holds the object as the
 * scene shows it (shrunk, on the scene's white), never the original emoji.
 */
import { Box } from './layout';
import { RGBImage } from './image';

/** The pixels of `box` in `img`, as a new box.h × box.w image (a copy). */
export function cropImage(img: RGBImage, box: Box): RGBImage {
  const { x, y, w, h } = box;
  if (![x, y, w, h].every(Number.isInteger) || w < 1 || h < 1 || x < 0 || y < 0 || x + w > img.width || y + h > img.height) {
    throw new Error(`cropImage: box ${JSON.stringify(box)} is not inside the ${img.height}×${img.width} image`);
  }
  const pixels = new Uint8Array(w * h * 3);
  for (let r = 0; r < h; r++) {
    const from = ((y + r) * img.width + x) * 3;
    pixels.set(img.pixels.subarray(from, from + w * 3), r * w * 3);
  }
  return { height: h, width: w, pixels };
}
