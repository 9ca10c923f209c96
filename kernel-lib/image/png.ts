/**
 * PNG in and out (sharp), and PNG image grids for previews (originals above reconstructions, samples).
 * Transparent pixels are composited on white, as in the data sets. Encoding and grids reuse the display
 * layer's image helpers; this file adds decoding and the RGBImage (data layer) shape.
 */
import sharp from 'sharp';
import type { RGBImage } from '../data/image';
import { imageGridPng as displayGridPng, imagePng } from '../display/image';

export interface ReadPngOptions {
  /**
   * Side of the square image to return. A PNG of another size is fitted inside it (aspect kept, white
   * borders, area-style downscaling by sharp); with `resize: false` it is an error instead.
   */
  size: number;
  resize?: boolean;
}

/** Decodes a PNG (or any format sharp reads) to a size×size RGB image on white. */
export async function readPng(png: Uint8Array, { size, resize = true }: ReadPngOptions): Promise<RGBImage> {
  if (!(png instanceof Uint8Array) || png.length === 0) throw new Error('readPng: expected non-empty PNG bytes');
  let img = sharp(png);
  const meta = await img.metadata().catch((e: Error) => {
    throw new Error(`readPng: not a readable image (${e.message})`);
  });
  if (meta.width !== size || meta.height !== size) {
    if (!resize) throw new Error(`readPng: image is ${meta.width}×${meta.height}, expected ${size}×${size}`);
    img = img.resize(size, size, { fit: 'contain', background: { r: 255, g: 255, b: 255, alpha: 1 }, kernel: 'lanczos3' });
  }
  const { data, info } = await img
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 3) {
    throw new Error(`readPng: decoded to ${info.width}×${info.height}×${info.channels}, expected ${size}×${size}×3`);
  }
  return { height: size, width: size, pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() };
}

/** PNG of an RGB image, optionally enlarged ×`scale` with nearest-neighbour (crisp pixels). */
export async function writePng(img: RGBImage, { scale = 1 }: { scale?: number } = {}): Promise<Uint8Array> {
  if (img.pixels.length !== img.height * img.width * 3) {
    throw new Error(`writePng: ${img.height}×${img.width} RGB needs ${img.height * img.width * 3} bytes, got ${img.pixels.length}`);
  }
  const buf = await imagePng({ width: img.width, height: img.height, data: img.pixels }, { scale });
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export interface GridOptions {
  /** Images per row (default: all in one row, at most 16). */
  cols?: number;
  /** Pixels between images, after scaling (default 2). */
  pad?: number;
  /** Nearest-neighbour enlargement (default 1). */
  scale?: number;
  /** One caption per image, drawn under it. */
  captions?: string[];
}

/**
 * A PNG of RGB images laid out in a grid (smaller images centred in their cell); the display layer's
 * imageGridPng does the drawing, so grids here look like every other grid in the notebooks.
 */
export async function imageGridPng(images: readonly RGBImage[], { cols, pad = 2, scale = 1, captions }: GridOptions = {}): Promise<Uint8Array> {
  if (images.length === 0) throw new Error('imageGridPng: no images');
  const buf = await displayGridPng(
    images.map((im) => ({ width: im.width, height: im.height, data: im.pixels })),
    { columns: cols ?? Math.min(16, images.length), padding: pad, scale, background: [160, 160, 160], captions },
  );
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
