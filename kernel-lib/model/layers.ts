/** Small building blocks: RMSNorm, RoPE tables, SwiGLU activation. */
import * as tf from '@tensorflow/tfjs';
import { linear } from './linear';

/** RMSNorm(x)·w = x / sqrt(mean(x², last) + eps) · w ; x [N, H], w [H]. */
export function rmsNorm(x: tf.Tensor2D, w: tf.Tensor1D, eps: number): tf.Tensor2D {
  const ms = tf.mean(tf.square(x), -1, true); // [N, 1]
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w); // [N, H]
}

/** x / sqrt(mean(x², last) + eps), without a gain (decode folds the gain into the next matrix). */
export function rmsNormUnit(x: tf.Tensor2D, eps: number): tf.Tensor2D {
  return tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps)));
}

/** silu(a) ⊙ b, the SwiGLU gate. */
export function swiglu(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(a, tf.sigmoid(a)), b);
}

/**
 * Rotary position embedding tables (rotate-half convention, as Hugging Face Llama/Mixtral):
 *   x_rot = x·cos + rotate_half(x)·sin,  rotate_half(x) = [−x₂, x₁],
 *   angle(p, j) = p·θ^(−2j/hd) for j < hd/2, duplicated to length hd.
 * rotate_half is a fixed [hd, hd] matrix R so that rotate_half(x) = x·R (one 2-D matMul, no slicing);
 * a decode step, whose attention runs on the host's copy of q and k (kv-cache.ts), rotates there.
 *
 * Tables are built lazily for the positions actually used (doubling, at most maxPos), so a config
 * with a long context costs nothing until a long sequence comes.
 */
export class RopeTables {
  readonly rotateHalf: tf.Tensor2D; // [hd, hd]
  private built = 0;
  private hostCos = new Float32Array(0);
  private hostSin = new Float32Array(0);
  private tables: { cos: tf.Tensor2D; sin: tf.Tensor2D } | null = null; // [built, hd] each

  constructor(readonly maxPos: number, readonly headDim: number, private readonly theta: number) {
    const hd = headDim;
    const half = hd / 2;
    // rotate_half(x)[j] = −x[j+half] (j < half), x[j−half] (j ≥ half); as x·R: R[j+half, j] = −1, R[j, j+half] = 1.
    const r = new Float32Array(hd * hd);
    for (let j = 0; j < half; j++) {
      r[(j + half) * hd + j] = -1;
      r[j * hd + j + half] = 1;
    }
    this.rotateHalf = tf.keep(tf.tensor2d(r, [hd, hd]));
  }

  /** Positions the tables hold now (grows on demand). */
  get length(): number {
    return this.built;
  }

  /** Makes sure positions 0..n−1 have tables. */
  private ensure(n: number): void {
    if (n <= this.built) return;
    if (n > this.maxPos) throw new Error(`RoPE: position ${n - 1} is beyond maxPositions ${this.maxPos}`);
    const len = Math.min(this.maxPos, Math.max(n, 2 * this.built, 64));
    const hd = this.headDim;
    const half = hd / 2;
    const cos = new Float32Array(len * hd);
    const sin = new Float32Array(len * hd);
    cos.set(this.hostCos);
    sin.set(this.hostSin);
    for (let p = this.built; p < len; p++) {
      for (let j = 0; j < half; j++) {
        const ang = p * Math.pow(this.theta, (-2 * j) / hd);
        const c = Math.cos(ang);
        const s = Math.sin(ang);
        cos[p * hd + j] = c;
        cos[p * hd + j + half] = c;
        sin[p * hd + j] = s;
        sin[p * hd + j + half] = s;
      }
    }
    this.hostCos = cos;
    this.hostSin = sin;
    this.built = len;
    if (this.tables) tf.dispose([this.tables.cos, this.tables.sin]);
    this.tables = null; // uploaded when a full forward needs them
  }

  /**
   * Rotate x [B, T, nHeads, hd] at positions offset..offset+T−1 → same shape.
   * Used by the full forward (training, prefill).
   */
  apply(x: tf.Tensor4D, offset: number): tf.Tensor4D {
    const [B, T, nh, hd] = x.shape;
    this.ensure(offset + T);
    if (!this.tables) {
      this.tables = {
        cos: tf.keep(tf.tensor2d(this.hostCos, [this.built, hd])),
        sin: tf.keep(tf.tensor2d(this.hostSin, [this.built, hd])),
      };
    }
    const cos = tf.reshape(tf.slice(this.tables.cos, [offset, 0], [T, hd]), [1, T, 1, hd]);
    const sin = tf.reshape(tf.slice(this.tables.sin, [offset, 0], [T, hd]), [1, T, 1, hd]);
    const rot = tf.reshape(linear(tf.reshape(x, [B * T * nh, hd]), this.rotateHalf), [B, T, nh, hd]);
    return tf.add(tf.mul(x, cos), tf.mul(rot, sin));
  }

  /**
   * Host rotation for a decode step: `heads` head vectors from src (from index srcAt) rotated to
   * position `pos`, times `scale`, into dst (from dstAt). The same numbers as `apply` at that position.
   */
  rotate(src: Float32Array, srcAt: number, dst: Float32Array, dstAt: number, heads: number, pos: number, scale = 1): void {
    this.ensure(pos + 1);
    const hd = this.headDim;
    const half = hd / 2;
    const cos = this.hostCos.subarray(pos * hd, (pos + 1) * hd);
    const sin = this.hostSin.subarray(pos * hd, (pos + 1) * hd);
    for (let h = 0; h < heads; h++) {
      const a = srcAt + h * hd;
      const o = dstAt + h * hd;
      for (let j = 0; j < half; j++) {
        const x1 = src[a + j];
        const x2 = src[a + j + half];
        dst[o + j] = (x1 * cos[j] - x2 * sin[j]) * scale;
        dst[o + j + half] = (x2 * cos[j + half] + x1 * sin[j + half]) * scale;
      }
    }
  }

  dispose(): void {
    tf.dispose(this.rotateHalf);
    if (this.tables) tf.dispose([this.tables.cos, this.tables.sin]);
    this.tables = null;
  }
}
