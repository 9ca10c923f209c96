/**
 * Small dense linear algebra in float64 for the evaluators (covariances of 64–256 features): a symmetric
 * eigendecomposition by cyclic Jacobi rotations and the PSD matrix square root built on it. Jacobi is
 * slow for big matrices (O(n³) per sweep, a handful of sweeps) but accurate to a few ulps in the
 * eigenvalues, needs no pivoting, and at n ≤ 256 runs in well under a second in plain JS.
 *
 * Matrices are row-major Float64Arrays of n·n values.
 */

export interface SymmetricEigen {
  /** Eigenvalues, ascending. */
  values: Float64Array;
  /** Eigenvectors as columns, row-major [n, n]: column k belongs to values[k]. */
  vectors: Float64Array;
  /** Jacobi sweeps used. */
  sweeps: number;
}

const MAX_SWEEPS = 100;

function checkSquare(a: ArrayLike<number>, n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || a.length !== n * n) {
    throw new Error(`${what}: expected an ${n}×${n} matrix (${n * n} values), got ${a.length} values`);
  }
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new Error(`${what}: matrix has a non-finite value (${a[i]}) at [${Math.floor(i / n)}, ${i % n}]`);
  }
}

/**
 * Eigendecomposition of a symmetric matrix (only symmetric input is meaningful; the mean of A and Aᵀ is
 * used). Cyclic Jacobi with the Rutishauser rotation formulas; stops when the off-diagonal mass is below
 * 1e-30 of the total (relative), i.e. at float64 round-off.
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number): SymmetricEigen {
  checkSquare(matrix, n, 'symmetricEigen');
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = 0.5 * (matrix[i * n + j] + matrix[j * n + i]);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += a[i] * a[i];
  let sweeps = 0;
  for (; sweeps < MAX_SWEEPS; sweeps++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off === 0 || off <= 1e-30 * total) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const app = a[p * n + p];
        const aqq = a[q * n + q];
        const theta = (aqq - app) / (2 * apq);
        // t = tan of the rotation angle, the smaller root of t² + 2θt − 1 = 0 (stable for any θ).
        const t = Math.abs(theta) > 1e150 ? 1 / (2 * theta) : Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // A ← Jᵀ A J: columns p, q, then rows p, q.
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        a[p * n + q] = 0;
        a[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[i * n + i] - a[j * n + j]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, k) => {
    values[k] = a[src * n + src];
    for (let r = 0; r < n; r++) vectors[r * n + k] = v[r * n + src];
  });
  return { values, vectors, sweeps };
}

/** V · diag(f(λ)) · Vᵀ for an eigendecomposition. */
export function fromEigen(e: SymmetricEigen, f: (lambda: number) => number): Float64Array {
  const n = e.values.length;
  const fl = e.values.map(f);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += e.vectors[i * n + k] * fl[k] * e.vectors[j * n + k];
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

/** The PSD square root of a symmetric matrix; eigenvalues below zero (round-off) are clamped to 0. */
export function sqrtPsd(matrix: ArrayLike<number>, n: number): Float64Array {
  return fromEigen(symmetricEigen(matrix, n), (l) => Math.sqrt(Math.max(0, l)));
}

/** C = A · B for n×n row-major matrices. */
export function matMul64(a: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
    }
  }
  return c;
}

export function trace(a: ArrayLike<number>, n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += a[i * n + i];
  return t;
}
