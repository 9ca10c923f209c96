/**
 * Key/value cache for step decoding: B sequences (rows) decoded together, each with its own length,
 * plus the per-sequence decode state adapters keep (a causal ConvLoRA's previous grid row, …).
 *
 * The keys and values live in a WebAssembly memory that the decode attention kernel reads directly
 * (attention-kernel.ts): no tensors, so nothing is uploaded or copied per step and no backend cache
 * can go stale. Layout, in floats (R = B·nKv rows, C = capacity ≥ every row's length, w = head
 * size rounded up to 4, the padding zero):
 *   [query w | output w | scores C + 4 | layer 0 keys [R, C, w] | layer 0 values [R, C, w] | layer 1 …]
 * Row r = b·nKv + j is sequence b's kv head j; its tokens occupy columns 0..lengths[b]−1. A step writes
 * each row's new key and value at its next column and attends over columns 0..lengths[b] (so rows of
 * different lengths need no mask). Capacity grows in blocks of KV_BLOCK columns (a copy every KV_BLOCK
 * tokens), so the per-token cost grows only with the attention's own reads.
 */
import * as tf from '@tensorflow/tfjs';
import { KernelMemory } from './attention-kernel';

/** Columns added at a time when a cache grows. */
export const KV_BLOCK = 64;

/** Keys [nKv, hd, T] and values [nKv, T, hd] of one layer, as a prefill (attentionForward) returns them. */
export interface LayerKv {
  k: tf.Tensor3D;
  v: tf.Tensor3D;
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

export class KvCache {
  /** Tokens held per row (= position of each row's next token). */
  readonly lengths: number[];
  /** Columns allocated (0 before the first tokens). */
  capacity = 0;
  /** Heads × head size of the stored keys (set by the first fill); w = head size rounded up to 4. */
  private kvHeads = 0;
  private headDim = 0;
  private w = 0;
  private mem: KernelMemory | null = null;
  private states: Map<string, AdapterDecodeState>[];
  private disposed = false;

  constructor(readonly numLayers: number, readonly maxPositions: number, readonly batch = 1) {
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`KvCache: batch must be a positive integer, got ${batch}`);
    this.lengths = new Array<number>(batch).fill(0);
    this.states = Array.from({ length: batch }, () => new Map());
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
    if (kv.length !== this.numLayers) throw new Error(`KvCache.fill: ${kv.length} layers of keys for a cache of ${this.numLayers}`);
    const [nkv, hd] = kv[0].k.shape;
    this.kvHeads = nkv;
    this.headDim = hd;
    this.w = Math.ceil(hd / 4) * 4;
    const C = this.roundCapacity(T + 1);
    const mem = this.allocate(C);
    const w = this.w;
    kv.forEach((l, i) => {
      const k = l.k.dataSync() as Float32Array; // [nKv, hd, T]
      const v = l.v.dataSync() as Float32Array; // [nKv, T, hd]
      const K = mem.f32.subarray(this.keysAt(i, C)); // [nKv, C, w]
      const V = mem.f32.subarray(this.valuesAt(i, C));
      for (let r = 0; r < nkv; r++) {
        for (let t = 0; t < T; t++) {
          for (let d = 0; d < hd; d++) K[(r * C + t) * w + d] = k[(r * hd + d) * T + t];
          V.set(v.subarray((r * T + t) * hd, (r * T + t + 1) * hd), (r * C + t) * w);
        }
      }
    });
    this.mem = mem;
    this.capacity = C;
    this.lengths[0] = T;
  }

  /** Makes room for `n` more tokens in every row (grows by whole blocks). */
  reserve(n: number): void {
    this.assertLive();
    const need = Math.max(...this.lengths) + n;
    if (need > this.maxPositions) throw new Error(`KvCache: ${need} positions would exceed maxPositions ${this.maxPositions}`);
    if (!this.mem) throw new Error('KvCache: the cache is empty (prefill first)');
    if (need <= this.capacity) return;
    this.resize(this.roundCapacity(need));
  }

  /**
   * One decode step of `layer`: writes each row's new key and value (k, v [B, nKv, hd], RoPE applied)
   * at its next column, then attends every query head (q [B, nh, hd], RoPE and scale applied; the g =
   * nh/nKv heads of kv head j are j·g…j·g+g−1) over its row's columns 0..length → [B, nh, hd].
   * `advance()` after the last layer.
   */
  attend(layer: number, q: Float32Array, k: Float32Array, v: Float32Array): Float32Array {
    this.assertLive();
    const mem = this.mem;
    if (!mem) throw new Error('KvCache.attend: the cache is empty (prefill first)');
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.numLayers) throw new Error(`KvCache.attend: layer ${layer} is outside 0..${this.numLayers - 1}`);
    const { batch: B, kvHeads: nkv, headDim: hd, w, capacity: C } = this;
    if (k.length !== B * nkv * hd || v.length !== k.length) throw new Error(`KvCache.attend: keys and values must hold ${B * nkv * hd} numbers (B·nKv·hd), got ${k.length} and ${v.length}`);
    const nh = q.length / (B * hd);
    if (!Number.isInteger(nh) || nh % nkv !== 0 || nh === 0) throw new Error(`KvCache.attend: ${q.length} query numbers are not B·nh·hd with nh a multiple of ${nkv} kv heads`);
    for (const len of this.lengths) if (len >= C) throw new Error('KvCache.attend: no room (reserve first)');
    const g = nh / nkv;
    const F = mem.f32;
    const qAt = 0;
    const outAt = w;
    const sAt = 2 * w;
    const K = this.keysAt(layer, C);
    const V = this.valuesAt(layer, C);
    const out = new Float32Array(B * nh * hd);
    for (let b = 0; b < B; b++) {
      const col = this.lengths[b];
      for (let j = 0; j < nkv; j++) {
        const r = b * nkv + j;
        const src = r * hd;
        const kAt = K + (r * C + col) * w;
        const vAt = V + (r * C + col) * w;
        F.set(k.subarray(src, src + hd), kAt);
        F.set(v.subarray(src, src + hd), vAt);
        if (hd < w) {
          F.fill(0, kAt + hd, kAt + w); // padding lanes (a grown cache may hold moved data there)
          F.fill(0, vAt + hd, vAt + w);
        }
        for (let i = 0; i < g; i++) {
          const h = b * nh + j * g + i;
          F.set(q.subarray(h * hd, (h + 1) * hd), qAt); // lanes hd..w−1 stay 0
          mem.attend(K + r * C * w, V + r * C * w, qAt, outAt, sAt, col + 1, w);
          out.set(F.subarray(outAt, outAt + hd), h * hd);
        }
      }
    }
    return out;
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
    const c = new KvCache(this.numLayers, this.maxPositions, this.batch);
    c.copyShapeFrom(this);
    if (this.mem) {
      c.mem = new KernelMemory(this.mem.floats);
      c.mem.f32.set(this.mem.f32);
    }
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
      if (p.numLayers !== p0.numLayers || p.maxPositions !== p0.maxPositions) throw new Error('KvCache.stack: the caches belong to different models');
      if (p.capacity === 0) throw new Error('KvCache.stack: a cache is empty (prefill first)');
    }
    const B = parts.reduce((n, p) => n + p.batch, 0);
    const out = new KvCache(p0.numLayers, p0.maxPositions, B);
    out.copyShapeFrom(p0);
    const C = Math.max(...parts.map((p) => p.capacity));
    const mem = out.allocate(C);
    const { kvHeads: nkv, w } = p0;
    let r0 = 0;
    for (const p of parts) {
      const R = p.batch * nkv;
      for (let i = 0; i < 2 * p0.numLayers; i++) {
        const src = p.mem!.f32.subarray(p.regionAt(i, p.capacity));
        copyRows(src, p.capacity * w, mem.f32.subarray(out.regionAt(i, C)), C * w, R, r0);
      }
      r0 += R;
    }
    out.mem = mem;
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
    this.mem = null; // the memory goes with its last reference
    for (const m of this.states) for (const s of m.values()) s.dispose();
    this.states = this.states.map(() => new Map());
  }

  private copyShapeFrom(o: KvCache): void {
    this.kvHeads = o.kvHeads;
    this.headDim = o.headDim;
    this.w = o.w;
    this.capacity = o.capacity;
  }

  private roundCapacity(n: number): number {
    return Math.min(this.maxPositions, Math.ceil(n / KV_BLOCK) * KV_BLOCK);
  }

  /** Float index of region i (2·layer: keys, 2·layer + 1: values) at capacity C. */
  private regionAt(i: number, C: number): number {
    const scratch = 2 * this.w + Math.ceil((C + 4) / 4) * 4;
    return scratch + i * this.batch * this.kvHeads * C * this.w;
  }

  private keysAt(layer: number, C: number): number {
    return this.regionAt(2 * layer, C);
  }

  private valuesAt(layer: number, C: number): number {
    return this.regionAt(2 * layer + 1, C);
  }

  /** A zeroed memory for this cache's rows at capacity C. */
  private allocate(C: number): KernelMemory {
    return new KernelMemory(this.regionAt(2 * this.numLayers, C));
  }

  /**
   * Grows to C columns in place: the memory grows, then every (region, row) run moves to its new
   * place, the last first (each moves up, so none overwrites a run not yet moved). Columns past a
   * row's length are never read (a step writes all w lanes of its column), so what the move leaves
   * there needs no clearing.
   */
  private resize(C: number): void {
    const mem = this.mem!;
    const old = this.capacity;
    const w = this.w;
    const R = this.batch * this.kvHeads;
    mem.grow(this.regionAt(2 * this.numLayers, C));
    const F = mem.f32;
    for (let i = 2 * this.numLayers - 1; i >= 0; i--) {
      const from = this.regionAt(i, old);
      const to = this.regionAt(i, C);
      for (let r = R - 1; r >= 0; r--) F.copyWithin(to + r * C * w, from + r * old * w, from + (r + 1) * old * w);
    }
    this.capacity = C;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('KvCache was disposed');
  }
}

/** Copies `runs` runs of srcLen numbers into runs of dstLen (from run dstRun0 on): growing or stacking buffers. */
function copyRows(src: Float32Array, srcLen: number, dst: Float32Array, dstLen: number, runs: number, dstRun0: number): void {
  for (let i = 0; i < runs; i++) dst.set(src.subarray(i * srcLen, (i + 1) * srcLen), (dstRun0 + i) * dstLen);
}
