/**
 * The SwiGLU experts of one MoE layer, given the gate [N, E] (zero for experts a token did not choose):
 * out[n] = Σ_e gate[n, e] · W2_e(silu(x W1_e) ⊙ x W3_e). Two ways to compute the same sum:
 *
 * - dense: all E experts for every token as two 2-D matMuls over the stacked weights, unchosen experts
 *   weighted by zero. E/k times the FLOPs, but only a handful of kernels: the right choice for a few tokens
 *   (decode, short prompts).
 * - grouped: tokens grouped by expert on the host (top-k is already there), each expert's rows and weights
 *   cut out on the host (`host-rows.ts`), three 2-D matMuls per expert that received tokens, the results
 *   scatter-added back on the host; one custom-gradient op with the SwiGLU gradient written out. k/E of
 *   the FLOPs for ~8 kernels per expert forward, ~20 backward. No capacity limit: every (token, expert)
 *   pair is computed, so the result is the dense sum (up to float rounding), unlike a capacity-factor
 *   dispatch that drops overflow tokens and would change what a checkpoint computes.
 *   Measured on wasm (README, "Training kernels"): a batched matMul over padded [E, C, H] groups was 3×
 *   slower than E 2-D matMuls, and tf.gather / tf.split / SplitV to cut the groups cost more than the
 *   FLOPs they saved, so all cutting and pasting happens in JavaScript.
 *
 * Weight layout (checkpoint format, unchanged): w13 [H, 2·E·I] with columns (part, expert, unit), part 0 the
 * gate projection W1 and part 1 the up projection W3; w2 [E·I, H] with rows (expert, unit).
 */
import * as tf from '@tensorflow/tfjs';
import { swiglu } from './layers';
import { columnsHost, gatherHost, gatherTransposedHost, scatterAddHost } from './host-rows';
import { lazyCustomGrad } from '../util/lazy-grad';

export type MatMul2D = (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/**
 * Average (token, expert) pairs per expert, N·k/E, from which the grouped form is used. Measured on wasm
 * (CPU ms per layer, 16 experts of 64, top-4, hidden 128; README "Training kernels"): with gradients,
 * N = 1,024: dense 151, grouped 108; N = 256: 30 / 23; N = 64: 11 / 19. Forward only: N = 1,024: 111 / 66;
 * N = 256: 23 / 29 — the backward pass's larger matMuls favour grouping earlier.
 */
export const GROUPED_MIN_ROWS_PER_EXPERT = { training: 64, inference: 256 } as const;

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
  /** Where each expert's pairs start [E + 1] (starts[E] = N·k): expert e's are starts[e] … starts[e + 1] − 1. */
  starts: Int32Array;
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
  const starts = new Int32Array(E + 1);
  for (let e = 0; e < E; e++) starts[e + 1] = starts[e] + counts[e];
  const next = starts.slice(0, E);
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
  return { counts, starts, token, gateIndex };
}

/** One expert's weights, each cut out of the stacked host matrices when first used (no Slice/SplitV kernels). */
class ExpertWeights {
  private cache = new Map<string, Float32Array>();
  constructor(private readonly w13: Float32Array, private readonly w2h: Float32Array, private readonly e: number, private readonly H: number, private readonly E: number, private readonly I: number) {}
  private cut(key: string, make: () => Float32Array): Float32Array {
    let v = this.cache.get(key);
    if (!v) this.cache.set(key, (v = make()));
    return v;
  }
  /** [H, I] (transposed: [I, H]) */
  w1(t = false): Float32Array {
    const { H, E, I, e } = this;
    return this.cut(`w1${t}`, () => columnsHost(this.w13, H, 2 * E * I, e * I, I, t));
  }
  /** [H, I] (transposed: [I, H]) */
  w3(t = false): Float32Array {
    const { H, E, I, e } = this;
    return this.cut(`w3${t}`, () => columnsHost(this.w13, H, 2 * E * I, E * I + e * I, I, t));
  }
  /** [I, H] */
  w2(): Float32Array {
    const { H, I, e } = this;
    return this.w2h.subarray(e * I * H, (e + 1) * I * H);
  }
  /** [H, I] */
  w2T(): Float32Array {
    const { H, I } = this;
    return this.cut('w2T', () => columnsHost(this.w2(), I, H, 0, H, true));
  }
}

/** What the gradients of x, W13 and the gate share, per expert: the SwiGLU's input gradients (host). */
interface ExpertBackward {
  /** dL/da and dL/db of the gate and up projections [c, I]. */
  da: Float32Array;
  db: Float32Array;
  /** The expert's gated activation act·g [c, I], W2's input. */
  u: Float32Array;
  /** dy of the expert's tokens [c, H] (du's and dW2's). */
  dye: Float32Array;
}

/**
 * x [N, H], gate [N, E], experts [N·k] (the experts gate is non-zero for) → [N, H], only chosen pairs
 * computed. One custom-gradient op: per expert, its tokens' rows and its weights are cut out on the host,
 * the SwiGLU runs as three 2-D matMuls on [c_e, ·] and the results are scatter-added back on the host; the
 * backward pass does the same with the explicit SwiGLU gradient (transposes on the host too). The gate's
 * gradient is returned for the chosen pairs only (0 elsewhere): moe.ts multiplies the gate by the 0/1
 * choice mask, so the router's gradient is the dense form's.
 *
 * Each input's gradient is computed only when the tape asks for it (util/lazy-grad.ts): with frozen
 * experts (adapter training) dW13 and dW2 are skipped. What several of them share (the SwiGLU recomputed,
 * each expert's rows of dy, du = dy·W2ᵀ and from it da, db and the gate's gradient) is computed once, by
 * the first that needs it, and kept on the host, where each later one reads it; every product sees the
 * same operands as when all four were computed in one pass, so the gradients are bit-identical to that.
 */
export function groupedExperts(x: tf.Tensor2D, w13: tf.Tensor2D, w2: tf.Tensor2D, gate: tf.Tensor2D, experts: Int32Array, k: number, E: number, I: number): tf.Tensor2D {
  const [N, H] = x.shape;
  const g = groupByExpert(experts, N, k, E);
  const { starts } = g;
  const tokensOf = (e: number) => g.token.subarray(starts[e], starts[e + 1]);
  const gatesOf = (gh: Float32Array, e: number) => Float32Array.from(g.gateIndex.subarray(starts[e], starts[e + 1]), (i) => gh[i]);
  const op = lazyCustomGrad<[x: tf.Tensor2D, w13: tf.Tensor2D, w2: tf.Tensor2D, gate: tf.Tensor2D], tf.Tensor2D>(([xT, w13T, w2T, gateT]) => {
    const xh = xT.dataSync() as Float32Array;
    const w13h = w13T.dataSync() as Float32Array;
    const w2h = w2T.dataSync() as Float32Array;
    const gh = gateT.dataSync() as Float32Array;
    const weights = Array.from({ length: E }, (_, e) => new ExpertWeights(w13h, w2h, e, H, E, I));
    const out = new Float32Array(N * H);
    for (let e = 0; e < E; e++) {
      const c = g.counts[e];
      if (c === 0) continue;
      const tok = tokensOf(e);
      const w = weights[e];
      const y = tf.tidy(() => {
        const xe = tf.tensor2d(gatherHost(xh, H, tok), [c, H]);
        const act = swiglu(tf.matMul(xe, tf.tensor2d(w.w1(), [H, I])), tf.matMul(xe, tf.tensor2d(w.w3(), [H, I]))); // [c, I]
        return tf.matMul(tf.mul(act, tf.tensor2d(gatesOf(gh, e), [c, 1])) as tf.Tensor2D, tf.tensor2d(w.w2(), [I, H])); // [c, H]
      });
      scatterAddHost(y.dataSync() as Float32Array, H, tok, out);
      y.dispose();
    }
    return {
      value: tf.tensor2d(out, [N, H]),
      gradFunc: (dy) => {
        let shared: { perExpert: (ExpertBackward | null)[]; dgate: Float32Array } | null = null;
        // The SwiGLU recomputed and differentiated, per expert that received tokens (see the function comment).
        const backward = () => {
          if (shared) return shared;
          const dyh = dy.dataSync() as Float32Array; // [N, H]
          const dgate = new Float32Array(N * E);
          const perExpert = Array.from({ length: E }, (_, e): ExpertBackward | null => {
            const c = g.counts[e];
            if (c === 0) return null;
            const tok = tokensOf(e);
            const w = weights[e];
            const dye = gatherHost(dyh, H, tok); // [c, H]
            let eb: ExpertBackward | null = null;
            // host arrays stay out of tidy's return value: tidy walks whatever it returns, element by element
            tf.tidy(() => {
              const xe = tf.tensor2d(gatherHost(xh, H, tok), [c, H]);
              const ge = tf.tensor2d(gatesOf(gh, e), [c, 1]);
              const a = tf.matMul(xe, tf.tensor2d(w.w1(), [H, I])); // [c, I]
              const b = tf.matMul(xe, tf.tensor2d(w.w3(), [H, I])); // [c, I]
              const sig = tf.sigmoid(a);
              const silu = tf.mul(a, sig);
              const act = tf.mul(silu, b);
              const u = tf.mul(act, ge).dataSync() as Float32Array; // [c, I]
              const du = tf.matMul(tf.tensor2d(dye, [c, H]), tf.tensor2d(w.w2T(), [H, I])); // [c, I]
              const dge = tf.sum(tf.mul(du, act), 1).dataSync() as Float32Array; // [c]
              for (let p = 0; p < c; p++) dgate[g.gateIndex[starts[e] + p]] = dge[p];
              const dact = tf.mul(du, ge);
              const db = tf.mul(dact, silu).dataSync() as Float32Array; // [c, I]
              const da = tf.mul(tf.mul(dact, b), tf.mul(sig, tf.add(1, tf.mul(a, tf.sub(1, sig))))).dataSync() as Float32Array; // silu'(a) = σ(a)(1 + a(1 − σ(a)))
              eb = { da, db, u, dye };
            });
            return eb;
          });
          return (shared = { perExpert, dgate });
        };
        /** f(e, c, tok, shared) for each expert that received tokens, each in its own tidy. */
        const eachExpert = (f: (e: number, c: number, tok: Int32Array, eb: ExpertBackward) => void) => {
          const { perExpert } = backward();
          for (let e = 0; e < E; e++) {
            const eb = perExpert[e];
            if (eb) tf.tidy(() => f(e, g.counts[e], tokensOf(e), eb));
          }
        };
        return [
          () => {
            const dx = new Float32Array(N * H);
            eachExpert((e, c, tok, { da, db }) => {
              const w = weights[e];
              const dxe = tf.add(tf.matMul(tf.tensor2d(da, [c, I]), tf.tensor2d(w.w1(true), [I, H])), tf.matMul(tf.tensor2d(db, [c, I]), tf.tensor2d(w.w3(true), [I, H]))); // [c, H]
              scatterAddHost(dxe.dataSync() as Float32Array, H, tok, dx);
            });
            return tf.tensor2d(dx, [N, H]);
          },
          () => {
            const dw13 = new Float32Array(H * 2 * E * I);
            eachExpert((e, c, tok, { da, db }) => {
              const xeT = tf.tensor2d(gatherTransposedHost(xh, H, tok), [H, c]);
              const dw1 = tf.matMul(xeT, tf.tensor2d(da, [c, I])).dataSync() as Float32Array; // [H, I]
              const dw3 = tf.matMul(xeT, tf.tensor2d(db, [c, I])).dataSync() as Float32Array; // [H, I]
              for (let h = 0; h < H; h++) {
                dw13.set(dw1.subarray(h * I, (h + 1) * I), h * 2 * E * I + e * I);
                dw13.set(dw3.subarray(h * I, (h + 1) * I), h * 2 * E * I + E * I + e * I);
              }
            });
            return tf.tensor2d(dw13, [H, 2 * E * I]);
          },
          () => {
            const dw2 = new Float32Array(E * I * H);
            eachExpert((e, c, _tok, { u, dye }) => {
              const uT = tf.tensor2d(columnsHost(u, c, I, 0, I, true), [I, c]);
              dw2.set(tf.matMul(uT, tf.tensor2d(dye, [c, H])).dataSync() as Float32Array, e * I * H); // [I, H]
            });
            return tf.tensor2d(dw2, [E * I, H]);
          },
          () => tf.tensor2d(backward().dgate, [N, E]),
        ];
      },
    };
  });
  return op(x, w13, w2, gate);
}
