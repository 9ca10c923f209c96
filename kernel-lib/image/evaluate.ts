/**
 * Held-out evaluation of a VQ-VAE: reconstruction PSNR and codebook usage, per image size. Images are
 * given at their full size; smaller sizes are made the way the data sets make them (2×2 averaging for
 * half size, area resampling otherwise).
 */
import type { RGBImage } from './types';
import { downscale2x, resizeArea } from './rgb';
import type { VQVAE } from './model';
import { meanImagePsnr, psnr } from './metrics';
import { codeUsage, CodeUsage } from './quantizer';
import { gridSize } from './config';

export interface SizeEval {
  size: number;
  grid: number;
  images: number;
  /** PSNR (dB) of the pooled MSE over all images, 8-bit output vs 8-bit input. */
  psnr: number;
  /** Mean of per-image PSNRs (dB); higher than `psnr` because near-blank images score very high. */
  meanImagePsnr: number;
  usage: CodeUsage;
}

/** `img` at side `size` (the same image when it already is). */
export function atSize(img: RGBImage, size: number): RGBImage {
  if (img.height === size && img.width === size) return img;
  if (img.height === 2 * size && img.width === 2 * size) return downscale2x(img);
  return resizeArea(img, size, size);
}

/** n images of one side as one [n, size, size, 3] byte array. */
export function packImages(images: readonly RGBImage[], size: number): Uint8Array {
  const per = size * size * 3;
  const out = new Uint8Array(images.length * per);
  images.forEach((im, i) => out.set(atSize(im, size).pixels, i * per));
  return out;
}

/** PSNR and code usage of `model` on `images` at each of `sizes` (default: every size the model takes). */
export function evaluateVQVAE(model: VQVAE, images: readonly RGBImage[], sizes: readonly number[] = model.config.imageSizes): SizeEval[] {
  if (images.length === 0) throw new Error('evaluateVQVAE: no images');
  return sizes.map((size) => {
    const pixels = packImages(images, size);
    const codes = model.encode(pixels, images.length, size);
    const flat = codes.flatMap((c) => c.codes);
    const recon = model.decodeCodes(Int32Array.from(flat), images.length, gridSize(size));
    return {
      size,
      grid: gridSize(size),
      images: images.length,
      psnr: psnr(pixels, recon),
      meanImagePsnr: meanImagePsnr(pixels, recon, size * size * 3),
      usage: codeUsage(flat, model.numCodes),
    };
  });
}
