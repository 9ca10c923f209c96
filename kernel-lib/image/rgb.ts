/**
 * Pixel operations on RGBImage (types.ts): blank canvases, compositing RGBA on white, area-average
 * resizing (each output pixel the mean of the source area it covers, the right filter for shrinking),
 * 2× downscaling, pasting, grids, and [0, 1] floats for the models. The data sets build their images
 * with these, and the VQ tokenizer evaluates at smaller sizes with the same filters.
 */
import type { RGBImage } from './types';

/** An image of one colour (white by default). */
export function blankImage(height: number, width: number, rgb: readonly [number, number, number] = [255, 255, 255]): RGBImage {
  const pixels = new Uint8Array(height * width * 3);
  for (let i = 0; i < height * width; i++) pixels.set(rgb, i * 3);
  return { height, width, pixels };
}

/**
 * RGB of a straight-alpha RGBA region composited on white: c' = c·α + 255·(1 − α), rounded.
 * `src` is the whole RGBA sheet, `stride` its width in pixels, (x0, y0) the region's corner.
 */
export function compositeOnWhite(src: Uint8Array, stride: number, x0: number, y0: number, size: number): RGBImage {
  const pixels = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const s = ((y0 + y) * stride + (x0 + x)) * 4;
      const a = src[s + 3];
      const d = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) pixels[d + c] = Math.floor((src[s + c] * a + 255 * (255 - a) + 127) / 255);
    }
  }
  return { height: size, width: size, pixels };
}

/** Per-axis weights of area resampling from n to m samples: weights[o] = [[srcIndex, weight], …], Σ = 1. */
function areaWeights(n: number, m: number): Array<Array<[number, number]>> {
  const out: Array<Array<[number, number]>> = [];
  const scale = n / m;
  for (let o = 0; o < m; o++) {
    const lo = o * scale;
    const hi = (o + 1) * scale;
    const ws: Array<[number, number]> = [];
    for (let i = Math.floor(lo); i < Math.min(n, Math.ceil(hi)); i++) {
      const w = Math.min(hi, i + 1) - Math.max(lo, i);
      if (w > 1e-9) ws.push([i, w / scale]);
    }
    out.push(ws);
  }
  return out;
}

/** Area-average resize (shrinking; it also works for enlarging, as nearest-ish blocks). */
export function resizeArea(img: RGBImage, height: number, width: number): RGBImage {
  const wy = areaWeights(img.height, height);
  const wx = areaWeights(img.width, width);
  const pixels = new Uint8Array(height * width * 3);
  for (let oy = 0; oy < height; oy++) {
    for (let ox = 0; ox < width; ox++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [sy, ay] of wy[oy]) {
        for (const [sx, ax] of wx[ox]) {
          const s = (sy * img.width + sx) * 3;
          const w = ay * ax;
          r += img.pixels[s] * w;
          g += img.pixels[s + 1] * w;
          b += img.pixels[s + 2] * w;
        }
      }
      const d = (oy * width + ox) * 3;
      pixels[d] = Math.min(255, Math.round(r));
      pixels[d + 1] = Math.min(255, Math.round(g));
      pixels[d + 2] = Math.min(255, Math.round(b));
    }
  }
  return { height, width, pixels };
}

/** The 2× smaller copy (each pixel the rounded mean of a 2×2 block): 32×32 → 16×16. */
export function downscale2x(img: RGBImage): RGBImage {
  if (img.height % 2 !== 0 || img.width % 2 !== 0) {
    throw new Error(`downscale2x: image must have even sides, got ${img.height}×${img.width}`);
  }
  const h = img.height / 2;
  const w = img.width / 2;
  const pixels = new Uint8Array(h * w * 3);
  const row = img.width * 3;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (2 * y * img.width + 2 * x) * 3;
      const d = (y * w + x) * 3;
      for (let c = 0; c < 3; c++) {
        pixels[d + c] = (img.pixels[s + c] + img.pixels[s + 3 + c] + img.pixels[s + row + c] + img.pixels[s + row + 3 + c] + 2) >> 2;
      }
    }
  }
  return { height: h, width: w, pixels };
}

/** Copies `src` into `dst` with its top-left corner at (x, y); the whole of src must fit. */
export function paste(dst: RGBImage, src: RGBImage, x: number, y: number): void {
  if (x < 0 || y < 0 || x + src.width > dst.width || y + src.height > dst.height) {
    throw new Error(`paste: a ${src.height}×${src.width} image at (${x}, ${y}) does not fit in ${dst.height}×${dst.width}`);
  }
  for (let r = 0; r < src.height; r++) {
    const from = r * src.width * 3;
    dst.pixels.set(src.pixels.subarray(from, from + src.width * 3), ((y + r) * dst.width + x) * 3);
  }
}

/** Pixels as float32 in [0, 1], same [height, width, 3] layout. */
export function toFloat01(img: RGBImage): Float32Array {
  const out = new Float32Array(img.pixels.length);
  for (let i = 0; i < out.length; i++) out[i] = img.pixels[i] / 255;
  return out;
}

/** Inverse of toFloat01 (values clamped to [0, 1] and rounded). */
export function fromFloat01(data: ArrayLike<number>, height: number, width: number): RGBImage {
  if (data.length !== height * width * 3) {
    throw new Error(`fromFloat01: expected ${height}×${width}×3 = ${height * width * 3} values, got ${data.length}`);
  }
  const pixels = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) pixels[i] = Math.round(Math.min(1, Math.max(0, data[i])) * 255);
  return { height, width, pixels };
}

/** Lays images out in a grid (for previews): `cols` per row, `gap` grey pixels between them, scaled ×`zoom`. */
export function imageGrid(images: readonly RGBImage[], cols: number, { gap = 2, zoom = 1, background = 160 } = {}): RGBImage {
  const cellH = Math.max(1, ...images.map((im) => im.height)) * zoom;
  const cellW = Math.max(1, ...images.map((im) => im.width)) * zoom;
  const rows = Math.max(1, Math.ceil(images.length / cols));
  const grid = blankImage(rows * (cellH + gap) + gap, cols * (cellW + gap) + gap, [background, background, background]);
  images.forEach((im, i) => {
    const big = zoom === 1 ? im : resizeNearest(im, im.height * zoom, im.width * zoom);
    paste(grid, big, gap + (i % cols) * (cellW + gap), gap + Math.floor(i / cols) * (cellH + gap));
  });
  return grid;
}

function resizeNearest(img: RGBImage, height: number, width: number): RGBImage {
  const pixels = new Uint8Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    const sy = Math.floor((y * img.height) / height);
    for (let x = 0; x < width; x++) {
      const s = (sy * img.width + Math.floor((x * img.width) / width)) * 3;
      pixels.set(img.pixels.subarray(s, s + 3), (y * width + x) * 3);
    }
  }
  return { height, width, pixels };
}

/**
 * A box cut out of an image. (Scenes know every object's box, so cutting it is an exact "detector" for
 * MUMU-style prompts: the crop holds the object as the scene shows it.)
 */
export function cropImage(img: RGBImage, box: { x: number; y: number; w: number; h: number }): RGBImage {
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
