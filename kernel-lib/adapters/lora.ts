/**
 * Low-rank adapters on the attention projections (Hu et al. 2022), in two kinds:
 *
 *   LoRAAdapter         every token:        y = W x + s · B A x
 *   PartialLoRAAdapter  image tokens only:  y_v = (W + s · B A) x_v,  y_t = W x_t   (PLoRA, Dong et al.
 *                       2024; the paper's Eq. 1), so a text-only sequence computes exactly the base model.
 *
 * with rank-stabilised scaling s = α/√r (Kalajdzievski 2023), B = 0 at attachment (attaching changes
 * nothing until trained) and A ~ N(0, 1/r), seeded. The model stores linear weights [in, out], so the
 * delta is computed as s · (x·A)·B with A [in, r] and B [r, out].
 *
 * The fused q|k|v projection keeps separate A/B per q, k and v; their deltas land in the fused column
 * layout [q: nh·hd | k: nKv·hd | v: nKv·hd] (computed in two products for all three: fused.ts); a
 * projection without an adapter contributes zero columns. Parameter paths: `adapters.<name>.blocks.<i>.attn.<q|k|v|o>.<A|B>`.
 */
import * as tf from '@tensorflow/tfjs';
import { MoEConfig, headDim } from '../model/config';
import { linear } from '../model/linear';
import { mulberry32, normalArray } from '../util/random';
import { AdapterContext, MODALITY_CODES, ProjectionAdapter, ProjectionTarget } from '../model/adapter-seam';
import type { PositionMeta } from '../model/positions';
import { adapterDropout } from './dropout';
import { concatColumns, upWeights } from './fused';

export type LoRAKind = 'lora' | 'plora';
export type LoRATarget = 'q' | 'k' | 'v' | 'o';
export const LORA_TARGETS: readonly LoRATarget[] = ['q', 'k', 'v', 'o'];

export interface LoRAOptions {
  /** 'lora': every token; 'plora': image tokens only (Partial LoRA). */
  kind: LoRAKind;
  rank: number;
  /** Scaling numerator: the delta is multiplied by alpha/√rank (rank-stabilised LoRA). */
  alpha: number;
  /** Layers that get adapters (default: all). */
  layers?: number[];
  /** Projections that get adapters (default: q, k, v, o). */
  targets?: LoRATarget[];
  /** Adapter name, part of every parameter path (default: the kind). */
  name?: string;
  /** Seed of A's initialisation (default 0). */
  seed?: number;
  /**
   * Dropout on the adapter's input in training forwards (PEFT's lora_dropout; default 0, notebook 01's
   * adapters have none); 0 ≤ dropout < 1.
   */
  dropout?: number;
}

/** Options with every default filled in (what save files record). */
export interface LoRASpec {
  kind: LoRAKind;
  name: string;
  rank: number;
  alpha: number;
  layers: number[];
  targets: LoRATarget[];
  seed: number;
  /** Present only when > 0, so the specs (and files) of adapters without dropout read as before it existed. */
  dropout?: number;
}

/** [in, out] of one projection's low-rank pair, for a model config. */
export function projectionShape(cfg: MoEConfig, t: LoRATarget): { in: number; out: number } {
  const hd = headDim(cfg);
  if (t === 'o') return { in: cfg.numHeads * hd, out: cfg.hiddenSize };
  return { in: cfg.hiddenSize, out: (t === 'q' ? cfg.numHeads : cfg.numKvHeads) * hd };
}

/** What every adapter kind takes besides its own options (layers, targets, name, seed). */
export interface CommonAdapterOptions {
  kind: string;
  rank: number;
  alpha: number;
  layers?: number[];
  targets?: LoRATarget[];
  name?: string;
  seed?: number;
}

/**
 * Validates the options every adapter kind shares and fills in their defaults (all layers, q/k/v/o,
 * name = kind, seed 0); layers come back sorted and targets in q, k, v, o order. Messages name the field.
 */
export function commonAdapterSpec(cfg: MoEConfig, o: CommonAdapterOptions): { rank: number; alpha: number; layers: number[]; targets: LoRATarget[]; name: string; seed: number } {
  if (!Number.isInteger(o.rank) || o.rank < 1) throw new Error(`rank must be a positive integer, got ${JSON.stringify(o.rank)}`);
  if (typeof o.alpha !== 'number' || !Number.isFinite(o.alpha)) throw new Error(`alpha must be a finite number, got ${JSON.stringify(o.alpha)}`);
  const layers = o.layers ?? Array.from({ length: cfg.numLayers }, (_, i) => i);
  for (const l of layers) {
    if (!Number.isInteger(l) || l < 0 || l >= cfg.numLayers) throw new Error(`layers: ${JSON.stringify(l)} is not a layer of this ${cfg.numLayers}-layer model`);
  }
  if (new Set(layers).size !== layers.length) throw new Error(`layers: ${JSON.stringify(layers)} repeats a layer`);
  const targets = o.targets ?? LORA_TARGETS.slice();
  for (const t of targets) if (!LORA_TARGETS.includes(t)) throw new Error(`targets: ${JSON.stringify(t)} is not one of q, k, v, o`);
  if (targets.length === 0 || new Set(targets).size !== targets.length) throw new Error(`targets must name q, k, v or o once each, got ${JSON.stringify(targets)}`);
  const name = o.name ?? o.kind;
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`name must be letters, digits, '_' or '-', got ${JSON.stringify(name)}`);
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${JSON.stringify(o.seed)}`);
  return { rank: o.rank, alpha: o.alpha, layers: [...layers].sort((a, b) => a - b), targets: LORA_TARGETS.filter((t) => targets.includes(t)), name, seed };
}

/** Validates options against a model config and fills in the defaults; messages name the field. */
export function loraSpec(cfg: MoEConfig, o: LoRAOptions): LoRASpec {
  if (o.kind !== 'lora' && o.kind !== 'plora') throw new Error(`kind must be 'lora' or 'plora', got ${JSON.stringify(o.kind)}`);
  const dropout = o.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new Error(`dropout must be a number in [0, 1), got ${JSON.stringify(o.dropout)}`);
  return { kind: o.kind, ...commonAdapterSpec(cfg, o), ...(dropout > 0 ? { dropout } : {}) };
}

/** Number of adapter weights for a spec (A and B of every adapted projection). */
export function loraParamCount(cfg: MoEConfig, spec: Pick<LoRASpec, 'rank' | 'layers' | 'targets'>): number {
  const perLayer = spec.targets.reduce((n, t) => {
    const s = projectionShape(cfg, t);
    return n + spec.rank * (s.in + s.out);
  }, 0);
  return perLayer * spec.layers.length;
}

/** Plain LoRA: the low-rank delta at every position. */
export class LoRAAdapter implements ProjectionAdapter {
  enabled = true;
  readonly name: string;
  readonly spec: LoRASpec;
  /** α/√r. */
  readonly scaling: number;
  private readonly vars = new Map<string, tf.Variable>();
  private readonly layerSet: Set<number>;
  private readonly widths: Record<LoRATarget, number>;
  private disposed = false;

  constructor(readonly config: MoEConfig, options: LoRAOptions) {
    this.spec = loraSpec(config, options);
    this.name = this.spec.name;
    this.scaling = this.spec.alpha / Math.sqrt(this.spec.rank);
    this.layerSet = new Set(this.spec.layers);
    this.widths = { q: projectionShape(config, 'q').out, k: projectionShape(config, 'k').out, v: projectionShape(config, 'v').out, o: config.hiddenSize };
    const r = this.spec.rank;
    const rand = mulberry32(this.spec.seed);
    for (const l of this.spec.layers) {
      for (const t of this.spec.targets) {
        const s = projectionShape(config, t);
        const a = normalArray(s.in * r, 1 / Math.sqrt(r), rand); // A ~ N(0, 1/r)
        this.vars.set(this.path(l, t, 'A'), tf.tidy(() => tf.variable(tf.tensor2d(a, [s.in, r]), true)));
        this.vars.set(this.path(l, t, 'B'), tf.tidy(() => tf.variable(tf.zeros([r, s.out]), true)));
      }
    }
  }

  /** `adapters.<name>.blocks.<layer>.attn.<target>.<A|B>` */
  path(layer: number, target: LoRATarget, which: 'A' | 'B'): string {
    return `adapters.${this.name}.blocks.${layer}.attn.${target}.${which}`;
  }

  parameters(): Map<string, tf.Variable> {
    if (this.disposed) throw new Error(`adapter '${this.name}' was detached`);
    return new Map(this.vars);
  }

  appliesTo(layer: number, target: ProjectionTarget): boolean {
    if (!this.layerSet.has(layer)) return false;
    const t = this.spec.targets;
    return target === 'attn.wo' ? t.includes('o') : t.includes('q') || t.includes('k') || t.includes('v');
  }

  /**
   * Rows of x that get the adapter, as a [N, 1] 0/1 mask; null means every row, 'none' means no row.
   * Plain LoRA adapts every row.
   */
  protected rowMask(_N: number, _positions: PositionMeta | undefined): tf.Tensor2D | null | 'none' {
    return null;
  }

  /**
   * s · (x·A_t)·B_t in t's columns, in the fused form (fused.ts): x·[A_q | A_k | A_v] then one product with
   * the block-diagonal B's. Partial LoRA zeroes the rows it does not adapt after the first product (an exact
   * 0, as masking x was: a zero row of x·A is a zero row of the delta).
   */
  delta(layer: number, target: ProjectionTarget, x: tf.Tensor2D, ctx: AdapterContext): tf.Tensor2D {
    const N = x.shape[0];
    const outWidth = target === 'attn.wo' ? this.widths.o : this.widths.q + this.widths.k + this.widths.v;
    const mask = this.rowMask(N, ctx.positions);
    if (mask === 'none') return tf.zeros([N, outWidth]); // exactly the base projection, and no gradient
    const p = this.spec.dropout ?? 0;
    const xd = adapterDropout(x, p, ctx, { adapter: this.name, layer, target }); // training forwards only, seeded per step
    const offsets: Record<LoRATarget, number> = { q: 0, k: this.widths.q, v: this.widths.q + this.widths.k, o: 0 };
    const targets = (target === 'attn.wo' ? ['o'] : ['q', 'k', 'v']).filter((t) => this.spec.targets.includes(t as LoRATarget)) as LoRATarget[];
    const w = (t: LoRATarget, which: 'A' | 'B') => this.vars.get(this.path(layer, t, which)) as tf.Tensor as tf.Tensor2D;
    const low = linear(xd, concatColumns(targets.map((t) => w(t, 'A')))); // [N, targets·r]
    const kept: tf.Tensor2D = mask ? tf.mul(low, mask) : low; // masked rows exactly 0, so their delta and gradients are too
    return tf.mul(linear(kept, upWeights([targets.map((t) => ({ B: w(t, 'B'), offset: offsets[t] }))], outWidth)), this.scaling); // [N, out], the fused q|k|v column layout
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.vars.values()) v.dispose();
  }
}

/**
 * Partial LoRA (the paper's Eq. 1): the delta only at image-token positions (modality code 1); text and
 * special tokens use the base weights alone. Needs the per-token modality codes of every forward.
 */
export class PartialLoRAAdapter extends LoRAAdapter {
  protected override rowMask(N: number, positions: PositionMeta | undefined): tf.Tensor2D | null | 'none' {
    if (!positions) {
      throw new Error(
        `Partial LoRA adapter '${this.name}' needs each token's modality: pass modalities (codes 0 text, 1 image, 2 special) ` +
          'or positions (positionMeta) to forward/prefill/step, or go through Session.trace/generate/train, which pass them',
      );
    }
    const modalities = positions.modality;
    if (modalities.length !== N) throw new Error(`Partial LoRA adapter '${this.name}': ${modalities.length} modality codes for ${N} tokens`);
    const m = new Float32Array(N);
    let any = false;
    for (let i = 0; i < N; i++) if (modalities[i] === MODALITY_CODES.image) (m[i] = 1), (any = true);
    return any ? tf.tensor2d(m, [N, 1]) : 'none';
  }
}

/** A LoRA or PLoRA adapter for a spec. */
export function createLoRA(config: MoEConfig, options: LoRAOptions): LoRAAdapter {
  return options.kind === 'plora' ? new PartialLoRAAdapter(config, options) : new LoRAAdapter(config, options);
}
