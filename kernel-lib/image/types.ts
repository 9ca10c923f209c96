/**
 * The image vocabulary every layer shares, defined here at the bottom so the data sets, the VQ tokenizer,
 * the displays and the widget server all speak of the same thing:
 *
 *   RGBImage       8-bit RGB pixels, row-major [height, width, 3] — the one "picture" type
 *   PixelData      looser input a display accepts (grey, RGBA, floats in a range), converted by toRgb
 *   ImageCoder     pictures ⇄ VQ codes, as the widget server uses them (a VQVAE provides one)
 *   PatchRenderer  code grid → pixels, each code owning one square patch (liveDecode draws with it)
 */
import type { ImageCodes } from '../tokenizer';

/**
 * An image: 8-bit RGB, row-major, `pixels[(y·width + x)·3 + c]`, alpha already composited (on white in
 * the data sets). Uint8 rather than float keeps caches and memory small (a 32×32 image is 3 KB) and exact.
 */
export interface RGBImage {
  height: number;
  width: number;
  /** height·width·3 bytes, row-major, RGB. */
  pixels: Uint8Array;
}

/** A colour as 0–255 red, green, blue. */
export type RGB = [number, number, number];

/**
 * Pixels in any of the layouts a notebook has at hand, row-major and interleaved
 * (`data[(y·width + x)·channels + c]`). Integer arrays are 0–255; Float32Array values are mapped from a
 * range (default [0, 1]) to 0–255, clamped.
 */
export interface PixelData {
  width: number;
  height: number;
  /** 1 (grey), 3 (RGB, default) or 4 (RGBA; alpha is dropped onto the background). */
  channels?: 1 | 3 | 4;
  data: Uint8Array | Uint8ClampedArray | Float32Array | readonly number[];
}

/** Pixels to draw or encode: an RGBImage, or looser PixelData. */
export type PixelImage = PixelData | RGBImage;

/**
 * Turns pictures into VQ codes and back (the widget server's upload control and patch stream). Both are
 * optional for the server: without `encodePng` the widget's upload control is disabled (with a tooltip
 * saying why); without `decode` the widget colours generated codes with a deterministic palette instead.
 */
export interface ImageCoder {
  encodePng(png: Uint8Array): Promise<ImageCodes>;
  /**
   * Pixels of a whole code grid (codes not generated yet are 0). The image's pixel size must be a
   * multiple of the grid so each code owns one patch. Called once per generated code: the server
   * sends that code's patch.
   */
  decode?(image: ImageCodes): Promise<RGBImage> | RGBImage;
}

/** Pixels for a code grid while it is being generated: what liveDecode draws images with. */
export interface PatchRenderer {
  /** Pixels per patch side: an H×W grid becomes an (H·patchSize)×(W·patchSize) image. */
  readonly patchSize: number;
  /**
   * RGB bytes of the whole image, row-major. `codes` has height·width entries; −1 marks a code not
   * generated yet (drawn in PENDING_RGB).
   */
  render(codes: readonly number[], grid: { height: number; width: number }): Uint8Array;
}

/** The colour of codes not generated yet, the same for every PatchRenderer. */
export const PENDING_RGB: RGB = [236, 236, 236];
