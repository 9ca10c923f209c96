/**
 * VQVAE: a small fully convolutional VQ-VAE image tokenizer. Images in, integer codes out, and back.
 *
 *   encoder  x [B, S, S, 3] in [−1, 1]
 *            s2d → [B, S/2, S/2, 12] · conv3 → h1 · relu · conv3 → h1 · relu
 *            s2d → [B, S/4, S/4, 4·h1] · conv1 → h2 · relu · conv3 → h2 · resBlocks · relu · conv1 → z [B, g, g, D]
 *   quantise e = codebook[argmin_k ||z − e_k||²]                 (g = S/4: 8×8 codes for 32×32, 4×4 for 16×16)
 *   decoder  conv3 D → h2 · resBlocks · relu · conv1 → 4·h1 · d2s → [B, S/2, S/2, h1]
 *            relu · conv3 → h1 · relu · conv3 → 12 · d2s → x̂ [B, S, S, 3]
 *
 * A residual block is h + conv1(relu(conv3(relu(h)))). s2d/d2s are space-to-depth / depth-to-space by 2,
 * so there are no strided or transposed convolutions (see conv.ts for why). Parameters are tf.Variables
 * named as in the checkpoint (`encoder.conv1.weight`); the codebook `quantizer.codebook` is not trained
 * by gradient but set from its EMA (quantizer.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { ImageCodes } from '../tokenizer';
import { conv1x1, conv3x3, depthToSpace2, spaceToDepth2 } from './conv';
import { DOWNSAMPLE, gridSize, validateVQVAEConfig, VQVAEConfig, vqvaeParamShapes } from './config';
import { detach, nearestCodes } from './quantizer';
import { copyToHost, HostTensor, variablesFromHost } from '../model/params';
import { mulberry32, normalArray } from '../util/random';
import { readVQVAECheckpoint, SaveVQVAEOptions, writeVQVAECheckpoint } from './checkpoint';
import { PREVIEW_BACKGROUND, readPng, imageGridPng, writePng } from './png';
import { PENDING_RGB, type ImageCoder, type PatchRenderer, type RGBImage } from './types';

export const CODEBOOK = 'quantizer.codebook';
/** Images per device call in encode/decode (bounds memory for long lists). */
const CHUNK = 256;

/** Everything one resolution's training forward produces (tensors owned by the caller's scope). */
export interface ForwardOutput {
  /** Encoder outputs z [B·g·g, D]. */
  z: tf.Tensor2D;
  /** Their nearest codes [B·g·g]. */
  codes: tf.Tensor1D;
  /** Quantised vectors e [B·g·g, D] (constant for the gradient tape). */
  e: tf.Tensor2D;
  /** Reconstruction x̂ [B, S, S, 3] in [−1, 1] space (not clamped), gradient to the encoder straight through e. */
  recon: tf.Tensor4D;
}

export class VQVAE {
  readonly params: Map<string, tf.Variable>;

  private constructor(
    readonly config: VQVAEConfig,
    tensors: Map<string, { shape: number[]; data: Float32Array }>,
  ) {
    validateVQVAEConfig(config);
    this.params = variablesFromHost(vqvaeParamShapes(config), tensors, 'VQVAE', (name) => name !== CODEBOOK);
    for (const name of tensors.keys()) {
      if (!this.params.has(name)) throw new Error(`VQVAE: unexpected parameter '${name}'`);
    }
  }

  /** A freshly initialised model (He-normal convs, zero biases, residual outputs scaled by 0.1). */
  static create(config: VQVAEConfig, seed = 0): VQVAE {
    validateVQVAEConfig(config);
    const rand = mulberry32(seed);
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, shape] of vqvaeParamShapes(config)) {
      const n = shape.reduce((a, b) => a * b, 1);
      let data: Float32Array;
      if (name.endsWith('.bias')) data = new Float32Array(n);
      else if (name === CODEBOOK) data = normalArray(n, 0.1, rand);
      else {
        const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
        const scale = /\.res\.\d+\.conv2\./.test(name) ? 0.1 : 1;
        data = normalArray(n, scale * Math.sqrt(2 / fanIn), rand);
      }
      tensors.set(name, { shape, data });
    }
    return new VQVAE(config, tensors);
  }

  /** A model from host tensors named as in the checkpoint (validated: every name, every shape). */
  static fromTensors(config: VQVAEConfig, tensors: Map<string, { shape: number[]; data: Float32Array }>): VQVAE {
    return new VQVAE(config, tensors);
  }

  /** Loads a checkpoint directory written by `save` (validated; see checkpoint.ts). */
  static load(dir: string): VQVAE {
    const { config, tensors } = readVQVAECheckpoint(dir);
    return new VQVAE(config, tensors);
  }

  /** Saves to a checkpoint directory (float16 weights by default), atomically. */
  save(dir: string, options: SaveVQVAEOptions = {}): void {
    writeVQVAECheckpoint(dir, this.config, this.hostTensors(), options);
  }

  /** Host copies of every parameter, by checkpoint name. */
  hostTensors(): Map<string, HostTensor> {
    return copyToHost(this.params);
  }

  /** Parameters trained by gradient (all but the codebook), in checkpoint order. */
  trainableNames(): string[] {
    return [...this.params.keys()].filter((n) => n !== CODEBOOK);
  }

  get numCodes(): number {
    return this.config.numCodes;
  }

  private p<T extends tf.Tensor>(name: string): T {
    const v = this.params.get(name);
    if (!v) throw new Error(`VQVAE: no parameter '${name}'`);
    return v as unknown as T;
  }

  private conv3(x: tf.Tensor4D, name: string): tf.Tensor4D {
    return tf.add(conv3x3(x, this.p(`${name}.weight`)), this.p(`${name}.bias`));
  }

  private conv1(x: tf.Tensor4D, name: string): tf.Tensor4D {
    return tf.add(conv1x1(x, this.p(`${name}.weight`)), this.p(`${name}.bias`));
  }

  private resBlocks(h: tf.Tensor4D, prefix: string): tf.Tensor4D {
    for (let i = 0; i < this.config.resBlocks; i++) {
      const r = `${prefix}.res.${i}`;
      h = tf.add(h, this.conv1(tf.relu(this.conv3(tf.relu(h), `${r}.conv1`)), `${r}.conv2`));
    }
    return h;
  }

  /** x [B, S, S, 3] in [−1, 1] → z [B, S/4, S/4, D]. */
  encoderForward(x: tf.Tensor4D): tf.Tensor4D {
    let h = spaceToDepth2(x); // [B, S/2, S/2, 12]
    h = this.conv3(h, 'encoder.conv_in'); // [B, S/2, S/2, h1]
    h = this.conv3(tf.relu(h), 'encoder.conv1'); // [B, S/2, S/2, h1]
    h = this.conv1(spaceToDepth2(tf.relu(h)), 'encoder.proj'); // [B, g, g, h2]
    h = this.conv3(tf.relu(h), 'encoder.conv2'); // [B, g, g, h2]
    h = this.resBlocks(h, 'encoder');
    return this.conv1(tf.relu(h), 'encoder.conv_out'); // [B, g, g, D]
  }

  /** e [B, g, g, D] → x̂ [B, 4g, 4g, 3] in [−1, 1] space (not clamped). */
  decoderForward(e: tf.Tensor4D): tf.Tensor4D {
    let h = this.conv3(e, 'decoder.conv_in'); // [B, g, g, h2]
    h = this.resBlocks(h, 'decoder');
    h = depthToSpace2(this.conv1(tf.relu(h), 'decoder.proj')); // [B, 2g, 2g, h1]
    h = this.conv3(tf.relu(h), 'decoder.conv1'); // [B, 2g, 2g, h1]
    return depthToSpace2(this.conv3(tf.relu(h), 'decoder.conv_out')); // [B, 4g, 4g, 3]
  }

  /** Codebook rows for codes: [N] → [N, D] (forward only). */
  lookup(codes: tf.Tensor1D): tf.Tensor2D {
    return tf.gather(this.p<tf.Tensor2D>(CODEBOOK), codes);
  }

  /**
   * The training forward of one batch of one resolution: x [B, S, S, 3] in [−1, 1]. The decoder sees
   * z + (e − sg(z)), i.e. e forward and the straight-through (identity) gradient to z backward.
   */
  forward(x: tf.Tensor4D): ForwardOutput {
    const [b, s] = x.shape;
    const g = s / DOWNSAMPLE;
    const z4 = this.encoderForward(x); // [B, g, g, D]
    const z = tf.reshape(z4, [b * g * g, this.config.codeDim]) as tf.Tensor2D; // [N, D]
    const zd = detach(z); // sg(z)
    const codes = nearestCodes(zd, this.p(CODEBOOK)); // [N]
    const e = this.lookup(codes); // [N, D], constant for the tape
    const st = tf.add(z, tf.sub(e, zd)); // [N, D]: e forward, identity gradient to z
    const recon = this.decoderForward(tf.reshape(st, z4.shape) as tf.Tensor4D);
    return { z, codes, e, recon };
  }

  // ------------------------------------------------------------------------------------------ public API

  /** Checks an image side and returns its code-grid side. */
  private checkSize(size: number, where: string): number {
    if (!this.config.imageSizes.includes(size)) {
      throw new Error(`${where}: image size must be one of ${this.config.imageSizes.join(', ')} (the sides this model was trained on), got ${size}`);
    }
    return gridSize(size);
  }

  /**
   * Codes of n square RGB images, row-major [n, size, size, 3]: Uint8Array (0–255) or Float32Array
   * (0–1). Returns one {height, width, codes} per image (size/4 × size/4 codes).
   */
  encode(pixels: Float32Array | Uint8Array, n: number, size: number): ImageCodes[] {
    if (!Number.isInteger(n) || n < 1) throw new Error(`encode: n must be a positive integer, got ${n}`);
    const g = this.checkSize(size, 'encode');
    const per = size * size * 3;
    if (pixels.length !== n * per) {
      throw new Error(`encode: expected ${n} × ${size}×${size}×3 = ${n * per} values, got ${pixels.length}`);
    }
    if (pixels instanceof Float32Array) {
      for (let i = 0; i < pixels.length; i++) {
        const v = pixels[i];
        if (!(v >= 0 && v <= 1)) {
          throw new Error(`encode: float pixels must be in [0, 1], got ${v} at index ${i} (pass a Uint8Array for 0–255 values)`);
        }
      }
    }
    const out: ImageCodes[] = [];
    for (let start = 0; start < n; start += CHUNK) {
      const m = Math.min(CHUNK, n - start);
      const codes = tf.tidy(() => {
        const x = toModelRange(pixels.subarray(start * per, (start + m) * per), [m, size, size, 3]);
        const z4 = this.encoderForward(x);
        return nearestCodes(tf.reshape(z4, [m * g * g, this.config.codeDim]), this.p(CODEBOOK));
      });
      const data = codes.dataSync();
      codes.dispose();
      for (let i = 0; i < m; i++) out.push({ height: g, width: g, codes: Array.from(data.subarray(i * g * g, (i + 1) * g * g)) });
    }
    return out;
  }

  /** Codes of RGB images (e.g. from the data sets); all must be square and of a supported size. */
  encodeImages(images: readonly RGBImage[]): ImageCodes[] {
    const out: ImageCodes[] = [];
    for (const [size, idx] of groupBy(images.map((im, i) => {
      if (im.height !== im.width) throw new Error(`encodeImages: image ${i} is ${im.height}×${im.width}; images must be square`);
      return im.height;
    }))) {
      const pixels = new Uint8Array(idx.length * size * size * 3);
      idx.forEach((i, k) => pixels.set(images[i].pixels, k * size * size * 3));
      const codes = this.encode(pixels, idx.length, size);
      idx.forEach((i, k) => (out[i] = codes[k]));
    }
    return out;
  }

  /** Images (RGB, 0–255) of code grids; grids must be square with side size/4 for a supported size. */
  decode(images: readonly ImageCodes[]): RGBImage[] {
    const K = this.config.numCodes;
    const sides = images.map((im, i) => {
      if (!im || !Array.isArray(im.codes)) throw new Error(`decode: image ${i} has no codes array`);
      if (im.height !== im.width) throw new Error(`decode: image ${i} is a ${im.height}×${im.width} grid; grids must be square`);
      this.checkSize(im.height * DOWNSAMPLE, `decode: image ${i}`);
      if (im.codes.length !== im.height * im.width) {
        throw new Error(`decode: image ${i} has ${im.codes.length} codes, but a ${im.height}×${im.width} grid needs ${im.height * im.width}`);
      }
      im.codes.forEach((c, j) => {
        if (!(Number.isInteger(c) && c >= 0 && c < K)) throw new Error(`decode: image ${i} code ${j} is ${c}, outside [0, ${K})`);
      });
      return im.height;
    });
    const out: RGBImage[] = [];
    for (const [g, idx] of groupBy(sides)) {
      for (let start = 0; start < idx.length; start += CHUNK) {
        const part = idx.slice(start, start + CHUNK);
        const flat = Int32Array.from(part.flatMap((i) => images[i].codes));
        const pixels = this.decodeCodes(flat, part.length, g);
        const per = 16 * g * g * 3;
        part.forEach((i, k) => (out[i] = { height: 4 * g, width: 4 * g, pixels: pixels.slice(k * per, (k + 1) * per) }));
      }
    }
    return out;
  }

  /** Pixels (0–255, [n, 4g, 4g, 3]) of n code grids of side g given as one flat row-major array. */
  decodeCodes(codes: Int32Array, n: number, g: number): Uint8Array {
    const y = tf.tidy(() => {
      const e = this.lookup(tf.tensor1d(codes, 'int32')); // [n·g·g, D]
      const x = this.decoderForward(tf.reshape(e, [n, g, g, this.config.codeDim]));
      return fromModelRange(x);
    });
    const data = y.dataSync() as Int32Array;
    y.dispose();
    return Uint8Array.from(data);
  }

  /** Encode then decode (0–255 pixels in and out, same layout). */
  reconstruct(pixels: Uint8Array, n: number, size: number): Uint8Array {
    const codes = this.encode(pixels, n, size);
    return this.decodeCodes(Int32Array.from(codes.flatMap((c) => c.codes)), n, gridSize(size));
  }

  /**
   * Codes of a PNG. A PNG that is not a supported square size is fitted into `size` (default: the
   * largest supported side) on white, unless `resize: false`, which makes that an error.
   */
  async encodePng(png: Uint8Array, { size, resize = true }: { size?: number; resize?: boolean } = {}): Promise<ImageCodes> {
    const side = size ?? Math.max(...this.config.imageSizes);
    this.checkSize(side, 'encodePng');
    const img = await readPng(png, { size: side, resize });
    return this.encode(img.pixels, 1, side)[0];
  }

  /** PNG of one code grid, enlarged ×`scale` with nearest-neighbour. */
  async decodeToPng(codes: ImageCodes, { scale = 1 }: { scale?: number } = {}): Promise<Uint8Array> {
    return writePng(this.decode([codes])[0], { scale });
  }

  /**
   * A PNG comparing `images` (top row) with their reconstructions (row below), `cols` images per row pair
   * (default all, at most 16). Images of different supported sizes may be mixed.
   */
  async reconstructionGridPng(images: readonly RGBImage[], { cols, scale = 4, pad = 2 }: { cols?: number; scale?: number; pad?: number } = {}): Promise<Uint8Array> {
    if (images.length === 0) throw new Error('reconstructionGridPng: no images');
    const per = cols ?? Math.min(16, images.length);
    const recon = this.decode(this.encodeImages(images));
    const cells: RGBImage[] = [];
    for (let i = 0; i < images.length; i += per) cells.push(...images.slice(i, i + per), ...recon.slice(i, i + per));
    return imageGridPng(cells, { columns: per, scale, padding: pad, background: PREVIEW_BACKGROUND });
  }

  /** This model as the widget server's image coder (upload → codes, codes → pixels). */
  imageCoder(): ImageCoder {
    return {
      encodePng: (png: Uint8Array) => this.encodePng(png),
      decode: (image: ImageCodes): RGBImage => this.decode([image])[0],
    };
  }

  /**
   * This model as liveDecode's PatchRenderer: each code becomes its 4×4 pixel patch. Codes not generated
   * yet (−1) are decoded as the code of a blank white patch, so they don't smear colour into their
   * neighbours, and then drawn in the display's pending colour.
   */
  patchRenderer(): PatchRenderer {
    let blank: number | null = null;
    return {
      patchSize: DOWNSAMPLE,
      render: (codes: readonly number[], grid: { height: number; width: number }): Uint8Array => {
        const { height: H, width: W } = grid;
        if (codes.length !== H * W) throw new Error(`render: ${codes.length} codes for a ${H}×${W} grid`);
        if (blank === null) {
          const side = Math.min(...this.config.imageSizes);
          blank = this.encode(new Uint8Array(side * side * 3).fill(255), 1, side)[0].codes[0];
        }
        const filled = codes.map((c) => (c < 0 ? (blank as number) : c));
        const img = this.decode([{ height: H, width: W, codes: filled }])[0];
        const P = DOWNSAMPLE;
        codes.forEach((c, i) => {
          if (c >= 0) return;
          const r = Math.floor(i / W);
          const col = i % W;
          for (let y = 0; y < P; y++) for (let x = 0; x < P; x++) img.pixels.set(PENDING_RGB, ((r * P + y) * W * P + col * P + x) * 3);
        });
        return img.pixels;
      },
    };
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}

/** [0, 255] bytes or [0, 1] floats → a [−1, 1] float tensor of `shape`. */
export function toModelRange(pixels: Float32Array | Uint8Array, shape: [number, number, number, number]): tf.Tensor4D {
  return tf.tidy(() => {
    if (pixels instanceof Uint8Array) return tf.sub(tf.div(tf.tensor4d(Float32Array.from(pixels), shape), 127.5), 1);
    return tf.sub(tf.mul(tf.tensor4d(pixels, shape), 2), 1);
  });
}

/** [−1, 1] model output → int32 tensor of 0–255 values (clamped, rounded). */
export function fromModelRange(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.cast(tf.round(tf.clipByValue(tf.mul(tf.add(x, 1), 127.5), 0, 255)), 'int32'));
}

/** Indices grouped by key, in first-seen order of the keys. */
function groupBy(keys: number[]): Map<number, number[]> {
  const m = new Map<number, number[]>();
  keys.forEach((k, i) => {
    const list = m.get(k);
    if (list) list.push(i);
    else m.set(k, [i]);
  });
  return m;
}
