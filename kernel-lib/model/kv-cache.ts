/**
 * Key/value cache for step decoding: B sequences (rows) decoded together, each with its own length,
 * plus the per-sequence decode state adapters keep (a causal ConvLoRA's previous grid row, …).
 *
 * Layout per layer (R = B·nKv rows, C = capacity ≥ every row's length):
 *   keys   [R, C, hd]   scoresᵀ = K · qᵀ
 *   values [R, hd, C]   outᵀ = V · probsᵀ
 * The cache is always the FIRST operand of its matMuls: the wasm backend caches a packed copy of a
 * batch-1 matMul's second operand by tensor id, which would go stale under in-place writes (a
 * one-kv-head model showed it; tests/model/kv-cache.test.ts keeps such a model).
 * Row b's tokens occupy columns 0..lengths[b]−1; later columns are zero and masked out (additive −1e9,
 * so they get probability exactly 0). Capacity grows in blocks of KV_BLOCK, and a step writes its one
 * new key/value column in place (wasm and cpu backends: straight into the tensor's memory), so the
 * per-token cost does not grow with a copy of the whole cache. On other backends the write is an
 * O(C) tensor update with the same result.
 *
 * Buffers are only ever made from host arrays here, so no other tensor shares their memory and the
 * in-place writes cannot show through anywhere else.
 */
import * as tf from '@tensorflow/tfjs';

/** Columns added at a time when a cache grows. */
export const KV_BLOCK = 64;

/** Keys and values of one layer. In a cache: k [R, C, hd], v [R, hd, C]; from a prefill (attentionForward): k [nKv, hd, T], v [nKv, T, hd]. */
export interface LayerKv {
  k: tf.Tensor3D;
  v: tf.Tensor3D;
}

/** Copies `runs` runs of srcLen numbers into runs of dstLen (from run dstRun0 on): growing or stacking buffers. */
function copyRows(src: Float32Array, srcLen: number, dst: Float32Array, dstLen: number, runs: number, dstRun0: number): void {
  for (let i = 0; i < runs; i++) dst.set(src.subarray(i * srcLen, (i + 1) * srcLen), (dstRun0 + i) * dstLen);
}

/**
 * Decode state an adapter keeps for one sequence (created by ProjectionAdapter.createDecodeState,
 * owned by the KvCache: cloned with it, disposed and reset with it). Tensors it holds must be kept
 * (tf.keep) and are the state's to dispose.
 */
export interface AdapterDecodeState {
  clone(): AdapterDecodeState;
  dispose(): void;
}

/** A writable view of a tensor's memory, where the backend allows it (wasm, cpu). */
function memoryOf(t: tf.Tensor): Float32Array | null {
  const name = tf.getBackend();
  const b = tf.backend() as unknown as {
    typedArrayFromHeap?: (t: tf.TensorInfo) => Float32Array;
    data?: { get(id: object): { values?: Float32Array } | undefined };
  };
  if (name === 'wasm' && b.typedArrayFromHeap) return b.typedArrayFromHeap(t);
  if (name === 'cpu' && b.data) return b.data.get(t.dataId)?.values ?? null;
  return null;
}

export class KvCache {
  /** One entry per layer; null until the first tokens are written. */
  layers: (LayerKv | null)[];
  /** Tokens held per row (= position of each row's next token). */
  readonly lengths: number[];
  /** Columns allocated (0 before the first tokens). */
  capacity = 0;
  /** Heads × head size of the stored keys (set by the first fill). */
  private kvHeads = 0;
  private headDim = 0;
  private states: Map<string, AdapterDecodeState>[];
  private disposed = false;
  private readonly inPlace: boolean;

  constructor(numLayers: number, readonly maxPositions: number, readonly batch = 1, opts: { inPlace?: boolean } = {}) {
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`KvCache: batch must be a positive integer, got ${batch}`);
    this.layers = new Array<LayerKv | null>(numLayers).fill(null);
    this.lengths = new Array<number>(batch).fill(0);
    this.states = Array.from({ length: batch }, () => new Map());
    // In place where the backend lets us write a tensor's memory; `inPlace: false` forces the tensor update.
    this.inPlace = (opts.inPlace ?? true) && ['wasm', 'cpu'].includes(tf.getBackend());
  }

  /** Tokens held (batch 1; a batched cache has `lengths`). */
  get length(): number {
    if (this.batch !== 1) throw new Error(`KvCache.length is for batch 1; this cache holds ${this.batch} sequences (use lengths)`);
    return this.lengths[0];
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * Fills an empty batch-1 cache with a prefill's keys [nKv, hd, T] and values [nKv, T, hd] per layer.
   * The tensors stay the caller's.
   */
  fill(kv: LayerKv[], T: number): void {
    this.assertLive();
    if (this.batch !== 1 || this.capacity !== 0) throw new Error('KvCache.fill: only an empty batch-1 cache can be filled');
    const [nkv, hd] = kv[0].k.shape;
    this.kvHeads = nkv;
    this.headDim = hd;
    const C = this.roundCapacity(T + 1);
    kv.forEach((l, i) => {
      const k = l.k.dataSync() as Float32Array; // [nKv, hd, T]
      const v = l.v.dataSync() as Float32Array; // [nKv, T, hd]
      const K = new Float32Array(nkv * C * hd); // [nKv, C, hd]
      const V = new Float32Array(nkv * hd * C); // [nKv, hd, C]
      for (let r = 0; r < nkv; r++) {
        for (let t = 0; t < T; t++) {
          for (let d = 0; d < hd; d++) {
            K[(r * C + t) * hd + d] = k[(r * hd + d) * T + t];
            V[(r * hd + d) * C + t] = v[(r * T + t) * hd + d];
          }
        }
      }
      this.layers[i] = { k: tf.keep(tf.tensor3d(K, [nkv, C, hd])), v: tf.keep(tf.tensor3d(V, [nkv, hd, C])) };
    });
    this.capacity = C;
    this.lengths[0] = T;
  }

  /** Makes room for `n` more tokens in every row (grows by whole blocks; call outside a step's tidy). */
  reserve(n: number): void {
    this.assertLive();
    const need = Math.max(...this.lengths) + n;
    if (need > this.maxPositions) throw new Error(`KvCache: ${need} positions would exceed maxPositions ${this.maxPositions}`);
    if (need <= this.capacity) return;
    this.resize(this.roundCapacity(need));
  }

  /**
   * Writes one new key [R, hd] and value [R, hd] per row at each row's next column, for `layer`. Call
   * inside the step (the attention reads the written buffers); `advance()` after the last layer.
   */
  write(layer: number, k: tf.Tensor2D, v: tf.Tensor2D): LayerKv {
    this.assertLive();
    const L = this.layers[layer];
    if (!L) throw new Error(`KvCache.write: layer ${layer} is empty (prefill first)`);
    const C = this.capacity;
    const hd = this.headDim;
    const nkv = this.kvHeads;
    for (const len of this.lengths) if (len >= C) throw new Error('KvCache.write: no room (reserve first)');
    if (this.inPlace) {
      const kd = k.dataSync() as Float32Array; // [R, hd], small
      const vd = v.dataSync() as Float32Array;
      const K = memoryOf(L.k) as Float32Array; // [R, C, hd]
      const V = memoryOf(L.v) as Float32Array; // [R, hd, C]
      for (let r = 0; r < this.batch * nkv; r++) {
        const col = this.lengths[Math.floor(r / nkv)];
        K.set(kd.subarray(r * hd, (r + 1) * hd), (r * C + col) * hd);
        for (let d = 0; d < hd; d++) V[(r * hd + d) * C + col] = vd[r * hd + d];
      }
      return L;
    }
    // Elsewhere: add k ⊗ e_col (the column is still zero), an O(C) update with the same result.
    const oh = new Float32Array(this.batch * nkv * C);
    for (let r = 0; r < this.batch * nkv; r++) oh[r * C + this.lengths[Math.floor(r / nkv)]] = 1;
    const e = tf.tensor3d(oh, [this.batch * nkv, 1, C]);
    const next: LayerKv = {
      k: tf.keep(tf.add(L.k, tf.mul(tf.reshape(e, [-1, C, 1]), tf.reshape(k, [-1, 1, hd])))) as tf.Tensor3D,
      v: tf.keep(tf.add(L.v, tf.mul(tf.reshape(v, [-1, hd, 1]), e))) as tf.Tensor3D,
    };
    tf.dispose([L.k, L.v]);
    this.layers[layer] = next;
    return next;
  }

  /** Additive mask [B, 1, C] for a step: 0 on each row's columns 0..length (the new token included), −1e9 beyond. */
  stepMask(): tf.Tensor3D {
    const C = this.capacity;
    const m = new Float32Array(this.batch * C);
    this.lengths.forEach((len, b) => m.fill(-1e9, b * C + len + 1, (b + 1) * C));
    return tf.tensor3d(m, [this.batch, 1, C]);
  }

  /** Every row gained one token (after all layers were written). */
  advance(): void {
    for (let b = 0; b < this.batch; b++) this.lengths[b]++;
  }

  /** This adapter's decode state for every row, created on first use. */
  adapterStates(name: string, create: () => AdapterDecodeState): AdapterDecodeState[] {
    this.assertLive();
    return this.states.map((m) => {
      let s = m.get(name);
      if (!s) m.set(name, (s = create()));
      return s;
    });
  }

  /** A deep copy (for branching decodes): buffers, lengths and adapter states. */
  clone(): KvCache {
    this.assertLive();
    const c = new KvCache(this.layers.length, this.maxPositions, this.batch, { inPlace: this.inPlace });
    c.copyShapeFrom(this);
    c.layers = this.layers.map((l) => (l ? { k: tf.keep(tf.tensor3d(l.k.dataSync() as Float32Array, l.k.shape)), v: tf.keep(tf.tensor3d(l.v.dataSync() as Float32Array, l.v.shape)) } : null));
    this.lengths.forEach((n, b) => (c.lengths[b] = n));
    c.states = this.states.map((m) => new Map([...m].map(([k, s]) => [k, s.clone()])));
    return c;
  }

  /**
   * One cache holding the rows of `parts`, in order (e.g. CFG's conditional and unconditional
   * sequences, decoded as one batch). The parts' contents move into it; the parts are left disposed.
   */
  static stack(parts: KvCache[]): KvCache {
    if (parts.length === 0) throw new Error('KvCache.stack: no caches');
    const p0 = parts[0];
    for (const p of parts) {
      p.assertLive();
      if (p.layers.length !== p0.layers.length || p.maxPositions !== p0.maxPositions) throw new Error('KvCache.stack: the caches belong to different models');
      if (p.capacity === 0) throw new Error('KvCache.stack: a cache is empty (prefill first)');
    }
    const B = parts.reduce((n, p) => n + p.batch, 0);
    const out = new KvCache(p0.layers.length, p0.maxPositions, B, { inPlace: p0.inPlace });
    out.copyShapeFrom(p0);
    const C = Math.max(...parts.map((p) => p.capacity));
    const { kvHeads: nkv, headDim: hd } = p0;
    for (let i = 0; i < p0.layers.length; i++) {
      const K = new Float32Array(B * nkv * C * hd);
      const V = new Float32Array(B * nkv * hd * C);
      let r0 = 0;
      for (const p of parts) {
        const R = p.batch * nkv;
        copyRows(p.layers[i]!.k.dataSync() as Float32Array, p.capacity * hd, K, C * hd, R, r0); // rows of C·hd
        copyRows(p.layers[i]!.v.dataSync() as Float32Array, p.capacity, V, C, R * hd, r0 * hd); // (row, d) runs of C
        r0 += R;
      }
      out.layers[i] = { k: tf.keep(tf.tensor3d(K, [B * nkv, C, hd])), v: tf.keep(tf.tensor3d(V, [B * nkv, hd, C])) };
    }
    out.capacity = C;
    let b0 = 0;
    for (const p of parts) {
      for (let b = 0; b < p.batch; b++) {
        out.lengths[b0 + b] = p.lengths[b];
        out.states[b0 + b] = p.states[b];
      }
      b0 += p.batch;
      p.states = p.states.map(() => new Map()); // moved, so the part's dispose leaves them alone
      p.dispose();
    }
    return out;
  }

  /** Empties the cache (buffers and adapter states freed); it can be filled again. */
  reset(): void {
    this.assertLive();
    this.release();
    this.lengths.fill(0);
    this.capacity = 0;
  }

  dispose(): void {
    if (this.disposed) return;
    this.release();
    this.disposed = true;
  }

  private release(): void {
    for (const l of this.layers) if (l) tf.dispose([l.k, l.v]);
    this.layers.fill(null);
    for (const m of this.states) for (const s of m.values()) s.dispose();
    this.states = this.states.map(() => new Map());
  }

  private copyShapeFrom(o: KvCache): void {
    this.kvHeads = o.kvHeads;
    this.headDim = o.headDim;
    this.capacity = o.capacity;
  }

  private roundCapacity(n: number): number {
    return Math.min(this.maxPositions, Math.ceil(n / KV_BLOCK) * KV_BLOCK);
  }

  /** Reallocates every layer to C columns (contents kept, new columns zero). */
  private resize(C: number): void {
    const old = this.capacity;
    const { kvHeads: nkv, headDim: hd } = this;
    const R = this.batch * nkv;
    this.layers = this.layers.map((l) => {
      if (!l) return null;
      const K = new Float32Array(R * C * hd);
      const V = new Float32Array(R * hd * C);
      copyRows(l.k.dataSync() as Float32Array, old * hd, K, C * hd, R, 0);
      copyRows(l.v.dataSync() as Float32Array, old, V, C, R * hd, 0);
      tf.dispose([l.k, l.v]);
      return { k: tf.keep(tf.tensor3d(K, [R, C, hd])), v: tf.keep(tf.tensor3d(V, [R, hd, C])) };
    });
    this.capacity = C;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('KvCache was disposed');
  }
}
