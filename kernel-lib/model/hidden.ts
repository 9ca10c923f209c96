/**
 * Hidden states of chosen positions, captured during a forward or a decode step: the residual stream
 * at any hook point of it, or the final norm's output (what the LM head reads). MiniGPT-5 maps the
 * states of its voken positions to a diffusion decoder's conditioning; MUMU feeds every prompt
 * position's state to a connector.
 *
 * `as: 'host'` copies them to Float32Arrays. `as: 'tensor'` keeps them on the backend ([n, H] tensors,
 * outside every tf.tidy) for a downstream tf model: they are constants there (no gradient reaches the
 * LM through them) and the caller disposes them.
 */
import * as tf from '@tensorflow/tfjs';
import type { HostTensor } from './params';

export interface HiddenRequest {
  /**
   * Points of the residual stream: 'embed', 'blocks.<i>.hook_resid_pre', 'blocks.<i>.hook_resid_mid',
   * 'blocks.<i>.hook_resid_post', 'final_norm'.
   */
  names: readonly string[];
  /** Rows to keep (b·T + t in a forward of B×T ids; 0..B−1 in a step); default every row. */
  rows?: readonly number[];
  /** 'host' (default) or 'tensor' (kept on the backend; the caller disposes). */
  as?: 'host' | 'tensor';
}

/** Captured states by name: host copies [n, H], or kept tensors [n, H], per the request's `as`. */
export interface HiddenStates {
  rows: number[];
  host?: Map<string, HostTensor>;
  tensors?: Map<string, tf.Tensor2D>;
}

/** Residual-stream point names of a model with `numLayers` layers, in forward order. */
export function hiddenPointNames(numLayers: number): string[] {
  const out = ['embed'];
  for (let i = 0; i < numLayers; i++) out.push(`blocks.${i}.hook_resid_pre`, `blocks.${i}.hook_resid_mid`, `blocks.${i}.hook_resid_post`);
  out.push('final_norm');
  return out;
}

/** Collects the requested states as a forward visits its points (call `take` inside the forward's tidy). */
export class HiddenCapture {
  private readonly names: Set<string>;
  private readonly rows: number[];
  private readonly host = new Map<string, HostTensor>();
  private readonly kept = new Map<string, tf.Tensor2D>();

  constructor(readonly request: HiddenRequest, numLayers: number, numRows: number) {
    const known = new Set(hiddenPointNames(numLayers));
    if (!Array.isArray(request.names) || request.names.length === 0) throw new Error('hidden.names must name at least one point (e.g. "final_norm")');
    for (const n of request.names) {
      if (!known.has(n)) throw new Error(`hidden: no residual-stream point named '${n}' (expected embed, blocks.<i>.hook_resid_pre|mid|post for i < ${numLayers}, or final_norm)`);
    }
    if (request.as !== undefined && request.as !== 'host' && request.as !== 'tensor') throw new Error(`hidden.as must be 'host' or 'tensor', got ${JSON.stringify(request.as)}`);
    this.names = new Set(request.names);
    this.rows = request.rows === undefined ? Array.from({ length: numRows }, (_, i) => i) : request.rows.slice();
    for (const r of this.rows) {
      if (!Number.isInteger(r) || r < 0 || r >= numRows) throw new Error(`hidden.rows: ${JSON.stringify(r)} is not a row of this call (0..${numRows - 1})`);
    }
  }

  wants(name: string): boolean {
    return this.names.has(name);
  }

  /** Records h [N, H] at `name` if requested. */
  take(name: string, h: tf.Tensor2D): void {
    if (!this.names.has(name)) return;
    const picked = this.rows.length === h.shape[0] && this.rows.every((r, i) => r === i) ? h : tf.gather(h, tf.tensor1d(this.rows, 'int32'));
    if (this.request.as === 'tensor') {
      this.kept.get(name)?.dispose();
      this.kept.set(name, tf.keep(tf.clone(picked)) as tf.Tensor2D);
    } else {
      this.host.set(name, { shape: [this.rows.length, h.shape[1]], data: Float32Array.from(picked.dataSync() as Float32Array) });
    }
  }

  /** The captured states (in request order). */
  result(): HiddenStates {
    const order = this.request.names;
    if (this.request.as === 'tensor') return { rows: this.rows, tensors: new Map(order.map((n) => [n, this.kept.get(n)!])) };
    return { rows: this.rows, host: new Map(order.map((n) => [n, this.host.get(n)!])) };
  }

  /** Frees kept tensors (when the forward failed before handing them over). */
  discard(): void {
    for (const t of this.kept.values()) t.dispose();
    this.kept.clear();
  }
}
