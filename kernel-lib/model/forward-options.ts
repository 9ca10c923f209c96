/**
 * The options and results of MoEModel's forward paths (full forward, prefill, step, batched step,
 * the tensor forward that training uses), and the one rule for reading position metadata from them.
 */
import type * as tf from '@tensorflow/tfjs';
import type { HookContext, HookFn } from './hooks';
import type { KvCache, LayerKv } from './kv-cache';
import type { LayerRouting } from './moe';
import { PositionMeta, checkMetaRows, metaFromModalities } from './positions';
import type { HiddenCapture, HiddenRequest, HiddenStates } from './hidden';

export type CaptureLevel = 'none' | 'routing' | 'full';

/** Per-token position metadata, given either way (not both). */
export interface PositionOptions {
  /** Position metadata [B·T] rows (positions.ts): modality, image grid cell, output modality. */
  positions?: PositionMeta;
  /** Legacy: modality codes only [B·T] (0 text, 1 image, 2 special); read as metadata without grid or output. */
  modalities?: Uint8Array;
}

export interface ForwardOptions extends PositionOptions {
  /** 'routing' (default) returns experts/weights/probs per layer; 'full' adds router logits. */
  capture?: CaptureLevel;
  hooks?: ReadonlyMap<string, HookFn>;
  /** Names (or a predicate) of activations to copy to the host. */
  cacheNames?: (name: string) => boolean;
  /** Hidden states of chosen rows to return (hidden.ts). */
  hidden?: HiddenRequest;
}

export interface ForwardResult {
  /** [B, T, V] row-major. */
  logits: Float32Array;
  shape: [number, number, number];
  routing: LayerRouting[];
  /** Mean load-balancing loss over layers. */
  aux: number;
  /** The requested hidden states (when `hidden` was given). */
  hidden?: HiddenStates;
}

/** MoEModel.forwardRows's result: forward's, with the logits of the rows asked for only. */
export interface RowsForwardResult {
  /** [R, V] row-major: row i is forward's flat row rows[i] (= b·T + t); empty for no rows. */
  logits: Float32Array;
  routing: LayerRouting[];
  /** Mean load-balancing loss over layers. */
  aux: number;
  hidden?: HiddenStates;
}

export interface StepResult {
  /** Next-token logits [V]. */
  logits: Float32Array;
  /** One entry per layer for the token just consumed (k experts). Empty when capture is 'none'. */
  routing: LayerRouting[];
  hidden?: HiddenStates;
}

export interface StepOptions {
  capture?: CaptureLevel;
  /** Metadata of the tokens fed, one row per sequence of the cache. */
  positions?: PositionMeta;
  /** Hidden states of this step's rows (`rows` index the cache's sequences). */
  hidden?: HiddenRequest;
  /**
   * Logits of linear combinations of the rows instead of one per row: entry i holds B coefficients and
   * logits[i] is the head of Σ_b c_b · finalNorm(h_b). The head is linear, so that is Σ_b c_b · logits_b
   * up to float rounding, for one head row instead of B (CFG's u + γ(c − u) is [γ, 1 − γ]; the head is
   * the widest product of a step, and at 2–4 rows the wasm backend runs it at the cost of 4).
   */
  mixRows?: readonly (readonly number[])[];
}

export interface BatchStepResult {
  /** Next-token logits per sequence, each [V] (per entry of StepOptions.mixRows when given). */
  logits: Float32Array[];
  /** Per layer, B rows (row b = sequence b). Empty when capture is 'none'. */
  routing: LayerRouting[];
  hidden?: HiddenStates;
}

export interface PrefillOptions extends PositionOptions {
  capture?: CaptureLevel;
  hidden?: HiddenRequest;
  /** An empty batch-1 cache to fill (a new one, or one that was reset); default a new cache. */
  cache?: KvCache;
}

export interface TensorForwardOptions extends PositionOptions {
  hooks?: HookContext;
  capture?: CaptureLevel;
  /** Return this sequence's keys/values for a KV cache (batch 1). */
  wantKv?: boolean;
  /** Gradients will be taken (custom-gradient linears, load-balancing loss). */
  training?: boolean;
  /**
   * Seeds the adapters' dropout masks in a training forward (the trainer passes one per step), so a run
   * draws the same masks in any process and after a resume; without it the masks are unseeded.
   */
  dropoutSeed?: number;
  /** Records hidden states at the residual-stream points it asks for. */
  hidden?: HiddenCapture;
  /** The cache a prefill fills (adapters keep their decode state in it). */
  cache?: KvCache;
}

/** The trunk's output (MoEModel.forwardStates): everything of a forward but the LM head's logits. */
export interface TensorStates {
  /** The final norm's output, what the LM head reads [B·T, H]. */
  states: tf.Tensor2D;
  /** Mean load-balancing loss over layers (0 when not training). */
  aux: tf.Scalar;
  routing: LayerRouting[];
  kv: LayerKv[];
}

export interface TensorForward extends TensorStates {
  logits: tf.Tensor2D; // [B·T, V]
}

/** MoEModel.forwardHidden's options: a host forward that stops at the final norm, so `hidden` is what it returns. */
export interface HiddenForwardOptions extends PositionOptions {
  capture?: CaptureLevel;
  /** Hooks at any point but 'logits' (never computed on this path: naming it is an error). */
  hooks?: ReadonlyMap<string, HookFn>;
  hidden: HiddenRequest;
}

export interface HiddenForwardResult {
  hidden: HiddenStates;
  routing: LayerRouting[];
  /** Mean load-balancing loss over layers. */
  aux: number;
}

/** The one PositionMeta of a call from either option, checked against its row count. */
export function positionsOf(o: PositionOptions, n: number, who: string): PositionMeta | undefined {
  if (o.positions && o.modalities) throw new Error(`${who}: pass positions or modalities, not both`);
  const m = o.positions ?? (o.modalities ? metaFromModalities(o.modalities) : undefined);
  if (m) checkMetaRows(m, n, who);
  return m;
}
