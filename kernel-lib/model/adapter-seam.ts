/**
 * The seam where adapters (LoRA, Partial LoRA, MoE-LoRA, ConvLoRA) plug into the model: every
 * attention projection goes through `AdapterSet.apply`, which adds each enabled adapter's delta for
 * that (layer, target). An adapter sees the projection input and the per-token modality codes, so it
 * can act on a subset of positions (Partial LoRA: image positions only).
 */
import * as tf from '@tensorflow/tfjs';

export type ProjectionTarget = 'attn.wqkv' | 'attn.wo';

/** Per-token modality codes, as adapters receive them (ForwardOptions.modalities, model.step). */
export const MODALITY_CODES = { text: 0, image: 1, special: 2 } as const;

/** Modality codes [N] for token ids, from a vocabulary's `modalityOf`. */
export function modalityCodes(ids: ArrayLike<number>, modalityOf: (id: number) => keyof typeof MODALITY_CODES): Uint8Array {
  const out = new Uint8Array(ids.length);
  for (let i = 0; i < ids.length; i++) out[i] = MODALITY_CODES[modalityOf(ids[i])];
  return out;
}

export interface ProjectionAdapter {
  readonly name: string;
  enabled: boolean;
  appliesTo(layer: number, target: ProjectionTarget): boolean;
  /** Delta added to the base projection output y [N, out] for input x [N, in]. */
  delta(layer: number, target: ProjectionTarget, x: tf.Tensor2D, modalities: Uint8Array | undefined): tf.Tensor2D;
  /** Trainable weights by parameter path (`adapters.<name>.…`); train() trains those of enabled adapters. */
  parameters?(): Map<string, tf.Variable>;
  dispose(): void;
}

export class AdapterSet {
  private readonly list: ProjectionAdapter[] = [];

  get isEmpty(): boolean {
    return !this.list.some((a) => a.enabled);
  }

  add(a: ProjectionAdapter): void {
    if (this.list.some((b) => b.name === a.name)) throw new Error(`An adapter named '${a.name}' is already attached`);
    this.list.push(a);
  }

  remove(name: string): void {
    const i = this.list.findIndex((a) => a.name === name);
    if (i < 0) throw new Error(`No adapter named '${name}' is attached`);
    this.list.splice(i, 1)[0].dispose();
  }

  get names(): string[] {
    return this.list.map((a) => a.name);
  }

  /** The weights of every enabled adapter (a disabled adapter does not train). */
  parameters(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const a of this.list) {
      if (!a.enabled || !a.parameters) continue;
      for (const [n, v] of a.parameters()) {
        if (out.has(n)) throw new Error(`Adapter parameter '${n}' is defined twice`);
        out.set(n, v);
      }
    }
    return out;
  }

  apply(layer: number, target: ProjectionTarget, x: tf.Tensor2D, y: tf.Tensor2D, modalities: Uint8Array | undefined): tf.Tensor2D {
    let out = y;
    for (const a of this.list) {
      if (a.enabled && a.appliesTo(layer, target)) out = tf.add(out, a.delta(layer, target, x, modalities));
    }
    return out;
  }
}
