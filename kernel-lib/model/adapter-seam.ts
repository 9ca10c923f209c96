/**
 * The seam where adapters (LoRA, Partial LoRA, MoE-LoRA, ConvLoRA) plug into the model: every
 * attention projection goes through `AdapterSet.apply`, which adds each enabled adapter's delta for
 * that (layer, target). An adapter sees the projection input and an AdapterContext: how the rows are
 * laid out, each row's position metadata (modality, image grid cell, output modality; positions.ts),
 * and, while decoding with a KvCache, its own per-sequence decode state (kept by the cache).
 */
import * as tf from '@tensorflow/tfjs';
import type { PositionMeta } from './positions';
import type { AdapterDecodeState, KvCache } from './kv-cache';

export { MODALITY_CODES, modalityCodes } from './positions';
export type { AdapterDecodeState } from './kv-cache';

export type ProjectionTarget = 'attn.wqkv' | 'attn.wo';

/** What an adapter knows about the rows of its input x [N, in], N = batch · seqLen. */
export interface AdapterContext {
  /** Sequences in this call; row b·seqLen + t is token t of sequence b. */
  batch: number;
  seqLen: number;
  /** Absolute position of each sequence's first row (0 in a forward or prefill; the cache lengths in a step). */
  start: readonly number[];
  /** Per-row metadata, or undefined when the caller passed none. */
  positions: PositionMeta | undefined;
  /**
   * This adapter's decode state, one per sequence (prefill and step through a KvCache; undefined in a
   * plain forward or training). Created by createDecodeState on first use.
   */
  states?: AdapterDecodeState[];
  /** A training forward (adapters apply dropout only then). */
  training?: boolean;
  /** The training forward's dropout seed (TensorForwardOptions.dropoutSeed); see adapters/dropout.ts. */
  dropoutSeed?: number;
}

export interface ProjectionAdapter {
  readonly name: string;
  enabled: boolean;
  appliesTo(layer: number, target: ProjectionTarget): boolean;
  /** Delta added to the base projection output y [N, out] for input x [N, in]. */
  delta(layer: number, target: ProjectionTarget, x: tf.Tensor2D, ctx: AdapterContext): tf.Tensor2D;
  /** Trainable weights by parameter path (`adapters.<name>.…`); train() trains those of enabled adapters. */
  parameters?(): Map<string, tf.Variable>;
  /** A fresh decode state for one sequence, for adapters that keep one while step-decoding. */
  createDecodeState?(): AdapterDecodeState;
  dispose(): void;
}

/** The layout of a call, before adapter states are attached (AdapterSet.apply adds them). */
export interface ProjectionCall {
  batch: number;
  seqLen: number;
  start: readonly number[];
  positions: PositionMeta | undefined;
  /** The decode cache of a prefill or step; adapters' states live there. */
  cache?: KvCache;
  /** A training forward. */
  training?: boolean;
  dropoutSeed?: number;
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

  /** Disposes every adapter (the model's dispose: a model owns the adapters attached to it). */
  disposeAll(): void {
    for (const a of this.list.splice(0)) a.dispose();
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

  apply(layer: number, target: ProjectionTarget, x: tf.Tensor2D, y: tf.Tensor2D, call: ProjectionCall): tf.Tensor2D {
    let out = y;
    for (const a of this.list) {
      if (!a.enabled || !a.appliesTo(layer, target)) continue;
      const ctx: AdapterContext = { batch: call.batch, seqLen: call.seqLen, start: call.start, positions: call.positions, training: call.training, dropoutSeed: call.dropoutSeed };
      if (call.cache && a.createDecodeState) ctx.states = call.cache.adapterStates(a.name, () => a.createDecodeState!());
      out = tf.add(out, a.delta(layer, target, x, ctx));
    }
    return out;
  }
}

/** The context of a plain forward over one sequence with this metadata (for calling `delta` directly). */
export function sequenceContext(positions: PositionMeta): AdapterContext {
  return { batch: 1, seqLen: positions.modality.length, start: [0], positions };
}
