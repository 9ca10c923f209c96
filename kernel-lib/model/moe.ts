/**
 * Mixtral-style sparse MoE feed-forward: router linear → softmax over experts → top-k → optional
 * renormalisation of the k weights → SwiGLU experts (+ optional always-on shared expert).
 *
 * Top-k is chosen on the host from detached router probabilities (topk has no gradient on any TF.js
 * backend); gradients reach the router through the chosen probabilities, as in Mixtral. Ties are
 * broken by the LOWER expert index. The experts themselves are in `experts.ts`: for a few tokens (decode)
 * two dense 2-D matMuls over the stacked expert weights with non-chosen experts weighted by zero (gathering
 * the chosen experts' weights cost ~5 ms per layer on wasm, the dense form ~0.15 ms at batch 1); for many
 * tokens (training, prefill) the tokens grouped by expert on the host, k/E of the FLOPs; for a batched decode
 * step of 2–4 rows (CFG) each row's own experts in a host SIMD kernel (`expert-kernel.ts`). All compute the
 * same sparse sum.
 */
import * as tf from '@tensorflow/tfjs';
import { linear } from './linear';
import { swiglu } from './layers';
import { HookContext } from './hooks';
import { denseExperts, groupedExperts, GROUPED_MIN_ROWS_PER_EXPERT } from './experts';
import type { HostExperts } from './expert-kernel';

/** Up to this many tokens, inference computes routing on the host (the decode fast path). */
const FAST_PATH_MAX_TOKENS = 16;

/**
 * Rows for which the fast path runs the experts in the host kernel (expert-kernel.ts) when the weights
 * carry one: 2–4 rows, where XNNPACK's four-row matMul makes the dense experts cost about twice the
 * one-row ones. One row keeps the dense TF.js path (its one-row matMul is efficient, and batch-1
 * decoding keeps its exact numbers).
 */
export const HOST_EXPERT_ROWS = { min: 2, max: 4 } as const;

/** Row-wise softmax of [N, E] logits, computed in float64. */
function softmaxRows(logits: Float32Array, N: number, E: number): Float32Array {
  const out = new Float32Array(N * E);
  for (let n = 0; n < N; n++) {
    let m = -Infinity;
    for (let e = 0; e < E; e++) m = Math.max(m, logits[n * E + e]);
    let z = 0;
    for (let e = 0; e < E; e++) z += Math.exp(logits[n * E + e] - m);
    for (let e = 0; e < E; e++) out[n * E + e] = Math.exp(logits[n * E + e] - m) / z;
  }
  return out;
}

/** Routing of one layer for N tokens (row-major host arrays). */
export interface LayerRouting {
  layer: number;
  /** [N, k] chosen experts, by descending probability (ties → lower index). */
  experts: Int32Array;
  /** [N, k] gate weights of the chosen experts (renormalised when normTopKProb). */
  weights: Float32Array;
  /** [N, E] router probabilities over all experts. */
  probs: Float32Array;
  /** [N, E] router logits (only when full capture is on, else empty). */
  logits: Float32Array;
}

/** Host top-k: indices by descending value, ties to the lower index. Writes into out[rowOffset…]. */
export function topKRow(row: Float32Array, k: number, out: Int32Array, outOffset: number): void {
  const E = row.length;
  // k is tiny (≤ 16): selection by repeated scan keeps the tie-break explicit.
  let taken = 0;
  const used = new Uint8Array(E);
  while (taken < k) {
    let best = -1;
    for (let e = 0; e < E; e++) {
      if (used[e]) continue;
      if (best < 0 || row[e] > row[best] || (Number.isNaN(row[best]) && !Number.isNaN(row[e]))) best = e;
    }
    used[best] = 1;
    out[outOffset + taken++] = best;
  }
}

export interface MoEWeights {
  router: tf.Tensor2D; // [H, E]
  w13: tf.Tensor2D; // [H, 2·E·I]
  w2: tf.Tensor2D; // [E·I, H]
  sharedW13?: tf.Tensor2D; // [H, 2·S]
  sharedW2?: tf.Tensor2D; // [S, H]
  /** Decode only: the same experts in a kernel memory (decode-weights.ts), used for HOST_EXPERT_ROWS rows. */
  host?: HostExperts;
}

export interface MoEOptions {
  layer: number;
  numExperts: number;
  topK: number;
  intermediateSize: number;
  normTopKProb: boolean;
  /** Read router logits to the host as well (probs, experts and weights are always read). */
  captureLogits: boolean;
  hooks: HookContext;
  /** Gradients will be taken: use the custom-gradient linear and compute the aux loss. */
  training: boolean;
}

export interface MoEResult {
  out: tf.Tensor2D; // [N, H]
  /** Switch-style load-balancing loss for this layer (scalar); null when not training. */
  aux: tf.Scalar | null;
  routing: LayerRouting;
}

/** x [N, H] (already normalised) → MoE output [N, H]. Call inside tf.tidy. */
export function moeForward(x: tf.Tensor2D, w: MoEWeights, o: MoEOptions): MoEResult {
  const [N] = x.shape;
  const E = o.numExperts;
  const k = o.topK;
  const I = o.intermediateSize;
  const name = `blocks.${o.layer}.moe`;
  const mm = o.training ? linear : (a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D => tf.matMul(a, b);
  const logits = o.hooks.point(`${name}.router`, mm(x, w.router)); // [N, E]
  // Decode fast path (few tokens, no gradients, no hooks): softmax, top-k and the gate on the host,
  // which saves ~8 small kernels per layer per step; the math is the same.
  const fast = !o.training && o.hooks === HookContext.none && N <= FAST_PATH_MAX_TOKENS;
  const probs = fast ? null : o.hooks.point(`${name}.probs`, tf.softmax(logits)); // [N, E]
  const hostLogits = fast || o.captureLogits ? (logits.dataSync() as Float32Array) : new Float32Array(0);
  const hostProbs = probs ? (probs.dataSync() as Float32Array) : softmaxRows(hostLogits, N, E);

  // Top-k on detached host values.
  const experts = new Int32Array(N * k);
  const weights = new Float32Array(N * k);
  for (let n = 0; n < N; n++) {
    const row = hostProbs.subarray(n * E, (n + 1) * E);
    topKRow(row, k, experts, n * k);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += row[experts[n * k + j]];
    for (let j = 0; j < k; j++) weights[n * k + j] = o.normTopKProb ? row[experts[n * k + j]] / sum : row[experts[n * k + j]];
  }
  const routing: LayerRouting = {
    layer: o.layer,
    experts,
    weights,
    probs: hostProbs,
    logits: o.captureLogits ? hostLogits : new Float32Array(0),
  };

  let out: tf.Tensor2D;
  let aux: tf.Scalar | null = null;
  if (fast && w.host && N >= HOST_EXPERT_ROWS.min && N <= HOST_EXPERT_ROWS.max) {
    // each row through its own k experts on the host: one download, one upload
    out = tf.tensor2d(w.host.forward(x.dataSync() as Float32Array, experts, weights, k), [N, x.shape[1]]);
  } else if (fast) {
    // gate expanded to every hidden unit of its expert: [N, E·I], zero for experts not chosen
    const gate = new Float32Array(N * E * I);
    for (let n = 0; n < N; n++) {
      for (let j = 0; j < k; j++) gate.fill(weights[n * k + j], n * E * I + experts[n * k + j] * I, n * E * I + (experts[n * k + j] + 1) * I);
    }
    const [a, b] = tf.split(mm(x, w.w13), 2, 1); // [N, E·I] each
    out = mm(tf.mul(swiglu(a, b), tf.tensor2d(gate, [N, E * I])) as tf.Tensor2D, w.w2); // [N, H]
  } else {
    const probsT = probs as tf.Tensor2D;
    const mask = new Float32Array(N * E);
    for (let i = 0; i < N * k; i++) mask[Math.floor(i / k) * E + experts[i]] = 1;
    const maskT = tf.tensor2d(mask, [N, E]); // [N, E] constant 0/1
    let gate = tf.mul(probsT, maskT) as tf.Tensor2D; // [N, E]; gradients reach the router through the chosen probs
    if (o.normTopKProb) gate = tf.div(gate, tf.sum(gate, -1, true)) as tf.Tensor2D;
    gate = o.hooks.point(`${name}.gate`, gate);
    // Many tokens: group them by expert (k/E of the FLOPs); few: the dense form's few kernels win.
    out = (N * k) / E >= GROUPED_MIN_ROWS_PER_EXPERT[o.training ? 'training' : 'inference']
      ? groupedExperts(x, w.w13, w.w2, gate, experts, k, E, I)
      : denseExperts(x, w.w13, w.w2, gate, E, I, mm); // [N, H] = Σ_e gate_e · expert_e(x)
    if (o.training) {
      // Switch/Mixtral load balancing: E · Σ_e (fraction of token-slots to e) · (mean prob of e).
      aux = tf.mul(tf.sum(tf.mul(tf.mean(maskT, 0), tf.mean(probsT, 0))), E) as tf.Scalar;
    }
  }
  if (w.sharedW13 && w.sharedW2) {
    const [sa, sb] = tf.split(mm(x, w.sharedW13), 2, 1); // [N, S] each
    out = tf.add(out, mm(swiglu(sa, sb) as tf.Tensor2D, w.sharedW2)) as tf.Tensor2D;
  }
  return { out: o.hooks.point(name, out), aux, routing };
}

