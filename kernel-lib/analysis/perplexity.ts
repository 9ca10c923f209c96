/**
 * Language-model perplexity on a token stream, and a bigram baseline to measure it against.
 * Both score exactly the same predictions: every token of every window after its first.
 */
import type { MoEModel } from '../model/model';
import { modalityCodes } from '../model/adapter-seam';
import type { Modality } from '../tokenizer';
import { rowLogSumExp } from '../util/stats';

export interface PerplexityResult {
  perplexity: number;
  /** Mean negative log-likelihood in nats. */
  nll: number;
  tokens: number;
  /**
   * With `textVocabulary` n: the same predictions renormalised over the ids [0, n) only (a grown model's
   * text vocabulary), so the probability the model gives to the newer ids (image codes, …) is left out.
   */
  textOnly?: { perplexity: number; nll: number };
}

/** Non-overlapping windows of `seqLen` tokens from the stream (the tail shorter than 2 is dropped). */
export function windows(stream: ArrayLike<number>, seqLen: number, maxTokens = Infinity): number[][] {
  const out: number[][] = [];
  const end = Math.min(stream.length, maxTokens);
  for (let s = 0; s + 2 <= end; s += seqLen) out.push(Array.from({ length: Math.min(seqLen, end - s) }, (_, j) => stream[s + j]));
  return out;
}

export interface PerplexityOptions {
  /** Window length (default 128). */
  seqLen?: number;
  /** Windows per forward (default 8). */
  batchSize?: number;
  /** Score at most the first this many tokens of the stream. */
  maxTokens?: number;
  modalityOf?: (id: number) => Modality;
  /** Also score every prediction renormalised over the ids below this (`textOnly`); every target must be one of them. */
  textVocabulary?: number;
  /** Called after each batch with (windows done, windows in all). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * exp(mean NLL) of the model on `stream`, in batches of equal-length windows. With `modalityOf` (a
 * vocabulary's), each token's modality reaches the adapters (needed with Partial LoRA attached).
 */
export function modelPerplexity(
  model: MoEModel,
  stream: ArrayLike<number>,
  o: PerplexityOptions = {},
): PerplexityResult {
  const seqLen = o.seqLen ?? 128;
  const ws = windows(stream, seqLen, o.maxTokens);
  const V = model.config.vocabSize;
  const Vt = o.textVocabulary;
  if (Vt !== undefined && !(Number.isInteger(Vt) && Vt >= 2 && Vt <= V)) throw new Error(`modelPerplexity: textVocabulary must be an integer in [2, ${V}], got ${Vt}`);
  let nll = 0;
  let nllText = 0;
  let n = 0;
  let done = 0;
  // group windows by length (all full but the last) so each batch is rectangular
  const byLen = new Map<number, number[][]>();
  for (const w of ws) {
    const group = byLen.get(w.length);
    if (group) group.push(w);
    else byLen.set(w.length, [w]);
  }
  for (const [T, group] of byLen) {
    for (let b = 0; b < group.length; b += o.batchSize ?? 8) {
      const batch = group.slice(b, b + (o.batchSize ?? 8));
      const modalities = o.modalityOf ? modalityCodes(batch.flat(), o.modalityOf) : undefined;
      const r = model.forward(batch, { capture: 'none', modalities });
      batch.forEach((row, bi) => {
        for (let t = 0; t + 1 < T; t++) {
          const base = (bi * T + t) * V;
          const target = r.logits[base + row[t + 1]];
          nll += rowLogSumExp(r.logits, base, V) - target;
          if (Vt !== undefined) {
            if (row[t + 1] >= Vt) throw new Error(`modelPerplexity: token ${row[t + 1]} is outside the text vocabulary [0, ${Vt})`);
            nllText += rowLogSumExp(r.logits, base, Vt) - target;
          }
          n++;
        }
      });
      done += batch.length;
      o.onProgress?.(done, ws.length);
    }
  }
  return { perplexity: Math.exp(nll / n), nll: nll / n, tokens: n, ...(Vt !== undefined ? { textOnly: { perplexity: Math.exp(nllText / n), nll: nllText / n } } : {}) };
}

/**
 * Interpolated bigram model: p(b | a) = λ·c(a,b)/c(a) + (1−λ)·p_uni(b), with add-one unigrams.
 * λ is chosen on a held-out stream from a small grid.
 */
export class BigramBaseline {
  private readonly pair = new Map<number, number>();
  private readonly first: Float64Array;
  private readonly uni: Float64Array;
  lambda = 0.7;

  constructor(train: ArrayLike<number>, readonly vocabSize: number) {
    this.first = new Float64Array(vocabSize);
    this.uni = new Float64Array(vocabSize).fill(1);
    let total = vocabSize;
    for (let i = 0; i < train.length; i++) {
      this.uni[train[i]]++;
      total++;
      if (i + 1 < train.length) {
        this.first[train[i]]++;
        const k = train[i] * vocabSize + train[i + 1];
        this.pair.set(k, (this.pair.get(k) ?? 0) + 1);
      }
    }
    for (let v = 0; v < vocabSize; v++) this.uni[v] /= total;
  }

  prob(a: number, b: number): number {
    const ca = this.first[a];
    const big = ca > 0 ? (this.pair.get(a * this.vocabSize + b) ?? 0) / ca : 0;
    return (ca > 0 ? this.lambda : 0) * big + (1 - (ca > 0 ? this.lambda : 0)) * this.uni[b];
  }

  /** Pick λ on `heldOut` windows (the same windows the model is scored on). */
  tune(heldOut: ArrayLike<number>, seqLen = 128): number {
    let best = { lambda: this.lambda, ppl: Infinity };
    for (const lambda of [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]) {
      this.lambda = lambda;
      const p = this.perplexity(heldOut, seqLen).perplexity;
      if (p < best.ppl) best = { lambda, ppl: p };
    }
    this.lambda = best.lambda;
    return best.lambda;
  }

  perplexity(stream: ArrayLike<number>, seqLen = 128, maxTokens = Infinity): PerplexityResult {
    let nll = 0;
    let n = 0;
    for (const w of windows(stream, seqLen, maxTokens)) {
      for (let t = 0; t + 1 < w.length; t++) {
        nll -= Math.log(this.prob(w[t], w[t + 1]));
        n++;
      }
    }
    return { perplexity: Math.exp(nll / n), nll: nll / n, tokens: n };
  }
}
