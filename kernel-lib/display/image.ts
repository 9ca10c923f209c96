/**
 * Images for notebooks: any PixelImage shown as an image/png output (so it survives in the saved .ipynb
 * and in nbconvert's HTML). The encoding and the grid writer are the image layer's (image/png.ts).
 */
import type { DisplayTarget } from './env';
import { resolveDisplay } from './env';
import { imageGridPng, imagePng } from '../image/png';
import type { GridOptions, ImageOptions } from '../image/png';
import type { PixelImage } from '../image/types';

export { gridLayout, imageGridPng, imagePng, rgbPng, toRgb, upscaleNearest } from '../image/png';
export type { GridOptions, ImageOptions, ToRgbOptions } from '../image/png';
export type { PixelData, PixelImage } from '../image/types';

export async function showImage(img: PixelImage, opts: ImageOptions & { display?: DisplayTarget } = {}): Promise<void> {
  const png = await imagePng(img, opts);
  const s = opts.scale ?? 1;
  resolveDisplay(opts.display).show({ png, text: `[image ${img.width}×${img.height}${s > 1 ? `, shown ×${s}` : ''}]` });
}

export async function showImageGrid(images: PixelImage[], opts: GridOptions & { display?: DisplayTarget } = {}): Promise<void> {
  const png = await imageGridPng(images, opts);
  const caps = opts.captions ? `: ${opts.captions.join(' | ')}` : '';
  resolveDisplay(opts.display).show({ png, text: `[${images.length} images${caps}]` });
}
