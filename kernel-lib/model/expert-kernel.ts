/**
 * The MoE experts of a batched decode step (2–4 rows: CFG's conditional and unconditional rows) on the
 * host, each row through its own chosen experts only, in a WebAssembly SIMD kernel over the experts'
 * weights held in its own memory.
 *
 * Why: the TF.js path computes every expert densely (two matMuls over the stacked weights, non-chosen
 * experts weighted by zero). At one row XNNPACK runs its one-row kernel; at 2–4 rows it runs its
 * four-row kernel, which costs as much for 2 rows as for 4, so a batch-2 step's dense experts cost
 * about twice a batch-1 step's (measured on mm-moe-small, one layer, CPU time: [2,128]×[128,2048]
 * 64–84 µs against 30–36 µs at one row, [2,1024]×[1024,128] 41 against 18, plus the split and the
 * SwiGLU kernels). Here a row reads only its k chosen experts (k/E of the weights), so two rows cost
 * less than the dense batch-1 experts did (README, "Decode attention" and "CFG").
 *
 * Per expert e the memory holds A_e = [H, 2I] (the w1 columns of e, then its w3 columns; the post-
 * attention gain already folded in by decode-weights.ts) and W2_e = [I, H], each row padded to a
 * multiple of 32 floats. A row's output is Σ_j gate_j · W2_e(silu(x·w1_e) ⊙ (x·w3_e)) over its chosen
 * experts, the same sum the dense path computes (summed in another order: equal to float rounding).
 */
import { I32, V128, forUpTo, get, ifThen, op, set, wasmFunction, wasmModule } from '../util/wasm-binary';
import { pagesFor } from './attention-kernel';

const { i32, f32, v128, f32x4 } = op;

/** Columns a pass of the kernel keeps in registers (8 vectors of 4). */
const CHUNK = 32;

/**
 * y[0..n) (=, or += when acc ≠ 0) Σ_{k < K} x[k] · W[k, 0..n), W row-major with rows of n floats, n a
 * multiple of 32. Byte addresses and byte counts (kBytes = 4K, nBytes = 4n).
 */
const gemv = wasmFunction({
  name: 'gemv',
  params: { x: I32, w: I32, y: I32, kBytes: I32, nBytes: I32, acc: I32 },
  locals: { n: I32, k: I32, p: I32, s: V128, a0: V128, a1: V128, a2: V128, a3: V128, a4: V128, a5: V128, a6: V128, a7: V128 },
  results: [],
  body: (L) => {
    const accs = [L.a0, L.a1, L.a2, L.a3, L.a4, L.a5, L.a6, L.a7];
    return [
      i32.const(0), set(L.n),
      forUpTo(L.n, L.nBytes, CHUNK * 4, [
        ...accs.map((a) => [...v128.zero, ...set(a)]),
        get(L.acc), ifThen(accs.map((a, i) => [...get(L.y), ...get(L.n), ...i32.add, ...v128.load(16 * i), ...set(a)])),
        get(L.w), get(L.n), i32.add, set(L.p), i32.const(0), set(L.k),
        forUpTo(L.k, L.kBytes, 4, [
          get(L.x), get(L.k), i32.add, f32.load(), f32x4.splat, set(L.s),
          ...accs.map((a, i) => [...get(a), ...get(L.s), ...get(L.p), ...v128.load(16 * i), ...f32x4.mul, ...f32x4.add, ...set(a)]),
          get(L.p), get(L.nBytes), i32.add, set(L.p),
        ]),
        ...accs.map((a, i) => [...get(L.y), ...get(L.n), ...i32.add, ...get(a), ...v128.store(16 * i)]),
      ]),
    ];
  },
});

let compiled: WebAssembly.Module | null = null;

function kernelModule(): WebAssembly.Module {
  if (!compiled) {
    try {
      compiled = new WebAssembly.Module(wasmModule([gemv]));
    } catch (e) {
      throw new Error(`Batched decoding needs WebAssembly SIMD (Node ≥ 16.4 or a current browser); compiling the expert kernel failed: ${(e as Error).message}`);
    }
  }
  return compiled;
}

const pad = (n: number): number => Math.ceil(n / CHUNK) * CHUNK;

/** One layer's experts, as `forward` reads them. */
export interface ExpertShape {
  hidden: number;
  numExperts: number;
  intermediate: number;
}

/**
 * The experts of one layer in a kernel memory. Built from the host copies of the (gain-folded) w13
 * [H, 2·E·I] (w1 of every expert, then w3 of every expert, as moe.ts splits it) and w2 [E·I, H].
 */
export class HostExperts {
  private readonly f32: Float32Array;
  private readonly gemvFn: (x: number, w: number, y: number, kBytes: number, nBytes: number, acc: number) => void;
  /** Padded row widths of A_e and W2_e; float offsets of the scratch and of expert 0's blocks. */
  private readonly wa: number;
  private readonly wo: number;
  private readonly xAt = 0;
  private readonly yAt: number;
  private readonly actAt: number;
  private readonly outAt: number;
  private readonly blocksAt: number;
  private readonly blockFloats: number;

  constructor(readonly shape: ExpertShape, w13: Float32Array, w2: Float32Array) {
    const { hidden: H, numExperts: E, intermediate: I } = shape;
    if (w13.length !== H * 2 * E * I) throw new Error(`HostExperts: w13 holds ${w13.length} numbers, expected H·2·E·I = ${H * 2 * E * I}`);
    if (w2.length !== E * I * H) throw new Error(`HostExperts: w2 holds ${w2.length} numbers, expected E·I·H = ${E * I * H}`);
    this.wa = pad(2 * I);
    this.wo = pad(H);
    // scratch: x [H], y [wa], act [I], out [wo], each starting at a multiple of 4 floats
    const r4 = (n: number): number => Math.ceil(n / 4) * 4;
    this.yAt = r4(H);
    this.actAt = this.yAt + this.wa;
    this.outAt = this.actAt + r4(I);
    this.blocksAt = this.outAt + this.wo;
    this.blockFloats = H * this.wa + I * this.wo;
    const floats = this.blocksAt + E * this.blockFloats;
    const memory = new WebAssembly.Memory({ initial: pagesFor(floats, 'HostExperts') });
    const inst = new WebAssembly.Instance(kernelModule(), { env: { memory } });
    this.gemvFn = inst.exports.gemv as HostExperts['gemvFn'];
    this.f32 = new Float32Array(memory.buffer, 0, floats);
    const F = this.f32;
    for (let e = 0; e < E; e++) {
      const a = this.blocksAt + e * this.blockFloats;
      for (let h = 0; h < H; h++) {
        const row = h * 2 * E * I;
        F.set(w13.subarray(row + e * I, row + (e + 1) * I), a + h * this.wa); // w1 columns of e
        F.set(w13.subarray(row + E * I + e * I, row + E * I + (e + 1) * I), a + h * this.wa + I); // w3 columns of e
      }
      const o = a + H * this.wa;
      for (let i = 0; i < I; i++) F.set(w2.subarray((e * I + i) * H, (e * I + i + 1) * H), o + i * this.wo);
    }
  }

  /**
   * x [N, H] (normalised rows) → [N, H]: row n is Σ_j weights[n·k + j] · expert_{experts[n·k + j]}(x_n).
   */
  forward(x: Float32Array, experts: Int32Array, weights: Float32Array, k: number): Float32Array {
    const { hidden: H, numExperts: E, intermediate: I } = this.shape;
    const N = x.length / H;
    if (!Number.isInteger(N) || experts.length !== N * k || weights.length !== N * k) {
      throw new Error(`HostExperts.forward: x holds ${x.length} numbers (rows of ${H}), experts ${experts.length} and weights ${weights.length} (rows of ${k})`);
    }
    const F = this.f32;
    const out = new Float32Array(N * H);
    for (let n = 0; n < N; n++) {
      F.set(x.subarray(n * H, (n + 1) * H), this.xAt);
      for (let j = 0; j < k; j++) {
        const e = experts[n * k + j];
        if (!(e >= 0 && e < E)) throw new Error(`HostExperts.forward: expert ${e} is outside 0..${E - 1}`);
        const a = this.blocksAt + e * this.blockFloats;
        this.gemvFn(this.xAt * 4, a * 4, this.yAt * 4, H * 4, this.wa * 4, 0); // y = [x·w1_e | x·w3_e]
        const g = weights[n * k + j];
        for (let i = 0; i < I; i++) {
          const u = F[this.yAt + i];
          F[this.actAt + i] = ((u / (1 + Math.exp(-u))) * F[this.yAt + I + i]) * g; // silu(u)·v, gated
        }
        this.gemvFn(this.actAt * 4, (a + H * this.wa) * 4, this.outAt * 4, I * 4, this.wo * 4, j > 0 ? 1 : 0);
      }
      if (k === 0) F.fill(0, this.outAt, this.outAt + H);
      out.set(F.subarray(this.outAt, this.outAt + H), n * H);
    }
    return out;
  }
}
