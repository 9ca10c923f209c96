/**
 * The SwiGLU experts of one MoE layer, given the gate [N, E] (zero for experts a token did not choose):
 * out[n] = Σ_e gate[n, e] · W2_e(silu(x W1_e) ⊙ x W3_e). Two ways to compute the same sum:
 *
 * - dense: all E experts for every token as two 2-D matMuls over the stacked weights, unchosen experts
 *   weighted by zero. E/k times the FLOPs, but only a handful of kernels: the right choice for a few tokens
 *   (decode, short prompts).
 * - grouped: tokens grouped by expert on the host (top-k is already there), each expert's rows gathered on
 *   the host (`host-rows.ts`), one pair of 2-D matMuls per expert that received tokens, the results
 *   scatter-added back. k/E of the FLOPs for ~10 kernels per expert. No capacity limit: every (token,
 *   expert) pair is computed, so the result is the dense sum exactly (up to float rounding), unlike a
 *   capacity-factor dispatch that drops overflow tokens and would change what a checkpoint computes.
 *   Wasm's batched matMul (one [E, C, H] · [E, H, 2I] call) was measured 3× slower than E 2-D matMuls,
 *   so the experts are separate calls.
 *
 * Weight layout (checkpoint format, unchanged): w13 [H, 2·E·I] with columns (part, expert, unit), part 0 the
 * gate projection W1 and part 1 the up projection W3; w2 [E·I, H] with rows (expert, unit).
 */
import * as tf from '@tensorflow/tfjs';
import { swiglu } from './layers';
import { gatherRows, scatterAddRows } from './host-rows';

export type MatMul2D = (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/** Average (token, expert) pairs per expert from which the grouped form is used (see README's profile). */
export const GROUPED_MIN_ROWS_PER_EXPERT = 8;

/** x [N, H], gate [N, E] → [N, H], every expert computed for every token. */
export function denseExperts(x: tf.Tensor2D, w13: tf.Tensor2D, w2: tf.Tensor2D, gate: tf.Tensor2D, E: number, I: number, mm: MatMul2D): tf.Tensor2D {
  const [N] = x.shape;
  const [a, b] = tf.split(mm(x, w13), 2, 1); // [N, E·I] each
  const act = swiglu(a, b); // [N, E·I]
  const weighted = tf.reshape(tf.mul(tf.reshape(act, [N, E, I]), tf.reshape(gate, [N, E, 1])), [N, E * I]);
  return mm(weighted as tf.Tensor2D, w2); // [N, H] = Σ_e gate_e · expert_e(x)
}

/** The (token, expert) pairs sorted by expert, then token: a counting sort of the chosen experts. */
export interface ExpertGroups {
  /** Pairs per expert [E]. */
  counts: Int32Array;
  /** Token of each pair [N·k]. */
  token: Int32Array;
  /** token·E + expert of each pair [N·k]: the pair's entry in a flattened [N, E] gate. */
  gateIndex: Int32Array;
}

/** experts [N·k] (row-major [N, k], each row distinct experts in [0, E)). */
export function groupByExpert(experts: Int32Array, N: number, k: number, E: number): ExpertGroups {
  if (experts.length !== N * k) throw new Error(`groupByExpert: ${experts.length} choices for ${N} tokens × top-${k}`);
  const counts = new Int32Array(E);
  for (let i = 0; i < experts.length; i++) {
    const e = experts[i];
    if (!(e >= 0 && e < E)) throw new Error(`groupByExpert: expert ${e} at ${i} is outside [0, ${E})`);
    counts[e]++;
  }
  const next = new Int32Array(E);
  for (let e = 1; e < E; e++) next[e] = next[e - 1] + counts[e - 1];
  const token = new Int32Array(N * k);
  const gateIndex = new Int32Array(N * k);
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < k; j++) {
      const e = experts[n * k + j];
      const p = next[e]++;
      token[p] = n;
      gateIndex[p] = n * E + e;
    }
  }
  return { counts, token, gateIndex };
}

/** x [N, H], gate [N, E], experts [N·k] (the experts gate is non-zero for) → [N, H], only chosen pairs computed. */
export function groupedExperts(
  x: tf.Tensor2D, w13: tf.Tensor2D, w2: tf.Tensor2D, gate: tf.Tensor2D, experts: Int32Array, k: number, E: number, I: number, mm: MatMul2D,
): tf.Tensor2D {
  const [N, H] = x.shape;
  const g = groupByExpert(experts, N, k, E);
  const used = Array.from(g.counts.keys()).filter((e) => g.counts[e] > 0);
  const sizes = used.map((e) => g.counts[e]);
  const xs = gatherRows(x, g.token); // [N·k, H] rows grouped by expert
  const gs = gatherRows(tf.reshape(gate, [N * E, 1]) as tf.Tensor2D, g.gateIndex); // [N·k, 1]
  // Per-expert weights: w13's columns (part, e, i) regrouped to [E, H, part, i] by one transpose, so each
  // expert's [H, 2I] block is contiguous; w2's rows (e, i) already are.
  const w13e = tf.split(tf.reshape(tf.transpose(tf.reshape(w13, [H, 2, E, I]), [2, 0, 1, 3]), [E, H * 2 * I]), E, 0);
  const w2e = tf.split(w2, E, 0); // E × [I, H]
  const xParts = used.length > 1 ? tf.split(xs, sizes, 0) : [xs];
  const gParts = used.length > 1 ? tf.split(gs, sizes, 0) : [gs];
  const ys = used.map((e, u) => {
    const [a, b] = tf.split(mm(xParts[u] as tf.Tensor2D, tf.reshape(w13e[e], [H, 2 * I])), 2, 1); // [c_e, I] each
    return mm(tf.mul(swiglu(a, b), gParts[u]) as tf.Tensor2D, w2e[e] as tf.Tensor2D); // [c_e, H]
  });
  const y = ys.length > 1 ? (tf.concat(ys, 0) as tf.Tensor2D) : ys[0]; // [N·k, H]
  return scatterAddRows(y, g.token, N); // [N, H]
}
