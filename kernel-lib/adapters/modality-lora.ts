/**
 * The common body of the output-modality adapters (modality-spec.ts): a linear LoRA branch (Eq. 3) at
 * positions that output text or `<eoi>`, a kind-specific image branch at positions that output image
 * codes. Each row gets exactly one branch (the other's low-rank row is an exact 0), so a sequence without
 * image outputs computes the text LoRA alone.
 *
 * One call, for its targets (q, k, v together, or o) in the fused form (fused.ts; c = targets × r):
 *
 *   low_text  = (x · [A_q | A_k | A_v]) ⊙ text rows          [N, c]
 *   low_image = the kind's image branch, 0 on rows on no cell  [N, c]  (imageLow)
 *   Δ = s · [low_text | low_image] · [blockdiag(B_text); blockdiag(B_image)]   [N, out]
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
import { GridHistory, outputCells } from './causal-grid';
import { adapterDropout } from './dropout';
import { concatColumns, UpBlock, upWeights } from './fused';

export type Branch = 'text' | 'image';

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

  /**
   * The image branch's low-rank rows for these targets of a layer, unscaled: [N, targets·r], target-major
   * columns, exactly 0 on rows on no cell (cells[i] < 0).
   */
  protected abstract imageLow(layer: number, target: ProjectionTarget, targets: LoRATarget[], x: tf.Tensor2D, cells: Int32Array, ctx: AdapterContext): tf.Tensor2D;

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
    const cells = outputCells(ctx.positions, N, this.spec.grid?.width ?? 1, who);
    const x = adapterDropout(x0, this.spec.dropout, ctx, { adapter: this.name, layer, target });
    const img = new Float32Array(N);
    let nImg = 0;
    for (let i = 0; i < N; i++) if (cells[i] >= 0) (img[i] = 1), nImg++;
    const targets = (target === 'attn.wo' ? ['o'] : ['q', 'k', 'v']).filter((t) => this.spec.targets.includes(t as LoRATarget)) as LoRATarget[];
    const { offsets, out } = this.layout(target);
    const up = (b: Branch): UpBlock[] => targets.map((t) => ({ B: this.v(layer, t, b, 'B'), offset: offsets[t] }));
    // Conv kinds read earlier rows: run their branch on every call while decoding so the history stays whole.
    const runImage = nImg > 0 || (this.usesGrid && ctx.states !== undefined);
    const image = runImage ? this.imageLow(layer, target, targets, x, cells, ctx) : null; // [N, c]
    let low: tf.Tensor2D;
    let weights: tf.Tensor2D;
    if (nImg === N) {
      low = image as tf.Tensor2D;
      weights = upWeights([up('image')], out);
    } else {
      const textLow = linear(x, concatColumns(targets.map((t) => this.v(layer, t, 'text', 'A')))); // [N, c]
      if (nImg === 0) {
        low = textLow;
        weights = upWeights([up('text')], out);
      } else {
        low = tf.concat([tf.mul(textLow, tf.tensor2d(img.map((v) => 1 - v), [N, 1])) as tf.Tensor2D, image as tf.Tensor2D], 1); // [N, 2c]
        weights = upWeights([up('text'), up('image')], out);
      }
    }
    return tf.mul(linear(low, weights), this.scaling); // [N, out], the fused q|k|v column layout
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.vars.values()) v.dispose();
  }
}
