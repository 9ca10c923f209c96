/**
 * Crop augmentation for MUMU-style prompts (the paper augments 20 % of its conditioning images, §4, and
 * shows in §7 that without it the model copies crops into the output). An augmented crop is
 *
 *   flipped left–right with probability 1/2,
 *   colour-jittered: each channel's *ink* (255 − v) scaled by a gain in [1 − jitter, 1 + jitter],
 *     so the white background stays white and only the object's colours move,
 *   rescaled by a factor in [1 − scale, 1 + scale]: the crop is area-resized to round(side·factor) and
 *     centred on a white canvas of the original size (smaller) or centre-cut to it (larger),
 *
 * in that order, all drawn from the crop's own random stream. Whether a crop is augmented at all is decided
 * by `augmentDecision`: the first draw of the stream named by the crop's key, below `rate` — so the
 * choice for one crop never depends on any other crop, and the rate is `rate` in expectation.
 */
import type { RGBImage } from '../image/types';
import { blankImage, cropImage, paste, resizeArea } from '../image/rgb';
import { Rng, rngFor } from '../util/random';

export interface AugmentOptions {
  /** Share of crops augmented (default 0.2, as MUMU). */
  rate?: number;
  /** Largest relative change of a channel's ink (default 0.25). */
  jitter?: number;
  /** Largest relative change of the crop's size (default 0.25). */
  scale?: number;
}

/** What was done to one crop (for the prompt's metadata and for tests). */
export interface Augmentation {
  flip: boolean;
  /** Ink gain per channel (R, G, B). */
  gains: [number, number, number];
  /** Side after rescaling, before centring back to the original size: [height, width]. */
  scaledTo: [number, number];
}

export const DEFAULT_AUGMENT_RATE = 0.2;

function checked(o: AugmentOptions): Required<AugmentOptions> {
  const r = { rate: o.rate ?? DEFAULT_AUGMENT_RATE, jitter: o.jitter ?? 0.25, scale: o.scale ?? 0.25 };
  for (const [k, v] of Object.entries(r)) {
    if (!(Number.isFinite(v) && v >= 0 && v <= 1)) throw new Error(`augment: ${k} must be in [0, 1], got ${v}`);
  }
  return r;
}

/** The crop mirrored left–right. */
export function flipHorizontal(img: RGBImage): RGBImage {
  const out = new Uint8Array(img.pixels.length);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const s = (y * img.width + x) * 3;
      out.set(img.pixels.subarray(s, s + 3), (y * img.width + (img.width - 1 - x)) * 3);
    }
  }
  return { height: img.height, width: img.width, pixels: out };
}

/** Each channel's ink (255 − v) times its gain, rounded and clamped: white stays white. */
export function scaleInk(img: RGBImage, gains: readonly [number, number, number]): RGBImage {
  const out = new Uint8Array(img.pixels.length);
  for (let i = 0; i < out.length; i++) {
    out[i] = 255 - Math.min(255, Math.max(0, Math.round((255 - img.pixels[i]) * gains[i % 3])));
  }
  return { height: img.height, width: img.width, pixels: out };
}

/** The image area-resized to h × w, then centred on white (smaller) or centre-cut (larger) back to its size. */
export function rescaleCentred(img: RGBImage, h: number, w: number): RGBImage {
  const resized = resizeArea(img, h, w);
  const canvas = blankImage(img.height, img.width);
  // Per axis: place the smaller one centred inside the larger one.
  const oy = Math.floor(Math.abs(img.height - h) / 2);
  const ox = Math.floor(Math.abs(img.width - w) / 2);
  if (h <= img.height && w <= img.width) {
    paste(canvas, resized, ox, oy);
    return canvas;
  }
  if (h >= img.height && w >= img.width) return cropImage(resized, { x: ox, y: oy, w: img.width, h: img.height });
  throw new Error(`rescaleCentred: ${h}×${w} must be both ≤ or both ≥ ${img.height}×${img.width}`);
}

/** True when the crop named `key` is augmented (see the file comment). */
export function augmentDecision(key: string, seed: number, options: AugmentOptions = {}): boolean {
  return rngFor(`augment/${key}`, seed)() < checked(options).rate;
}

/** Augments one crop with draws from `rand` (flip, colour jitter, rescale; see the file comment). */
export function augmentCrop(img: RGBImage, rand: Rng, options: AugmentOptions = {}): { image: RGBImage; augmentation: Augmentation } {
  const o = checked(options);
  const flip = rand() < 0.5;
  const gain = (): number => 1 - o.jitter + 2 * o.jitter * rand();
  const gains: [number, number, number] = [gain(), gain(), gain()];
  const factor = 1 - o.scale + 2 * o.scale * rand();
  const scaledTo: [number, number] = [Math.max(1, Math.round(img.height * factor)), Math.max(1, Math.round(img.width * factor))];
  let out = flip ? flipHorizontal(img) : img;
  out = scaleInk(out, gains);
  out = rescaleCentred(out, scaledTo[0], scaledTo[1]);
  return { image: out, augmentation: { flip, gains, scaledTo } };
}

/**
 * The crop named `key`, augmented when `augmentDecision` says so (its draws from the stream after the
 * decision), else unchanged; `augmentation` is null for an unchanged crop.
 */
export function maybeAugment(img: RGBImage, key: string, seed: number, options: AugmentOptions = {}): { image: RGBImage; augmentation: Augmentation | null } {
  const rand = rngFor(`augment/${key}`, seed);
  if (!(rand() < checked(options).rate)) return { image: img, augmentation: null };
  return augmentCrop(img, rand, options);
}

/** A fixed colour shift: channels rotated (R, G, B) → (G, B, R), a 120° hue turn that keeps white and greys. */
export function rotateChannels(img: RGBImage): RGBImage {
  const out = new Uint8Array(img.pixels.length);
  for (let i = 0; i < out.length; i += 3) {
    out[i] = img.pixels[i + 1];
    out[i + 1] = img.pixels[i + 2];
    out[i + 2] = img.pixels[i];
  }
  return { height: img.height, width: img.width, pixels: out };
}

