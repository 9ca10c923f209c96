/**
 * Hook points, named from the module path as TransformerLens does (`blocks.3.moe.router`,
 * `blocks.0.attn`, `blocks.1.hook_resid_post`, …). A forward pass threads one HookContext through
 * every layer; `point(name, t)` is a pass-through unless a hook is registered for that name (it may
 * return a replacement tensor of the same shape, for interventions) or the name is being cached (a
 * host copy is taken, so nothing outlives the forward's tf.tidy).
 */
import * as tf from '@tensorflow/tfjs';
import type { HostTensor } from './params';

/** A hook: sees the activation (inside tf.tidy) and may return a replacement of the same shape. */
export type HookFn = (t: tf.Tensor, name: string) => tf.Tensor | void;

export class HookContext {
  readonly cache = new Map<string, HostTensor>();
  readonly seen: string[] = [];

  constructor(
    private readonly hooks: ReadonlyMap<string, HookFn> = new Map(),
    private readonly cacheFilter: ((name: string) => boolean) | null = null,
    private readonly recordNames = false,
  ) {}

  /** The pass-through every named activation goes through. */
  point<T extends tf.Tensor>(name: string, t: T): T {
    if (this.recordNames) this.seen.push(name);
    let out = t;
    const fn = this.hooks.get(name);
    if (fn) {
      const r = fn(t, name);
      if (r !== undefined) {
        if (r.shape.length !== t.shape.length || r.shape.some((d, i) => d !== t.shape[i])) {
          throw new Error(`Hook '${name}' returned shape [${r.shape}] but the activation has shape [${t.shape}]`);
        }
        out = r as T;
      }
    }
    if (this.cacheFilter && this.cacheFilter(name)) {
      this.cache.set(name, { shape: out.shape.slice(), data: Float32Array.from(out.dataSync() as Float32Array) });
    }
    return out;
  }

  /** Whether a hook is registered for `name` or its activation would be cached (a forward that skips the point must refuse). */
  names(name: string): boolean {
    return this.hooks.has(name) || (this.cacheFilter !== null && this.cacheFilter(name));
  }

  /** A context that does nothing (the fast path). */
  static readonly none = new HookContext();
}
