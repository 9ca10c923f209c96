import sharp from 'sharp';
import { gridLayout, imageGridPng, imagePng, showImage, toRgb, upscaleNearest } from '../../kernel-lib/display/image';
import { TextTarget } from '../../kernel-lib/display/env';
import { captionLines } from '../../kernel-lib/image/png';
import type { RGBImage } from '../../kernel-lib/image/types';
import { RecordingTarget } from './sink';

/** Decodes a PNG to raw RGB with sharp. */
async function decode(png: Uint8Array): Promise<RGBImage> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  return { width: info.width, height: info.height, pixels: new Uint8Array(data) };
}

const px = (img: RGBImage, x: number, y: number): number[] => Array.from(img.pixels.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

// 3×2 RGB: red green blue / black grey white
const small: RGBImage = { width: 3, height: 2, pixels: new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 128, 128, 128, 255, 255, 255]) };

test('toRgb maps floats from their range, clamps, and zeroes NaN; grey and RGBA become RGB', () => {
  const f = toRgb({ width: 2, height: 1, data: new Float32Array([0, 0.5, 1, 2, -1, NaN]) });
  expect(Array.from(f.pixels)).toEqual([0, 128, 255, 255, 0, 0]);
  const r = toRgb({ width: 1, height: 1, data: new Float32Array([-1, 0, 1]) }, { range: [-1, 1] });
  expect(Array.from(r.pixels)).toEqual([0, 128, 255]);
  expect(Array.from(toRgb({ width: 2, height: 1, channels: 1, data: [7, 200] }).pixels)).toEqual([7, 7, 7, 200, 200, 200]);
  const rgba = toRgb({ width: 2, height: 1, channels: 4, data: new Uint8Array([255, 0, 0, 255, 255, 0, 0, 0]) }, { background: [0, 0, 255] });
  expect(Array.from(rgba.pixels)).toEqual([255, 0, 0, 0, 0, 255]);
});

test('toRgb refuses a bad shape with a message that gives the sizes', () => {
  expect(() => toRgb({ width: 2, height: 2, data: new Uint8Array(11) })).toThrow('image data has 11 values; a 2×2 image with 3 channels needs 12');
  expect(() => toRgb({ width: 0, height: 2, data: [] })).toThrow('image size must be positive integers, got 0×2');
  expect(() => toRgb({ width: 1, height: 1, channels: 2 as 3, data: [1, 2] })).toThrow('image channels must be 1, 3 or 4, got 2');
  expect(() => upscaleNearest(toRgb(small), 1.5)).toThrow('scale must be a positive integer, got 1.5');
});

test('upscaleNearest copies each pixel into an exact factor×factor block', () => {
  const big = upscaleNearest(small, 5);
  expect([big.width, big.height]).toEqual([15, 10]);
  for (let y = 0; y < 10; y++) for (let x = 0; x < 15; x++) expect(px(big, x, y)).toEqual(px(small, Math.floor(x / 5), Math.floor(y / 5)));
});

test('imagePng decodes with sharp to the scaled size and the exact pixels', async () => {
  const img = await decode(await imagePng(small, { scale: 4 }));
  expect([img.width, img.height]).toEqual([12, 8]);
  expect(Buffer.from(img.pixels).equals(Buffer.from(upscaleNearest(small, 4).pixels))).toBe(true);
  expect(px(img, 11, 7)).toEqual([255, 255, 255]);
  expect(px(img, 4, 4)).toEqual([128, 128, 128]);
});

test('imageGridPng: images in padded cells on the background, smaller ones centred', async () => {
  const tiny: RGBImage = { width: 1, height: 1, pixels: new Uint8Array([10, 20, 30]) };
  const png = await imageGridPng([small, small, tiny], { columns: 2, padding: 3, scale: 2, background: [1, 2, 3] });
  const g = gridLayout([{ width: 6, height: 4 }, { width: 6, height: 4 }, { width: 2, height: 2 }], { columns: 2, padding: 3 });
  const img = await decode(png);
  expect([img.width, img.height]).toEqual([3 + 2 * (6 + 3), 3 + 2 * (4 + 3)]);
  expect([g.width, g.height]).toEqual([img.width, img.height]);
  const big = upscaleNearest(small, 2);
  for (const c of [0, 1]) {
    const { left, top } = g.cells[c];
    for (let y = 0; y < 4; y++) for (let x = 0; x < 6; x++) expect(px(img, left + x, top + y)).toEqual(px(big, x, y));
  }
  expect(g.cells[1]).toMatchObject({ left: 12, top: 3 });
  expect(g.cells[2]).toMatchObject({ left: 3 + 2, top: 3 + 7 + 1 }); // a 2×2 image centred in a 6×4 cell
  expect(px(img, 5, 11)).toEqual([10, 20, 30]);
  expect(px(img, 0, 0)).toEqual([1, 2, 3]);
  expect(px(img, 9 + 3 + 2, 5)).toEqual(px(big, 2, 2)); // second cell
  expect(px(img, 3 + 6 + 1, 5)).toEqual([1, 2, 3]); // padding between cells
});

test('captions add a strip under each row and leave the image pixels alone', async () => {
  const png = await imageGridPng([small, small], { scale: 4, captions: ['a <tiger>', 'b & c'], padding: 2 });
  const img = await decode(png);
  expect([img.width, img.height]).toEqual([2 + 2 * (12 + 2), 2 + 8 + 16 + 2]);
  const big = upscaleNearest(small, 4);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 12; x++) expect(px(img, 2 + x, 2 + y)).toEqual(px(big, x, y));
  let ink = 0; // some caption text was drawn
  for (let y = 10; y < 26; y++) for (let x = 0; x < img.width; x++) if (px(img, x, y)[0] < 128) ink++;
  expect(ink).toBeGreaterThan(5);
  await expect(imageGridPng([small], { captions: [] })).rejects.toThrow('imageGrid: 0 captions for 1 images');
  await expect(imageGridPng([])).rejects.toThrow('imageGrid needs at least one image');
});

test('captionLines breaks at spaces up to the line limit and cuts what is left with …', () => {
  expect(captionLines('the held-out scene', 17, 1)).toEqual(['the held-out sce…']);
  expect(captionLines('the held-out scene', 17, 2)).toEqual(['the held-out', 'scene']);
  expect(captionLines('short', 17, 3)).toEqual(['short']);
  expect(captionLines('augment: copied 0.00 of the crop', 10, 2)).toEqual(['augment:', 'copied 0.…']);
  expect(captionLines('mumu-mumu-t64-seed0 run', 10, 3)).toEqual(['mumu-mumu…', 'run']); // a word longer than a line is cut
  expect(captionLines('moe-h64, step 19\ncaption 2', 17, 2)).toEqual(['moe-h64, step 19', 'caption 2']); // a newline starts a line
  expect(captionLines('moe-h64, step 19\ncaption 2', 17, 1)).toEqual(['moe-h64, step 19…']);
});

test('captionLines > 1: the strip grows by whole lines for the longest caption; one-line captions keep the old grid', async () => {
  const wide = upscaleNearest(small, 40); // 120 px cells: 16 characters a line at the default 16 px line
  const one = await decode(await imageGridPng([wide, wide], { captions: ['a', 'b'], captionLines: 3, padding: 2 }));
  const old = await decode(await imageGridPng([wide, wide], { captions: ['a', 'b'], padding: 2 }));
  expect([one.width, one.height]).toEqual([old.width, old.height]);
  expect(Array.from(one.pixels)).toEqual(Array.from(old.pixels));
  const two = await decode(await imageGridPng([wide, wide], { captions: ['the held-out scene drawn', 'b'], captionLines: 3, padding: 2 }));
  expect(two.height).toBe(old.height + 16);
  const inkIn = (img: RGBImage, y0: number, y1: number) => {
    let n = 0;
    for (let y = y0; y < y1; y++) for (let x = 0; x < 122; x++) if (px(img, x, y)[0] < 128) n++;
    return n;
  };
  expect(inkIn(two, 2 + 80 + 16, 2 + 80 + 32)).toBeGreaterThan(5); // the second line was drawn under the first
  await expect(imageGridPng([wide], { captions: ['x'], captionLines: 0 })).rejects.toThrow('imageGrid: captionLines must be a positive integer, got 0');
});

test('showImage sends image/png to a notebook and a line of text elsewhere', async () => {
  const sink = new RecordingTarget();
  await showImage(small, { scale: 2, display: sink });
  expect(sink.shown).toHaveLength(1);
  expect((await decode(sink.shown[0].png as Uint8Array)).width).toBe(6);
  const lines: string[] = [];
  await showImage(small, { scale: 2, display: new TextTarget((s) => lines.push(s)) });
  expect(lines).toEqual(['[image 3×2, shown ×2]\n']);
});

test('toRgb takes a dataset / VQ-VAE image ({height, width, pixels}) as 8-bit RGB, checked the same way', () => {
  const pixels = Uint8Array.from([1, 2, 3, 4, 5, 6]);
  expect(toRgb({ width: 2, height: 1, pixels })).toEqual({ width: 2, height: 1, pixels });
  expect(() => toRgb({ width: 2, height: 2, pixels })).toThrow('image data has 6 values; a 2×2 image with 3 channels needs 12');
});
