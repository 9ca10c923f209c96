/**
 * A minimal WebAssembly binary writer: enough to hand-assemble a small numeric kernel
 * (model/attention-kernel.ts) without a toolchain. It writes one module with functions that use a
 * memory imported as `env.memory`, each function exported under its name. Encodings follow the
 * WebAssembly core specification's binary format (LEB128 integers, sections 1/2/3/7/10) and the
 * fixed-width SIMD proposal (0xFD-prefixed opcodes), which Node ≥ 16.4 and current browsers run.
 *
 * Instructions are plain byte arrays, so a function body reads like its text format:
 *   [...get(a), ...get(b), ...op.i32.add]  ≙  (i32.add (local.get $a) (local.get $b))
 */

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`uleb: ${n} is not a u32`);
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** Signed LEB128 (i32 range). */
export function sleb(n: number): number[] {
  if (!Number.isInteger(n) || n < -0x80000000 || n > 0x7fffffff) throw new Error(`sleb: ${n} is not an i32`);
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => {
  const b = Array.from(new TextEncoder().encode(s));
  return [...uleb(b.length), ...b];
};
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const simd = (code: number, ...imm: number[]): number[] => [0xfd, ...uleb(code), ...imm];
const f32Bytes = (x: number): number[] => Array.from(new Uint8Array(new Float32Array([x]).buffer));

/** local.get / local.set */
export const get = (i: number): number[] => [0x20, ...uleb(i)];
export const set = (i: number): number[] => [0x21, ...uleb(i)];

/** Opcodes used by the kernels (memory accesses take a byte offset; alignment hints are natural). */
export const op = {
  i32: {
    const: (n: number): number[] => [0x41, ...sleb(n)],
    add: [0x6a],
    sub: [0x6b],
    and: [0x71],
    shl: [0x74],
    geU: [0x4f],
  },
  f32: {
    const: (x: number): number[] => [0x43, ...f32Bytes(x)],
    load: (offset = 0): number[] => [0x2a, 2, ...uleb(offset)],
    store: (offset = 0): number[] => [0x38, 2, ...uleb(offset)],
    add: [0x92],
    div: [0x95],
    max: [0x97],
  },
  f64: {
    add: [0xa0],
  },
  v128: {
    load: (offset = 0): number[] => simd(0x00, 4, ...uleb(offset)),
    store: (offset = 0): number[] => simd(0x0b, 4, ...uleb(offset)),
    zero: simd(0x0c, ...new Array<number>(16).fill(0)),
    and: simd(0x4e),
    /** i8x16.shuffle of the two v128 on the stack: result byte k = byte lanes[k] of (first ‖ second). */
    shuffle: (lanes: number[]): number[] => simd(0x0d, ...lanes),
  },
  f32x4: {
    splat: simd(0x13),
    extractLane: (lane: number): number[] => simd(0x1f, lane),
    ge: simd(0x46),
    nearest: simd(0x6a),
    add: simd(0xe4),
    sub: simd(0xe5),
    mul: simd(0xe6),
    div: simd(0xe7),
    sqrt: simd(0xe3),
  },
  f64x2: {
    extractLane: (lane: number): number[] => simd(0x21, lane),
    add: simd(0xf0),
    mul: simd(0xf2),
    /** The low two f32 lanes as f64. */
    promoteLowF32x4: simd(0x5f),
  },
  i32x4: {
    splat: simd(0x11),
    shl: simd(0xab),
    add: simd(0xae),
    truncSatF32x4S: simd(0xf8),
  },
  /** br depth / br_if depth (the loops of forUpTo) */
  br: (depth: number): number[] => [0x0c, ...uleb(depth)],
  brIf: (depth: number): number[] => [0x0d, ...uleb(depth)],
};

/** if (i32 on the stack) { then } — a block without results. */
export const ifThen = (then: number[][]): number[] => [0x04, 0x40, ...then.flat(), 0x0b];

/** f32x4 with every lane x. */
export const f32x4Const = (x: number): number[] => [...op.f32.const(x), ...op.f32x4.splat];

/** Sum of the four lanes of the f32x4 in local `v` → f32 on the stack. */
export const hsum = (v: number): number[] => [
  ...get(v), ...op.f32x4.extractLane(0), ...get(v), ...op.f32x4.extractLane(1), ...op.f32.add,
  ...get(v), ...op.f32x4.extractLane(2), ...get(v), ...op.f32x4.extractLane(3), ...op.f32.add, ...op.f32.add,
];

/**
 * for (i = i; i < end; i += step) { body } with i32 locals `i` and `end` (unsigned compare), as
 * block { loop { br_if 1 (i ≥ end); body; i += step; br 0 } }. The caller sets `i` first.
 */
export function forUpTo(i: number, end: number, step: number, body: number[][]): number[] {
  return [
    0x02, 0x40, 0x03, 0x40,
    ...get(i), ...get(end), ...op.i32.geU, ...op.brIf(1),
    ...body.flat(),
    ...get(i), ...op.i32.const(step), ...op.i32.add, ...set(i), ...op.br(0),
    0x0b, 0x0b,
  ];
}

export interface WasmFunction<P extends string, L extends string> {
  name: string;
  params: Record<P, ValType>;
  locals: Record<L, ValType>;
  results: ValType[];
  /** The body, given the index of every parameter and local by name. */
  body: (ix: Record<P | L, number>) => number[][];
}

/** A function with named parameters and locals (indices in declaration order: parameters first). */
export function wasmFunction<P extends string, L extends string>(f: WasmFunction<P, L>): WasmFunction<string, string> {
  return f as unknown as WasmFunction<string, string>;
}

/**
 * The module's bytes: the functions, each exported under its name, over an imported `env.memory`. With
 * `sharedMemory` the import is a shared memory (limits 1 … 65,536 pages, the shared flag): one that
 * several worker threads map, each with its own instance.
 */
export function wasmModule(funcs: WasmFunction<string, string>[], o: { sharedMemory?: boolean } = {}): Uint8Array {
  const types = funcs.map((f) => [0x60, ...vec(Object.values(f.params).map((t) => [t])), ...vec(f.results.map((t) => [t]))]);
  const code = funcs.map((f) => {
    const names = [...Object.keys(f.params), ...Object.keys(f.locals)];
    const ix = Object.fromEntries(names.map((n, i) => [n, i])) as Record<string, number>;
    // locals are declared one run per local (count 1, type): simple and valid
    const locals = vec(Object.values(f.locals).map((t) => [1, t]));
    const body = [...locals, ...f.body(ix).flat(), 0x0b];
    return [...uleb(body.length), ...body];
  });
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, vec(types)),
    // memory: min 1 page; shared: flags 3 (max and shared), max 65,536 pages
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, ...(o.sharedMemory ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)])]])),
    ...section(3, vec(funcs.map((_, i) => uleb(i)))),
    ...section(7, vec(funcs.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(code)),
  ];
  return new Uint8Array(bytes);
}
