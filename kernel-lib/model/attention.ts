/**
 * Causal multi-head attention with grouped-query heads and RoPE, in two forms that must agree:
 * `attentionForward` over a whole sequence batch (training, prefill; returns the keys/values for a
 * KV cache) and `attentionStep` for one new token against a KV cache (decode).
 *
 * The step runs on the host's copy of q, k, v with a WebAssembly kernel over the cache (kv-cache.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { batchMatMul } from './linear';
import { RopeTables } from './layers';
import type { KvCache, LayerKv } from './kv-cache';

export interface AttnShape {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
}

/**
 * Additive causal masks [T, T] (0 on/below the diagonal, −1e9 above), kept for the few most recent
 * lengths (a bounded cache, so long-running sessions with many prompt lengths hold no growing state).
 */
export class CausalMasks {
  private readonly cache = new Map<number, tf.Tensor2D>();
  constructor(private readonly capacity = 8) {}

  get(T: number): tf.Tensor2D {
    let m = this.cache.get(T);
    if (m) {
      this.cache.delete(T); // refresh recency
    } else {
      const d = new Float32Array(T * T);
      for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) d[i * T + j] = -1e9;
      m = tf.keep(tf.tensor2d(d, [T, T]));
      if (this.cache.size >= this.capacity) {
        const oldest = this.cache.keys().next().value as number;
        this.cache.get(oldest)?.dispose();
        this.cache.delete(oldest);
      }
    }
    this.cache.set(T, m);
    return m;
  }

  dispose(): void {
    for (const m of this.cache.values()) m.dispose();
    this.cache.clear();
  }
}

/**
 * qkv [B·T, (nh + 2·nKv)·hd] (already projected) → attention output [B·T, nh·hd] before o_proj, plus
 * this sequence's keys/values in cache layout when B = 1 and `wantKv`.
 */
export function attentionForward(
  qkv: tf.Tensor2D,
  B: number,
  T: number,
  s: AttnShape,
  rope: RopeTables,
  masks: CausalMasks,
  wantKv: boolean,
): { out: tf.Tensor2D; kv?: LayerKv } {
  const { numHeads: nh, numKvHeads: nkv, headDim: hd } = s;
  const g = nh / nkv;
  const qk = tf.reshape(tf.slice(qkv, [0, 0], [B * T, (nh + nkv) * hd]), [B, T, nh + nkv, hd]);
  const qkRot = rope.apply(qk as tf.Tensor4D, 0); // [B, T, nh + nKv, hd]
  const q = tf.slice(qkRot, [0, 0, 0, 0], [B, T, nh, hd]); // [B, T, nh, hd]
  const k = tf.slice(qkRot, [0, 0, nh, 0], [B, T, nkv, hd]); // [B, T, nKv, hd]
  const v = tf.reshape(tf.slice(qkv, [0, (nh + nkv) * hd], [B * T, nkv * hd]), [B, T, nkv, hd]);

  // Grouped-query attention without repeating k/v: the g query heads that share kv head j are
  // consecutive (h = j·g + i), so q reshapes to [B·nKv, g·T, hd] and meets each kv head once.
  const qg = tf.reshape(tf.transpose(q, [0, 2, 1, 3]), [B * nkv, g * T, hd]) as tf.Tensor3D; // [B·nKv, g·T, hd]
  const kT = tf.transpose(k, [0, 2, 3, 1]) as tf.Tensor4D; // [B, nKv, hd, T]
  const vh = tf.transpose(v, [0, 2, 1, 3]) as tf.Tensor4D; // [B, nKv, T, hd]
  const raw = tf.reshape(batchMatMul(qg, tf.reshape(kT, [B * nkv, hd, T]) as tf.Tensor3D), [B * nkv, g, T, T]);
  const scores = tf.add(tf.mul(raw, 1 / Math.sqrt(hd)), masks.get(T)); // [B·nKv, g, T, T]
  const probs = tf.reshape(tf.softmax(scores), [B * nkv, g * T, T]) as tf.Tensor3D;
  const ctx = batchMatMul(probs, tf.reshape(vh, [B * nkv, T, hd]) as tf.Tensor3D); // [B·nKv, g·T, hd]
  const out = tf.reshape(tf.transpose(tf.reshape(ctx, [B, nh, T, hd]), [0, 2, 1, 3]), [B * T, nh * hd]) as tf.Tensor2D;
  let kv: LayerKv | undefined;
  if (wantKv) {
    if (B !== 1) throw new Error('attentionForward: a KV cache is built for batch 1 only');
    kv = { k: tf.reshape(kT, [nkv, hd, T]) as tf.Tensor3D, v: tf.reshape(vh, [nkv, T, hd]) as tf.Tensor3D };
  }
  return { out, kv };
}

/**
 * One decode step for B sequences at once, each at its own next position (cache.lengths): qkv
 * [B, (nh + 2·nKv)·hd] (already projected) → output [B, nh·hd]. The step's keys and values are
 * written into the cache's layer `layer`. Runs on the host's copy of qkv: RoPE there, then the
 * cache's attention kernel (kv-cache.ts, attention-kernel.ts); one read and one upload per layer.
 * `scale` multiplies the queries (1/√hd), or is null when it was folded into the query weights.
 */
export function attentionStep(qkv: tf.Tensor2D, rope: RopeTables, cache: KvCache, layer: number, s: AttnShape, scale: number | null): tf.Tensor2D {
  const { numHeads: nh, numKvHeads: nkv, headDim: hd } = s;
  const B = qkv.shape[0];
  const width = (nh + 2 * nkv) * hd;
  if (qkv.shape[1] !== width) throw new Error(`attentionStep: qkv has ${qkv.shape[1]} columns, expected (nh + 2·nKv)·hd = ${width}`);
  if (cache.batch !== B) throw new Error(`attentionStep: ${B} rows for a cache of ${cache.batch} sequences`);
  const x = qkv.dataSync() as Float32Array; // [B, (nh + 2·nKv)·hd]: q | k | v per row
  const q = new Float32Array(B * nh * hd);
  const k = new Float32Array(B * nkv * hd);
  const v = new Float32Array(B * nkv * hd);
  for (let b = 0; b < B; b++) {
    const pos = cache.lengths[b];
    rope.rotate(x, b * width, q, b * nh * hd, nh, pos, scale ?? 1);
    rope.rotate(x, b * width + nh * hd, k, b * nkv * hd, nkv, pos);
    v.set(x.subarray(b * width + (nh + nkv) * hd, (b + 1) * width), b * nkv * hd);
  }
  return tf.tensor2d(cache.attend(layer, q, k, v), [B, nh * hd]);
}
