/**
 * Tokens per crop (MUMU Finding 1, Fig. 5): a crop enters the language model as all of its codes (64 for an
 * 8×8 grid) or as fewer tokens pooled by learned queries: the stand-in for Idefics2's perceiver resampler
 * (Jaegle et al. 2021), which MUMU removed because "its small number of image tokens hurt detail
 * preservation".
 *
 * Where the pooling acts: on the crop's code EMBEDDINGS (the LM's own embedding rows of its codes), before
 * the LM, and the LM then reads N pooled tokens in the crop's place (<boi> p₁ … p_N <eoi>). That is where
 * Idefics2's perceiver sits (between the vision encoder and the LM), and it is the only place where N is a
 * bottleneck: pooled after the LM, the words after a crop would already have attended to all of its codes,
 * so the conditioning would still carry the whole crop whatever N. The price: the gradient to the pooling
 * passes back through the frozen LM.
 *
 *   E [n, C, H]          the n crops' code embeddings (C = grid codes, frozen)
 *   K = LN_kv(E + pos)   pos [C, H] learned (which cell a code sits in)
 *   Q = LN_q(queries)    queries [N, H] learned, the same for every crop
 *   a = MHA(Q·Wq, K·Wk, E·Wv)·Wo          [n, N, H]   (values are the raw embeddings)
 *   p = a + FF(LN_ff a)                    [n, N, H]
 *
 * Initialised so that p starts as an attention-weighted average of the crop's code embeddings (Wv = Wo = I,
 * FF's fc2 = 0): tokens of the kind the LM reads, mixed in proportions the queries learn. N = C is no pooling
 * (the codes themselves; no parameters).
 */
import * as tf from '@tensorflow/tfjs';
import type { HostTensor } from '../../model/params';
import { attention } from '../../diffusion/attention';
import { dense, layerNorm, param, Params, silu } from '../../diffusion/layers';
import { mulberry32, normalArray } from '../../util/random';

/** The settings of Finding 1 (Fig. 5 sweeps tokens per image): 1, 4, 16 pooled, or all 64 codes. */
export const TOKENS_PER_CROP = [1, 4, 16, 64] as const;
export type TokensPerCrop = (typeof TOKENS_PER_CROP)[number];
/** Codes of one crop at the shipped 8×8 grid. */
export const MAX_POOLED = 64;

export interface PoolerConfig {
  /** The LM's embedding width H. */
  hiddenSize: number;
  /** Codes per crop C (the tokenizer's grid). */
  codes: number;
  /** Pooled tokens N (< C). */
  tokens: number;
  heads: number;
  mlpRatio: number;
}

export function defaultPoolerConfig(shape: { hiddenSize: number; codes: number; tokens: number }, o: Partial<PoolerConfig> = {}): PoolerConfig {
  return { ...shape, heads: 4, mlpRatio: 2, ...o };
}

const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** Throws naming the first bad field. */
export function validatePoolerConfig(c: PoolerConfig): void {
  if (typeof c !== 'object' || c === null) throw new Error('PoolerConfig must be an object');
  for (const k of ['hiddenSize', 'codes', 'tokens', 'heads', 'mlpRatio'] as const) {
    if (!posInt(c[k])) throw new Error(`PoolerConfig.${k} must be a positive integer, got ${JSON.stringify(c[k])}`);
  }
  if (c.tokens >= c.codes) throw new Error(`PoolerConfig.tokens (${c.tokens}) must be fewer than the crop's ${c.codes} codes (all codes need no pooling)`);
  if (c.hiddenSize % c.heads !== 0) throw new Error(`PoolerConfig.hiddenSize (${c.hiddenSize}) must be divisible by heads (${c.heads})`);
}

/** Parameter names (under `pool.`) and shapes; linear weights [in, out]. */
export function poolerParamShapes(c: PoolerConfig): Map<string, number[]> {
  validatePoolerConfig(c);
  const H = c.hiddenSize;
  const m = new Map<string, number[]>();
  const lin = (n: string, i: number, o: number) => {
    m.set(`${n}.weight`, [i, o]);
    m.set(`${n}.bias`, [o]);
  };
  const norm = (n: string) => {
    m.set(`${n}.weight`, [H]);
    m.set(`${n}.bias`, [H]);
  };
  m.set('pool.queries', [c.tokens, H]);
  m.set('pool.pos', [c.codes, H]);
  norm('pool.norm_q');
  norm('pool.norm_kv');
  for (const p of ['q', 'k', 'v', 'out']) lin(`pool.attn.${p}`, H, H);
  norm('pool.norm_ff');
  lin('pool.ff.fc1', H, c.mlpRatio * H);
  lin('pool.ff.fc2', c.mlpRatio * H, H);
  return m;
}

/** Fresh parameters, deterministic per seed (see the file comment for the identity start). */
export function initPoolerParams(c: PoolerConfig, seed = 0): Map<string, HostTensor> {
  const rand = mulberry32(seed);
  const out = new Map<string, HostTensor>();
  for (const [name, shape] of poolerParamShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (name === 'pool.queries') data = normalArray(n, 1, rand);
    else if (name === 'pool.pos') data = normalArray(n, 0.02, rand);
    else if (/norm_\w+\.weight$/.test(name)) data = new Float32Array(n).fill(1);
    else if (name.endsWith('.bias') || name === 'pool.ff.fc2.weight') data = new Float32Array(n);
    else if (name === 'pool.attn.v.weight' || name === 'pool.attn.out.weight') {
      data = new Float32Array(n);
      for (let i = 0; i < shape[0]; i++) data[i * shape[1] + i] = 1; // identity
    } else data = normalArray(n, Math.sqrt(2 / (shape[0] + shape[1])), rand);
    out.set(name, { shape, data });
  }
  return out;
}

/** Pooled tokens of n crops: codes E [n, C, H] → [n, N, H] (differentiable with respect to p and E). */
export function poolerForward(p: Params, c: PoolerConfig, E: tf.Tensor3D): tf.Tensor3D {
  const [n, C, H] = E.shape;
  if (C !== c.codes || H !== c.hiddenSize) throw new Error(`pooler: crop embeddings must have shape [n, ${c.codes}, ${c.hiddenSize}], got [${E.shape}]`);
  const N = c.tokens;
  const e = tf.reshape<tf.Rank.R2>(E, [n * C, H]); // [n·C, H]
  const withPos = tf.reshape<tf.Rank.R2>(tf.add(E, param(p, 'pool.pos')), [n * C, H]); // [n·C, H]
  const k = dense(p, 'pool.attn.k', layerNorm(p, 'pool.norm_kv', withPos)); // [n·C, H]
  const v = dense(p, 'pool.attn.v', e); // [n·C, H]
  const q1 = dense(p, 'pool.attn.q', layerNorm(p, 'pool.norm_q', param<tf.Tensor2D>(p, 'pool.queries'))); // [N, H]
  const q = tf.reshape<tf.Rank.R2>(tf.tile(tf.reshape(q1, [1, N, H]), [n, 1, 1]), [n * N, H]); // [n·N, H]
  const a = dense(p, 'pool.attn.out', attention(q, k, v, n, c.heads, null)); // [n·N, H]
  const y = tf.add(a, dense(p, 'pool.ff.fc2', silu(dense(p, 'pool.ff.fc1', layerNorm(p, 'pool.norm_ff', a))))); // [n·N, H]
  return tf.reshape(y, [n, N, H]);
}
