/**
 * Building blocks of the denoiser and the caption encoder: dense layers with the wasm-fast gradient
 * (explicit transposes, model/linear.ts), LayerNorm, the adaLN modulation of DiT, SiLU, and the fixed
 * sinusoidal embeddings (timestep, 2-D position).
 */
import * as tf from '@tensorflow/tfjs';
import { linear } from '../model/linear';

export type Params = ReadonlyMap<string, tf.Tensor>;

export function param<T extends tf.Tensor>(p: Params, name: string): T {
  const v = p.get(name);
  if (!v) throw new Error(`LatentDiffusion: no parameter '${name}'`);
  return v as T;
}

/**
 * x [N, in] · W + b → [N, out] for the parameters `${name}.weight` [in, out] and `${name}.bias` [out].
 * `fused` (inference only: its gradient would use the slow transposed matMuls) is one kernel instead of two.
 */
export function dense(p: Params, name: string, x: tf.Tensor2D, fused = false): tf.Tensor2D {
  if (fused) return tf.fused.matMul({ a: x, b: param(p, `${name}.weight`), bias: param(p, `${name}.bias`) }) as tf.Tensor2D;
  return tf.add(linear(x, param(p, `${name}.weight`)), param(p, `${name}.bias`));
}

/**
 * Row lookup table[ids] whose gradient touches only the rows used: forward gather; backward the
 * one-hot of the batch's U distinct ids (found on the host) [N, U], dRows = oneHotᵀ · dy [U, d],
 * scattered into [V, d] (gather has no gradient on wasm, and a full [N, V] one-hot costs V/U times more).
 */
export function sparseEmbedding(ids: Int32Array, table: tf.Tensor2D): tf.Tensor2D {
  const uniq = [...new Set(ids)];
  const at = new Map(uniq.map((id, i) => [id, i]));
  const local = Int32Array.from(ids, (id) => at.get(id) as number);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const t = args[0] as tf.Tensor2D;
    const [V, d] = t.shape;
    return {
      value: tf.gather(t, tf.tensor1d(ids, 'int32')), // [N, d]
      gradFunc: (dy: tf.Tensor) => {
        // One distinct id (a batch of empty captions: all padding): its row gets the sum, and tf.oneHot
        // refuses depth 1.
        const rows =
          uniq.length === 1
            ? tf.sum(dy, 0, true) // [1, d]
            : tf.matMul(tf.transpose(tf.cast(tf.oneHot(tf.tensor1d(local, 'int32'), uniq.length), 'float32')), dy as tf.Tensor2D); // [N, U]ᵀ·[N, d] → [U, d] (int32 one-hot: wasm ignores a float dtype)
        return [tf.scatterND(tf.tensor2d(Int32Array.from(uniq), [uniq.length, 1], 'int32'), rows, [V, d])];
      },
    };
  });
  return f(table) as tf.Tensor2D;
}

/** (x − mean) / √(var + eps) over the last axis, no gain or bias (DiT's adaLN norms). */
export function layerNormPlain(x: tf.Tensor2D, eps = 1e-6): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, -1, true); // [N, 1] each
  return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
}

/** LayerNorm with gain `${name}.weight` and bias `${name}.bias`. */
export function layerNorm(p: Params, name: string, x: tf.Tensor2D, eps = 1e-6): tf.Tensor2D {
  return tf.add(tf.mul(layerNormPlain(x, eps), param(p, `${name}.weight`)), param(p, `${name}.bias`));
}

export function silu<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}

/**
 * adaLN: x · (1 + scale) + shift per sequence. x [B·T, d] holds B sequences of T tokens; shift/scale
 * are [B, d], or [1, d] when every sequence has the same timestep (sampling), which broadcasts.
 */
export function modulate(x: tf.Tensor2D, shift: tf.Tensor2D, scale: tf.Tensor2D, T: number): tf.Tensor2D {
  const [bt, d] = x.shape;
  const b = shift.shape[0];
  if (b === 1) return tf.add(tf.mul(x, tf.add(scale, 1)), shift);
  const x3 = tf.reshape(x, [bt / T, T, d]); // [B, T, d]
  const y = tf.add(tf.mul(x3, tf.reshape(tf.add(scale, 1), [b, 1, d])), tf.reshape(shift, [b, 1, d]));
  return tf.reshape(y, [bt, d]);
}

/** gate ⊙ y per sequence (gate [B, d] or [1, d], y [B·T, d]). */
export function gated(y: tf.Tensor2D, gate: tf.Tensor2D, T: number): tf.Tensor2D {
  const [bt, d] = y.shape;
  const b = gate.shape[0];
  if (b === 1) return tf.mul(y, gate);
  return tf.reshape(tf.mul(tf.reshape(y, [bt / T, T, d]), tf.reshape(gate, [b, 1, d])), [bt, d]);
}

/**
 * Sinusoidal timestep features (as DiT / ADM): [cos(t·ω_k), sin(t·ω_k)], ω_k = 10000^(−k/(F/2)),
 * for each t → [n, F] (host, float32).
 */
export function timestepFeatures(ts: readonly number[], F: number): Float32Array {
  const half = F / 2;
  const out = new Float32Array(ts.length * F);
  ts.forEach((t, i) => {
    for (let k = 0; k < half; k++) {
      const a = t * Math.exp((-Math.log(10000) * k) / half);
      out[i * F + k] = Math.cos(a);
      out[i * F + half + k] = Math.sin(a);
    }
  });
  return out;
}

/**
 * Fixed 2-D sine-cosine position embedding of a side×side grid (MAE / DiT): half the channels encode
 * the row, half the column, each as [sin, cos] of 1-D frequencies → [side², d] (host).
 */
export function positionEmbedding2d(side: number, d: number): Float32Array {
  if (d % 4 !== 0) throw new Error(`positionEmbedding2d: width ${d} must be divisible by 4`);
  const quarter = d / 4;
  const out = new Float32Array(side * side * d);
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      const o = (r * side + c) * d;
      for (let k = 0; k < quarter; k++) {
        const w = 1 / 10000 ** (k / quarter);
        out[o + k] = Math.sin(r * w);
        out[o + quarter + k] = Math.cos(r * w);
        out[o + 2 * quarter + k] = Math.sin(c * w);
        out[o + 3 * quarter + k] = Math.cos(c * w);
      }
    }
  }
  return out;
}
