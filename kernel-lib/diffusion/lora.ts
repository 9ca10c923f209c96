/**
 * LoRA on the denoiser's attention projections (MUMU, Berman & Peysakhovich 2024, Table 1: "SDXL UNet:
 * rank 8 LoRA"; as diffusers' SDXL LoRA, on q, k, v and out of both the self- and the cross-attention):
 *
 *   W' = W + s · A·B     A [in, r] ~ N(0, 1/r) (seeded), B [r, out] = 0, s = α/√r (rank-stabilised, as adapters/)
 *
 * on every block's attn.qkv (q|k|v fused: one pair over the fused columns), attn.out, cross.q, cross.kv
 * (k|v fused) and cross.out. Why merged weights and not the x·A·B delta: the denoiser reads its linears
 * from a parameter map (layers.ts `dense`), so the adapter is an overlay of that map (Denoiser.weightOverlay)
 * holding W' for its targets, computed in the caller's scope (differentiable with respect to A and B).
 * Why not adapters/: those attach to the language model's projection seam (model/adapter-seam.ts), which
 * the denoiser does not have. B = 0 makes W' = W + 0 = W exactly, and disabled or detached the denoiser
 * reads its own parameters: either way it computes bit-for-bit what it computed without the adapter.
 *
 * Files: `<dir>/decoder-lora.json` {"format": "switchboard-decoder-lora", "version": 1, spec, denoiser shape}
 * and `<dir>/decoder-lora.safetensors` (A and B by parameter path), written atomically.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { assignHostChecked, copyToHost } from '../model/params';
import type { HostTensor } from '../model/params';
import { linear } from '../model/linear';
import { CheckpointError } from '../checkpoint/errors';
import { writeDirAtomic } from '../checkpoint/files';
import { isPlainObject, readJsonFile } from '../checkpoint/json';
import { encodeSafetensors, readSafetensors } from '../checkpoint/safetensors';
import { checkTensors } from '../checkpoint/tensors';
import { mulberry32, normalArray } from '../util/random';
import { diffusionParamShapes } from './config';
import type { Params } from './layers';
import type { LatentDiffusion } from './model';

export const DECODER_LORA_TARGETS = ['attn.qkv', 'attn.out', 'cross.q', 'cross.kv', 'cross.out'] as const;
export type DecoderLoRATarget = (typeof DECODER_LORA_TARGETS)[number];

export interface DecoderLoRAOptions {
  rank: number;
  /** Scaling numerator: W' = W + α/√r · A·B. */
  alpha: number;
  /** Projections that get a pair (default: all five of every block). */
  targets?: DecoderLoRATarget[];
  /** Seed of A's initialisation (default 0). */
  seed?: number;
}

export type DecoderLoRASpec = Required<DecoderLoRAOptions>;

export const DECODER_LORA_FORMAT = 'switchboard-decoder-lora';
export const DECODER_LORA_VERSION = 1;
export const DECODER_LORA_JSON = 'decoder-lora.json';
export const DECODER_LORA_WEIGHTS = 'decoder-lora.safetensors';

function checkOptions(o: DecoderLoRAOptions): DecoderLoRASpec {
  if (!(Number.isInteger(o.rank) && o.rank >= 1)) throw new Error(`decoder LoRA: rank must be a positive integer, got ${JSON.stringify(o.rank)}`);
  if (!(typeof o.alpha === 'number' && Number.isFinite(o.alpha) && o.alpha > 0)) throw new Error(`decoder LoRA: alpha must be a finite number > 0, got ${JSON.stringify(o.alpha)}`);
  const targets = o.targets ?? [...DECODER_LORA_TARGETS];
  for (const t of targets) if (!DECODER_LORA_TARGETS.includes(t)) throw new Error(`decoder LoRA: unknown target '${String(t)}' (targets: ${DECODER_LORA_TARGETS.join(', ')})`);
  if (targets.length === 0 || new Set(targets).size !== targets.length) throw new Error(`decoder LoRA: targets must name each projection at most once and at least one, got ${JSON.stringify(targets)}`);
  const seed = o.seed ?? 0;
  if (!(Number.isInteger(seed) && seed >= 0)) throw new Error(`decoder LoRA: seed must be a non-negative integer, got ${JSON.stringify(o.seed)}`);
  return { rank: o.rank, alpha: o.alpha, targets: DECODER_LORA_TARGETS.filter((t) => targets.includes(t)), seed };
}

/** The base weights an adapter of `spec` targets, with their [in, out] shapes, in denoiser order. */
function targetWeights(ldm: LatentDiffusion, spec: DecoderLoRASpec): Array<{ weight: string; shape: [number, number] }> {
  const shapes = diffusionParamShapes(ldm.config);
  const out: Array<{ weight: string; shape: [number, number] }> = [];
  for (let i = 0; i < ldm.config.denoiser.depth; i++) {
    for (const t of spec.targets) {
      const weight = `denoiser.blocks.${i}.${t}.weight`;
      out.push({ weight, shape: shapes.get(weight) as [number, number] });
    }
  }
  return out;
}

/** `lora.denoiser.blocks.0.attn.qkv.A` for the weight `denoiser.blocks.0.attn.qkv.weight`. */
const pairName = (weight: string, m: 'A' | 'B') => `lora.${weight.replace(/\.weight$/, '')}.${m}`;

export class DecoderLoRA {
  /** A and B of every target, by parameter path (what a training loop trains). */
  readonly params = new Map<string, tf.Variable>();
  readonly scaling: number;
  /** false: the denoiser reads its own parameters (bit-identical to no adapter). */
  enabled = true;
  private readonly targets: Array<{ weight: string; A: tf.Variable<tf.Rank.R2>; B: tf.Variable<tf.Rank.R2> }> = [];
  private attachedTo: LatentDiffusion | null;

  private constructor(ldm: LatentDiffusion, readonly spec: DecoderLoRASpec) {
    if (ldm.denoiser.weightOverlay !== null) throw new Error('decoder LoRA: this decoder already has an adapter attached; detach it first');
    this.scaling = spec.alpha / Math.sqrt(spec.rank);
    const rand = mulberry32(spec.seed);
    const r = spec.rank;
    for (const { weight, shape } of targetWeights(ldm, spec)) {
      const [i, o] = shape;
      const a = normalArray(i * r, 1 / Math.sqrt(r), rand); // A ~ N(0, 1/r)
      // inside tidy: tf.variable keeps its own reference, the initial tensor is freed
      const A = tf.tidy(() => tf.variable(tf.tensor2d(a, [i, r])));
      const B = tf.tidy(() => tf.variable(tf.zeros<tf.Rank.R2>([r, o])));
      this.params.set(pairName(weight, 'A'), A);
      this.params.set(pairName(weight, 'B'), B);
      this.targets.push({ weight, A, B });
    }
    this.attachedTo = ldm;
    ldm.denoiser.weightOverlay = (p) => this.overlay(p);
  }

  /** Attaches a fresh adapter (B = 0: the decoder is unchanged until it trains). */
  static attach(ldm: LatentDiffusion, o: DecoderLoRAOptions): DecoderLoRA {
    return new DecoderLoRA(ldm, checkOptions(o));
  }

  /** Attaches the adapter saved in `dir` (checked against the decoder before anything is attached). */
  static load(ldm: LatentDiffusion, dir: string): DecoderLoRA {
    const { spec, params } = readDecoderLoRA(dir, ldm);
    const a = DecoderLoRA.attach(ldm, spec);
    a.assign(params, path.join(dir, DECODER_LORA_WEIGHTS));
    return a;
  }

  /** The denoiser's weights with W + s·A·B at the targets (see the file comment). */
  private overlay(p: Params): Params {
    if (!this.enabled) return p;
    const out = new Map(p);
    for (const t of this.targets) {
      const w = p.get(t.weight) as tf.Tensor2D;
      out.set(t.weight, tf.add(w, tf.mul(linear(t.A, t.B), this.scaling))); // [in, out]
    }
    return out;
  }

  get numParams(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  hostParams(): Map<string, HostTensor> {
    return copyToHost(this.params);
  }

  /** Sets A and B from host tensors (all checked before any is assigned). */
  assign(host: ReadonlyMap<string, HostTensor>, where = 'DecoderLoRA.assign'): void {
    assignHostChecked(this.params, host, where, 'adapter parameter');
  }

  /** Writes the adapter directory atomically (float32). */
  save(dir: string): void {
    const ldm = this.attachedTo;
    if (!ldm) throw new Error('decoder LoRA: save after detach');
    const { dim, depth } = ldm.config.denoiser;
    const meta = { format: DECODER_LORA_FORMAT, version: DECODER_LORA_VERSION, spec: this.spec, denoiser: { dim, depth, captionDim: ldm.config.caption.dim } };
    writeDirAtomic(
      dir,
      new Map<string, string | Uint8Array>([
        [DECODER_LORA_JSON, `${JSON.stringify(meta, null, 2)}\n`],
        [DECODER_LORA_WEIGHTS, encodeSafetensors(this.hostParams(), { metadata: { format: DECODER_LORA_FORMAT } })],
      ]),
    );
  }

  /** Removes the overlay (the decoder reads its own parameters again) and frees A and B. */
  detach(): void {
    if (!this.attachedTo) return;
    this.attachedTo.denoiser.weightOverlay = null;
    this.attachedTo = null;
    for (const v of this.params.values()) v.dispose();
  }
}

/** Reads and checks an adapter directory against a decoder (its shape, every tensor). */
export function readDecoderLoRA(dir: string, ldm: LatentDiffusion): { spec: DecoderLoRASpec; params: Map<string, HostTensor> } {
  const file = path.join(dir, DECODER_LORA_JSON);
  if (!fs.existsSync(file)) throw new CheckpointError(dir, `no ${DECODER_LORA_JSON} (is this a decoder LoRA directory?)`);
  const raw = readJsonFile(file);
  if (!isPlainObject(raw) || raw.format !== DECODER_LORA_FORMAT) throw new CheckpointError(file, `"format" is ${JSON.stringify(isPlainObject(raw) ? raw.format : raw)}, expected "${DECODER_LORA_FORMAT}"`);
  if (raw.version !== DECODER_LORA_VERSION) throw new CheckpointError(file, `"version" is ${JSON.stringify(raw.version)}; this code reads version ${DECODER_LORA_VERSION}`);
  let spec: DecoderLoRASpec;
  try {
    spec = checkOptions(raw.spec as DecoderLoRAOptions);
  } catch (e) {
    throw new CheckpointError(file, (e as Error).message);
  }
  const shape = raw.denoiser as { dim?: unknown; depth?: unknown; captionDim?: unknown } | undefined;
  const { dim, depth } = ldm.config.denoiser;
  if (!shape || shape.dim !== dim || shape.depth !== depth || shape.captionDim !== ldm.config.caption.dim) {
    throw new CheckpointError(file, `the adapter is for a denoiser of ${JSON.stringify(shape)}, this decoder has {"dim":${dim},"depth":${depth},"captionDim":${ldm.config.caption.dim}}`);
  }
  const weights = path.join(dir, DECODER_LORA_WEIGHTS);
  const { tensors } = readSafetensors(weights);
  const want = new Map<string, number[]>();
  for (const { weight, shape: [i, o] } of targetWeights(ldm, spec)) {
    want.set(pairName(weight, 'A'), [i, spec.rank]);
    want.set(pairName(weight, 'B'), [spec.rank, o]);
  }
  checkTensors(weights, tensors, want, 'spec');
  return { spec, params: tensors };
}
