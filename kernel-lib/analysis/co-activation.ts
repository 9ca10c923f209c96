/**
 * Expert co-activation (Muennighoff et al. 2024, OLMoE §5): for experts i ≠ j at one layer,
 *
 *   CA(i, j) = N(i, j) / N(i)
 *
 * where N(i) counts tokens routed to i (i in the token's top-k) and N(i, j) tokens routed to both. The
 * paper (Fig. 3) uses it as a proxy for redundancy: experts that keep being chosen together may be doing
 * the same job.
 *
 * A property worth knowing: with distinct top-k experts per token, Σ_{j≠i} N(i, j) = (k − 1)·N(i), so the
 * plain mean of CA(i, j) over all i ≠ j (with N(i) > 0) is exactly (k − 1)/(E − 1) for ANY routing. It
 * is reported (`average`) because it is the textbook layer average, but it cannot move; how concentrated
 * each expert's partners are is what changes, and `topPartnerAverage` — the mean over used experts of
 * max_j CA(i, j), in [(k−1)/(E−1), 1] — measures that (1 when every expert has a partner it always fires
 * with). Per-layer curves (Fig. 3) should use it.
 */
import type { Modality } from '../tokenizer';
import { TraceLike, checkTraces } from './traces';

export interface CoActivationOptions {
  layer: number;
  /** Count only tokens of this modality (default: all). */
  modality?: Modality;
}

export interface CoActivation {
  layer: number;
  /** Tokens counted. */
  tokens: number;
  /** N(i, j) tokens routed to both i and j; the diagonal holds N(i). */
  counts: number[][];
  /** CA(i, j) = N(i, j) / N(i) for i ≠ j; 0 on the diagonal and in rows of unused experts. */
  matrix: number[][];
  /** Mean of CA(i, j) over i ≠ j with N(i) > 0 (≡ (k−1)/(E−1) with distinct top-k; see above). */
  average: number;
  /** Mean over experts with N(i) > 0 of max_{j≠i} CA(i, j). */
  topPartnerAverage: number;
  /** Experts with N(i) > 0. */
  usedExperts: number;
}

/** Co-activation at one layer over the tokens of one or many traces. */
export function expertCoActivation(traces: TraceLike | TraceLike[], opts: CoActivationOptions): CoActivation {
  const { list, E, k } = checkTraces(traces, opts.layer);
  const counts = Array.from({ length: E }, () => new Array<number>(E).fill(0));
  let tokens = 0;
  for (const t of list) {
    const ex = t.layers[opts.layer].experts;
    for (let n = 0; n < t.ids.length; n++) {
      if (opts.modality && t.modalities[n] !== opts.modality) continue;
      tokens++;
      const chosen = ex.subarray(n * k, (n + 1) * k);
      for (const i of chosen) for (const j of chosen) counts[i][j]++;
    }
  }
  const matrix = counts.map((row, i) => row.map((c, j) => (i !== j && row[i] > 0 ? c / row[i] : 0)));
  let sum = 0;
  let pairs = 0;
  let top = 0;
  let used = 0;
  for (let i = 0; i < E; i++) {
    if (counts[i][i] === 0) continue;
    used++;
    let mx = 0;
    for (let j = 0; j < E; j++) {
      if (j === i) continue;
      sum += matrix[i][j];
      pairs++;
      mx = Math.max(mx, matrix[i][j]);
    }
    top += mx;
  }
  return {
    layer: opts.layer,
    tokens,
    counts,
    matrix,
    average: pairs > 0 ? sum / pairs : NaN,
    topPartnerAverage: used > 0 ? top / used : NaN,
    usedExperts: used,
  };
}

/** expertCoActivation at every layer (the data of the paper's Fig. 3). */
export function coActivationByLayer(traces: TraceLike | TraceLike[], opts: { modality?: Modality } = {}): CoActivation[] {
  const { L } = checkTraces(traces);
  return Array.from({ length: L }, (_, layer) => expertCoActivation(traces, { layer, modality: opts.modality }));
}
