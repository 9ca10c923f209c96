/** Token streams and deterministic batch samplers for language-model training recipes. */
import type { TrainBatch } from '../train/trainer';
import { mulberry32 } from '../util/random';

/** Concatenate documents as <bos> doc <eos> … into one stream. */
export function tokenStream(docs: Iterable<number[]>, bos: number, eos: number): Int32Array {
  const parts: number[] = [];
  for (const d of docs) {
    parts.push(bos);
    for (const id of d) parts.push(id);
    parts.push(eos);
  }
  return Int32Array.from(parts);
}

/**
 * Batches of random windows (seqLen + 1 tokens: inputs and shifted targets) from a stream; batch i
 * depends only on (seed, i), so a resumed run draws exactly the batches the uninterrupted one would.
 */
export function windowSampler(stream: Int32Array, o: { batchSize: number; seqLen: number; seed: number }): (step: number) => TrainBatch {
  const L = o.seqLen + 1;
  if (stream.length < L) throw new Error(`windowSampler: the stream has ${stream.length} tokens, fewer than one window of ${L}`);
  return (step) => {
    const rand = mulberry32((o.seed * 1000003 + step) >>> 0);
    const ids: number[][] = [];
    for (let b = 0; b < o.batchSize; b++) {
      const s = Math.floor(rand() * (stream.length - L + 1));
      ids.push(Array.from(stream.subarray(s, s + L)));
    }
    return { ids };
  };
}
