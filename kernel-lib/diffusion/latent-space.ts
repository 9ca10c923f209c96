/**
 * The latent space the diffusion runs in: the shipped VQ-VAE's continuous encoder output (before the
 * quantiser; 8×8×32 for a 32×32 image), normalised per channel by a shift and scale measured on the
 * training set, so the denoiser sees roughly unit-variance latents as the noise schedule assumes.
 *
 *   encode   image → VQ-VAE encoder → z [g, g, C] → (z − shift) / scale
 *   decode   ẑ → ẑ · scale + shift → (nearest codebook vector, when `quantised`) → VQ-VAE decoder → pixels
 *
 * Whether to quantise before decoding is the config's `decodeQuantised`, chosen by `compareDecoding`
 * on held-out images (a VQ-regularised LDM can do either; Rombach et al. 2022, §3).
 */
import * as tf from '@tensorflow/tfjs';
import type { RGBImage } from '../image/types';
import { CODEBOOK, fromModelRange, toModelRange, VQVAE } from '../image/model';
import { nearestCodes } from '../image/quantizer';
import { psnr } from '../image/metrics';
import { mulberry32, normalArray } from '../util/random';

export interface LatentStats {
  /** Per-channel mean of the encoder output on the training set [C]. */
  shift: Float32Array;
  /** Per-channel standard deviation [C]. */
  scale: Float32Array;
}

const CHUNK = 256;

export class LatentSpace {
  readonly size: number;
  readonly channels: number;
  readonly imageSize: number;

  constructor(
    readonly vq: VQVAE,
    readonly stats: LatentStats,
    imageSize = 32,
  ) {
    this.imageSize = imageSize;
    this.size = imageSize / 4;
    this.channels = vq.config.codeDim;
    if (!vq.config.imageSizes.includes(imageSize)) throw new Error(`LatentSpace: the VQ-VAE does not take ${imageSize}×${imageSize} images`);
    for (const k of ['shift', 'scale'] as const) {
      if (stats[k].length !== this.channels) throw new Error(`LatentSpace: latent ${k} has ${stats[k].length} channels, the VQ-VAE has ${this.channels}`);
    }
    stats.scale.forEach((s, c) => {
      if (!(s > 0 && Number.isFinite(s))) throw new Error(`LatentSpace: latent scale of channel ${c} is ${s}; it must be positive`);
    });
  }

  /** Per-channel mean and standard deviation of the encoder outputs of `images` (float64 sums). */
  static measureStats(vq: VQVAE, images: readonly RGBImage[], imageSize = 32): LatentStats {
    if (images.length === 0) throw new Error('LatentSpace.measureStats: no images');
    const C = vq.config.codeDim;
    const raw = encodeRaw(vq, images, imageSize);
    const sum = new Float64Array(C);
    const sq = new Float64Array(C);
    for (let i = 0; i < raw.length; i++) {
      sum[i % C] += raw[i];
      sq[i % C] += raw[i] * raw[i];
    }
    const n = raw.length / C;
    const shift = new Float32Array(C);
    const scale = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      shift[c] = sum[c] / n;
      scale[c] = Math.sqrt(Math.max(sq[c] / n - (sum[c] / n) ** 2, 1e-12));
    }
    return { shift, scale };
  }

  /** Normalised latents of images, [n, g, g, C] row-major (host). */
  encode(images: readonly RGBImage[]): Float32Array {
    const raw = encodeRaw(this.vq, images, this.imageSize);
    const C = this.channels;
    for (let i = 0; i < raw.length; i++) raw[i] = (raw[i] - this.stats.shift[i % C]) / this.stats.scale[i % C];
    return raw;
  }

  /** Normalised latents [B, g, g, C] → VQ-VAE decoder output in [−1, 1] space (a tensor, not clamped). */
  decodeTensor(latents: tf.Tensor4D, quantised: boolean): tf.Tensor4D {
    return tf.tidy(() => {
      const [B, g, , C] = latents.shape;
      let z = tf.add(tf.mul(latents, tf.tensor1d(this.stats.scale)), tf.tensor1d(this.stats.shift)); // [B, g, g, C]
      if (quantised) {
        const flat = tf.reshape(z, [B * g * g, C]) as tf.Tensor2D;
        z = tf.reshape(this.vq.lookup(nearestCodes(flat, this.vq.params.get(CODEBOOK) as unknown as tf.Tensor2D)), [B, g, g, C]);
      }
      return this.vq.decoderForward(z as tf.Tensor4D);
    });
  }

  /** Normalised latents [B, g, g, C] (tensor or host array of B grids) → images. */
  decode(latents: tf.Tensor4D | Float32Array, quantised: boolean): RGBImage[] {
    const S = this.imageSize;
    const g = this.size;
    const per = g * g * this.channels;
    const t = latents instanceof Float32Array ? null : latents;
    const n = t ? t.shape[0] : (latents as Float32Array).length / per;
    if (!Number.isInteger(n)) throw new Error(`LatentSpace.decode: ${(latents as Float32Array).length} values are not whole ${g}×${g}×${this.channels} grids`);
    const out: RGBImage[] = [];
    for (let start = 0; start < n; start += CHUNK) {
      const m = Math.min(CHUNK, n - start);
      const px = tf.tidy(() => {
        const part = t ? tf.slice(t, [start, 0, 0, 0], [m, g, g, this.channels]) : tf.tensor4d((latents as Float32Array).subarray(start * per, (start + m) * per), [m, g, g, this.channels]);
        return fromModelRange(this.decodeTensor(part as tf.Tensor4D, quantised));
      });
      const data = px.dataSync();
      px.dispose();
      for (let i = 0; i < m; i++) out.push({ height: S, width: S, pixels: Uint8Array.from(data.subarray(i * S * S * 3, (i + 1) * S * S * 3)) });
    }
    return out;
  }

  /**
   * Held-out reconstruction PSNR (dB, pooled MSE) decoding with and without quantising, on the exact
   * latents and on latents perturbed by Gaussian noise of each `noise` level (normalised units), which is
   * what an imperfect denoiser hands the decoder.
   */
  compareDecoding(images: readonly RGBImage[], noise: readonly number[] = [0, 0.1, 0.25, 0.5], seed = 0): Array<{ noise: number; quantised: number; continuous: number }> {
    const z = this.encode(images);
    const truth = new Uint8Array(images.length * this.imageSize * this.imageSize * 3);
    images.forEach((im, i) => truth.set(im.pixels, i * im.pixels.length));
    return noise.map((sigma) => {
      const eps = normalArray(z.length, sigma, mulberry32(seed));
      const zn = z.map((v, i) => v + eps[i]);
      const flat = (q: boolean) => {
        const ims = this.decode(zn, q);
        const out = new Uint8Array(truth.length);
        ims.forEach((im, i) => out.set(im.pixels, i * im.pixels.length));
        return out;
      };
      return { noise: sigma, quantised: psnr(truth, flat(true)), continuous: psnr(truth, flat(false)) };
    });
  }
}

/** Encoder outputs (before the quantiser) of images of side `size`, [n, g, g, C] (host). */
function encodeRaw(vq: VQVAE, images: readonly RGBImage[], size: number): Float32Array {
  const g = size / 4;
  const C = vq.config.codeDim;
  const per = size * size * 3;
  const out = new Float32Array(images.length * g * g * C);
  for (let start = 0; start < images.length; start += CHUNK) {
    const part = images.slice(start, start + CHUNK);
    const pixels = new Uint8Array(part.length * per);
    part.forEach((im, i) => {
      if (im.height !== size || im.width !== size) throw new Error(`LatentSpace: image ${start + i} is ${im.height}×${im.width}, expected ${size}×${size}`);
      pixels.set(im.pixels, i * per);
    });
    const z = tf.tidy(() => vq.encoderForward(toModelRange(pixels, [part.length, size, size, 3])));
    out.set(z.dataSync() as Float32Array, start * g * g * C);
    z.dispose();
  }
  return out;
}
