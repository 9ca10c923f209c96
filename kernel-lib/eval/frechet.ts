/**
 * Fréchet distance between two Gaussians — the statistic behind FID:
 *
 *   d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁ Σ₂)^½
 *
 * The reference implementations take scipy's `sqrtm` of the non-symmetric product Σ₁Σ₂ and drop the
 * imaginary round-off. Here the trace term is computed through a symmetric matrix instead:
 * Σ₁Σ₂ = S (S Σ₂ S) S⁻¹ with S = Σ₁^½, so Σ₁Σ₂ is similar to M = S Σ₂ S, which is symmetric PSD, and
 * tr (Σ₁Σ₂)^½ = Σᵢ √λᵢ(M). Both roots are Jacobi eigendecompositions in float64, so the result is real
 * by construction and accurate even when Σ₁ is singular (fewer samples than features).
 *
 * Like pytorch-fid, when the statistics are degenerate (here: Σ₁ or M has an eigenvalue below zero
 * beyond round-off, which only non-PSD input can cause) both covariances get an `eps` ridge and the
 * computation is repeated; input that a small ridge cannot make PSD is an error.
 */
import { fromEigen, matMul64, symmetricEigen, trace } from './linalg';

/** Mean and (unbiased, n − 1) covariance of a set of feature vectors, in float64. */
export interface GaussianStats {
  /** Feature dimension. */
  d: number;
  /** Samples the statistics came from. */
  n: number;
  mean: Float64Array;
  /** Row-major [d, d]. */
  cov: Float64Array;
}

/**
 * Statistics of n feature vectors given row-major as n·d values (e.g. CLIP image features). Sums run
 * in float64 about the mean (two passes), so float32 features lose nothing here.
 */
export function gaussianStats(features: ArrayLike<number>, d: number): GaussianStats {
  if (!Number.isInteger(d) || d < 1) throw new Error(`gaussianStats: d must be a positive integer, got ${d}`);
  if (features.length % d !== 0) throw new Error(`gaussianStats: ${features.length} values are not a whole number of ${d}-dim vectors`);
  const n = features.length / d;
  if (n < 2) throw new Error(`gaussianStats: need at least 2 samples for a covariance, got ${n}`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += features[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const cov = new Float64Array(d * d);
  const x = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      x[j] = features[i * d + j] - mean[j];
      if (!Number.isFinite(x[j])) throw new Error(`gaussianStats: feature ${j} of sample ${i} is ${features[i * d + j]}`);
    }
    for (let j = 0; j < d; j++) {
      const xj = x[j];
      if (xj === 0) continue;
      for (let k = j; k < d; k++) cov[j * d + k] += xj * x[k];
    }
  }
  for (let j = 0; j < d; j++) {
    for (let k = j; k < d; k++) {
      cov[j * d + k] /= n - 1;
      cov[k * d + j] = cov[j * d + k];
    }
  }
  return { d, n, mean, cov };
}

export interface FrechetOptions {
  /** Ridge added to both covariances when the product is degenerate (pytorch-fid's default, 1e-6). */
  eps?: number;
}

export interface FrechetTerms {
  distance: number;
  /** ‖μ₁ − μ₂‖². */
  meanTerm: number;
  /** tr Σ₁ + tr Σ₂ − 2 tr (Σ₁Σ₂)^½. */
  covTerm: number;
  /** tr (Σ₁Σ₂)^½. */
  traceSqrt: number;
  /** The ridge that was added (0 unless the statistics were degenerate). */
  ridge: number;
}

/** The Fréchet distance d² (not its square root, as FID reports it) between two Gaussians. */
export function frechetDistance(a: GaussianStats, b: GaussianStats, options: FrechetOptions = {}): number {
  return frechetTerms(a, b, options).distance;
}

/** frechetDistance with its parts. */
export function frechetTerms(a: GaussianStats, b: GaussianStats, options: FrechetOptions = {}): FrechetTerms {
  const d = a.d;
  if (b.d !== d) throw new Error(`frechetDistance: feature dimensions differ (${a.d} vs ${b.d})`);
  for (const [s, name] of [[a, 'first'], [b, 'second']] as const) {
    if (s.mean.length !== d || s.cov.length !== d * d) {
      throw new Error(`frechetDistance: the ${name} statistics need a ${d}-vector mean and a ${d}×${d} covariance`);
    }
  }
  let meanTerm = 0;
  for (let j = 0; j < d; j++) meanTerm += (a.mean[j] - b.mean[j]) ** 2;
  const traces = trace(a.cov, d) + trace(b.cov, d);
  let traceSqrt = traceSqrtProduct(a.cov, b.cov, d, 0);
  let ridge = 0;
  if (traceSqrt === null) {
    ridge = options.eps ?? 1e-6;
    traceSqrt = traceSqrtProduct(a.cov, b.cov, d, ridge);
    if (traceSqrt === null) throw new Error(`frechetDistance: covariances are not positive semi-definite, even with an eps ridge of ${ridge}`);
  }
  const covTerm = traces + 2 * d * ridge - 2 * traceSqrt;
  return { distance: meanTerm + covTerm, meanTerm, covTerm, traceSqrt, ridge };
}

/** tr (Σ₁Σ₂)^½ via M = √Σ₁ Σ₂ √Σ₁; null when M is indefinite beyond round-off. */
function traceSqrtProduct(c1: Float64Array, c2: Float64Array, d: number, ridge: number): number | null {
  const r1 = ridge > 0 ? addRidge(c1, d, ridge) : c1;
  const r2 = ridge > 0 ? addRidge(c2, d, ridge) : c2;
  const e1 = symmetricEigen(r1, d);
  if (indefinite(e1.values)) return null;
  const s = fromEigen(e1, (l) => Math.sqrt(Math.max(0, l))); // √Σ₁
  const m = matMul64(matMul64(s, r2, d), s, d); // similar to Σ₁Σ₂, symmetric PSD for PSD input
  const { values } = symmetricEigen(m, d);
  if (indefinite(values)) return null;
  let t = 0;
  for (const l of values) t += Math.sqrt(Math.max(0, l));
  return t;
}

/** An eigenvalue below zero by more than round-off (relative to the largest magnitude). */
function indefinite(ascending: Float64Array): boolean {
  const scale = Math.max(1e-300, Math.abs(ascending[0]), Math.abs(ascending[ascending.length - 1]));
  return ascending.length > 0 && ascending[0] < -1e-8 * scale;
}

function addRidge(c: Float64Array, d: number, eps: number): Float64Array {
  const out = Float64Array.from(c);
  for (let i = 0; i < d; i++) out[i * d + i] += eps;
  return out;
}
