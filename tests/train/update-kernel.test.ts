/**
 * train/parallel/update-kernel.ts: the WebAssembly SIMD gradient sum and AdamW over the pool's shared
 * memory give the same bits as flat-adamw.ts's JavaScript (itself the same bits as adamw.ts on TF.js,
 * tests/train/flat-adamw.test.ts), for pieces of any length and offset, 1–3 workers, masks, decay and
 * clipping; Σ g² agrees to float64 rounding.
 */
import { seeded } from '../helpers/random';
import { adamwPiece, adamwScalars, clipGradients, FlatParamSettings, sumGradients } from '../../kernel-lib/train/parallel/flat-adamw';
import { regionViews, sharedRegions } from '../../kernel-lib/train/parallel/shared-state';
import { UpdateKernel } from '../../kernel-lib/train/parallel/update-kernel';

const same = (a: Float32Array, b: Float32Array): boolean => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

const total = 1003;
/** Pieces of odd lengths at odd offsets, and one shorter than a vector. */
const pieces: Array<[number, number]> = [[0, 1], [1, 18], [18, 19], [19, 502], [502, 505], [505, total]];

function filled(workers: number) {
  const r = sharedRegions(total, workers);
  const v = regionViews(r);
  v.params.set(seeded(total, 1));
  v.m.set(seeded(total, 2).map((x) => x * 0.01));
  v.v.set(seeded(total, 3).map((x) => x * x * 1e-4));
  v.mask.set(Float32Array.from({ length: total }, (_, i) => (i % 3 === 0 ? 0 : 1)));
  v.grads.forEach((g, w) => g.set(seeded(total, 10 + w).map((x, i) => (i % 13 === 0 ? 0 : i % 7 === 0 ? x * 1e-9 : i % 5 === 0 ? -0 : x))));
  return { r, v };
}

test('the SIMD path runs here (Node has WebAssembly SIMD and shared memory)', () => {
  const { r, v } = filled(1);
  expect(new UpdateKernel(v, r.memory).simd).toBe(true);
  expect(new UpdateKernel(v).simd).toBe(false);
});

test.each([1, 2, 3])('%i worker(s): gradient sums, Σ g², clipping and AdamW equal the JavaScript path bit for bit', (workers) => {
  const simd = filled(workers);
  const js = filled(workers);
  const kernel = new UpdateKernel(simd.v, simd.r.memory);
  const settings: FlatParamSettings[] = [
    { lrScale: 1, weightDecay: 0.1, masked: true },
    { lrScale: 0.5, weightDecay: 0, masked: false },
    { lrScale: 2, weightDecay: 0.3, masked: false },
  ];
  for (const t of [1, 2]) {
    const k = adamwScalars({ beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 }, t);
    pieces.forEach(([from, to], i) => {
      const s = settings[i % settings.length];
      const a = kernel.sumGrads(from, to, s.masked);
      const b = sumGradients(js.v.grads, from, to, s.masked ? js.v.mask : null);
      expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-12 * b);
      const scale = t === 2 ? Math.fround(0.37) : 1; // clip on the second update
      kernel.adamw(from, to, k, 3e-3, s, scale);
      clipGradients(js.v.grads[0], from, to, scale);
      adamwPiece(js.v.params, js.v.m, js.v.v, js.v.grads[0], from, to, k, 3e-3, s, js.v.mask);
    });
    expect({ t, p: same(simd.v.params, js.v.params), m: same(simd.v.m, js.v.m), v: same(simd.v.v, js.v.v) }).toEqual({ t, p: true, m: true, v: true });
  }
  // the update moved what trains and the sums landed in worker 0's buffer
  expect(same(simd.v.params, filled(workers).v.params)).toBe(false);
});

test('unevenly spaced gradient buffers are refused', () => {
  const { r, v } = filled(3);
  expect(() => new UpdateKernel({ ...v, grads: [v.grads[0], v.grads[2], v.grads[1]] }, r.memory)).toThrow("UpdateKernel: the workers' gradient buffers must be evenly spaced");
});
