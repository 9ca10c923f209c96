import { F32, I32, forUpTo, get, hsum, op, set, sleb, uleb, wasmFunction, wasmModule } from '../../kernel-lib/util/wasm-binary';

test('LEB128 encodings match the specification’s examples and refuse what is not a 32-bit integer', () => {
  expect(uleb(0)).toEqual([0x00]);
  expect(uleb(127)).toEqual([0x7f]);
  expect(uleb(128)).toEqual([0x80, 0x01]);
  expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
  expect(uleb(0xffffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
  expect(sleb(0)).toEqual([0x00]);
  expect(sleb(-1)).toEqual([0x7f]);
  expect(sleb(63)).toEqual([0x3f]);
  expect(sleb(64)).toEqual([0xc0, 0x00]);
  expect(sleb(-64)).toEqual([0x40]);
  expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
  expect(() => uleb(-1)).toThrow('uleb: -1 is not a u32');
  expect(() => uleb(1.5)).toThrow('uleb: 1.5 is not a u32');
  expect(() => sleb(2 ** 31)).toThrow('sleb: 2147483648 is not an i32');
});

test('a written module validates and runs: a loop over memory, SIMD lanes summed', () => {
  // sum(p, n): Σ of n floats from byte address p, four at a time (n a multiple of 4)
  const sum = wasmFunction({
    name: 'sum',
    params: { p: I32, n: I32 },
    locals: { i: I32, end: I32, acc: 0x7b },
    results: [F32],
    body: (L) => [
      get(L.n), op.i32.const(2), op.i32.shl, set(L.end), op.v128.zero, set(L.acc), op.i32.const(0), set(L.i),
      forUpTo(L.i, L.end, 16, [get(L.acc), get(L.p), get(L.i), op.i32.add, op.v128.load(), op.f32x4.add, set(L.acc)]),
      hsum(L.acc),
    ],
  });
  const bytes = wasmModule([sum]);
  expect(WebAssembly.validate(bytes)).toBe(true);
  const memory = new WebAssembly.Memory({ initial: 1 });
  const f = new Float32Array(memory.buffer);
  const xs = Array.from({ length: 40 }, (_, i) => (i % 7) - 2.5);
  f.set(xs, 4);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  const run = inst.exports.sum as (p: number, n: number) => number;
  expect(run(16, 40)).toBeCloseTo(xs.reduce((a, b) => a + b, 0), 5);
  expect(run(16, 0)).toBe(0);
});
