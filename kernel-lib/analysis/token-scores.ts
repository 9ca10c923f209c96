/**
 * Teacher-forced scores of every position of token rows: for position j of a row, the negative
 * log-likelihood (nats) of the row's next id, ids[j + 1], and whether the model's top logit is that id
 * (token accuracy). What the per-item evaluations of the paper folders read their numbers from (MoSS's
 * image-code and narration NLL, Liquid's image-code NLL and token accuracy, caption NLL, held-out text).
 *
 * Rows may differ in length: each batch of `batchSize` rows is padded at the end with <pad> to its longest
 * row, and causal attention keeps the padding out of every scored position. The log-softmax is taken
 * in-graph, so only a few numbers per position come back to the host. With `vocabLimit` n, each position's
 * NLL is also taken renormalised over the ids [0, n) (a grown model's text vocabulary: the probability it
 * gives the newer ids is left out); every scored target must then be one of them.
 */
import * as tf from '@tensorflow/tfjs';
import type { Session } from '../session';

export interface TokenScores {
  /** [ids.length − 1]: NLL of ids[j + 1] after ids[0..j], nats (full vocabulary). */
  nll: Float32Array;
  /** [ids.length − 1]: 1 where argmax of the logits at j is ids[j + 1] (ties to the lower id). */
  correct: Uint8Array;
  /** With `vocabLimit`: the NLL renormalised over ids below it. */
  limitedNll?: Float32Array;
}

export interface TokenScoreOptions {
  /** Rows per forward (default 4). */
  batchSize?: number;
  /** Also score each target renormalised over the ids [0, vocabLimit). */
  vocabLimit?: number;
  /** Called after each batch with (rows done, rows in all). */
  onProgress?: (done: number, total: number) => void;
  /** What errors start with (default 'tokenScores'). */
  what?: string;
}

/** Teacher-forced NLL and token accuracy at every position of every row (see the file comment). */
export function tokenScores(s: Session, rows: readonly (readonly number[])[], o: TokenScoreOptions = {}): TokenScores[] {
  const what = o.what ?? 'tokenScores';
  const bs = o.batchSize ?? 4;
  if (!Number.isInteger(bs) || bs < 1) throw new Error(`${what}: batchSize must be a positive integer, got ${JSON.stringify(o.batchSize)}`);
  const V = s.config.vocabSize;
  const Vt = o.vocabLimit;
  if (Vt !== undefined && !(Number.isInteger(Vt) && Vt >= 2 && Vt <= V)) throw new Error(`${what}: vocabLimit must be an integer in [2, ${V}], got ${Vt}`);
  rows.forEach((r, i) => {
    if (r.length < 2) throw new Error(`${what}: row ${i} has ${r.length} tokens; scoring needs at least 2`);
    if (r.length > s.config.maxPositions + 1) throw new Error(`${what}: a row of ${r.length} tokens is longer than the model's context (${s.config.maxPositions})`);
    if (Vt !== undefined) {
      const bad = r.findIndex((id, j) => j > 0 && id >= Vt);
      if (bad >= 0) throw new Error(`${what}: row ${i} has target ${r[bad]} at ${bad}, outside the vocabulary limit [0, ${Vt})`);
    }
  });
  const out: TokenScores[] = [];
  for (let b0 = 0; b0 < rows.length; b0 += bs) {
    const chunk = rows.slice(b0, b0 + bs);
    const B = chunk.length;
    const T = Math.max(...chunk.map((r) => r.length)) - 1;
    const inputs = chunk.map((r) => Array.from({ length: T }, (_, t) => (t < r.length ? r[t] : s.tokenizer.pad)));
    // flat index (position·V + target) of every position's target logit; padding positions point at id 0
    const pick = new Int32Array(B * T);
    chunk.forEach((r, b) => {
      for (let t = 0; t + 1 < r.length; t++) pick[b * T + t] = (b * T + t) * V + r[t + 1];
    });
    let nll = new Float32Array(0);
    let top = new Int32Array(0);
    let limited: Float32Array | null = null;
    tf.tidy(() => {
      const r = s.model.forwardTensors(tf.tensor2d(inputs, [B, T], 'int32'), { capture: 'none', positions: s.positions(inputs) });
      const logits = tf.reshape(r.logits, [B * T, V]); // [B·T, V]
      const target = tf.gather(tf.reshape(logits, [-1]), tf.tensor1d(pick, 'int32')); // [B·T]
      nll = tf.sub(tf.logSumExp(logits, -1), target).dataSync() as Float32Array;
      top = tf.argMax(logits, -1).dataSync() as Int32Array;
      if (Vt !== undefined) limited = tf.sub(tf.logSumExp(tf.slice(logits, [0, 0], [B * T, Vt]), -1), target).dataSync() as Float32Array;
    });
    chunk.forEach((r, b) => {
      const n = r.length - 1;
      const correct = new Uint8Array(n);
      for (let t = 0; t < n; t++) correct[t] = top[b * T + t] === r[t + 1] ? 1 : 0;
      const l = limited as Float32Array | null;
      out.push({ nll: nll.slice(b * T, b * T + n), correct, ...(l ? { limitedNll: l.slice(b * T, b * T + n) } : {}) });
    });
    o.onProgress?.(Math.min(rows.length, b0 + bs), rows.length);
  }
  return out;
}
