/**
 * The common body of the output-modality adapters (modality-spec.ts): a linear LoRA branch (Eq. 3) at
 * positions that output text or `<eoi>`, a kind-specific image branch at positions that output image
 * codes. Each row gets exactly one branch (causal-grid.ts branchRows zeroes the other), so a sequence
 * without image outputs computes the text LoRA alone.
 *
 * One call, for its targets (q, k, v together, or o) in the fused form (fused.ts; c = targets × r):
 *
 *   P   = x · [A_text | image taps]       [N, c + Σ_k k²·c]   (SAM: then a second product, below)
 *   low = branchRows(P)                   [N, 2c]   text columns on text rows, the image taps summed on image rows
 *   Δ   = low · s·[blockdiag(B_text); blockdiag(B_image)]     [N, out]
 *
 * The kinds differ in their image taps (imageTaps): MoE-LoRA x·A_image, one 1×1 tap; ConvLoRA the 2×2
 * conv's four taps of x; SAM-ConvLoRA z = x·A_image, then its 2×2 and 4×4 convs' taps of z.
 *
 * Parameter paths: `adapters.<name>.blocks.<i>.attn.<q|k|v|o>.<text|image>.<weight>`; the model stores
 * linear weights [in, out], so A is [in, r] and B [r, out] (PEFT's transposes; peft.ts converts).
 */
import * as tf from '@tensorflow/tfjs';
import { MoEConfig } from '../model/config';
import { linear } from '../model/linear';
import { mulberry32, normalArray } from '../util/random';
import type { AdapterContext, AdapterDecodeState, ProjectionAdapter, ProjectionTarget } from '../model/adapter-seam';
import { LoRATarget, projectionShape } from './lora';
import { ModalityLoRAOptions, ModalityLoRASpec, modalitySpec } from './modality-spec';
import { branchRows, GridHistory, outputCells } from './causal-grid';
import { adapterDropout } from './dropout';
import { concatColumns, UpBlock, upWeights } from './fused';

export type Branch = 'text' | 'image';

/**
 * An image branch's taps for one call: the image tap columns of P are x·first (·second when given), laid
 * out as branchRows reads them: per kernel, k² tap blocks of c columns, each block target-major (target j's
 * r columns at j·r).
 */
export interface ImageTaps {
  /** [in, m]: multiplies the projection input (beside the text A's). */
  first: tf.Tensor2D;
  /** [m, Σ k²·c], or null when x·first already is the tap columns (m = Σ k²·c). */
  second: tf.Tensor2D | null;
  kernels: readonly number[];
}

export abstract class ModalityLoRAAdapter implements ProjectionAdapter {
  enabled = true;
  readonly name: string;
  readonly spec: ModalityLoRASpec;
  /** α/√r. */
  readonly scaling: number;
  protected readonly vars = new Map<string, tf.Variable>();
  private readonly layerSet: Set<number>;
  private disposed = false;

  constructor(readonly config: MoEConfig, options: ModalityLoRAOptions) {
    this.spec = modalitySpec(config, options);
    this.name = this.spec.name;
    this.scaling = this.spec.alpha / Math.sqrt(this.spec.rank);
    this.layerSet = new Set(this.spec.layers);
    const r = this.spec.rank;
    const rand = mulberry32(this.spec.seed);
    for (const l of this.spec.layers) {
      for (const t of this.spec.targets) {
        const s = projectionShape(config, t);
        this.addVar(l, t, 'text', 'A', normalArray(s.in * r, 1 / Math.sqrt(r), rand), [s.in, r]); // A ~ N(0, 1/r)
        this.addVar(l, t, 'text', 'B', null, [r, s.out]);
        for (const [w, shape, std] of this.imageShapes(s.in, s.out)) this.addVar(l, t, 'image', w, std === 0 ? null : normalArray(shape[0] * shape[1], std, rand), shape);
      }
    }
  }

  /** The image branch's weights: [name, shape, init std (0 = zeros)], in creation order. */
  protected abstract imageShapes(dIn: number, dOut: number): [string, [number, number], number][];

  /** The image branch's taps for these targets of a layer (see ImageTaps). */
  protected abstract imageTaps(layer: number, targets: LoRATarget[]): ImageTaps;

  /** Whether the image branch needs each row's grid cell (the conv kinds). */
  protected abstract readonly usesGrid: boolean;

  private addVar(l: number, t: LoRATarget, b: Branch, w: string, data: Float32Array | null, shape: [number, number]): void {
    this.vars.set(this.path(l, t, b, w), tf.tidy(() => tf.variable(data ? tf.tensor2d(data, shape) : tf.zeros(shape), true)));
  }

  path(layer: number, target: LoRATarget, branch: Branch, w: string): string {
    return `adapters.${this.name}.blocks.${layer}.attn.${target}.${branch}.${w}`;
  }

  protected v(layer: number, target: LoRATarget, branch: Branch, w: string): tf.Tensor2D {
    return this.vars.get(this.path(layer, target, branch, w)) as tf.Tensor as tf.Tensor2D;
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

  createDecodeState(): AdapterDecodeState {
    return new GridHistory();
  }

  /** Where each target's columns start in its projection's output, and that output's width. */
  private layout(target: ProjectionTarget): { offsets: Record<LoRATarget, number>; out: number } {
    const w = (t: LoRATarget) => projectionShape(this.config, t).out;
    if (target === 'attn.wo') return { offsets: { q: 0, k: 0, v: 0, o: 0 }, out: w('o') };
    return { offsets: { q: 0, k: w('q'), v: w('q') + w('k'), o: 0 }, out: w('q') + w('k') + w('v') };
  }

  delta(layer: number, target: ProjectionTarget, x0: tf.Tensor2D, ctx: AdapterContext): tf.Tensor2D {
    const N = x0.shape[0];
    const who = `${this.spec.kind} adapter '${this.name}'`;
    const W = this.spec.grid?.width ?? 1;
    const cells = outputCells(ctx.positions, N, W, who);
    const x = adapterDropout(x0, this.spec.dropout, ctx, { adapter: this.name, layer, target });
    let nImg = 0;
    for (let i = 0; i < N; i++) if (cells[i] >= 0) nImg++;
    const targets = (target === 'attn.wo' ? ['o'] : ['q', 'k', 'v']).filter((t) => this.spec.targets.includes(t as LoRATarget)) as LoRATarget[];
    const { offsets, out } = this.layout(target);
    const up = (b: Branch): UpBlock[] => targets.map((t) => ({ B: this.v(layer, t, b, 'B'), offset: offsets[t] }));
    const textA = concatColumns(targets.map((t) => this.v(layer, t, 'text', 'A'))); // [in, c]
    // Conv kinds read earlier rows: run their branch on every call while decoding so the history stays whole.
    if (nImg === 0 && !(this.usesGrid && ctx.states !== undefined)) {
      return linear(linear(x, textA), upWeights([up('text')], out, this.scaling)); // text rows only: [N, out]
    }
    const c = targets.length * this.spec.rank;
    const taps = this.imageTaps(layer, targets);
    let P = linear(x, concatColumns([textA, taps.first])); // [N, c + m]
    if (taps.second) {
      // the text columns pass through an identity block (exact: 1·v plus zeros), the image columns through `second`
      const m = taps.second.shape[1];
      const pass = tf.concat([tf.pad(tf.eye(c), [[0, 0], [0, m]]), tf.pad(taps.second, [[0, 0], [c, 0]])], 0) as tf.Tensor2D; // [2c, c + m]
      P = linear(P, pass);
    }
    const low = branchRows(P, { cells, W, c, kernels: taps.kernels, batch: ctx.batch, seqLen: ctx.seqLen, states: ctx.states, key: `${layer}.${target}` }); // [N, 2c]
    return linear(low, upWeights([up('text'), up('image')], out, this.scaling)); // [N, out], the fused q|k|v column layout
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.vars.values()) v.dispose();
  }
}
