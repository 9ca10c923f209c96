/**
 * IEEE 754 half precision (binary16) and bfloat16 <-> float32, bit-exact.
 *
 * float32 -> float16 rounds to nearest, ties to even, from the float32 bit pattern (never through a
 * double, which could round twice): values past the largest half (65504) round to ±Inf once they reach
 * the midpoint 65520, tiny values become half subnormals (multiples of 2^-24) or ±0, and NaN stays NaN
 * (quiet, top payload bits kept). -0 keeps its sign.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float16 bit pattern (0..0xffff) nearest to `x` (first rounded to float32). */
export function float32ToFloat16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff; // biased float32 exponent
  const mant = b & 0x7fffff; // 23 stored mantissa bits
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13); // ±Inf / quiet NaN
  const e = exp - 127 + 15; // biased float16 exponent
  if (e >= 0x1f) return sign | 0x7c00; // |x| >= 2^16: overflow
  if (e <= 0) {
    // Half subnormal: the result is m·2^-24 with m = round(M·2^(e-14)), M the 24-bit significand.
    if (e < -10) return sign; // |x| < 2^-25: rounds to ±0 (2^-25 itself is a tie, and 0 is even)
    const M = mant | 0x800000;
    const shift = 14 - e; // 14..24
    let m = M >>> shift;
    const rem = M & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (m & 1) === 1)) m++; // m = 1024 carries into the smallest normal
    return sign | m;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff; // the 13 bits dropped
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // a carry may bump the exponent, up to Inf
  return h;
}

/** The exact value of a float16 bit pattern. */
export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24; // zero or subnormal (sign * 0 keeps -0)
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/** The exact value of a bfloat16 bit pattern (the top half of a float32). */
export function bfloat16BitsToFloat32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

let halfTable: Float32Array | null = null;

/** All 65536 float16 values, indexed by bit pattern (built on first use; 256 KB). */
export function float16Table(): Float32Array {
  if (halfTable === null) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = float16BitsToFloat32(h);
  }
  return halfTable;
}

/** Every value rounded to the nearest float16, returned as float32 (what a float16 save then load gives). */
export function roundToFloat16(data: Float32Array): Float32Array {
  const table = float16Table();
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = table[float32ToFloat16Bits(data[i])];
  return out;
}
