/**
 * float32 -> float16 rounding against an independent float64 reference: the reference finds the half
 * grid spacing around |x| and rounds x/spacing half-to-even in double arithmetic (exact, since x is a
 * float32 and the spacing a power of two), so it shares no bit tricks with the implementation.
 */
import {
  bfloat16BitsToFloat32, float16BitsToFloat32, float32ToFloat16Bits, roundToFloat16,
} from '../../kernel-lib/checkpoint';
import { mulberry32 } from '../../kernel-lib/util/random';

/** Nearest float16 value to the float32 value x, ties to even, in float64. */
function refHalf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const sign = x < 0 || Object.is(x, -0) ? -1 : 1;
  const a = Math.abs(x);
  let e = -14; // binade of a, clamped below to the subnormal range and above to the top binade
  while (e < 15 && 2 ** (e + 1) <= a) e++;
  const spacing = 2 ** (e - 10);
  const q = a / spacing;
  let r = Math.floor(q);
  const frac = q - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
  const v = r * spacing;
  return v > 65504 ? sign * Infinity : sign * v; // past the largest half: overflow
}

const f32 = (x: number): number => Math.fround(x);
const bitsToF32 = (u: number): number => new Float32Array(new Uint32Array([u]).buffer)[0];
const f32Bits = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0];
const nextUp = (x: number): number => bitsToF32(f32Bits(x) + 1); // for positive finite x
const nextDown = (x: number): number => bitsToF32(f32Bits(x) - 1); // for positive x

function expectMatchesReference(x: number): void {
  const got = float16BitsToFloat32(float32ToFloat16Bits(x));
  const want = refHalf(Math.fround(x));
  if (Number.isNaN(want)) {
    expect(Number.isNaN(got)).toBe(true);
  } else if (!Object.is(got, want)) {
    throw new Error(`float16(${x}) = ${got}, reference ${want}`);
  }
}

describe('float32ToFloat16Bits', () => {
  test.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [f32(65519.99), 0x7bff],
    [65520, 0x7c00], // the midpoint to 2^16 rounds to even = overflow
    [1e10, 0x7c00],
    [-65520, 0xfc00],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie between 0 and 2^-24: to even (0)
    [nextUp(2 ** -25), 0x0001],
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 subnormal units: to even (2)
    [5 * 2 ** -25, 0x0002], // tie between 2 and 3: to even (2)
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -14 - 2 ** -24, 0x03ff], // largest subnormal
    [2 ** -14 - 2 ** -25, 0x0400], // tie between 0x3ff and 0x400: to even, crossing into the normals
    [1e-40, 0x0000], // float32 subnormal
    [-1e-30, 0x8000],
    [1 + 2 ** -11, 0x3c00], // tie: to even
    [1 + 3 * 2 ** -11, 0x3c02], // tie: to even
    [2049, 0x6800], // spacing 2 at 2048: tie to even (2048)
    [2051, 0x6802],
    [f32(0.1), 0x2e66],
    [f32(1 / 3), 0x3555],
  ])('%p -> bits %i', (x, bits) => {
    expect(float32ToFloat16Bits(x).toString(16)).toBe(bits.toString(16));
  });

  test('NaN stays NaN (quiet), sign kept', () => {
    for (const x of [NaN, bitsToF32(0x7f800001), bitsToF32(0xffc00000), bitsToF32(0x7fbfffff)]) {
      const h = float32ToFloat16Bits(x);
      expect(h & 0x7c00).toBe(0x7c00);
      expect(h & 0x03ff).not.toBe(0);
      expect(h & 0x8000).toBe(f32Bits(x) >>> 31 ? 0x8000 : 0);
    }
  });

  test('matches the float64 reference on 200k random float32 bit patterns', () => {
    const rand = mulberry32(7);
    for (let i = 0; i < 200_000; i++) expectMatchesReference(bitsToF32(Math.floor(rand() * 2 ** 32)));
  });

  test('matches the float64 reference on 200k log-uniform values across the half range', () => {
    const rand = mulberry32(8);
    for (let i = 0; i < 200_000; i++) {
      const x = (rand() < 0.5 ? -1 : 1) * 2 ** (-27 + 44 * rand()); // 2^-27 .. 2^17
      expectMatchesReference(x);
    }
  });

  test('every midpoint between adjacent halves rounds to the even one; one float32 ulp off rounds away', () => {
    for (let h = 0; h < 0x7c00; h++) {
      const lo = float16BitsToFloat32(h);
      const hi = float16BitsToFloat32(h + 1); // 0x7c00 = Inf for the last
      const mid = h + 1 === 0x7c00 ? 65520 : (lo + hi) / 2;
      expect(Math.fround(mid)).toBe(mid); // exactly representable, so this is a true tie
      const even = h % 2 === 0 ? h : h + 1;
      if (float32ToFloat16Bits(mid) !== even) throw new Error(`tie at ${mid}: got ${float32ToFloat16Bits(mid)}, want ${even}`);
      if (float32ToFloat16Bits(-mid) !== (even | 0x8000)) throw new Error(`tie at ${-mid}`);
      if (float32ToFloat16Bits(nextUp(mid)) !== h + 1) throw new Error(`just above ${mid}`);
      if (float32ToFloat16Bits(nextDown(mid)) !== h) throw new Error(`just below ${mid}`);
      expectMatchesReference(mid);
    }
  });

  test('every non-NaN half survives half -> float32 -> half', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = float16BitsToFloat32(h);
      const back = float32ToFloat16Bits(v);
      if (Number.isNaN(v)) expect((back & 0x7c00) === 0x7c00 && (back & 0x3ff) !== 0).toBe(true);
      else if (back !== h) throw new Error(`0x${h.toString(16)} -> ${v} -> 0x${back.toString(16)}`);
    }
  });
});

describe('float16BitsToFloat32 / bfloat16BitsToFloat32', () => {
  test.each([
    [0x3c00, 1],
    [0xc000, -2],
    [0x7bff, 65504],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x0400, 2 ** -14],
    [0x3555, 0.333251953125],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
    [0x8000, -0],
  ])('half bits %i -> %p', (h, v) => {
    expect(Object.is(float16BitsToFloat32(h), v)).toBe(true);
  });

  test('half NaN', () => {
    expect(float16BitsToFloat32(0x7e00)).toBeNaN();
    expect(float16BitsToFloat32(0xfc01)).toBeNaN();
  });

  test.each([
    [0x3f80, 1],
    [0xc000, -2],
    [0x3fc0, 1.5],
    [0x7f80, Infinity],
    [0x0001, 2 ** -133],
    [0x8000, -0],
  ])('bfloat16 bits %i -> %p', (h, v) => {
    expect(Object.is(bfloat16BitsToFloat32(h), v)).toBe(true);
  });

  test('bfloat16 NaN', () => expect(bfloat16BitsToFloat32(0x7fc0)).toBeNaN());
});

test('roundToFloat16 equals the reference elementwise', () => {
  const rand = mulberry32(9);
  const data = new Float32Array(10_000).map(() => (rand() - 0.5) * 2 ** (40 * rand() - 20));
  const rounded = roundToFloat16(data);
  data.forEach((x, i) => expect(rounded[i]).toBe(Math.fround(refHalf(x))));
});
