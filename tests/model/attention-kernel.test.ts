import { KernelMemory } from '../../kernel-lib/model/attention-kernel';
import { mulberry32 } from '../../kernel-lib/util/random';

/** softmax_c(k[c]·q)·v in float64 over rows of w floats (the independent reference). */
function reference(F: Float32Array, k: number, v: number, q: number, len: number, w: number): number[] {
  const s: number[] = [];
  for (let c = 0; c < len; c++) {
    let a = 0;
    for (let d = 0; d < w; d++) a += F[k + c * w + d] * F[q + d];
    s.push(a);
  }
  const m = Math.max(...s);
  const e = s.map((x) => Math.exp(x - m));
  const z = e.reduce((a, b) => a + b, 0);
  return Array.from({ length: w }, (_, d) => e.reduce((o, ec, c) => o + (ec / z) * F[v + c * w + d], 0));
}

describe('the decode attention kernel', () => {
  const maxLen = 700;
  const w = 32;
  // float indices: query, output, scores, keys [maxLen, w], values [maxLen, w]
  const q = 0;
  const out = w;
  const s = 2 * w;
  const k = s + maxLen + 4;
  const v = k + maxLen * w;
  const mem = new KernelMemory(v + maxLen * w);
  const F = mem.f32;

  function fill(len: number, hd: number, qScale: number, seed: number): void {
    const rand = mulberry32(seed);
    F.fill(0);
    for (let c = 0; c < len; c++) {
      for (let d = 0; d < hd; d++) {
        F[k + c * w + d] = rand() - 0.5;
        F[v + c * w + d] = rand() - 0.5;
      }
    }
    for (let d = 0; d < hd; d++) F[q + d] = (rand() - 0.5) * qScale;
  }

  test.each([
    [1, 32, 1],
    [3, 6, 2], // head size 6 in rows of 32: the padding lanes are zero and stay zero
    [5, 30, 3],
    [67, 32, 8], // a length that is not a multiple of 4
    [640, 32, 6],
    [64, 16, 60], // score range well over 87: the smallest weights underflow to 0
  ])('len %i, head size %i, query scale %f: equals the float64 reference (≤ 1e-6)', (len, hd, scale) => {
    fill(len, hd, scale, len * 31 + hd);
    mem.attend(k, v, q, out, s, len, w);
    const ref = reference(F, k, v, q, len, w);
    const got = Array.from(F.subarray(out, out + w));
    for (let d = 0; d < w; d++) expect(Math.abs(got[d] - ref[d])).toBeLessThanOrEqual(1e-6);
    for (let d = hd; d < w; d++) expect(got[d]).toBe(0);
  });

  test('softmax weights follow exp across its range: two columns with score gap x give weight e^x/(1+e^x)', () => {
    F.fill(0);
    F[q] = 1;
    F[v + w] = 1; // value lane 0: 0 for column 0, 1 for column 1
    let worst = 0;
    for (let x = -80; x <= 0; x += 0.37) {
      F[k] = 0;
      F[k + w] = x; // scores 0 and x
      mem.attend(k, v, q, out, s, 2, w);
      const xf = Math.fround(x); // the score as stored
      const want = Math.exp(xf) / (1 + Math.exp(xf));
      worst = Math.max(worst, Math.abs(F[out] - want) / want);
    }
    expect(worst).toBeLessThanOrEqual(1e-6);
  });

  test('a column more than 87 below the max gets weight exactly 0, as a masked column in the full forward', () => {
    F.fill(0);
    F[q] = 1;
    for (let d = 0; d < w; d++) {
      F[v + d] = d + 0.25;
      F[v + w + d] = 1000;
    }
    F[k] = 50;
    F[k + w] = -40; // 90 below
    mem.attend(k, v, q, out, s, 2, w);
    expect(Array.from(F.subarray(out, out + w))).toEqual(Array.from(F.subarray(v, v + w)));
  });

  test('NaN in the query reaches the output (as it would through the full forward)', () => {
    fill(9, 32, 1, 3);
    F[q + 5] = NaN;
    mem.attend(k, v, q, out, s, 9, w);
    expect(Number.isNaN(F[out])).toBe(true);
  });

  test('grow keeps the contents, adds zeroed floats, and the kernel works on the grown memory', () => {
    const m = new KernelMemory(20000);
    m.f32.set([1, 2, 3], 19990);
    m.grow(50000);
    expect(m.floats).toBe(50000);
    expect(Array.from(m.f32.subarray(19990, 19993))).toEqual([1, 2, 3]);
    expect(m.f32.subarray(20000).every((x) => x === 0)).toBe(true);
    m.f32.set([0.5, 0, 0, 0], 40000); // one key column, past the old end
    m.f32.set([7, 8, 9, 10], 40004); // its value
    m.f32.set([1, 0, 0, 0], 0); // the query
    m.attend(40000, 40004, 0, 4, 8, 1, 4);
    expect(Array.from(m.f32.subarray(4, 8))).toEqual([7, 8, 9, 10]);
  });

  test('a memory over the 4 GiB WebAssembly limit is refused with the reason', () => {
    expect(() => new KernelMemory(2 ** 31)).toThrow('KvCache: 8589934592 bytes exceed the 4 GiB a WebAssembly memory holds (fewer positions, rows or layers)');
  });
});
