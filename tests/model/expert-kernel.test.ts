/**
 * The host expert kernel of batched decode steps (model/expert-kernel.ts) against a float64 reference of
 * the sparse MoE sum, at widths that are and are not multiples of its 32-column passes, and its errors.
 */
import { HostExperts } from '../../kernel-lib/model/expert-kernel';
import { seeded } from '../helpers/random';

/** Σ_j g_j · w2_e(silu(x·w1_e) ⊙ x·w3_e) per row in float64, from the stacked layout moe.ts uses. */
function reference(x: Float32Array, w13: Float32Array, w2: Float32Array, experts: Int32Array, weights: Float32Array, k: number, H: number, E: number, I: number): Float64Array {
  const N = x.length / H;
  const out = new Float64Array(N * H);
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < k; j++) {
      const e = experts[n * k + j];
      for (let i = 0; i < I; i++) {
        let a = 0;
        let b = 0;
        for (let h = 0; h < H; h++) {
          a += x[n * H + h] * w13[h * 2 * E * I + e * I + i];
          b += x[n * H + h] * w13[h * 2 * E * I + E * I + e * I + i];
        }
        const act = (a / (1 + Math.exp(-a))) * b * weights[n * k + j];
        for (let h = 0; h < H; h++) out[n * H + h] += act * w2[(e * I + i) * H + h];
      }
    }
  }
  return out;
}

describe.each([
  ['mm-moe-small shapes (H 128, 16 experts of 64, top-4)', 128, 16, 64, 4],
  ['widths off the 32-column passes (H 40, 5 experts of 12, top-2)', 40, 5, 12, 2],
  ['one expert of 3, H 4, top-1', 4, 1, 3, 1],
])('HostExperts: %s', (_name, H, E, I, k) => {
  const w13 = seeded(H * 2 * E * I, 11);
  const w2 = seeded(E * I * H, 12);
  const kernel = new HostExperts({ hidden: H, numExperts: E, intermediate: I }, w13, w2);

  test.each([1, 2, 4])('%i rows equal the float64 sparse sum (≤ 1e-5 relative to the largest output)', (N) => {
    const x = seeded(N * H, 13 + N).map((v) => 4 * v);
    // each row its own experts, best first, some shared between rows; weights as a gate would give
    const experts = Int32Array.from({ length: N * k }, (_, i) => (Math.floor(i / k) * 3 + (i % k)) % E);
    const weights = Float32Array.from({ length: N * k }, (_, i) => 0.2 + 0.1 * (i % 3));
    const got = kernel.forward(x, experts, weights, k);
    const want = reference(x, w13, w2, experts, weights, k, H, E, I);
    expect(got.length).toBe(N * H);
    let scale = 0;
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      scale = Math.max(scale, Math.abs(want[i]));
      worst = Math.max(worst, Math.abs(got[i] - want[i]));
    }
    expect(scale).toBeGreaterThan(1e-3); // not trivially zero
    expect(worst / scale).toBeLessThanOrEqual(1e-5);
    // the same input twice gives the same bits (no state carried between calls or rows)
    expect(Array.from(kernel.forward(x, experts, weights, k))).toEqual(Array.from(got));
  });
});

test('HostExperts names wrong weight sizes, a wrong row layout and an expert out of range', () => {
  const H = 8;
  const E = 2;
  const I = 4;
  expect(() => new HostExperts({ hidden: H, numExperts: E, intermediate: I }, new Float32Array(10), new Float32Array(E * I * H))).toThrow(
    'HostExperts: w13 holds 10 numbers, expected H·2·E·I = 128',
  );
  expect(() => new HostExperts({ hidden: H, numExperts: E, intermediate: I }, new Float32Array(H * 2 * E * I), new Float32Array(3))).toThrow(
    'HostExperts: w2 holds 3 numbers, expected E·I·H = 64',
  );
  const kernel = new HostExperts({ hidden: H, numExperts: E, intermediate: I }, seeded(H * 2 * E * I, 1), seeded(E * I * H, 2));
  expect(() => kernel.forward(new Float32Array(12), Int32Array.of(0), Float32Array.of(1), 1)).toThrow(
    'HostExperts.forward: x holds 12 numbers (rows of 8), experts 1 and weights 1 (rows of 1)',
  );
  expect(() => kernel.forward(new Float32Array(8), Int32Array.of(2), Float32Array.of(1), 1)).toThrow('HostExperts.forward: expert 2 is outside 0..1');
});
