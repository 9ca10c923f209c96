/**
 * The workbench CLIP: an image tower and a text tower trained contrastively (InfoNCE, learnable
 * temperature) on emoji and scene captions, giving the stand-ins for CLIP-T (image–caption cosine),
 * CLIP-I (image–image cosine) and the image features FID is measured on. Architecture: clip-config.ts.
 *
 * A checkpoint is a directory: config.json ({model_type: "switchboard-clip", config, ...}),
 * model.safetensors (keys = parameter names, F16 or F32) and tokenizer.json (the BPE it was trained
 * with, so later tokenizer retraining cannot shift its token ids).
 *
 *   const clip = await loadClip();                       // data/checkpoints/clip-emoji
 *   clip.clipT(images, captions).mean;                   // mean cosine of matching pairs
 *   const f = clip.imageFeatures(images);                 // [N·d] L2-normalised, for FID
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend/backend';
import { encodeSafetensors, readSafetensors } from '../checkpoint/safetensors';
import { writeDirAtomic } from '../checkpoint/files';
import type { RGBImage } from '../image/types';
import { checkpointDir } from '../paths';
import { HostTensor } from '../model/params';
import { mulberry32, normalArray } from '../util/random';
import { ByteLevelBPE } from '../tokenizer';
import { ClipConfig, clipParamShapes, defaultClipConfig, patchGrid, validateClipConfig } from './clip-config';
import { imageTower, textTower } from './clip-towers';
import { imagePatches, textBags } from './clip-inputs';

export const CLIP_MODEL_TYPE = 'switchboard-clip';
export const CLIP_FORMAT_VERSION = 1;

/** Where the shipped CLIP lives. */
export function defaultClipDir(): string {
  return checkpointDir('clip-emoji');
}

/** Mean and per-pair cosine similarities. */
export interface PairScores {
  mean: number;
  scores: Float32Array;
}

export interface ClipSaveOptions {
  /** Weight storage (default float16). */
  dtype?: 'float16' | 'float32';
  /** More plain-JSON keys for config.json (training info). */
  extra?: Record<string, unknown>;
}

const EVAL_BATCH = 256;
/** Numbers each model's variables: tf.js variable names must be unique in the process. */
let instances = 0;

export class ClipModel {
  private readonly tokenCache = new Map<string, number[]>();

  private constructor(
    readonly config: ClipConfig,
    readonly params: Map<string, tf.Variable>,
    readonly tokenizer: ByteLevelBPE,
    /** config.json keys beyond the config (training info of a loaded checkpoint). */
    readonly extra: Record<string, unknown> = {},
  ) {}

  /** A freshly initialised model (He-normal for ReLU layers, 1/√in for projections; seeded). */
  static create(tokenizer: ByteLevelBPE, config: ClipConfig = defaultClipConfig({ vocabSize: tokenizer.vocabSize }), seed = 0): ClipModel {
    validateClipConfig(config);
    if (tokenizer.vocabSize !== config.vocabSize) {
      throw new Error(`ClipModel: the tokenizer has ${tokenizer.vocabSize} tokens but ClipConfig.vocabSize is ${config.vocabSize}`);
    }
    const rand = mulberry32(seed);
    const host = new Map<string, HostTensor>();
    for (const [name, shape] of clipParamShapes(config)) {
      const n = shape.reduce((a, b) => a * b, 1);
      let data: Float32Array;
      if (name === 'logit_scale') data = new Float32Array([config.initLogitScale]);
      else if (name.endsWith('.bias')) data = new Float32Array(n);
      else if (name === 'text.embed.weight') data = normalArray(n, 1 / Math.sqrt(shape[1]), rand);
      else if (name.endsWith('.proj.weight')) data = normalArray(n, 1 / Math.sqrt(shape[0]), rand);
      else data = normalArray(n, Math.sqrt(2 / shape[0]), rand);
      host.set(name, { shape, data });
    }
    return ClipModel.fromHost(config, host, tokenizer);
  }

  private static fromHost(config: ClipConfig, host: Map<string, HostTensor>, tokenizer: ByteLevelBPE, extra: Record<string, unknown> = {}): ClipModel {
    const params = new Map<string, tf.Variable>();
    const id = instances++;
    for (const [name] of clipParamShapes(config)) {
      const h = host.get(name) as HostTensor;
      params.set(name, tf.tidy(() => tf.variable(tf.tensor(h.data, h.shape), true, `clip${id}/${name}`)));
    }
    return new ClipModel(config, params, tokenizer, extra);
  }

  /** Loads a checkpoint directory (validating config, tokenizer and every tensor). */
  static load(dir: string = defaultClipDir()): ClipModel {
    const at = (f: string): string => path.join(dir, f);
    const fail = (file: string, msg: string): never => {
      throw new Error(`${at(file)}: ${msg}`);
    };
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(fs.readFileSync(at('config.json'), 'utf8')) as Record<string, unknown>;
    } catch (e) {
      return fail('config.json', (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot read (${(e as Error).message})`);
    }
    if (json.model_type !== CLIP_MODEL_TYPE) fail('config.json', `model_type is ${JSON.stringify(json.model_type)}, expected "${CLIP_MODEL_TYPE}"`);
    if (json.format !== CLIP_FORMAT_VERSION) fail('config.json', `format ${JSON.stringify(json.format)}; this code reads format ${CLIP_FORMAT_VERSION}`);
    let config: ClipConfig;
    try {
      config = validateClipConfig({ ...defaultClipConfig(), ...(json.config as Partial<ClipConfig>) });
    } catch (e) {
      return fail('config.json', (e as Error).message);
    }
    let tokenizer: ByteLevelBPE;
    try {
      tokenizer = ByteLevelBPE.fromHF(JSON.parse(fs.readFileSync(at('tokenizer.json'), 'utf8')));
    } catch (e) {
      return fail('tokenizer.json', (e as Error).message);
    }
    if (tokenizer.vocabSize !== config.vocabSize) fail('tokenizer.json', `has ${tokenizer.vocabSize} tokens, config.vocabSize is ${config.vocabSize}`);
    const { tensors } = readSafetensors(at('model.safetensors'));
    const host = new Map<string, HostTensor>();
    for (const [name, shape] of clipParamShapes(config)) {
      const t = tensors.get(name);
      if (!t) fail('model.safetensors', `missing tensor "${name}"`);
      if (t!.shape.join(',') !== shape.join(',')) fail('model.safetensors', `tensor "${name}" has shape [${t!.shape}], expected [${shape}]`);
      if (!t!.data.every(Number.isFinite)) fail('model.safetensors', `tensor "${name}" has non-finite values`);
      host.set(name, { shape, data: t!.data });
    }
    const extraNames = [...tensors.keys()].filter((n) => !host.has(n));
    if (extraNames.length > 0) fail('model.safetensors', `unexpected tensor "${extraNames[0]}"`);
    const { model_type: _t, format: _f, config: _c, ...extra } = json;
    return ClipModel.fromHost(config, host, tokenizer, extra);
  }

  /**
   * Writes config.json, model.safetensors and tokenizer.json as directory `dir`, atomically (the
   * previous checkpoint stays until the new one is complete); other files already there (README.md,
   * metrics.json) are carried over.
   */
  save(dir: string, options: ClipSaveOptions = {}): void {
    const dtype = options.dtype ?? 'float16';
    const config = { model_type: CLIP_MODEL_TYPE, format: CLIP_FORMAT_VERSION, torch_dtype: dtype, config: this.config, ...options.extra };
    writeDirAtomic(
      dir,
      new Map<string, Uint8Array | string>([
        ['model.safetensors', encodeSafetensors(this.hostParams(), { dtype: dtype === 'float16' ? 'F16' : 'F32', metadata: { format: 'pt' } })],
        ['tokenizer.json', `${JSON.stringify(this.tokenizer.toHF(), null, 2)}\n`],
        ['config.json', `${JSON.stringify(config, null, 2)}\n`],
      ]),
      { keepOthers: true },
    );
  }

  /** Parameters as host tensors, in checkpoint order. */
  hostParams(): Map<string, HostTensor> {
    const out = new Map<string, HostTensor>();
    for (const [name, v] of this.params) out.set(name, { shape: v.shape.slice(), data: v.dataSync() as Float32Array });
    return out;
  }

  /** Copies host values into the parameters (shapes must match). */
  setParams(host: Map<string, HostTensor>): void {
    for (const [name, h] of host) {
      const v = this.params.get(name);
      if (!v || v.shape.join(',') !== h.shape.join(',')) throw new Error(`ClipModel.setParams: '${name}' does not fit this model`);
    }
    tf.tidy(() => {
      for (const [name, h] of host) (this.params.get(name) as tf.Variable).assign(tf.tensor(h.data, h.shape));
    });
  }

  get numParams(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  /** exp(logit_scale), capped as in training. */
  get logitScale(): number {
    return Math.exp(Math.min(this.p('logit_scale').dataSync()[0], this.config.maxLogitScale));
  }

  private p(name: string): tf.Variable {
    return this.params.get(name) as tf.Variable;
  }

  // ------------------------------------------------------------------------------------------ towers

  /** Image tower on patches from imagePatches: [B·64, P²·3] → [B, d], L2-normalised. Call inside tidy. */
  imageTower(patches: tf.Tensor2D, B: number): tf.Tensor2D {
    return imageTower(this.params, this.config, patches, B);
  }

  /** Text tower on bags from textBags: [2B, V] → [B, d], L2-normalised. Call inside tidy. */
  textTower(bags: tf.Tensor2D, B: number): tf.Tensor2D {
    return textTower(this.params, this.config, bags, B);
  }

  /** The BPE ids of a caption (memoised: captions repeat across epochs). */
  tokenize(text: string): number[] {
    let ids = this.tokenCache.get(text);
    if (ids === undefined) {
      ids = this.tokenizer.encode(text);
      if (this.tokenCache.size < 100_000) this.tokenCache.set(text, ids);
    }
    return ids;
  }

  // --------------------------------------------------------------------------------------- inference

  /** L2-normalised image embeddings, row-major [N, d]. `shifts`: see imagePatches. */
  imageEmbeddings(images: readonly RGBImage[], batchSize = EVAL_BATCH, onBatch?: (done: number) => void): Float32Array {
    const d = this.config.embedDim;
    const out = new Float32Array(images.length * d);
    const rowLen = this.config.patchSize * this.config.patchSize * 3;
    const G2 = patchGrid(this.config) ** 2;
    for (let s = 0; s < images.length; s += batchSize) {
      const chunk = images.slice(s, s + batchSize);
      const patches = imagePatches(chunk, this.config);
      const e = tf.tidy(() => this.imageTower(tf.tensor2d(patches, [chunk.length * G2, rowLen]), chunk.length));
      out.set(e.dataSync(), s * d);
      e.dispose();
      onBatch?.(s + chunk.length);
    }
    return out;
  }

  /** L2-normalised caption embeddings, row-major [N, d]. */
  textEmbeddings(texts: readonly string[], batchSize = EVAL_BATCH, onBatch?: (done: number) => void): Float32Array {
    const d = this.config.embedDim;
    const V = this.config.vocabSize;
    const out = new Float32Array(texts.length * d);
    for (let s = 0; s < texts.length; s += batchSize) {
      const chunk = texts.slice(s, s + batchSize);
      const bags = textBags(chunk.map((t) => this.tokenize(t)), V);
      const e = tf.tidy(() => this.textTower(tf.tensor2d(bags, [2 * chunk.length, V]), chunk.length));
      out.set(e.dataSync(), s * d);
      e.dispose();
      onBatch?.(s + chunk.length);
    }
    return out;
  }

  /** The image features FID is computed on: the L2-normalised image embeddings, [N, d]. */
  imageFeatures(images: readonly RGBImage[]): Float32Array {
    return this.imageEmbeddings(images);
  }

  /** Cosine similarities [nA, nB] of two sets of normalised embeddings (row-major, d columns). */
  similarity(a: Float32Array, b: Float32Array): Float32Array {
    const d = this.config.embedDim;
    return tf.tidy(() => tf.matMul(tf.tensor2d(a, [a.length / d, d]), tf.transpose(tf.tensor2d(b, [b.length / d, d]))).dataSync() as Float32Array);
  }

  /**
   * CLIP-T: cosine between image i and caption i (the usual text–image alignment score).
   * `onProgress(done, total)` counts images and captions embedded.
   */
  clipT(images: readonly RGBImage[], captions: readonly string[], o: { onProgress?: (done: number, total: number) => void } = {}): PairScores {
    if (images.length !== captions.length) throw new Error(`clipT: ${images.length} images but ${captions.length} captions`);
    const n = images.length;
    const img = this.imageEmbeddings(images, EVAL_BATCH, o.onProgress && ((done) => o.onProgress?.(done, 2 * n)));
    const txt = this.textEmbeddings(captions, EVAL_BATCH, o.onProgress && ((done) => o.onProgress?.(n + done, 2 * n)));
    return pairCosines(img, txt, this.config.embedDim);
  }

  /** CLIP-I: cosine between image a[i] and image b[i] (e.g. a generation and its reference). */
  clipI(a: readonly RGBImage[], b: readonly RGBImage[]): PairScores {
    if (a.length !== b.length) throw new Error(`clipI: ${a.length} images vs ${b.length} images`);
    return pairCosines(this.imageEmbeddings(a), this.imageEmbeddings(b), this.config.embedDim);
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}

function pairCosines(a: Float32Array, b: Float32Array, d: number): PairScores {
  const n = a.length / d;
  const scores = new Float32Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += a[i * d + k] * b[i * d + k];
    scores[i] = s;
    sum += s;
  }
  return { mean: n > 0 ? sum / n : NaN, scores };
}

/** Initialises the backend and loads a CLIP checkpoint (default: the shipped clip-emoji). */
export async function loadClip(dir: string = defaultClipDir()): Promise<ClipModel> {
  await initBackend();
  return ClipModel.load(dir);
}
