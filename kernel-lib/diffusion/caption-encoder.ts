/**
 * The caption encoder τ (MiniGPT-5's τ_θ, Eq. 4): a small bidirectional pre-LN transformer over the
 * project's BPE tokens → a conditioning sequence of L × d̂ with its padding mask. Trained jointly with the
 * denoiser; its output is exactly the kind of sequence a language model's feature mapper must produce.
 *
 *   ids [B, L] (padded) → embed + pos → layers × [x + attn(LN(x)), x + MLP(LN(x))] → LN → · mask
 *
 * Padded positions are zeroed at the output; the denoiser masks them anyway, so a caller may hand over
 * any sequence with any padding. An empty caption is all padding: the null conditioning.
 */
import * as tf from '@tensorflow/tfjs';
import type { ByteLevelBPE } from '../tokenizer/bpe';
import type { CaptionEncoderConfig } from './config';
import { attention, keyBiasFromMask } from './attention';
import { dense, layerNorm, param, Params, silu, sparseEmbedding } from './layers';

/** A conditioning sequence: seq [B, L, d̂] and mask [B, L] (1 = token, 0 = padding). */
export interface Conditioning {
  seq: tf.Tensor3D;
  mask: tf.Tensor2D;
}

/** Caption token ids, padded to maxTokens (host). */
export interface CaptionTokens {
  ids: Int32Array;
  mask: Float32Array;
  /** Tokens per caption before cutting to maxTokens. */
  lengths: number[];
  batch: number;
}

export function tokenizeCaptions(bpe: ByteLevelBPE, texts: readonly string[], cfg: CaptionEncoderConfig): CaptionTokens {
  const L = cfg.maxTokens;
  const ids = new Int32Array(texts.length * L);
  const mask = new Float32Array(texts.length * L);
  const lengths = texts.map((text, b) => {
    if (typeof text !== 'string') throw new Error(`caption ${b} must be a string, got ${typeof text}`);
    const t = bpe.encode(text);
    t.slice(0, L).forEach((id, i) => {
      if (id >= cfg.vocabSize) throw new Error(`caption ${b}: token id ${id} is outside the caption encoder's vocabulary of ${cfg.vocabSize}`);
      ids[b * L + i] = id;
      mask[b * L + i] = 1;
    });
    return t.length;
  });
  return { ids, mask, lengths, batch: texts.length };
}

/** τ(ids) → Conditioning (differentiable with respect to the caption parameters). */
export function encodeCaptionTokens(p: Params, cfg: CaptionEncoderConfig, tokens: CaptionTokens): Conditioning {
  const { batch: B } = tokens;
  const L = cfg.maxTokens;
  const d = cfg.dim;
  const mask = tf.tensor2d(tokens.mask, [B, L]);
  const bias = keyBiasFromMask(mask); // [B, L]
  const emb = sparseEmbedding(tokens.ids, param(p, 'caption.embed')); // [B·L, d̂]
  let x = tf.reshape(tf.add(tf.reshape(emb, [B, L, d]), param(p, 'caption.pos')), [B * L, d]) as tf.Tensor2D; // [B·L, d̂]
  for (let i = 0; i < cfg.layers; i++) {
    const l = `caption.layers.${i}`;
    const qkv = dense(p, `${l}.attn.qkv`, layerNorm(p, `${l}.norm1`, x)); // [B·L, 3d̂]
    const [q, k, v] = tf.split(qkv, 3, 1) as tf.Tensor2D[];
    x = tf.add(x, dense(p, `${l}.attn.out`, attention(q, k, v, B, cfg.heads, bias)));
    x = tf.add(x, dense(p, `${l}.mlp.fc2`, silu(dense(p, `${l}.mlp.fc1`, layerNorm(p, `${l}.norm2`, x)))));
  }
  const out = tf.mul(layerNorm(p, 'caption.norm', x), tf.reshape(mask, [B * L, 1])); // [B·L, d̂], padding zeroed
  return { seq: tf.reshape(out, [B, L, d]) as tf.Tensor3D, mask };
}
