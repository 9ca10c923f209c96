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
 * rotate_half is a fixed [hd, hd] matrix R so that rotate_half(x) = x·R (one 2-D matMul, no slicing),
 * and a decode step builds, for its one position p, the full rotation M_p = diag(cos_p) + R·diag(sin_p)
 * on the host (hd² numbers) so that it rotates all heads with one matMul: x_rot = x·M_p.
 */
export class RopeTables {
  readonly cos: tf.Tensor2D; // [maxPos, hd]
  readonly sin: tf.Tensor2D; // [maxPos, hd]
  readonly rotateHalf: tf.Tensor2D; // [hd, hd]
  private readonly hostCos: Float32Array;
  private readonly hostSin: Float32Array;

  constructor(readonly maxPos: number, readonly headDim: number, theta: number) {
    const hd = headDim;
    const half = hd / 2;
    const cos = new Float32Array(maxPos * hd);
    const sin = new Float32Array(maxPos * hd);
    for (let p = 0; p < maxPos; p++) {
      for (let j = 0; j < half; j++) {
        const ang = p * Math.pow(theta, (-2 * j) / hd);
        const c = Math.cos(ang);
        const s = Math.sin(ang);
        cos[p * hd + j] = c;
        cos[p * hd + j + half] = c;
        sin[p * hd + j] = s;
        sin[p * hd + j + half] = s;
      }
    }
    // rotate_half(x)[j] = −x[j+half] (j < half), x[j−half] (j ≥ half); as x·R: R[j+half, j] = −1, R[j, j+half] = 1.
    const r = new Float32Array(hd * hd);
    for (let j = 0; j < half; j++) {
      r[(j + half) * hd + j] = -1;
      r[j * hd + j + half] = 1;
    }
    this.cos = tf.keep(tf.tensor2d(cos, [maxPos, hd]));
    this.sin = tf.keep(tf.tensor2d(sin, [maxPos, hd]));
    this.rotateHalf = tf.keep(tf.tensor2d(r, [hd, hd]));
    this.hostCos = cos;
    this.hostSin = sin;
  }

  /**
   * Rotate x [B, T, nHeads, hd] at positions offset..offset+T−1 → same shape.
   * Used by the full forward (training, prefill).
   */
  apply(x: tf.Tensor4D, offset: number): tf.Tensor4D {
    const [B, T, nh, hd] = x.shape;
    const cos = tf.reshape(tf.slice(this.cos, [offset, 0], [T, hd]), [1, T, 1, hd]);
    const sin = tf.reshape(tf.slice(this.sin, [offset, 0], [T, hd]), [1, T, 1, hd]);
    const rot = tf.reshape(linear(tf.reshape(x, [B * T * nh, hd]), this.rotateHalf), [B, T, nh, hd]);
    return tf.add(tf.mul(x, cos), tf.mul(rot, sin));
  }

  /** The [hd, hd] rotation for one position (decode step). */
  stepMatrix(pos: number): tf.Tensor2D {
    const hd = this.headDim;
    const half = hd / 2;
    const m = new Float32Array(hd * hd);
    const c = this.hostCos.subarray(pos * hd, (pos + 1) * hd);
    const s = this.hostSin.subarray(pos * hd, (pos + 1) * hd);
    // M_p[a, b] = cos_p[b]·δ(a, b) + R[a, b]·sin_p[b]
    for (let b = 0; b < hd; b++) m[b * hd + b] = c[b];
    for (let j = 0; j < half; j++) {
      m[(j + half) * hd + j] = -s[j];
      m[j * hd + j + half] = s[j + half];
    }
    return tf.tensor2d(m, [hd, hd]);
  }

  dispose(): void {
    tf.dispose([this.cos, this.sin, this.rotateHalf]);
  }
}
