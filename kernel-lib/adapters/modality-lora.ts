/**
 * The common body of the output-modality adapters (modality-spec.ts): a linear LoRA branch (Eq. 3) at
 * positions that output text or `<eoi>`, a kind-specific image branch at positions that output image
 * codes. Each row gets exactly one branch (the other is multiplied by an exact 0), so a sequence without
 * image outputs computes the text LoRA alone.
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
   * The image branch, unscaled, for every row of x [N, in] (rows on no cell must come out 0 or be
   * masked by the caller); returns one [N, out] per target in `targets`.
   */
  protected abstract imageLow(layer: number, target: ProjectionTarget, targets: LoRATarget[], x: tf.Tensor2D, cells: Int32Array, ctx: AdapterContext): tf.Tensor2D[];

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

  private width(t: LoRATarget): number {
    return projectionShape(this.config, t).out;
  }

  delta(layer: number, target: ProjectionTarget, x0: tf.Tensor2D, ctx: AdapterContext): tf.Tensor2D {
    const N = x0.shape[0];
    const who = `${this.spec.kind} adapter '${this.name}'`;
    const cells = outputCells(ctx.positions, N, this.spec.grid?.width ?? 1, who);
    const x = adapterDropout(x0, this.spec.dropout, ctx, { adapter: this.name, layer, target });
    const img = new Float32Array(N);
    let nImg = 0;
    for (let i = 0; i < N; i++) if (cells[i] >= 0) (img[i] = 1), nImg++;
    const all: LoRATarget[] = target === 'attn.wo' ? ['o'] : ['q', 'k', 'v'];
    const targets = all.filter((t) => this.spec.targets.includes(t));
    // Conv kinds read earlier rows: run their branch on every call while decoding so the history stays whole.
    const runImage = nImg > 0 || (this.usesGrid && ctx.states !== undefined);
    const imageParts = runImage ? this.imageLow(layer, target, targets, x, cells, ctx) : null;
    const imgMask = nImg > 0 && nImg < N ? tf.tensor2d(img, [N, 1]) : null;
    const txtMask = nImg > 0 && nImg < N ? (tf.sub(1, imgMask as tf.Tensor2D) as tf.Tensor2D) : null;
    const parts = all.map((t) => {
      const i = targets.indexOf(t);
      if (i < 0) return tf.zeros([N, this.width(t)]) as tf.Tensor2D;
      if (nImg === N) return (imageParts as tf.Tensor2D[])[i];
      const text = linear(linear(txtMask ? (tf.mul(x, txtMask) as tf.Tensor2D) : x, this.v(layer, t, 'text', 'A')), this.v(layer, t, 'text', 'B'));
      if (nImg === 0) return text;
      return tf.add(text, tf.mul((imageParts as tf.Tensor2D[])[i], imgMask as tf.Tensor2D)) as tf.Tensor2D;
    });
    const d = parts.length === 1 ? parts[0] : tf.concat(parts, 1); // the fused q|k|v column layout
    return tf.mul(d, this.scaling);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.vars.values()) v.dispose();
  }
}
