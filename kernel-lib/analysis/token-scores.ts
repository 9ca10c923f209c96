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
 *
 * The LM head and the log-softmax run on the scored positions only (MoEModel.forwardStates, then model.head on
 * those rows): not on the padding, and with `from`, not on a row's positions before its first scored one (a
 * prompt whose targets are not scored). Each position's numbers are those of the head over every position, bit
 * for bit (rows of a GEMM and of a row-wise log-sum-exp do not depend on the others).
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
  /**
   * Per row, the first position scored (default 0 for every row): a caller that reads the targets of a row's
   * end only (MoSS's and Liquid's item scores) skips the head on the rest. Positions before it come back
   * unscored: NaN NLL (and limited NLL), correct 0. At most ids.length − 1 (nothing scored).
   */
  from?: readonly number[];
}

/** Teacher-forced NLL and token accuracy at every position of every row (see the file comment). */
export function tokenScores(s: Session, rows: readonly (readonly number[])[], o: TokenScoreOptions = {}): TokenScores[] {
  const what = o.what ?? 'tokenScores';
  const bs = o.batchSize ?? 4;
  if (!Number.isInteger(bs) || bs < 1) throw new Error(`${what}: batchSize must be a positive integer, got ${JSON.stringify(o.batchSize)}`);
  const V = s.config.vocabSize;
  const Vt = o.vocabLimit;
  if (Vt !== undefined && !(Number.isInteger(Vt) && Vt >= 2 && Vt <= V)) throw new Error(`${what}: vocabLimit must be an integer in [2, ${V}], got ${Vt}`);
  const from = o.from;
  if (from !== undefined && (!Array.isArray(from) || from.length !== rows.length)) throw new Error(`${what}: from must give one position per row (${rows.length}), got ${Array.isArray(from) ? from.length : JSON.stringify(from)}`);
  rows.forEach((r, i) => {
    if (r.length < 2) throw new Error(`${what}: row ${i} has ${r.length} tokens; scoring needs at least 2`);
    if (r.length > s.config.maxPositions + 1) throw new Error(`${what}: a row of ${r.length} tokens is longer than the model's context (${s.config.maxPositions})`);
    if (from && !(Number.isInteger(from[i]) && from[i] >= 0 && from[i] <= r.length - 1)) throw new Error(`${what}: from[${i}] must be an integer in [0, ${r.length - 1}] (row ${i} has ${r.length} tokens), got ${JSON.stringify(from[i])}`);
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
    // the scored positions (flat b·T + t, from each row's `from` to its last target) and, in the head's output
    // [R, V], the flat index of each one's target logit; padding and earlier positions run no head
    const at: number[] = [];
    const pick: number[] = [];
    chunk.forEach((r, b) => {
      for (let t = from?.[b0 + b] ?? 0; t + 1 < r.length; t++) {
        pick.push(at.length * V + r[t + 1]);
        at.push(b * T + t);
      }
    });
    let nll = new Float32Array(0);
    let top = new Int32Array(0);
    let limited: Float32Array | null = null;
    if (at.length > 0) {
      tf.tidy(() => {
        const r = s.model.forwardStates(tf.tensor2d(inputs, [B, T], 'int32'), { capture: 'none', positions: s.positions(inputs) });
        const x = at.length === B * T ? r.states : (tf.gather(r.states, tf.tensor1d(at, 'int32')) as tf.Tensor2D); // [R, H]
        const logits = s.model.head(x); // [R, V]
        const target = tf.gather(tf.reshape(logits, [-1]), tf.tensor1d(pick, 'int32')); // [R]
        nll = tf.sub(tf.logSumExp(logits, -1), target).dataSync() as Float32Array;
        top = tf.argMax(logits, -1).dataSync() as Int32Array;
        if (Vt !== undefined) limited = tf.sub(tf.logSumExp(tf.slice(logits, [0, 0], [at.length, Vt]), -1), target).dataSync() as Float32Array;
      });
    }
    let k = 0; // index into the scored positions, in the order `at` lists them
    chunk.forEach((r, b) => {
      const n = r.length - 1;
      const l = limited as Float32Array | null;
      const row = { nll: new Float32Array(n).fill(NaN), correct: new Uint8Array(n), ...(Vt !== undefined ? { limitedNll: new Float32Array(n).fill(NaN) } : {}) };
      for (let t = from?.[b0 + b] ?? 0; t < n; t++, k++) {
        row.nll[t] = nll[k];
        row.correct[t] = top[k] === r[t + 1] ? 1 : 0;
        if (l) row.limitedNll![t] = l[k];
      }
      out.push(row);
    });
    o.onProgress?.(Math.min(rows.length, b0 + bs), rows.length);
  }
  return out;
}
