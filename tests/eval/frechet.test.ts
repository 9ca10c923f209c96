/**
 * Fréchet distance and its linear algebra against float64 references written here: closed forms for
 * diagonal and commuting covariances, and a Denman–Beavers square root of the non-symmetric product
 * Σ₁Σ₂ (the route scipy's sqrtm takes) for random non-commuting ones.
 */
import { frechetDistance, frechetTerms, gaussianStats, GaussianStats } from '../../kernel-lib/eval/frechet';
import { symmetricEigen, sqrtPsd } from '../../kernel-lib/eval/linalg';
import { mulberry32 } from '../../kernel-lib/util/random';

// ------------------------------------------------------------------------------ float64 references

type Mat = Float64Array;

function mul(a: Mat, b: Mat, n: number): Mat {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) c[i * n + j] += a[i * n + k] * b[k * n + j];
  return c;
}

function transpose(a: Mat, n: number): Mat {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j];
  return t;
}

function eye(n: number): Mat {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

/** Gauss–Jordan inverse with partial pivoting. */
function inverse(a: Mat, n: number): Mat {
  const m = Float64Array.from(a);
  const inv = eye(n);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    for (let k = 0; k < n; k++) {
      [m[c * n + k], m[p * n + k]] = [m[p * n + k], m[c * n + k]];
      [inv[c * n + k], inv[p * n + k]] = [inv[p * n + k], inv[c * n + k]];
    }
    const d = m[c * n + c];
    for (let k = 0; k < n; k++) {
      m[c * n + k] /= d;
      inv[c * n + k] /= d;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c];
      if (f === 0) continue;
      for (let k = 0; k < n; k++) {
        m[r * n + k] -= f * m[c * n + k];
        inv[r * n + k] -= f * inv[c * n + k];
      }
    }
  }
  return inv;
}

/** Denman–Beavers: Y → A^½ for A with eigenvalues off the closed negative real axis. */
function sqrtmDenmanBeavers(a: Mat, n: number, iters = 60): Mat {
  let y = Float64Array.from(a);
  let z = eye(n);
  for (let it = 0; it < iters; it++) {
    const yi = inverse(y, n);
    const zi = inverse(z, n);
    const y2 = new Float64Array(n * n);
    const z2 = new Float64Array(n * n);
    for (let i = 0; i < n * n; i++) {
      y2[i] = 0.5 * (y[i] + zi[i]);
      z2[i] = 0.5 * (z[i] + yi[i]);
    }
    y = y2;
    z = z2;
  }
  return y;
}

function referenceFrechet(a: GaussianStats, b: GaussianStats): number {
  const n = a.d;
  let meanTerm = 0;
  for (let i = 0; i < n; i++) meanTerm += (a.mean[i] - b.mean[i]) ** 2;
  const s = sqrtmDenmanBeavers(mul(a.cov, b.cov, n), n);
  let tr = 0;
  for (let i = 0; i < n; i++) tr += a.cov[i * n + i] + b.cov[i * n + i] - 2 * s[i * n + i];
  return meanTerm + tr;
}

function randomOrthogonal(n: number, rand: () => number): Mat {
  // Gram–Schmidt on a random matrix.
  const q = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    const v = Array.from({ length: n }, () => rand() * 2 - 1);
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let r = 0; r < n; r++) dot += v[r] * q[r * n + p];
      for (let r = 0; r < n; r++) v[r] -= dot * q[r * n + p];
    }
    const norm = Math.hypot(...v);
    for (let r = 0; r < n; r++) q[r * n + c] = v[r] / norm;
  }
  return q;
}

/** Q · diag(values) · Qᵀ. */
function withSpectrum(q: Mat, values: number[], n: number): Mat {
  const d = new Float64Array(n * n);
  values.forEach((v, i) => (d[i * n + i] = v));
  return mul(mul(q, d, n), transpose(q, n), n);
}

/** A random SPD matrix with a spread-out spectrum. */
function randomSpd(n: number, rand: () => number): Mat {
  const a = Float64Array.from({ length: n * n }, () => rand() * 2 - 1);
  const m = mul(a, transpose(a, n), n);
  for (let i = 0; i < n; i++) m[i * n + i] += 0.1;
  return m;
}

const stats = (mean: number[], cov: Mat): GaussianStats => ({ d: mean.length, n: 1000, mean: Float64Array.from(mean), cov });

function rel(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(1e-300, Math.abs(b));
}

// ------------------------------------------------------------------------------------------- tests

describe('symmetricEigen', () => {
  test('reconstructs a random symmetric matrix with orthonormal eigenvectors', () => {
    const n = 12;
    const rand = mulberry32(1);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = rand() * 2 - 1;
    const { values, vectors } = symmetricEigen(a, n);
    for (let i = 1; i < n; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]);
    const back = withSpectrum(vectors, Array.from(values), n);
    const vtv = mul(transpose(vectors, n), vectors, n);
    for (let i = 0; i < n * n; i++) {
      expect(Math.abs(back[i] - a[i])).toBeLessThan(1e-12);
      expect(Math.abs(vtv[i] - (i % (n + 1) === 0 ? 1 : 0))).toBeLessThan(1e-12);
    }
  });

  test('finds a known spectrum, repeated eigenvalues included', () => {
    const n = 8;
    const spectrum = [0, 0, 1e-9, 0.5, 2, 2, 2, 1e6];
    const q = randomOrthogonal(n, mulberry32(2));
    const { values } = symmetricEigen(withSpectrum(q, spectrum, n), n);
    spectrum.forEach((v, i) => expect(Math.abs(values[i] - v)).toBeLessThan(1e-9 * Math.max(1, v)));
  });

  test('sqrtPsd squares back', () => {
    const n = 10;
    const a = randomSpd(n, mulberry32(3));
    const s = sqrtPsd(a, n);
    const ss = mul(s, s, n);
    for (let i = 0; i < n * n; i++) expect(Math.abs(ss[i] - a[i])).toBeLessThan(1e-10);
  });

  test('names a bad input', () => {
    expect(() => symmetricEigen([1, 2, 3], 2)).toThrow('symmetricEigen: expected an 2×2 matrix (4 values), got 3 values');
    expect(() => symmetricEigen([1, NaN, NaN, 1], 2)).toThrow('symmetricEigen: matrix has a non-finite value (NaN) at [0, 1]');
  });
});

describe('frechetDistance', () => {
  test('one dimension: (μ₁ − μ₂)² + (σ₁ − σ₂)²', () => {
    const d = frechetDistance(stats([1], Float64Array.of(4)), stats([-2], Float64Array.of(9)));
    expect(d).toBeCloseTo(9 + 1, 12);
  });

  test('diagonal covariances: Σ (√aᵢ − √bᵢ)² plus the mean term', () => {
    const a = [1, 4, 0.25, 9, 1e-4, 3];
    const b = [2, 1, 0.25, 16, 1e-2, 0];
    const diag = (v: number[]): Mat => withSpectrum(eye(v.length), v, v.length);
    const mu1 = [0, 1, 2, 3, 4, 5];
    const mu2 = [0.5, 1, 2, 1, 4, 5];
    let expected = 0.25 + 4;
    a.forEach((x, i) => (expected += (Math.sqrt(x) - Math.sqrt(b[i])) ** 2));
    expect(rel(frechetDistance(stats(mu1, diag(a)), stats(mu2, diag(b))), expected)).toBeLessThan(1e-12);
  });

  test('commuting covariances (shared eigenbasis): closed form', () => {
    const n = 16;
    const rand = mulberry32(4);
    const q = randomOrthogonal(n, rand);
    const a = Array.from({ length: n }, () => rand() * 5);
    const b = Array.from({ length: n }, () => rand() * 5);
    let expected = 0;
    a.forEach((x, i) => (expected += (Math.sqrt(x) - Math.sqrt(b[i])) ** 2));
    const zero = new Array(n).fill(0);
    const got = frechetDistance(stats(zero, withSpectrum(q, a, n)), stats(zero, withSpectrum(q, b, n)));
    expect(rel(got, expected)).toBeLessThan(1e-10);
  });

  test.each([4, 12, 32])('random non-commuting covariances, n = %i: matches Denman–Beavers in float64', (n) => {
    const rand = mulberry32(10 + n);
    const s1 = stats(Array.from({ length: n }, () => rand()), randomSpd(n, rand));
    const s2 = stats(Array.from({ length: n }, () => rand()), randomSpd(n, rand));
    const ref = referenceFrechet(s1, s2);
    expect(rel(frechetDistance(s1, s2), ref)).toBeLessThan(1e-9);
    expect(rel(frechetDistance(s2, s1), ref)).toBeLessThan(1e-9); // symmetric
    expect(frechetTerms(s1, s2).ridge).toBe(0);
  });

  test('a singular covariance (fewer samples than features) stays finite and agrees with a ridged reference', () => {
    const n = 8;
    const rand = mulberry32(5);
    const few = Float64Array.from({ length: 5 * n }, () => rand()); // 5 samples in 8-D: rank ≤ 4
    const s1 = gaussianStats(few, n);
    const s2 = stats(new Array(n).fill(0.5), randomSpd(n, rand));
    // The reference cannot invert a singular product, so ridge Σ₁ by δ: the result moves by c·√δ + O(δ),
    // and Richardson extrapolation from δ and 4δ cancels the √δ term.
    const ridged = (delta: number): number =>
      referenceFrechet({ ...s1, cov: Float64Array.from(s1.cov, (v, i) => (i % (n + 1) === 0 ? v + delta : v)) }, s2);
    const reference = 2 * ridged(1e-8) - ridged(4e-8);
    const got = frechetTerms(s1, s2);
    expect(got.ridge).toBe(0);
    expect(Math.abs(got.distance - reference)).toBeLessThan(1e-6);
  });

  test('a covariance with a small negative eigenvalue gets the eps ridge; a clearly indefinite one is an error', () => {
    const n = 4;
    const q = randomOrthogonal(n, mulberry32(6));
    const good = stats([0, 0, 0, 0], withSpectrum(q, [1, 2, 3, 4], n));
    const slightly = stats([0, 0, 0, 0], withSpectrum(q, [-1e-7, 2, 3, 4], n));
    const terms = frechetTerms(slightly, good, { eps: 1e-6 });
    expect(terms.ridge).toBe(1e-6);
    expect(Number.isFinite(terms.distance)).toBe(true);
    const bad = stats([0, 0, 0, 0], withSpectrum(q, [-1, 2, 3, 4], n));
    expect(() => frechetDistance(bad, good)).toThrow('frechetDistance: covariances are not positive semi-definite, even with an eps ridge of 0.000001');
  });

  test('different dimensions are an error that says so', () => {
    expect(() => frechetDistance(stats([0], Float64Array.of(1)), stats([0, 0], eye(2)))).toThrow('frechetDistance: feature dimensions differ (1 vs 2)');
  });
});

describe('gaussianStats', () => {
  test('mean and unbiased covariance match a direct float64 computation', () => {
    const n = 50;
    const d = 3;
    const rand = mulberry32(7);
    const x = Float32Array.from({ length: n * d }, () => rand() * 10 - 5);
    const s = gaussianStats(x, d);
    for (let j = 0; j < d; j++) {
      let m = 0;
      for (let i = 0; i < n; i++) m += x[i * d + j];
      m /= n;
      expect(s.mean[j]).toBeCloseTo(m, 12);
      for (let k = 0; k < d; k++) {
        let mk = 0;
        for (let i = 0; i < n; i++) mk += x[i * d + k];
        mk /= n;
        let c = 0;
        for (let i = 0; i < n; i++) c += (x[i * d + j] - m) * (x[i * d + k] - mk);
        expect(s.cov[j * d + k]).toBeCloseTo(c / (n - 1), 10);
      }
    }
  });

  test('same samples give distance ~0; shifted and scaled samples give the expected distance', () => {
    const n = 2000;
    const d = 6;
    const rand = mulberry32(8);
    const x = Float64Array.from({ length: n * d }, () => rand());
    const a = gaussianStats(x, d);
    expect(Math.abs(frechetDistance(a, a))).toBeLessThan(1e-10);
    // y = 2x + 1 per feature: means shift by mean + 1, covariance scales by 4: d² = Σ(μ+1)² + tr Σ (1 − 2)².
    const y = x.map((v) => 2 * v + 1);
    const b = gaussianStats(y, d);
    let expected = 0;
    for (let j = 0; j < d; j++) expected += (a.mean[j] + 1) ** 2;
    for (let j = 0; j < d; j++) expected += a.cov[j * d + j];
    expect(rel(frechetDistance(a, b), expected)).toBeLessThan(1e-9);
  });

  test('names bad input', () => {
    expect(() => gaussianStats([1, 2, 3], 2)).toThrow('gaussianStats: 3 values are not a whole number of 2-dim vectors');
    expect(() => gaussianStats([1, 2], 2)).toThrow('gaussianStats: need at least 2 samples for a covariance, got 1');
  });
});
