/**
 * Routing by modality (the paper's Fig. 4): how many text and image tokens each expert receives at a layer
 * (every token counts once for each of its top-k experts), the two normalised distributions, and one
 * exclusivity number per layer — their Jensen–Shannon divergence in bits, 0 when text and image tokens
 * use the experts in the same proportions, 1 when no expert serves both.
 */
import { TraceLike, checkTraces } from './traces';
import { expertUsageCounts } from '../util/stats';

export interface RoutingByModality {
  layer: number;
  /** Tokens of each modality. */
  tokens: { text: number; image: number };
  /** Top-k picks per expert [E]. */
  counts: { text: number[]; image: number[] };
  /** counts / Σ counts (all zeros for a modality with no tokens). */
  distributions: { text: number[]; image: number[] };
  /** JSD(text ‖ image), base 2, in [0, 1]; NaN when a modality has no tokens. */
  exclusivity: number;
}

/**
 * Jensen–Shannon divergence in bits: ½·KL(p ‖ m) + ½·KL(q ‖ m), m = (p + q)/2, 0·log 0 = 0. Inputs are
 * normalised first (they need not sum to 1, but must have positive mass).
 */
export function jensenShannon(p: ArrayLike<number>, q: ArrayLike<number>): number {
  if (p.length !== q.length) throw new Error(`jensenShannon: distributions of ${p.length} and ${q.length} entries`);
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    if (!(p[i] >= 0) || !(q[i] >= 0)) throw new Error(`jensenShannon: entry ${i} is negative or NaN`);
    sp += p[i];
    sq += q[i];
  }
  if (!(sp > 0) || !(sq > 0)) throw new Error('jensenShannon: both distributions need positive mass');
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i] / sp;
    const b = q[i] / sq;
    const m = (a + b) / 2;
    if (a > 0) d += 0.5 * a * Math.log2(a / m);
    if (b > 0) d += 0.5 * b * Math.log2(b / m);
  }
  return Math.min(1, Math.max(0, d)); // clamp rounding just outside [0, 1]
}

export function routingByModality(traces: TraceLike | TraceLike[], opts: { layer: number }): RoutingByModality {
  const { list, E } = checkTraces(traces, opts.layer);
  // specials (<bos>, <boi>, …) are neither text nor image, so they are not counted
  const usage = expertUsageCounts(list, E, ['text', 'image'] as const, [opts.layer]);
  const counts = { text: usage.counts.text[0], image: usage.counts.image[0] };
  const tokens = usage.tokens;
  const norm = (c: number[]): number[] => {
    const s = c.reduce((a, b) => a + b, 0);
    return c.map((x) => (s > 0 ? x / s : 0));
  };
  return {
    layer: opts.layer,
    tokens,
    counts,
    distributions: { text: norm(counts.text), image: norm(counts.image) },
    exclusivity: tokens.text > 0 && tokens.image > 0 ? jensenShannon(counts.text, counts.image) : NaN,
  };
}

/** Exclusivity (JSD, bits) at every layer, first to last. */
export function exclusivityByDepth(traces: TraceLike | TraceLike[]): number[] {
  const { L } = checkTraces(traces);
  return Array.from({ length: L }, (_, layer) => routingByModality(traces, { layer }).exclusivity);
}
