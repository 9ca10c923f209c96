/**
 * The decode step's attention for one query head as one WebAssembly SIMD function, over keys and
 * values held in its own memory (the KvCache's buffers live there):
 *
 *   out = softmax_c(k[c]·q) · v[c]   over the columns c < len of one cache row
 *
 * Why not TensorFlow.js ops: on the wasm backend a decode step's [nKv]×[C, hd] products run as
 * plain scalar loops (~1 GMAC/s), and the 2-D forms that reach XNNPACK either compute every kv
 * head against every query head (nKv× the work) or put the cache in the packed-and-cached second
 * operand. Measured on one layer of mm-moe-small (4 kv heads of 32) at 576 cached columns, CPU time:
 * TF.js ops ~180 µs (the two products ~120), this kernel ~22 µs (README, "Decode attention").
 *
 * Rows are `w` floats (head size rounded up to 4, zero-padded, so whole vectors are read). The
 * softmax subtracts the max; exp is 2ⁿ·p(f) with n = round(x·log₂e), f = x − n·ln2 (ln2 split in two
 * for accuracy) and p the degree-6 Taylor polynomial on |f| ≤ ln2/2 (relative error < 2e-7);
 * x < −87 gives exactly 0, as a masked column does in the full forward.
 */
import { F32, I32, V128, forUpTo, f32x4Const, get, hsum, op, set, wasmFunction, wasmModule } from '../util/wasm-binary';

const { i32, f32, v128, f32x4, i32x4 } = op;
/** Float index (local holding a float index) → byte address on the stack: base + 4·i. */
const at = (base: number, i: number): number[] => [...get(base), ...get(i), ...i32.const(2), ...i32.shl, ...i32.add];

const attend = wasmFunction({
  name: 'attend',
  // byte addresses: k, v the row's column 0; q, out one head (w bytes); s scratch for ⌈len/4⌉·4 floats
  params: { k: I32, v: I32, q: I32, out: I32, s: I32, len: I32, w: I32 },
  locals: { c: I32, d: I32, p: I32, end: I32, acc: V128, x4: V128, n: V128, f: V128, y: V128, m: F32, x: F32 },
  results: [],
  body: (L) => [
    // 1. s[c] = k[c]·q and their max m
    f32.const(-Infinity), set(L.m), i32.const(0), set(L.c), get(L.k), set(L.p),
    forUpTo(L.c, L.len, 1, [
      v128.zero, set(L.acc), i32.const(0), set(L.d),
      forUpTo(L.d, L.w, 16, [
        get(L.acc), get(L.p), get(L.d), i32.add, v128.load(), get(L.q), get(L.d), i32.add, v128.load(), f32x4.mul, f32x4.add, set(L.acc),
      ]),
      hsum(L.acc), set(L.x),
      at(L.s, L.c), get(L.x), f32.store(),
      get(L.m), get(L.x), f32.max, set(L.m),
      get(L.p), get(L.w), i32.add, set(L.p),
    ]),
    // 2. columns len..end−1 (end = len rounded up to 4) get −∞ (→ exp 0), so step 3 reads whole vectors
    get(L.len), i32.const(3), i32.add, i32.const(-4), i32.and, set(L.end),
    forUpTo(L.c, L.end, 1, [at(L.s, L.c), f32.const(-Infinity), f32.store()]),
    // 3. s ← exp(s − m), acc ← their sum (4 lanes)
    get(L.end), i32.const(2), i32.shl, set(L.end), v128.zero, set(L.acc), i32.const(0), set(L.d),
    forUpTo(L.d, L.end, 16, [
      get(L.s), get(L.d), i32.add, v128.load(), get(L.m), f32x4.splat, f32x4.sub, set(L.x4),
      get(L.x4), f32x4Const(Math.LOG2E), f32x4.mul, f32x4.nearest, set(L.n),
      get(L.x4), get(L.n), f32x4Const(0.693359375), f32x4.mul, f32x4.sub, get(L.n), f32x4Const(-2.12194440e-4), f32x4.mul, f32x4.sub, set(L.f),
      // p(f) = 1 + f(1 + f(1/2 + f(1/6 + f(1/24 + f(1/120 + f/720)))))
      f32x4Const(1 / 720), get(L.f), f32x4.mul, f32x4Const(1 / 120), f32x4.add,
      get(L.f), f32x4.mul, f32x4Const(1 / 24), f32x4.add,
      get(L.f), f32x4.mul, f32x4Const(1 / 6), f32x4.add,
      get(L.f), f32x4.mul, f32x4Const(0.5), f32x4.add,
      get(L.f), f32x4.mul, f32x4Const(1), f32x4.add,
      get(L.f), f32x4.mul, f32x4Const(1), f32x4.add,
      // · 2ⁿ, built as the float bits (n + 127) << 23; lanes with x < −87 (or −∞, NaN) masked to 0
      get(L.n), i32x4.truncSatF32x4S, i32.const(127), i32x4.splat, i32x4.add, i32.const(23), i32x4.shl, f32x4.mul,
      get(L.x4), f32x4Const(-87), f32x4.ge, v128.and, set(L.y),
      get(L.s), get(L.d), i32.add, get(L.y), v128.store(),
      get(L.acc), get(L.y), f32x4.add, set(L.acc),
    ]),
    // 4. out = Σ_c s[c]·v[c] / Σ_c s[c], four lanes of the row at a time
    f32.const(1), hsum(L.acc), f32.div, set(L.x), i32.const(0), set(L.d),
    forUpTo(L.d, L.w, 16, [
      v128.zero, set(L.acc), i32.const(0), set(L.c), get(L.v), get(L.d), i32.add, set(L.p),
      forUpTo(L.c, L.len, 1, [
        get(L.acc), at(L.s, L.c), f32.load(), f32x4.splat, get(L.p), v128.load(), f32x4.mul, f32x4.add, set(L.acc),
        get(L.p), get(L.w), i32.add, set(L.p),
      ]),
      get(L.out), get(L.d), i32.add, get(L.acc), get(L.x), f32x4.splat, f32x4.mul, v128.store(),
    ]),
  ],
});

let compiled: WebAssembly.Module | null = null;

function kernelModule(): WebAssembly.Module {
  if (!compiled) {
    try {
      compiled = new WebAssembly.Module(wasmModule([attend]));
    } catch (e) {
      throw new Error(`Decoding needs WebAssembly SIMD (Node ≥ 16.4 or a current browser); compiling the attention kernel failed: ${(e as Error).message}`);
    }
  }
  return compiled;
}

/** Bytes a WebAssembly memory can hold (wasm32: 65,536 pages of 64 KiB). */
const MAX_BYTES = 65536 * 65536;

/** 64 KiB pages for `floats` numbers (at least 1), or a clear error (naming `what`) past what wasm32 can address. */
export function pagesFor(floats: number, what = 'KvCache'): number {
  const bytes = floats * 4;
  if (bytes > MAX_BYTES) throw new Error(`${what}: ${bytes} bytes exceed the 4 GiB a WebAssembly memory holds (fewer positions, rows or layers)`);
  return Math.max(1, Math.ceil(bytes / 65536));
}

/** `floats` zeroed float32 numbers in a WebAssembly memory, with the attention kernel bound to them. */
export class KernelMemory {
  /** A view of the floats (replaced by `grow`). */
  f32: Float32Array;
  private readonly memory: WebAssembly.Memory;
  private readonly attendFn: (k: number, v: number, q: number, out: number, s: number, len: number, w: number) => void;

  constructor(floats: number) {
    this.memory = new WebAssembly.Memory({ initial: pagesFor(floats) });
    const inst = new WebAssembly.Instance(kernelModule(), { env: { memory: this.memory } });
    this.attendFn = inst.exports.attend as KernelMemory['attendFn'];
    this.f32 = new Float32Array(this.memory.buffer, 0, floats);
  }

  get floats(): number {
    return this.f32.length;
  }

  /**
   * Grows to `floats` numbers in place: the contents stay, and only the new pages are mapped (a new
   * memory would fault in every page of the copy: ~7 ms for a 2.7 MB cache on this machine).
   */
  grow(floats: number): void {
    const extra = pagesFor(floats) - this.memory.buffer.byteLength / 65536;
    if (extra > 0) this.memory.grow(extra);
    this.f32 = new Float32Array(this.memory.buffer, 0, floats);
  }

  /**
   * f32[out..out+w) ← softmax over c < len of (f32[k + c·w ..]·f32[q ..]) applied to the rows f32[v + c·w ..].
   * Float indices, all multiples of 4; w a multiple of 4; len ≥ 1; scratch f32[s ..] holds ⌈len/4⌉·4 floats.
   */
  attend(k: number, v: number, q: number, out: number, s: number, len: number, w: number): void {
    this.attendFn(k * 4, v * 4, q * 4, out * 4, s * 4, len, w * 4);
  }
}
