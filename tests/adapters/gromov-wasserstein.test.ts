import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import { HostTensor } from '../../kernel-lib/model/params';
import { mulberry32 } from '../../kernel-lib/util/random';
import {
  barycentricProjection, entropicGromovWasserstein, gwObjective, marginals, pairwiseDistances, sinkhorn,
} from '../../kernel-lib/model/gromov-wasserstein';
import { gromovWassersteinInit } from '../../kernel-lib/model/gw-init';
import { ROW_INIT_STRATEGIES, growVocabulary } from '../../kernel-lib/model/vocab-extend';

function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}
function permutationCoupling(perm: number[]): Float64Array {
  const n = perm.length;
  const T = new Float64Array(n * n);
  perm.forEach((j, i) => (T[i * n + j] = 1 / n));
  return T;
}
function unitMax(c: Float64Array): Float64Array {
  const m = Math.max(...c);
  return c.map((x) => x / m);
}
function randomPoints(n: number, d: number, rand: () => number): number[] {
  return Array.from({ length: n * d }, rand);
}
/** A random coupling with uniform marginals: Sinkhorn-balanced random positive matrix. */
function randomCoupling(n: number, rand: () => number): Float64Array {
  const M = Float64Array.from({ length: n * n }, () => rand());
  const u = new Float64Array(n).fill(1 / n);
  return sinkhorn(M, u, u, 0.3, new Float64Array(n), { maxIter: 2000, tol: 1e-13 }).T;
}

test('gwObjective equals the four-fold sum Σ (C1[i,k] − C2[j,l])² T[i,j] T[k,l]', () => {
  const rand = mulberry32(1);
  const [n, m] = [3, 4];
  const C1 = pairwiseDistances(randomPoints(n, 2, rand), n, 2);
  const C2 = pairwiseDistances(randomPoints(m, 3, rand), m, 3);
  const T = Float64Array.from({ length: n * m }, () => rand() / (n * m));
  let brute = 0;
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) for (let j = 0; j < m; j++) for (let l = 0; l < m; l++) {
    brute += (C1[i * n + k] - C2[j * m + l]) ** 2 * T[i * m + j] * T[k * m + l];
  }
  expect(gwObjective(C1, C2, T, n, m)).toBeCloseTo(brute, 12);
});

test('pairwiseDistances: Euclidean, symmetric, zero diagonal (hand-computed)', () => {
  const d = pairwiseDistances([0, 0, 3, 4, 0, 1], 3, 2);
  expect(Array.from(d)).toEqual([0, 5, 1, 5, 0, Math.sqrt(9 + 9), 1, Math.sqrt(18), 0]);
});

describe('brute force on 3 × 3 and 4 × 4 problems with uniform marginals (points in R² vs R³)', () => {
  const cases = [3, 4].flatMap((n) => [0, 1, 2, 3, 4].map((seed) => {
    const rand = mulberry32(100 * n + seed);
    const C1 = unitMax(pairwiseDistances(randomPoints(n, 2, rand), n, 2));
    const C2 = unitMax(pairwiseDistances(randomPoints(n, 3, rand), n, 3));
    return { n, seed, rand, C1, C2, r: entropicGromovWasserstein(C1, C2, n, n, { epsilon: 1e-3 }) };
  }));

  test.each(cases.map((c) => [c.n, c.n, c.seed, c] as const))('%i × %i, seed %i: marginals ≤ 1e-6; objective ≤ identity coupling and 20 random couplings', (_n, _m, _s, c) => {
    const { n, r } = c;
    const { p, q } = marginals(r.coupling, n, n);
    for (const x of [...p, ...q]) expect(Math.abs(x - 1 / n)).toBeLessThanOrEqual(1e-6);
    expect(r.marginalError).toBeLessThanOrEqual(1e-6);
    const objective = (T: Float64Array) => gwObjective(c.C1, c.C2, T, n, n);
    expect(r.objective).toBeLessThanOrEqual(objective(permutationCoupling(Array.from({ length: n }, (_, i) => i))) + 1e-9);
    for (let k = 0; k < 20; k++) expect(r.objective).toBeLessThanOrEqual(objective(randomCoupling(n, c.rand)));
  });

  // A regression guard on solution quality, not a guarantee: GW is a non-convex QAP and the solver finds a
  // local optimum (in the two misses here it is the third-best permutation).
  test('GW is non-convex: the coupling is the best permutation (up to the ε-blur) in at least 8 of the 10 cases', () => {
    const hits = cases.filter((c) => {
      const best = Math.min(...permutations(c.n).map((pm) => gwObjective(c.C1, c.C2, permutationCoupling(pm), c.n, c.n)));
      return c.r.objective <= best + 2e-3;
    });
    expect(hits.length).toBeGreaterThanOrEqual(8);
  });
});

test('isometric point clouds (a permuted copy) are matched to the permutation', () => {
  for (const seed of [1, 2, 3]) {
    const rand = mulberry32(seed);
    const n = 8;
    const X = randomPoints(n, 3, rand);
    const perm = Array.from({ length: n }, (_, i) => i).sort(() => rand() - 0.5); // Y[i] = X[perm[i]]
    const Y = perm.flatMap((src) => X.slice(src * 3, src * 3 + 3));
    const r = entropicGromovWasserstein(unitMax(pairwiseDistances(X, n, 3)), unitMax(pairwiseDistances(Y, n, 3)), n, n, { epsilon: 1e-3 });
    for (let j = 0; j < n; j++) {
      const i = perm[j]; // X[i] is Y[j]
      expect(r.coupling[i * n + j] * n).toBeGreaterThan(0.99);
    }
    expect(r.objective).toBeLessThan(1e-6);
  }
});

test('sinkhorn with costs up to 1000·ε stays finite and meets its marginals (log-domain absorption)', () => {
  const rand = mulberry32(7);
  const [n, m] = [5, 7];
  const M = Float64Array.from({ length: n * m }, () => 10 * rand()); // exp(−M/ε) alone would underflow to 0
  const p = Float64Array.from({ length: n }, () => 0.5 + rand());
  const s = p.reduce((a, b) => a + b, 0);
  p.forEach((x, i) => (p[i] = x / s));
  const q = new Float64Array(m).fill(1 / m);
  const { T } = sinkhorn(M, p, q, 1e-2, new Float64Array(m), { maxIter: 20000, tol: 1e-12 });
  expect(T.every(Number.isFinite)).toBe(true);
  const mg = marginals(T, n, m);
  mg.p.forEach((x, i) => expect(Math.abs(x - p[i])).toBeLessThan(1e-9));
  mg.q.forEach((x, j) => expect(Math.abs(x - q[j])).toBeLessThan(1e-9));
});

test('barycentric projection: row k = Σ_i T[i,k] X[i] / Σ_i T[i,k] (hand-computed)', () => {
  // T [3, 2], X [3, 2]
  const T = [0.2, 0.0, 0.1, 0.3, 0.1, 0.3];
  const X = [1, 0, 0, 1, 2, 2];
  // k = 0: (0.2·(1,0) + 0.1·(0,1) + 0.1·(2,2)) / 0.4 = (0.4, 0.3)/0.4 = (1, 0.75)
  // k = 1: (0.3·(0,1) + 0.3·(2,2)) / 0.6 = (0.6, 0.9)/0.6 = (1, 1.5)
  const out = barycentricProjection(T, 3, 2, X, 2);
  [1, 0.75, 1, 1.5].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 12));
  expect(() => barycentricProjection([0, 0, 1, 0], 2, 2, [1, 2, 3, 4], 2)).toThrow('barycentricProjection: column 1 of the coupling has no mass');
});

test("init strategy 'gromov-wasserstein': registered; code rows are barycentres of text rows; needs the codebook", () => {
  expect(ROW_INIT_STRATEGIES.has('gromov-wasserstein')).toBe(true);
  const rand = mulberry32(3);
  const [V, H, K, D] = [12, 4, 5, 3];
  const existing: HostTensor = { shape: [V, H], data: Float32Array.from({ length: V * H }, () => rand() - 0.5) };
  const codebook: HostTensor = { shape: [K, D], data: Float32Array.from({ length: K * D }, rand) };
  let solved: { coupling: Float64Array; sample: number[] } | null = null;
  const init = gromovWassersteinInit({ sampleSize: 8, onSolve: (r) => (solved = r) });
  const out = init({ existing, newRows: 3 + K + 1, rand: mulberry32(1), target: 'embed', imageCodebook: codebook, imageCodeOffset: 3, textRows: 10 });
  expect(out).toHaveLength((3 + K + 1) * H);
  const { coupling, sample } = solved!;
  expect(sample).toHaveLength(8);
  expect(sample.every((r) => r < 10)).toBe(true); // text rows only
  for (let k = 0; k < K; k++) {
    for (let h = 0; h < H; h++) {
      let num = 0;
      let den = 0;
      sample.forEach((r, i) => {
        num += coupling[i * K + k] * existing.data[r * H + h];
        den += coupling[i * K + k];
      });
      expect(out[(3 + k) * H + h]).toBeCloseTo(num / den, 5);
    }
  }
  expect(() => init({ existing, newRows: 8, rand, target: 'embed' })).toThrow(
    "init strategy 'gromov-wasserstein' needs the image codebook: pass codebook (the VQ codebook, [numImageCodes, D]) to Session.extendWithImages",
  );
  expect(() => init({ existing, newRows: 6, rand, target: 'embed', imageCodebook: codebook, imageCodeOffset: 3 })).toThrow('the 5 image-code rows at offset 3 do not fit in the 6 new rows');
});

test('Session.extendWithImages({ init: "gromov-wasserstein", codebook }) grows embed and head, text rows unchanged', async () => {
  await useBackend();
  const text = await tinySession({ images: false });
  const registered = ROW_INIT_STRATEGIES.get('gromov-wasserstein')!;
  ROW_INIT_STRATEGIES.set('gromov-wasserstein', gromovWassersteinInit({ sampleSize: 48 })); // the default samples 512 rows: slow for a test
  try {
    const rand = mulberry32(5);
    const codebook: HostTensor = { shape: [32, 6], data: Float32Array.from({ length: 32 * 6 }, rand) };
    const mm = text.extendWithImages({ numImageCodes: 32, grid: { height: 4, width: 4 }, init: 'gromov-wasserstein', codebook, seed: 2 });
    try {
      const H = text.config.hiddenSize;
      const before = text.model.p('embed').dataSync();
      const after = mm.model.p('embed').dataSync();
      expect(after.subarray(0, before.length)).toEqual(before);
      expect(mm.config.vocabSize).toBe(mm.tokenizer.vocabSize);
      const row = (k: number) => after.subarray(mm.tokenizer.imageCodeId(k) * H, (mm.tokenizer.imageCodeId(k) + 1) * H);
      expect(row(0).every(Number.isFinite)).toBe(true);
      expect(Array.from(row(0))).not.toEqual(Array.from(row(1)));
    } finally {
      mm.dispose();
    }
    expect(() => text.extendWithImages({ numImageCodes: 32, grid: { height: 4, width: 4 }, init: 'gromov-wasserstein' })).toThrow(/needs the image codebook/);
    expect(() => text.extendWithImages({ numImageCodes: 32, grid: { height: 4, width: 4 }, init: 'gromov-wasserstein', codebook: { shape: [16, 6], data: new Float32Array(96) } })).toThrow(
      'codebook has 16 rows but numImageCodes is 32',
    );
  } finally {
    ROW_INIT_STRATEGIES.set('gromov-wasserstein', registered);
    text.dispose();
  }
});

test('growVocabulary passes extras to strategies', () => {
  let seen: unknown = null;
  ROW_INIT_STRATEGIES.set('test-spy', (ctx) => {
    seen = { offset: ctx.imageCodeOffset, textRows: ctx.textRows, cb: ctx.imageCodebook?.shape };
    return new Float32Array(ctx.newRows * ctx.existing.shape[1]);
  });
  try {
    const cfg = { vocabSize: 4, hiddenSize: 2, tieWordEmbeddings: true } as Parameters<typeof growVocabulary>[0];
    growVocabulary(cfg, new Map([['embed', { shape: [4, 2], data: new Float32Array(8) }]]), 6, 'test-spy', 0, { imageCodeOffset: 1, textRows: 3, imageCodebook: { shape: [1, 5], data: new Float32Array(5) } });
    expect(seen).toEqual({ offset: 1, textRows: 3, cb: [1, 5] });
  } finally {
    ROW_INIT_STRATEGIES.delete('test-spy');
  }
});
