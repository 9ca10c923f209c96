/**
 * Images for notebooks: host pixel arrays → PNG through sharp, nearest-neighbour upscaling (tiny images
 * and image-code grids stay crisp), and grids of images with padding and optional captions. Shown as
 * image/png outputs, so they survive in the saved .ipynb and in nbconvert's HTML.
 */
import sharp from 'sharp';
import type { DisplayTarget } from './env';
import { resolveDisplay } from './env';
import type { RGB } from './colors';

/**
 * Pixels, row-major and interleaved (`data[(y·width + x)·channels + c]`). Integer arrays are 0–255;
 * Float32Array values are mapped from `range` (default [0, 1]) to 0–255, clamped.
 */
export interface PixelData {
  width: number;
  height: number;
  /** 1 (grey), 3 (RGB, default) or 4 (RGBA; alpha is dropped onto the background). */
  channels?: 1 | 3 | 4;
  data: Uint8Array | Uint8ClampedArray | Float32Array | readonly number[];
}

/** Pixels to show: `data` with channels, or a dataset / VQ-VAE image (`pixels`, 8-bit RGB). */
export type PixelImage = PixelData | { width: number; height: number; pixels: Uint8Array };

/** An RGB image with 8-bit channels: what everything is converted to before encoding. */
export interface RgbBytes {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface ToRgbOptions {
  /** Value range of float data (default [0, 1]). */
  range?: [number, number];
  /** Colour under transparent pixels of RGBA input (default white). */
  background?: RGB;
}

/** Checks the shape and converts to 8-bit RGB. */
export function toRgb(image: PixelImage, opts: ToRgbOptions = {}): RgbBytes {
  const img: PixelData = 'pixels' in image ? { width: image.width, height: image.height, channels: 3, data: image.pixels } : image;
  const { width: W, height: H } = img;
  const C = img.channels ?? 3;
  if (!Number.isInteger(W) || !Number.isInteger(H) || W < 1 || H < 1) throw new Error(`image size must be positive integers, got ${W}×${H}`);
  if (![1, 3, 4].includes(C)) throw new Error(`image channels must be 1, 3 or 4, got ${C}`);
  if (img.data.length !== W * H * C) {
    throw new Error(`image data has ${img.data.length} values; a ${W}×${H} image with ${C} channels needs ${W * H * C}`);
  }
  const [lo, hi] = opts.range ?? [0, 1];
  const isFloat = img.data instanceof Float32Array;
  if (isFloat && !(hi > lo)) throw new Error(`range must have hi > lo, got [${lo}, ${hi}]`);
  const byte = (v: number): number => {
    const x = isFloat ? ((v - lo) / (hi - lo)) * 255 : v;
    return Number.isFinite(x) ? Math.min(255, Math.max(0, Math.round(x))) : 0;
  };
  const bg = opts.background ?? [255, 255, 255];
  const out = new Uint8Array(W * H * 3);
  for (let p = 0; p < W * H; p++) {
    if (C === 1) {
      out.fill(byte(img.data[p]), p * 3, p * 3 + 3);
      continue;
    }
    const a = C === 4 ? byte(img.data[p * 4 + 3]) / 255 : 1;
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.round(byte(img.data[p * C + c]) * a + bg[c] * (1 - a));
  }
  return { width: W, height: H, data: out };
}

/** Nearest-neighbour upscaling by an integer factor: every pixel becomes a factor×factor block. */
export function upscaleNearest(img: RgbBytes, factor: number): RgbBytes {
  if (!Number.isInteger(factor) || factor < 1) throw new Error(`scale must be a positive integer, got ${factor}`);
  if (factor === 1) return img;
  const W = img.width * factor;
  const H = img.height * factor;
  const out = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    const sy = Math.floor(y / factor);
    for (let x = 0; x < W; x++) {
      const s = (sy * img.width + Math.floor(x / factor)) * 3;
      const d = (y * W + x) * 3;
      out[d] = img.data[s];
      out[d + 1] = img.data[s + 1];
      out[d + 2] = img.data[s + 2];
    }
  }
  return { width: W, height: H, data: out };
}

export interface ImageOptions extends ToRgbOptions {
  /** Integer nearest-neighbour upscaling factor (default 1). */
  scale?: number;
}

export function rgbPng(img: RgbBytes): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer();
}

/** PNG bytes of an image (upscaled when `scale` > 1). */
export function imagePng(img: PixelImage, opts: ImageOptions = {}): Promise<Buffer> {
  return rgbPng(upscaleNearest(toRgb(img, opts), opts.scale ?? 1));
}

export interface GridOptions extends ImageOptions {
  /** Images per row (default: up to 8, as square as possible). */
  columns?: number;
  /** Pixels between and around cells, after scaling (default 2). */
  padding?: number;
  background?: RGB;
  /** One per image, drawn under it. */
  captions?: string[];
  /** Height of the caption strip in pixels (default 16 when there are captions). */
  captionHeight?: number;
}

/** Layout of a grid: cell size and where cell i's image goes. */
export function gridLayout(sizes: { width: number; height: number }[], opts: { columns?: number; padding?: number; captionHeight?: number }) {
  const n = sizes.length;
  const cols = opts.columns ?? Math.min(8, Math.ceil(Math.sqrt(n)));
  if (!Number.isInteger(cols) || cols < 1) throw new Error(`columns must be a positive integer, got ${cols}`);
  const pad = opts.padding ?? 2;
  if (!Number.isInteger(pad) || pad < 0) throw new Error(`padding must be an integer ≥ 0, got ${pad}`);
  const cap = opts.captionHeight ?? 0;
  const rows = Math.ceil(n / cols);
  const cellW = Math.max(...sizes.map((s) => s.width));
  const cellH = Math.max(...sizes.map((s) => s.height));
  const width = pad + cols * (cellW + pad);
  const height = pad + rows * (cellH + cap + pad);
  const cells = sizes.map((s, i) => {
    const left = pad + (i % cols) * (cellW + pad);
    const top = pad + Math.floor(i / cols) * (cellH + cap + pad);
    // Smaller images are centred in their cell.
    return { left: left + Math.floor((cellW - s.width) / 2), top: top + Math.floor((cellH - s.height) / 2), captionTop: top + cellH, cellLeft: left };
  });
  return { width, height, cellW, cellH, cols, rows, cells };
}

/** A grid of images as one PNG: upscaled, padded, captions (escaped) under each image. */
export async function imageGridPng(images: PixelImage[], opts: GridOptions = {}): Promise<Buffer> {
  if (images.length === 0) throw new Error('imageGrid needs at least one image');
  if (opts.captions && opts.captions.length !== images.length) {
    throw new Error(`imageGrid: ${opts.captions.length} captions for ${images.length} images`);
  }
  const scaled = images.map((im) => upscaleNearest(toRgb(im, opts), opts.scale ?? 1));
  const captionHeight = opts.captions ? (opts.captionHeight ?? 16) : 0;
  const g = gridLayout(scaled, { ...opts, captionHeight });
  const bg = opts.background ?? [255, 255, 255];
  const canvas = new Uint8Array(g.width * g.height * 3);
  for (let p = 0; p < g.width * g.height; p++) canvas.set(bg, p * 3);
  scaled.forEach((im, i) => {
    const { left, top } = g.cells[i];
    for (let y = 0; y < im.height; y++) {
      canvas.set(im.data.subarray(y * im.width * 3, (y + 1) * im.width * 3), ((top + y) * g.width + left) * 3);
    }
  });
  let png = sharp(canvas, { raw: { width: g.width, height: g.height, channels: 3 } });
  if (opts.captions) png = png.composite([{ input: Buffer.from(captionsSvg(g, opts.captions, captionHeight)), top: 0, left: 0 }]);
  return png.png().toBuffer();
}

function captionsSvg(g: ReturnType<typeof gridLayout>, captions: string[], h: number): string {
  const size = Math.max(8, Math.min(12, h - 4));
  const maxChars = Math.max(1, Math.floor(g.cellW / (size * 0.6)));
  const texts = captions.map((c, i) => {
    const { cellLeft, captionTop } = g.cells[i];
    const t = c.length > maxChars ? `${c.slice(0, Math.max(1, maxChars - 1))}…` : c;
    return `<text x="${cellLeft + g.cellW / 2}" y="${captionTop + h - 4}" text-anchor="middle">${escapeXml(t)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${g.width}" height="${g.height}" font-family="DejaVu Sans, sans-serif" font-size="${size}" fill="#222">${texts.join('')}</svg>`;
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

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
