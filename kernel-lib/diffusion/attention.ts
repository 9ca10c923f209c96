/**
 * Multi-head attention of B query sequences (T tokens) over B key sequences (S tokens) with a key
 * padding mask, written for the wasm backend, where a batched 3-D matMul costs about as much as a 2-D
 * matMul 6–11 times its size and every op costs ~40 µs of dispatch:
 *
 *  - "block" form (few sequence·head groups G = B·h, as in sampling: B = 2 for CFG): every group's
 *    queries against every group's keys as ONE 2-D matMul [G·T, hd] · [hd, G·S], the off-diagonal
 *    blocks masked to −1e9 before the softmax. G times the needed multiply-adds, but one op instead of G.
 *  - "batched" form (training batches): [G, T, hd] · [G, hd, S] as a batched matMul with explicit
 *    transposes in its gradient (model/linear.ts batchMatMul).
 *
 * Both give the same numbers (tests/diffusion check it); `attention` picks by size unless told.
 * Padded keys get −1e9 added, so their softmax weight is exactly 0 in float32 and they change nothing.
 */
import * as tf from '@tensorflow/tfjs';
import { batchMatMul, linear } from '../model/linear';

export type AttentionForm = 'block' | 'batched';

/** Largest G·max(T, S) rows for which the block form is used by default. */
export const BLOCK_FORM_MAX_ROWS = 512;

export const MASKED = -1e9;

/** Cached block-diagonal biases [G·T, G·S] (0 inside a group's block, −1e9 outside), few shapes only. */
const blockBiases = new Map<string, tf.Tensor2D>();

function blockBias(G: number, T: number, S: number): tf.Tensor2D {
  const key = `${G}x${T}x${S}`;
  let m = blockBiases.get(key);
  if (m && !m.isDisposed) return m;
  const d = new Float32Array(G * T * G * S).fill(MASKED);
  for (let g = 0; g < G; g++) for (let t = 0; t < T; t++) d.fill(0, (g * T + t) * G * S + g * S, (g * T + t) * G * S + (g + 1) * S);
  if (blockBiases.size >= 16) {
    for (const v of blockBiases.values()) v.dispose();
    blockBiases.clear();
  }
  m = tf.keep(tf.tensor2d(d, [G * T, G * S]));
  blockBiases.set(key, m);
  return m;
}

/**
 * softmax(q kᵀ / √hd + mask) v per head: q [B·T, h·hd], k, v [B·S, h·hd], keyBias [B, S] additive
 * (0 for a real key, −1e9 for padding) or null → [B·T, h·hd].
 */
export function attention(
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  v: tf.Tensor2D,
  B: number,
  heads: number,
  keyBias: tf.Tensor2D | null,
  form?: AttentionForm,
): tf.Tensor2D {
  const [bt, d] = q.shape;
  const T = bt / B;
  const S = k.shape[0] / B;
  const hd = d / heads;
  const G = B * heads;
  const scaled = tf.mul(q, 1 / Math.sqrt(hd));
  const byGroup = (x: tf.Tensor, n: number) => tf.transpose(tf.reshape(x, [B, n, heads, hd]), [0, 2, 1, 3]); // [B, h, n, hd]
  const use = form ?? (G * Math.max(T, S) <= BLOCK_FORM_MAX_ROWS ? 'block' : 'batched');
  let out: tf.Tensor; // [G·T, hd] or [G, T, hd]
  if (use === 'block') {
    const qr = tf.reshape<tf.Rank.R2>(byGroup(scaled, T), [G * T, hd]); // [G·T, hd]
    const kT = tf.reshape<tf.Rank.R2>(tf.transpose(tf.reshape(k, [B, S, heads, hd]), [3, 0, 2, 1]), [hd, G * S]); // [hd, G·S]
    const vr = tf.reshape<tf.Rank.R2>(byGroup(v, S), [G * S, hd]); // [G·S, hd]
    let scores: tf.Tensor2D = tf.add(linear(qr, kT), blockBias(G, T, S)); // [G·T, G·S]
    if (keyBias) scores = tf.add(scores, tf.reshape(tf.tile(tf.reshape(keyBias, [B, 1, S]), [1, heads, 1]), [1, G * S]));
    out = linear(tf.softmax(scores), vr); // [G·T, hd]
  } else {
    const qr = tf.reshape<tf.Rank.R3>(byGroup(scaled, T), [G, T, hd]); // [G, T, hd]
    const kT = tf.reshape<tf.Rank.R3>(tf.transpose(tf.reshape(k, [B, S, heads, hd]), [0, 2, 3, 1]), [G, hd, S]); // [G, hd, S]
    const vr = tf.reshape<tf.Rank.R3>(byGroup(v, S), [G, S, hd]); // [G, S, hd]
    let scores: tf.Tensor = batchMatMul(qr, kT); // [G, T, S]
    if (keyBias) scores = tf.add(tf.reshape(scores, [B, heads, T, S]), tf.reshape(keyBias, [B, 1, 1, S]));
    out = batchMatMul(tf.reshape<tf.Rank.R3>(tf.softmax(scores), [G, T, S]), vr); // [G, T, hd]
  }
  return tf.reshape<tf.Rank.R2>(tf.transpose(tf.reshape(out, [B, heads, T, hd]), [0, 2, 1, 3]), [B * T, d]); // [B·T, d]
}

/** Additive key bias [B, S] from a 0/1 mask (1 = real token). */
export function keyBiasFromMask(mask: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(tf.sub(1, mask), MASKED);
}

/** Frees the cached block masks (tests that count tensors call it before counting). */
export function clearAttentionCache(): void {
  for (const v of blockBiases.values()) v.dispose();
  blockBiases.clear();
}
