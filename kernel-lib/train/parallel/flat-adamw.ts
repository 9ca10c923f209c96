/**
 * The optimizer step of a data-parallel update on plain float32 arrays, element by element, so each
 * worker can run it on its own piece of the flat parameter vector in shared memory (shards.ts):
 *
 *   sumGradients  g = ((0 + g₀) + g₁) + …   in worker order (the pool's order: the same bits for a
 *                 given worker count), times the slice mask; returns Σ g² of the piece (float64)
 *   clipGradients g ·= clipNorm / (‖g‖ + 1e-6)   when ‖g‖ > clipNorm (loop.ts's rule)
 *   adamwPiece    AdamW with bias correction and decoupled weight decay (adamw.ts)
 *
 * Every operation rounds to float32 where TF.js's float32 kernels round (Math.fround after each
 * multiply, add, divide and square root, scalars rounded as TF.js rounds them), so the update is the
 * same bits as adamw.ts's on the same gradients — tests/train/flat-adamw.test.ts checks that on wasm.
 * Element-wise, so a piece's result does not depend on how the vector was cut.
 */
import type { AdamWOptions } from '../adamw';

const f32 = Math.fround;

/** One parameter's optimizer settings (what adamw.ts reads from its group settings and rank). */
export interface FlatParamSettings {
  /** Learning-rate multiplier (1 outside groups). */
  lrScale: number;
  /** Decoupled weight decay; 0 for parameters of rank < 2, which adamw.ts never decays. */
  weightDecay: number;
  /** Whether a slice mask applies (the mask array holds its 0/1 values at the parameter's offsets). */
  masked: boolean;
}

/**
 * Sums elements [from, to) of the workers' gradients in worker order into grads[0] (times mask[i] where
 * `mask` is given) and returns the sum of the squares of the results in float64.
 */
export function sumGradients(grads: readonly Float32Array[], from: number, to: number, mask: Float32Array | null): number {
  const out = grads[0];
  let sq = 0;
  for (let i = from; i < to; i++) {
    let s = f32(0 + out[i]);
    for (let w = 1; w < grads.length; w++) s = f32(s + grads[w][i]);
    if (mask) s = f32(s * mask[i]);
    out[i] = s;
    sq += s * s;
  }
  return sq;
}

/** The factor loop.ts scales every gradient by (1 when no clipping applies), as TF.js rounds it. */
export function clipScale(gradNorm: number, clipNorm: number): number {
  return clipNorm > 0 && gradNorm > clipNorm ? f32(clipNorm / (gradNorm + 1e-6)) : 1;
}

/** Scales elements [from, to) of `g` by `scale` (clipScale), float32 as tf.mul does. */
export function clipGradients(g: Float32Array, from: number, to: number, scale: number): void {
  if (scale === 1) return;
  for (let i = from; i < to; i++) g[i] = f32(g[i] * scale);
}

/** The float32 scalars of update number `t` (1-based) at learning rate `lr`, as adamw.ts hands them to TF.js. */
export interface AdamWScalars {
  b1: number;
  oneMinusB1: number;
  b2: number;
  oneMinusB2: number;
  c1: number;
  c2: number;
  eps: number;
}

export function adamwScalars(o: AdamWOptions, t: number): AdamWScalars {
  return {
    b1: f32(o.beta1),
    oneMinusB1: f32(1 - o.beta1),
    b2: f32(o.beta2),
    oneMinusB2: f32(1 - o.beta2),
    c1: f32(1 - Math.pow(o.beta1, t)),
    c2: f32(1 - Math.pow(o.beta2, t)),
    eps: f32(o.eps),
  };
}

/**
 * AdamW on elements [from, to) of one parameter: moments `m`, `v` and values `p` updated in place from
 * gradient `g`. `lr` is the scheduled rate (the group's multiplier is applied here, as adamw.ts does).
 */
export function adamwPiece(p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, from: number, to: number, k: AdamWScalars, lr: number, s: FlatParamSettings, mask: Float32Array | null): void {
  const rate = f32(s.lrScale === 1 ? lr : lr * s.lrScale);
  const wd = f32(s.weightDecay);
  const decayMask = s.masked ? mask : null;
  for (let i = from; i < to; i++) {
    const gi = g[i];
    const mi = f32(f32(m[i] * k.b1) + f32(gi * k.oneMinusB1));
    const vi = f32(f32(v[i] * k.b2) + f32(f32(gi * gi) * k.oneMinusB2));
    m[i] = mi;
    v[i] = vi;
    let step = f32(f32(mi / k.c1) / f32(f32(Math.sqrt(f32(vi / k.c2))) + k.eps));
    if (wd > 0) step = f32(step + f32((decayMask ? f32(p[i] * decayMask[i]) : p[i]) * wd));
    p[i] = f32(p[i] - f32(step * rate));
  }
}
