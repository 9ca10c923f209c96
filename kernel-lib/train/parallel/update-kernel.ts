/**
 * The per-piece work of a data-parallel update (flat-adamw.ts) as WebAssembly SIMD functions over the
 * pool's shared memory (shared-state.ts), four elements per instruction:
 *
 *   sumGrads  g₀[i] = ((0 + g₀[i]) + g₁[i]) + …  (× mask[i]),  returns Σ g₀[i]² in float64
 *   adamw     clip, moments, bias-corrected step, decoupled decay, parameter update
 *
 * Why: the same work in JavaScript (flat-adamw.ts) ran at ~21 ns an element, as slow as TF.js's own
 * AdamW — ~60 ms of CPU a step for mm-moe-small's 3.0 M parameters. WebAssembly's f32x4 add, mul,
 * div and sqrt are IEEE single-precision operations, the ones flat-adamw.ts emulates with Math.fround,
 * so the results are the same bits (tests/train/update-kernel.test.ts); only Σ g² adds its float64
 * terms in another order (two lanes). A piece's last (length mod 4) elements take the JavaScript path.
 */
import { F32, F64, I32, V128, forUpTo, get, ifThen, op, set, wasmFunction, wasmModule } from '../../util/wasm-binary';
import { adamwPiece, AdamWScalars, clipGradients, FlatParamSettings, sumGradients } from './flat-adamw';

const { i32, v128, f32x4, f64x2, f64 } = op;
const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];

const sumGradsFn = wasmFunction({
  name: 'sumGrads',
  // byte addresses: g0 (worker 0's gradients at the piece's first element), mask (same element); stride
  // bytes between workers' gradient buffers; n elements (a multiple of 4)
  params: { g0: I32, stride: I32, workers: I32, mask: I32, useMask: I32, n: I32 },
  locals: { i: I32, end: I32, w: I32, addr: I32, acc: V128, sq: V128, x: V128 },
  results: [F64],
  body: (L) => [
    v128.zero, set(L.sq), i32.const(0), set(L.i), get(L.n), i32.const(2), i32.shl, set(L.end),
    forUpTo(L.i, L.end, 16, [
      v128.zero, set(L.acc), get(L.g0), get(L.i), i32.add, set(L.addr), i32.const(0), set(L.w),
      forUpTo(L.w, L.workers, 1, [get(L.acc), get(L.addr), v128.load(), f32x4.add, set(L.acc), get(L.addr), get(L.stride), i32.add, set(L.addr)]),
      get(L.useMask), ifThen([get(L.acc), get(L.mask), get(L.i), i32.add, v128.load(), f32x4.mul, set(L.acc)]),
      get(L.g0), get(L.i), i32.add, get(L.acc), v128.store(),
      get(L.acc), f64x2.promoteLowF32x4, set(L.x), get(L.sq), get(L.x), get(L.x), f64x2.mul, f64x2.add, set(L.sq),
      get(L.acc), get(L.acc), v128.shuffle(HIGH_HALF), f64x2.promoteLowF32x4, set(L.x), get(L.sq), get(L.x), get(L.x), f64x2.mul, f64x2.add, set(L.sq),
    ]),
    get(L.sq), f64x2.extractLane(0), get(L.sq), f64x2.extractLane(1), f64.add,
  ],
});

/** flags of adamw: bit 0 decay, bit 1 the decay is masked, bit 2 clip (multiply g by scale). */
const DECAY = 1;
const DECAY_MASKED = 2;
const CLIP = 4;

const adamwFn = wasmFunction({
  name: 'adamw',
  // byte addresses of the piece's first element in p, m, v, g, mask; n elements (a multiple of 4)
  params: { p: I32, m: I32, v: I32, g: I32, mask: I32, n: I32, flags: I32, b1: F32, omb1: F32, b2: F32, omb2: F32, c1: F32, c2: F32, eps: F32, wd: F32, rate: F32, scale: F32 },
  locals: { i: I32, end: I32, B1: V128, OMB1: V128, B2: V128, OMB2: V128, C1: V128, C2: V128, EPS: V128, WD: V128, RATE: V128, SCALE: V128, gv: V128, mv: V128, vv: V128, st: V128, pv: V128, dv: V128 },
  results: [],
  body: (L) => [
    ...(['b1', 'omb1', 'b2', 'omb2', 'c1', 'c2', 'eps', 'wd', 'rate', 'scale'] as const).map((k) => [...get(L[k]), ...f32x4.splat, ...set(L[k.toUpperCase() as 'B1'])]),
    i32.const(0), set(L.i), get(L.n), i32.const(2), i32.shl, set(L.end),
    forUpTo(L.i, L.end, 16, [
      get(L.g), get(L.i), i32.add, v128.load(), set(L.gv),
      get(L.flags), i32.const(CLIP), i32.and, ifThen([get(L.gv), get(L.SCALE), f32x4.mul, set(L.gv)]),
      // m ← m·β₁ + g·(1−β₁); v ← v·β₂ + g²·(1−β₂)
      get(L.m), get(L.i), i32.add, v128.load(), get(L.B1), f32x4.mul, get(L.gv), get(L.OMB1), f32x4.mul, f32x4.add, set(L.mv),
      get(L.v), get(L.i), i32.add, v128.load(), get(L.B2), f32x4.mul, get(L.gv), get(L.gv), f32x4.mul, get(L.OMB2), f32x4.mul, f32x4.add, set(L.vv),
      get(L.m), get(L.i), i32.add, get(L.mv), v128.store(),
      get(L.v), get(L.i), i32.add, get(L.vv), v128.store(),
      // step = (m/c₁) / (√(v/c₂) + ε) [+ (p·mask)·wd]
      get(L.mv), get(L.C1), f32x4.div, get(L.vv), get(L.C2), f32x4.div, f32x4.sqrt, get(L.EPS), f32x4.add, f32x4.div, set(L.st),
      get(L.p), get(L.i), i32.add, v128.load(), set(L.pv),
      get(L.flags), i32.const(DECAY), i32.and,
      ifThen([
        get(L.pv), set(L.dv),
        get(L.flags), i32.const(DECAY_MASKED), i32.and, ifThen([get(L.dv), get(L.mask), get(L.i), i32.add, v128.load(), f32x4.mul, set(L.dv)]),
        get(L.st), get(L.dv), get(L.WD), f32x4.mul, f32x4.add, set(L.st),
      ]),
      // p ← p − step·rate
      get(L.p), get(L.i), i32.add, get(L.pv), get(L.st), get(L.RATE), f32x4.mul, f32x4.sub, v128.store(),
    ]),
  ],
});

let compiled: WebAssembly.Module | null = null;

/** The module, compiled once per thread (null where WebAssembly SIMD or shared memory is missing). */
function kernelModule(): WebAssembly.Module | null {
  if (compiled) return compiled;
  try {
    compiled = new WebAssembly.Module(wasmModule([sumGradsFn, adamwFn], { sharedMemory: true }));
  } catch {
    return null;
  }
  return compiled;
}

/** Where a piece's arrays lie: views on the shared memory, and the byte address of each view's element 0. */
export interface KernelArrays {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  mask: Float32Array;
  /** Every worker's gradients, by rank, evenly spaced in the memory (`gradStride` bytes apart). */
  grads: Float32Array[];
}

export class UpdateKernel {
  private readonly sum: ((g0: number, stride: number, workers: number, mask: number, useMask: number, n: number) => number) | null;
  private readonly step: ((p: number, m: number, v: number, g: number, mask: number, n: number, flags: number, ...k: number[]) => void) | null;

  /** `memory` holds the arrays `a`; without `memory` (or without SIMD) everything runs in JavaScript. */
  constructor(private readonly a: KernelArrays, memory?: WebAssembly.Memory) {
    const mod = memory ? kernelModule() : null;
    const inst = mod && memory ? new WebAssembly.Instance(mod, { env: { memory } }) : null;
    const strides = a.grads.slice(1).map((g, w) => g.byteOffset - a.grads[w].byteOffset);
    if (strides.some((x) => x !== strides[0])) throw new Error('UpdateKernel: the workers\' gradient buffers must be evenly spaced');
    this.sum = inst ? (inst.exports.sumGrads as UpdateKernel['sum']) : null;
    this.step = inst ? (inst.exports.adamw as UpdateKernel['step']) : null;
  }

  /** Whether the WebAssembly path runs (else flat-adamw.ts's JavaScript). */
  get simd(): boolean {
    return this.sum !== null;
  }

  /** Sums elements [from, to) of every worker's gradients into worker 0's (× mask); returns their Σ g². */
  sumGrads(from: number, to: number, masked: boolean): number {
    const { grads, mask } = this.a;
    const n4 = this.sum ? (to - from) & ~3 : 0;
    let sq = 0;
    if (n4 > 0) {
      const stride = grads.length > 1 ? grads[1].byteOffset - grads[0].byteOffset : 0;
      sq = (this.sum as NonNullable<UpdateKernel['sum']>)(grads[0].byteOffset + from * 4, stride, grads.length, mask.byteOffset + from * 4, masked ? 1 : 0, n4);
    }
    return sq + sumGradients(grads, from + n4, to, masked ? mask : null);
  }

  /** Clips (scale ≠ 1) and AdamW-updates elements [from, to) of one parameter, from worker 0's summed gradients. */
  adamw(from: number, to: number, k: AdamWScalars, lr: number, s: FlatParamSettings, scale: number): void {
    const { params, m, v, grads, mask } = this.a;
    const n4 = this.step ? (to - from) & ~3 : 0;
    if (n4 > 0) {
      const at = (x: Float32Array) => x.byteOffset + from * 4;
      const flags = (s.weightDecay > 0 ? DECAY : 0) | (s.weightDecay > 0 && s.masked ? DECAY_MASKED : 0) | (scale !== 1 ? CLIP : 0);
      const rate = s.lrScale === 1 ? lr : lr * s.lrScale;
      (this.step as NonNullable<UpdateKernel['step']>)(at(params), at(m), at(v), at(grads[0]), at(mask), n4, flags, k.b1, k.oneMinusB1, k.b2, k.oneMinusB2, k.c1, k.c2, k.eps, s.weightDecay, rate, scale);
    }
    clipGradients(grads[0], from + n4, to, scale);
    adamwPiece(params, m, v, grads[0], from + n4, to, k, lr, s, mask);
  }
}
