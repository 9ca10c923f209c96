/**
 * The vector quantiser: nearest-code lookup on the device, and the codebook's EMA update, dead-code
 * restarts and usage statistics on the host.
 *
 * Nearest code: argmin_k ||z − e_k||² = argmin_k (||e_k||² − 2 z·e_k) (||z||² is the same for every k, so it
 * is left out); one 2-D matMul against the codebook transposed once per call.
 *
 * EMA (van den Oord et al. 2017, appendix; Razavi et al. 2019): per step, with n_k the number of encoder
 * outputs assigned to code k and s_k their sum,
 *     N_k ← γ N_k + (1 − γ) n_k          m_k ← γ m_k + (1 − γ) s_k
 *     Ñ_k = (N_k + ε) / (Σ N + K ε) · Σ N   (Laplace smoothing, so no code divides by zero)
 *     e_k = m_k / Ñ_k
 * The state is small (K·D numbers), so it lives on the host in float64 and the codebook is uploaded
 * after each update; the arithmetic is then exact to test and free of device round-off drift.
 */
import * as tf from '@tensorflow/tfjs';

/** Index of the nearest codebook row for each row of z: z [N, D], codebook [K, D] → int32 [N] (no gradient). */
export function nearestCodes(z: tf.Tensor2D, codebook: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const codebookT = tf.transpose(codebook); // [D, K], small: one transpose per call
    const norms = tf.reshape(tf.sum(tf.square(codebook), 1), [1, -1]); // [1, K]
    const scores = tf.sub(norms, tf.mul(tf.matMul(z, codebookT), 2)); // [N, K] = ||e||² − 2 z·e
    return tf.argMin(scores, 1) as tf.Tensor1D; // [N] int32
  });
}

/**
 * A copy of `t` with no history: the gradient tape does not see how it was made. (Gradients can't flow
 * through argmin anyway; detaching z before the lookup keeps the lookup and the gather, whose gradient
 * the wasm backend lacks, off the tape entirely.)
 */
export function detach<T extends tf.Tensor>(t: T): T {
  return tf.tensor(t.dataSync(), t.shape, t.dtype) as T;
}

export interface EmaOptions {
  /** γ, default 0.99. */
  decay: number;
  /** Laplace smoothing ε, default 1e-5. */
  epsilon: number;
}

/** The EMA state of a codebook of K codes of dimension D (host, float64). */
export class CodebookEma {
  /** N_k: EMA of how many encoder outputs per step pick code k. */
  readonly clusterSize: Float64Array;
  /** m_k: EMA of the sum of those outputs, [K·D] row-major. */
  readonly embedSum: Float64Array;
  /** Step at which each code was last picked (or (re)initialised). */
  readonly lastUsed: Float64Array;

  constructor(
    readonly numCodes: number,
    readonly dim: number,
    readonly options: EmaOptions = { decay: 0.99, epsilon: 1e-5 },
  ) {
    this.clusterSize = new Float64Array(numCodes);
    this.embedSum = new Float64Array(numCodes * dim);
    this.lastUsed = new Float64Array(numCodes);
  }

  /** Starts from a codebook: every code's cluster size 1 and sum = its vector, last used at `step`. */
  initFrom(codebook: ArrayLike<number>, step = 0): void {
    this.checkLength(codebook.length, this.numCodes * this.dim, 'codebook');
    this.clusterSize.fill(1);
    for (let i = 0; i < this.embedSum.length; i++) this.embedSum[i] = codebook[i];
    this.lastUsed.fill(step);
  }

  /**
   * One EMA step with encoder outputs z [N·D] and their codes [N] at training step `step`. Returns the
   * per-code assignment counts of this batch.
   */
  update(z: ArrayLike<number>, codes: ArrayLike<number>, step: number): Int32Array {
    const { numCodes: K, dim: D } = this;
    const n = codes.length;
    this.checkLength(z.length, n * D, 'z');
    const counts = new Int32Array(K);
    const sums = new Float64Array(K * D);
    for (let i = 0; i < n; i++) {
      const k = codes[i];
      if (!(Number.isInteger(k) && k >= 0 && k < K)) throw new Error(`CodebookEma.update: code ${k} at row ${i} is outside [0, ${K})`);
      counts[k]++;
      for (let d = 0; d < D; d++) sums[k * D + d] += z[i * D + d];
    }
    const g = this.options.decay;
    for (let k = 0; k < K; k++) {
      this.clusterSize[k] = g * this.clusterSize[k] + (1 - g) * counts[k];
      if (counts[k] > 0) this.lastUsed[k] = step;
    }
    for (let i = 0; i < K * D; i++) this.embedSum[i] = g * this.embedSum[i] + (1 - g) * sums[i];
    return counts;
  }

  /** Codes not picked for at least `deadAfter` steps as of `step`. */
  deadCodes(step: number, deadAfter: number): number[] {
    const out: number[] = [];
    for (let k = 0; k < this.numCodes; k++) if (step - this.lastUsed[k] >= deadAfter) out.push(k);
    return out;
  }

  /**
   * Re-seeds each dead code with a random row of z [N·D] (rows drawn with `rand`, a seeded generator):
   * sum = that row, cluster size 1, last used = `step`. Returns the codes restarted.
   */
  restartDead(z: ArrayLike<number>, step: number, deadAfter: number, rand: () => number): number[] {
    const D = this.dim;
    const rows = Math.floor(z.length / D);
    if (rows === 0) return [];
    const dead = this.deadCodes(step, deadAfter);
    for (const k of dead) {
      const r = Math.min(rows - 1, Math.floor(rand() * rows));
      for (let d = 0; d < D; d++) this.embedSum[k * D + d] = z[r * D + d];
      this.clusterSize[k] = 1;
      this.lastUsed[k] = step;
    }
    return dead;
  }

  /** e_k = m_k / Ñ_k with Laplace-smoothed cluster sizes, as float32 [K·D]. */
  codebook(): Float32Array {
    const { numCodes: K, dim: D } = this;
    const eps = this.options.epsilon;
    let total = 0;
    for (let k = 0; k < K; k++) total += this.clusterSize[k];
    const out = new Float32Array(K * D);
    for (let k = 0; k < K; k++) {
      const smoothed = ((this.clusterSize[k] + eps) / (total + K * eps)) * total;
      for (let d = 0; d < D; d++) out[k * D + d] = this.embedSum[k * D + d] / smoothed;
    }
    return out;
  }

  private checkLength(got: number, want: number, what: string): void {
    if (got !== want) throw new Error(`CodebookEma: ${what} has ${got} values, expected ${want}`);
  }
}

export interface CodeUsage {
  /** exp(entropy) of the code histogram: the effective number of codes in use (1 … K). */
  perplexity: number;
  /** Codes used at least once. */
  used: number;
  /** used / K. */
  liveFraction: number;
  /** How many codes were counted. */
  total: number;
}

/** Usage statistics of a set of codes drawn from a codebook of `numCodes`. */
export function codeUsage(codes: Iterable<number>, numCodes: number): CodeUsage {
  const hist = new Float64Array(numCodes);
  let total = 0;
  for (const c of codes) {
    if (!(Number.isInteger(c) && c >= 0 && c < numCodes)) throw new Error(`codeUsage: code ${c} is outside [0, ${numCodes})`);
    hist[c]++;
    total++;
  }
  let entropy = 0;
  let used = 0;
  for (const h of hist) {
    if (h === 0) continue;
    used++;
    const p = h / total;
    entropy -= p * Math.log(p);
  }
  return { perplexity: total === 0 ? 0 : Math.exp(entropy), used, liveFraction: used / numCodes, total };
}
