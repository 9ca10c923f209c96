/**
 * Images ⇄ PNG (sharp): decoding to RGBImage (transparent pixels composited on white, as in the data
 * sets), encoding any PixelImage with crisp nearest-neighbour upscaling (tiny images and code grids stay
 * sharp), and the one grid writer every preview uses (notebooks, training previews, the CLI): images in
 * padded cells, smaller ones centred, optional captions.
 */
import sharp from 'sharp';
import type { PixelData, PixelImage, RGB, RGBImage } from './types';

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
  const buf = await imagePng(img, { scale });
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** The grey behind training previews and sample grids (between the white of blank images and black). */
export const PREVIEW_BACKGROUND: RGB = [160, 160, 160];

export interface ToRgbOptions {
  /** Value range of float data (default [0, 1]). */
  range?: [number, number];
  /** Colour under transparent pixels of RGBA input (default white). */
  background?: RGB;
}

/** Checks the shape and converts to 8-bit RGB. */
export function toRgb(image: PixelImage, opts: ToRgbOptions = {}): RGBImage {
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
  return { width: W, height: H, pixels: out };
}

/** Nearest-neighbour upscaling by an integer factor: every pixel becomes a factor×factor block. */
export function upscaleNearest(img: RGBImage, factor: number): RGBImage {
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
      out[d] = img.pixels[s];
      out[d + 1] = img.pixels[s + 1];
      out[d + 2] = img.pixels[s + 2];
    }
  }
  return { width: W, height: H, pixels: out };
}

export interface ImageOptions extends ToRgbOptions {
  /** Integer nearest-neighbour upscaling factor (default 1). */
  scale?: number;
}

/** PNG bytes of an RGBImage as it is. */
export function rgbPng(img: RGBImage): Promise<Buffer> {
  return sharp(img.pixels, { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer();
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
  /** Height of one caption line in pixels (default 16 when there are captions). */
  captionHeight?: number;
  /**
   * Lines a caption may wrap to, at spaces, before the rest is cut with '…' (default 1). The strip under each
   * row is as tall as the longest caption needs, so captions that fit one line leave the grid as it was.
   */
  captionLines?: number;
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
  const maxLines = opts.captionLines ?? 1;
  if (!Number.isInteger(maxLines) || maxLines < 1) throw new Error(`imageGrid: captionLines must be a positive integer, got ${maxLines}`);
  const scaled = images.map((im) => upscaleNearest(toRgb(im, opts), opts.scale ?? 1));
  const lineHeight = opts.captions ? (opts.captionHeight ?? 16) : 0;
  const cellW = Math.max(...scaled.map((s) => s.width));
  const lines = opts.captions ? opts.captions.map((c) => captionLines(c, captionChars(cellW, lineHeight), maxLines)) : [];
  const captionHeight = lineHeight * Math.max(1, ...lines.map((l) => l.length));
  const g = gridLayout(scaled, { ...opts, captionHeight });
  const bg = opts.background ?? [255, 255, 255];
  const canvas = new Uint8Array(g.width * g.height * 3);
  for (let p = 0; p < g.width * g.height; p++) canvas.set(bg, p * 3);
  scaled.forEach((im, i) => {
    const { left, top } = g.cells[i];
    for (let y = 0; y < im.height; y++) {
      canvas.set(im.pixels.subarray(y * im.width * 3, (y + 1) * im.width * 3), ((top + y) * g.width + left) * 3);
    }
  });
  let png = sharp(canvas, { raw: { width: g.width, height: g.height, channels: 3 } });
  if (opts.captions) png = png.composite([{ input: Buffer.from(captionsSvg(g, lines, lineHeight)), top: 0, left: 0 }]);
  return png.png().toBuffer();
}

/** Font size of captions on lines `h` pixels high. */
const captionFont = (h: number) => Math.max(8, Math.min(12, h - 4));

/** Characters of a caption that fit a cell `cellW` pixels wide (DejaVu Sans averages about 0.6 em a character). */
const captionChars = (cellW: number, h: number) => Math.max(1, Math.floor(cellW / (captionFont(h) * 0.6)));

/**
 * `text` on at most `maxLines` lines of `maxChars`: a newline starts a line, a long line breaks at its last space
 * that fits (a word longer than a line is cut); what does not fit on the last line ends in '…'.
 */
export function captionLines(text: string, maxChars: number, maxLines: number): string[] {
  const cut = (s: string) => (s.length > maxChars ? `${s.slice(0, Math.max(1, maxChars - 1))}…` : s);
  const paragraphs = text.split('\n').map((p) => p.trim());
  const lines: string[] = [];
  for (let p = 0; p < paragraphs.length; p++) {
    let rest = paragraphs[p];
    while (lines.length < maxLines - 1 && rest.length > maxChars) {
      const at = rest.lastIndexOf(' ', maxChars);
      const end = at > 0 ? at : rest.indexOf(' '); // no space fits: the first word alone, cut
      if (end <= 0) break;
      lines.push(cut(rest.slice(0, end)));
      rest = rest.slice(end + 1).trimStart();
    }
    if (lines.length === maxLines - 1) return [...lines, cut([rest, ...paragraphs.slice(p + 1)].join(' ').trim())];
    lines.push(cut(rest));
  }
  return lines;
}

function captionsSvg(g: ReturnType<typeof gridLayout>, lines: string[][], h: number): string {
  const size = captionFont(h);
  const texts = lines.flatMap((ls, i) => {
    const { cellLeft, captionTop } = g.cells[i];
    return ls.map((t, k) => `<text x="${cellLeft + g.cellW / 2}" y="${captionTop + (k + 1) * h - 4}" text-anchor="middle">${escapeXml(t)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${g.width}" height="${g.height}" font-family="DejaVu Sans, sans-serif" font-size="${size}" fill="#222">${texts.join('')}</svg>`;
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
