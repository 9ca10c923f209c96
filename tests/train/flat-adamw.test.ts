/**
 * The sharded optimizer step of data-parallel training (train/parallel/shards.ts, flat-adamw.ts): the
 * pieces cover every trainable element exactly once, the gradient sum runs in worker order, clipping
 * matches the training loop's, and AdamW on float32 arrays gives the same bits as adamw.ts on TF.js
 * (wasm), whether run on the whole vector or piece by piece.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { seeded } from '../helpers/random';
import { AdamW, AdamWOptions } from '../../kernel-lib/train/adamw';
import { shardPieces } from '../../kernel-lib/train/parallel/shards';
import { adamwPiece, adamwScalars, clipGradients, clipScale, FlatParamSettings, sumGradients } from '../../kernel-lib/train/parallel/flat-adamw';

beforeAll(() => useBackend('wasm'));

const same = (a: Float32Array, b: Float32Array): boolean => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

describe('shardPieces', () => {
  const layout = (sizes: number[]) => {
    let offset = 0;
    return sizes.map((size) => ({ offset: (offset += size) - size, size }));
  };

  test.each([1, 2, 3, 5])('%i worker(s): every trainable element in exactly one piece, frozen ones in none, runs contiguous and balanced', (workers) => {
    const sizes = [7, 1, 333, 0, 64, 5, 1001, 17];
    const trainable = [true, true, false, true, true, true, true, false];
    const segs = layout(sizes);
    const total = sizes.reduce((a, b) => a + b, 0);
    const hits = new Int32Array(total);
    const shards = shardPieces(segs, trainable, workers);
    expect(shards).toHaveLength(workers);
    const lengths = shards.map((pieces) => {
      pieces.forEach((p, i) => {
        expect(p.from).toBeGreaterThanOrEqual(segs[p.param].offset);
        expect(p.to).toBeLessThanOrEqual(segs[p.param].offset + segs[p.param].size);
        expect(p.to).toBeGreaterThan(p.from);
        if (i > 0) expect(p.param).toBeGreaterThan(pieces[i - 1].param); // in layout order
        for (let j = p.from; j < p.to; j++) hits[j]++;
      });
      return pieces.reduce((a, p) => a + p.to - p.from, 0);
    });
    segs.forEach((s, i) => {
      for (let j = s.offset; j < s.offset + s.size; j++) expect(hits[j]).toBe(trainable[i] ? 1 : 0);
    });
    const owned = sizes.reduce((a, n, i) => a + (trainable[i] ? n : 0), 0);
    for (const n of lengths) expect(Math.abs(n - owned / workers)).toBeLessThanOrEqual(16);
  });

  test('more workers than elements: the rest get no pieces', () => {
    const shards = shardPieces([{ offset: 0, size: 3 }], [true], 4);
    expect(shards.flat()).toEqual([{ param: 0, from: 0, to: 3 }]);
  });

  test('bad arguments are named', () => {
    expect(() => shardPieces([], [], 0)).toThrow('shardPieces: workers must be a positive integer, got 0');
    expect(() => shardPieces([{ offset: 0, size: 1 }], [], 1)).toThrow('shardPieces: 0 trainable flags for 1 parameters');
  });
});

describe('sumGradients', () => {
  test('adds in worker order, as float32, times the mask; returns Σ g² of the piece', () => {
    // 1 + 2⁻²⁴ + 2⁻²⁴: left to right each tiny term rounds away, the other order keeps them
    const tiny = 2 ** -24;
    const g = [Float32Array.of(1, 3, 5), Float32Array.of(tiny, -1, 2), Float32Array.of(tiny, 0.5, -7)];
    const sq = sumGradients(g, 0, 3, Float32Array.of(1, 1, 0));
    expect(Array.from(g[0])).toEqual([1, 2.5, 0]); // the third element masked to 0
    expect(Math.fround(Math.fround(tiny + tiny) + 1)).not.toBe(1); // the other order would differ
    expect(sq).toBe(1 + 6.25);
  });

  test('equals the pool\'s whole-vector sum bit for bit, piece by piece', () => {
    const n = 1037;
    const g = [seeded(n, 1), seeded(n, 2), seeded(n, 3)];
    const ref = new Float32Array(n);
    for (const part of g) for (let j = 0; j < n; j++) ref[j] += part[j];
    const work = g.map((x) => x.slice());
    let sq = 0;
    for (const [from, to] of [[0, 400], [400, 401], [401, n]]) sq += sumGradients(work, from, to, null);
    expect(same(work[0], ref)).toBe(true);
    expect(sq).toBeCloseTo(ref.reduce((a, x) => a + x * x, 0), 8);
  });
});

describe('AdamW on float32 arrays', () => {
  const adam: AdamWOptions = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
  // a matrix in a group with its own rate and decay, a masked matrix (decay only where it trains), a vector (never decayed)
  const specs = [
    { name: 'w', shape: [13, 11] },
    { name: 'emb', shape: [9, 7] },
    { name: 'b', shape: [29] },
  ];
  const mask = Float32Array.from({ length: 63 }, (_, i) => (Math.floor(i / 7) >= 5 ? 1 : 0)); // rows 5.. of emb train
  const settings: FlatParamSettings[] = [
    { lrScale: 0.5, weightDecay: 0.3, masked: false },
    { lrScale: 1, weightDecay: 0.1, masked: true },
    { lrScale: 1, weightDecay: 0, masked: false },
  ];
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const init = (i: number) => Float32Array.from(seeded(size(specs[i].shape), 10 + i), (x) => x * 2);
  /** Step k's gradient of parameter i: some zeros, some tiny, some large (Adam's ε and the clip matter). */
  const grad = (i: number, k: number) =>
    Float32Array.from(seeded(size(specs[i].shape), 100 * k + i), (x, j) => (j % 11 === 0 ? 0 : j % 5 === 0 ? x * 1e-9 : j % 7 === 0 ? x * 50 : x));
  const lrs = [3e-3, 1.7e-3, 9e-4];

  /** adamw.ts on TF.js, with the loop's masking and clipping. */
  function reference(clipNorm: number) {
    const params = new Map(specs.map((s, i) => [s.name, tf.variable(tf.tensor(init(i), s.shape))] as const));
    const masks = new Map([['emb', tf.tensor(mask, [9, 7])]]);
    const opt = new AdamW(specs.map((s) => s.name), params, adam, masks, new Map([['w', { lrScale: 0.5, weightDecay: 0.3 }]]));
    const norms: number[] = [];
    lrs.forEach((lr, k) => {
      tf.tidy(() => {
        const gm = new Map<string, tf.Tensor>(specs.map((s, i) => [s.name, s.name === 'emb' ? tf.mul(tf.tensor(grad(i, k), s.shape), masks.get('emb') as tf.Tensor) : tf.tensor(grad(i, k), s.shape)]));
        const norm = Math.sqrt(tf.addN([...gm.values()].map((g) => tf.sum(tf.square(g)))).dataSync()[0]);
        norms.push(norm);
        if (clipNorm > 0 && norm > clipNorm) for (const [n, g] of gm) gm.set(n, tf.mul(g, clipNorm / (norm + 1e-6)));
        opt.apply(gm, lr);
      });
    });
    const state = opt.state();
    const out = specs.map((s) => ({ p: (params.get(s.name) as tf.Variable).dataSync() as Float32Array, m: state.get(`m.${s.name}`)!.data as Float32Array, v: state.get(`v.${s.name}`)!.data as Float32Array }));
    opt.dispose();
    for (const v of params.values()) v.dispose();
    for (const m of masks.values()) m.dispose();
    return { out, norms };
  }

  /** The same steps on one flat vector, cut into `cuts` pieces per parameter. */
  function flat(clipNorm: number, cuts: number) {
    const sizes = specs.map((s) => size(s.shape));
    const offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    const total = sizes.reduce((a, b) => a + b, 0);
    const p = new Float32Array(total);
    const m = new Float32Array(total);
    const v = new Float32Array(total);
    const fullMask = new Float32Array(total);
    fullMask.set(mask, offsets[1]);
    specs.forEach((_, i) => p.set(init(i), offsets[i]));
    const pieces = specs.flatMap((_, i) => Array.from({ length: cuts }, (_, c) => ({ i, from: offsets[i] + Math.floor((c * sizes[i]) / cuts), to: offsets[i] + Math.floor(((c + 1) * sizes[i]) / cuts) })));
    const norms: number[] = [];
    lrs.forEach((lr, k) => {
      const g = new Float32Array(total);
      specs.forEach((_, i) => g.set(grad(i, k), offsets[i]));
      let sq = 0;
      for (const q of pieces) sq += sumGradients([g], q.from, q.to, settings[q.i].masked ? fullMask : null);
      const norm = Math.sqrt(sq);
      norms.push(norm);
      const scale = clipScale(norm, clipNorm);
      const scalars = adamwScalars(adam, k + 1);
      for (const q of pieces) {
        clipGradients(g, q.from, q.to, scale);
        adamwPiece(p, m, v, g, q.from, q.to, scalars, lr, settings[q.i], fullMask);
      }
    });
    return { out: specs.map((_, i) => ({ p: p.subarray(offsets[i], offsets[i] + sizes[i]), m: m.subarray(offsets[i], offsets[i] + sizes[i]), v: v.subarray(offsets[i], offsets[i] + sizes[i]) })), norms };
  }

  test('without clipping: the same bits as adamw.ts, whole or in pieces', () => {
    const ref = reference(0);
    for (const cuts of [1, 3]) {
      const r = flat(0, cuts);
      r.out.forEach((x, i) => expect({ name: specs[i].name, cuts, p: same(x.p, ref.out[i].p), m: same(x.m, ref.out[i].m), v: same(x.v, ref.out[i].v) }).toEqual({ name: specs[i].name, cuts, p: true, m: true, v: true }));
    }
    // the masked rows of emb never moved (no step, no decay); the rest did
    const emb = flat(0, 1).out[1].p;
    const start = init(1);
    for (let j = 0; j < 35; j++) expect(emb[j]).toBe(start[j]);
    expect(emb[40]).not.toBe(start[40]);
  });

  test('with clipping: the norm within float tolerance of the loop\'s, and the clipped update with it', () => {
    const ref = reference(5);
    const r = flat(5, 2);
    expect(ref.norms[0]).toBeGreaterThan(5); // the clip applies
    r.norms.forEach((n, k) => expect(Math.abs(n - ref.norms[k])).toBeLessThan(1e-6 * ref.norms[k]));
    r.out.forEach((x, i) => {
      for (const key of ['p', 'm', 'v'] as const) {
        const a = x[key];
        const b = ref.out[i][key];
        const scale = Math.max(...Array.from(b, Math.abs));
        let worst = 0;
        for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j] - b[j]));
        expect({ name: specs[i].name, key, rel: worst / scale < 1e-5 }).toEqual({ name: specs[i].name, key, rel: true });
      }
    });
  });
});
