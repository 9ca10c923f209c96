/**
 * The pre-LN self-attention block the small transformers around the decoder share (MiniGPT-5's feature
 * mapper, MUMU's connector): torch's nn.TransformerEncoderLayer(norm_first=True) with SiLU in the FF
 * (TensorFlow.js has no GELU kernel).
 *
 *   x += SelfAttn(LN₁ x)      keys masked by keyBias (0 real, −1e9 padding; null: none)
 *   x += FF(LN₂ x)            fc2(SiLU(fc1(·)))
 *
 * Parameters under `<prefix>.`: norm1, attn.qkv [d, 3d], attn.out [d, d], norm2, ff.fc1 [d, r·d], ff.fc2 [r·d, d]
 * (linear weights [in, out], each with its bias; norms with weight and bias).
 */
import * as tf from '@tensorflow/tfjs';
import { attention } from './attention';
import { dense, layerNorm, Params, silu } from './layers';

/** Parameter names and shapes of one block of width d and FF ratio r. */
export function selfBlockShapes(prefix: string, d: number, mlpRatio: number): Array<[string, number[]]> {
  const lin = (n: string, i: number, o: number): Array<[string, number[]]> => [[`${prefix}.${n}.weight`, [i, o]], [`${prefix}.${n}.bias`, [o]]];
  const norm = (n: string): Array<[string, number[]]> => [[`${prefix}.${n}.weight`, [d]], [`${prefix}.${n}.bias`, [d]]];
  return [...norm('norm1'), ...lin('attn.qkv', d, 3 * d), ...lin('attn.out', d, d), ...norm('norm2'), ...lin('ff.fc1', d, mlpRatio * d), ...lin('ff.fc2', mlpRatio * d, d)];
}

/** One block over B sequences of T rows (x [B·T, d]); differentiable with respect to p and x. */
export function selfBlock(p: Params, prefix: string, x: tf.Tensor2D, B: number, heads: number, keyBias: tf.Tensor2D | null = null): tf.Tensor2D {
  const [q, k, v] = tf.split(dense(p, `${prefix}.attn.qkv`, layerNorm(p, `${prefix}.norm1`, x)), 3, 1) as tf.Tensor2D[]; // [B·T, d] each
  x = tf.add(x, dense(p, `${prefix}.attn.out`, attention(q, k, v, B, heads, keyBias)));
  return tf.add(x, dense(p, `${prefix}.ff.fc2`, silu(dense(p, `${prefix}.ff.fc1`, layerNorm(p, `${prefix}.norm2`, x)))));
}
