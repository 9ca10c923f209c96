/**
 * Entropic Gromov–Wasserstein coupling between two metric spaces given only by their distance matrices
 * (Mémoli 2011; the entropic solver of Peyré, Cuturi & Solomon 2016), in float64 JavaScript.
 *
 * GW compares the *geometry* of two sets that live in different spaces (here: text embeddings [n, H] and
 * VQ code vectors [m, D]): find a coupling T (n × m, marginals p and q) minimising
 *
 *   E(T) = Σ_{i,k,j,l} (C1[i,k] − C2[j,l])² · T[i,j] · T[k,l].
 *
 * With the square loss, E's gradient is 2·(constC − 2·C1·T·C2) where constC[i,j] = (C1²·p)[i] + (C2²·q)[j]
 * (C1, C2 symmetric; PCS 2016 Prop. 1). The solver iterates T ← Sinkhorn(p, q, cost = that gradient, ε)
 * (PCS 2016 Alg. 1 with τ = 1, as POT's entropic_gromov_wasserstein), starting from T = p·qᵀ, with ε
 * annealed from large to the target. GW is a non-convex quadratic assignment problem: the result is a
 * good local optimum, not a certified global one (on random 4–6 point problems it is the best or among
 * the few best permutations; isometric copies are matched exactly — see tests/adapters). Sinkhorn runs
 * in the kernel domain with log-domain absorption (Schmitzer 2019): potentials α, β with
 * K = exp((α ⊕ β − M)/ε), scalings absorbed into the potentials before they over/underflow, so small ε is
 * safe. Cost per outer iteration: O(n²m + nm²) for C1·T·C2, O(nm) per Sinkhorn sweep.
 */

export interface GWOptions {
  /** Entropic regularisation, in the units of the cost (≈ C²). Default 5e-3 (for distances scaled to [0, 1]). */
  epsilon?: number;
  /**
   * ε is annealed from this down to `epsilon` (ε_t = max(ε, ε₀·rate^t)): the smoothed early problems steer
   * the iteration away from the poor local minima a small ε alone gets caught in. Default 0.5.
   */
  epsilonStart?: number;
  /** Default 0.85 (about 28 annealing iterations from 0.5 to 5e-3). */
  annealRate?: number;
  /** Outer (linearisation) iterations, annealing included. Default 100. */
  maxIter?: number;
  /** Stop (once ε reached its target) when Σ|T − T_prev| falls below this (T has total mass 1). Default 1e-7. */
  tol?: number;
  /** Sinkhorn sweeps per outer iteration. Default 5000. */
  sinkhornMaxIter?: number;
  /** Sinkhorn stops when the row marginals are within this (L1). Default 1e-10. */
  sinkhornTol?: number;
  /** Marginals (default uniform). */
  p?: Float64Array;
  q?: Float64Array;
  /** Progress of each outer iteration (ε, L1 change of T, Sinkhorn sweeps, Sinkhorn row error). */
  onIteration?: (e: { iteration: number; epsilon: number; change: number; sweeps: number; sinkhornError: number }) => void;
}

export interface GWResult {
  /** T [n, m] row-major. */
  coupling: Float64Array;
  n: number;
  m: number;
  /** E(T) without the entropy term. */
  objective: number;
  iterations: number;
  converged: boolean;
  /** L1 error of T's row and column sums against p and q. */
  marginalError: number;
}

/** Euclidean distances between the rows of x [rows, cols] → [rows, rows]. */
export function pairwiseDistances(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  if (x.length !== rows * cols) throw new Error(`pairwiseDistances: ${x.length} values for [${rows}, ${cols}]`);
  const d = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let k = i + 1; k < rows; k++) {
      let s = 0;
      for (let c = 0; c < cols; c++) {
        const t = x[i * cols + c] - x[k * cols + c];
        s += t * t;
      }
      d[i * rows + k] = d[k * rows + i] = Math.sqrt(s);
    }
  }
  return d;
}

/** a [r, s] · b [s, t] → [r, t] in float64. */
export function matMul64(a: Float64Array, b: Float64Array, r: number, s: number, t: number): Float64Array {
  const out = new Float64Array(r * t);
  for (let i = 0; i < r; i++) {
    const o = i * t;
    for (let k = 0; k < s; k++) {
      const aik = a[i * s + k];
      if (aik === 0) continue;
      const bo = k * t;
      for (let j = 0; j < t; j++) out[o + j] += aik * b[bo + j];
    }
  }
  return out;
}

function uniform(n: number): Float64Array {
  return new Float64Array(n).fill(1 / n);
}

/** Row sums and column sums of T [n, m]. */
export function marginals(T: ArrayLike<number>, n: number, m: number): { p: Float64Array; q: Float64Array } {
  const p = new Float64Array(n);
  const q = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      p[i] += T[i * m + j];
      q[j] += T[i * m + j];
    }
  }
  return { p, q };
}

/**
 * E(T) = Σ (C1[i,k] − C2[j,l])² T[i,j] T[k,l] for any nonnegative T [n, m], computed as
 * pᵀ(C1∘C1)p + qᵀ(C2∘C2)q − 2·⟨T, C1·T·C2ᵀ⟩ with p, q the marginals of T itself.
 */
export function gwObjective(C1: ArrayLike<number>, C2: ArrayLike<number>, T: ArrayLike<number>, n: number, m: number): number {
  const { p, q } = marginals(T, n, m);
  let a = 0;
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) a += C1[i * n + k] * C1[i * n + k] * p[i] * p[k];
  let b = 0;
  for (let j = 0; j < m; j++) for (let l = 0; l < m; l++) b += C2[j * m + l] * C2[j * m + l] * q[j] * q[l];
  const t = Float64Array.from(T);
  const c2t = new Float64Array(m * m); // C2ᵀ
  for (let j = 0; j < m; j++) for (let l = 0; l < m; l++) c2t[l * m + j] = C2[j * m + l];
  const prod = matMul64(matMul64(Float64Array.from(C1), t, n, n, m), c2t, n, m, m); // [n, m]
  let c = 0;
  for (let x = 0; x < n * m; x++) c += t[x] * prod[x];
  return a + b - 2 * c;
}

/**
 * Entropic optimal transport min ⟨M, T⟩ − ε·H(T) with marginals p, q (> 0): kernel-domain Sinkhorn with
 * log-domain stabilisation. T = exp((α ⊕ β − M)/ε)·(u ⊗ v); whenever a scaling leaves [1e-30, 1e30] it
 * is absorbed into the potentials by an exact log-domain (soft-min) sweep, which cannot over- or
 * underflow. `beta` warm-starts the column potential and is updated in place.
 */
export function sinkhorn(
  M: Float64Array,
  p: Float64Array,
  q: Float64Array,
  eps: number,
  beta: Float64Array,
  o: { maxIter: number; tol: number },
): { T: Float64Array; error: number; sweeps: number } {
  const n = p.length;
  const m = q.length;
  const alpha = new Float64Array(n);
  const K = new Float64Array(n * m);
  const u = new Float64Array(n).fill(1);
  const v = new Float64Array(m).fill(1);
  const Ktu = new Float64Array(m);
  const logP = Float64Array.from(p, Math.log);
  const logQ = Float64Array.from(q, Math.log);
  /** Fold v into β, then α ← soft-min row update and β ← soft-min column update (exact, in logs). */
  const stabilise = (): void => {
    for (let j = 0; j < m; j++) if (v[j] > 0 && Number.isFinite(v[j])) beta[j] += eps * Math.log(v[j]);
    for (let i = 0; i < n; i++) {
      let mx = -Infinity;
      for (let j = 0; j < m; j++) mx = Math.max(mx, (beta[j] - M[i * m + j]) / eps);
      let s = 0;
      for (let j = 0; j < m; j++) s += Math.exp((beta[j] - M[i * m + j]) / eps - mx);
      alpha[i] = eps * (logP[i] - mx - Math.log(s));
    }
    for (let j = 0; j < m; j++) {
      let mx = -Infinity;
      for (let i = 0; i < n; i++) mx = Math.max(mx, (alpha[i] - M[i * m + j]) / eps);
      let s = 0;
      for (let i = 0; i < n; i++) s += Math.exp((alpha[i] - M[i * m + j]) / eps - mx);
      beta[j] = eps * (logQ[j] - mx - Math.log(s));
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) K[i * m + j] = Math.exp((alpha[i] + beta[j] - M[i * m + j]) / eps);
    u.fill(1);
    v.fill(1);
  };
  stabilise();
  const LIMIT = 1e30;
  let error = Infinity;
  let sweeps = 0;
  for (let it = 0; it < o.maxIter; it++) {
    sweeps = it + 1;
    let bad = false;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < m; j++) s += K[i * m + j] * v[j];
      u[i] = p[i] / s;
      if (!(u[i] < LIMIT && u[i] > 1 / LIMIT)) bad = true;
    }
    Ktu.fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) Ktu[j] += K[i * m + j] * u[i];
    for (let j = 0; j < m; j++) {
      v[j] = q[j] / Ktu[j];
      if (!(v[j] < LIMIT && v[j] > 1 / LIMIT)) bad = true;
    }
    if (bad) {
      stabilise();
      continue;
    }
    if (it % 10 === 9 || it === o.maxIter - 1) {
      // columns are exact after the v update; measure the rows
      error = 0;
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < m; j++) s += K[i * m + j] * v[j];
        error += Math.abs(u[i] * s - p[i]);
      }
      if (error < o.tol) break;
    }
  }
  const T = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) T[i * m + j] = u[i] * K[i * m + j] * v[j];
  for (let j = 0; j < m; j++) beta[j] += eps * Math.log(v[j]); // warm start for the next call
  return { T, error, sweeps };
}

/**
 * Entropic GW coupling between metric spaces with (symmetric) distance matrices C1 [n, n] and C2 [m, m].
 */
export function entropicGromovWasserstein(C1: Float64Array, C2: Float64Array, n: number, m: number, o: GWOptions = {}): GWResult {
  if (C1.length !== n * n) throw new Error(`entropicGromovWasserstein: C1 has ${C1.length} values, expected ${n}×${n}`);
  if (C2.length !== m * m) throw new Error(`entropicGromovWasserstein: C2 has ${C2.length} values, expected ${m}×${m}`);
  const eps = o.epsilon ?? 5e-3;
  if (!(eps > 0)) throw new Error(`epsilon must be > 0, got ${eps}`);
  const p = o.p ?? uniform(n);
  const q = o.q ?? uniform(m);
  if (p.length !== n || q.length !== m) throw new Error(`marginals have ${p.length} and ${q.length} entries, expected ${n} and ${m}`);
  if (![...p, ...q].every((x) => x > 0)) throw new Error('marginals must be positive');
  const maxIter = o.maxIter ?? 100;
  const tol = o.tol ?? 1e-7;
  const sk = { maxIter: o.sinkhornMaxIter ?? 5000, tol: o.sinkhornTol ?? 1e-10 };

  // constC[i,j] = (C1²·p)[i] + (C2²·q)[j]
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) a[i] += C1[i * n + k] * C1[i * n + k] * p[k];
  const b = new Float64Array(m);
  for (let j = 0; j < m; j++) for (let l = 0; l < m; l++) b[j] += C2[j * m + l] * C2[j * m + l] * q[l];

  let T = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) T[i * m + j] = p[i] * q[j];
  const beta = new Float64Array(m);
  const M = new Float64Array(n * m);
  let iterations = 0;
  let converged = false;
  const eps0 = Math.max(eps, o.epsilonStart ?? 0.5);
  const rate = o.annealRate ?? 0.85;
  for (let it = 0; it < maxIter; it++) {
    iterations = it + 1;
    const e = Math.max(eps, eps0 * Math.pow(rate, it));
    const ct = matMul64(matMul64(C1, T, n, n, m), C2, n, m, m); // C1·T·C2 [n, m]
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) M[i * m + j] = 2 * (a[i] + b[j]) - 4 * ct[i * m + j];
    const sk1 = sinkhorn(M, p, q, e, beta, sk);
    const next = sk1.T;
    let diff = 0;
    for (let x = 0; x < n * m; x++) diff += Math.abs(next[x] - T[x]);
    T = next;
    o.onIteration?.({ iteration: it, epsilon: e, change: diff, sweeps: sk1.sweeps, sinkhornError: sk1.error });
    if (e === eps && diff < tol) {
      converged = true;
      break;
    }
  }
  const mg = marginals(T, n, m);
  let marginalError = 0;
  for (let i = 0; i < n; i++) marginalError += Math.abs(mg.p[i] - p[i]);
  for (let j = 0; j < m; j++) marginalError += Math.abs(mg.q[j] - q[j]);
  return { coupling: T, n, m, objective: gwObjective(C1, C2, T, n, m), iterations, converged, marginalError };
}

/**
 * Barycentric projection of a coupling T [n, m] onto points X [n, d]: row k of the result is
 * Σ_i T[i,k]·X[i] / Σ_i T[i,k], the T-weighted mean of the points coupled to k. → [m, d].
 */
export function barycentricProjection(T: ArrayLike<number>, n: number, m: number, X: ArrayLike<number>, d: number): Float64Array {
  if (T.length !== n * m) throw new Error(`barycentricProjection: coupling has ${T.length} values, expected ${n}×${m}`);
  if (X.length !== n * d) throw new Error(`barycentricProjection: points have ${X.length} values, expected ${n}×${d}`);
  const out = new Float64Array(m * d);
  for (let k = 0; k < m; k++) {
    let mass = 0;
    for (let i = 0; i < n; i++) {
      const w = T[i * m + k];
      if (w === 0) continue;
      mass += w;
      for (let c = 0; c < d; c++) out[k * d + c] += w * X[i * d + c];
    }
    if (!(mass > 0)) throw new Error(`barycentricProjection: column ${k} of the coupling has no mass`);
    for (let c = 0; c < d; c++) out[k * d + c] /= mass;
  }
  return out;
}
