/**
 * The small statistics several layers share, in one place below all of them: the paired-difference
 * mean and standard error (caption probes, paper claims), a max-shifted log-sum-exp over a row of logits
 * (perplexity, the conditioning probe, forced-token log-probabilities while decoding), and top-k expert
 * usage counted by modality (routing by modality, the expert-usage figure).
 */

/** Mean of paired differences and its standard error (sample s.d. / √n); needs n ≥ 2. */
export function pairedDifference(d: ArrayLike<number>): { mean: number; standardError: number } {
  const n = d.length;
  if (n < 2) throw new Error(`pairedDifference: needs at least 2 pairs, got ${n}`);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += d[i] / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (d[i] - mean) ** 2;
  return { mean, standardError: Math.sqrt(ss / (n - 1) / n) };
}

/** log Σ_v exp(logits[base + v]) over one row of V logits (max-shifted, so large logits do not overflow). */
export function rowLogSumExp(logits: ArrayLike<number>, base: number, V: number): number {
  let m = -Infinity;
  for (let v = 0; v < V; v++) m = Math.max(m, logits[base + v]);
  let z = 0;
  for (let v = 0; v < V; v++) z += Math.exp(logits[base + v] - m);
  return m + Math.log(z);
}

/** What usage counting reads from a routing trace: each token's modality and, per layer, its top-k experts [T·k]. */
export interface RoutedTokens {
  modalities: readonly string[];
  layers: readonly { experts: ArrayLike<number> }[];
  topK: number;
}

/** Top-k picks per expert for each counted modality and layer, and tokens per modality. */
export interface UsageCounts<M extends string> {
  /** counts[m][i][e]: picks of expert e at layers[i] by tokens of modality m. */
  counts: Record<M, number[][]>;
  tokens: Record<M, number>;
}

/**
 * Expert usage by modality at `layers`: every token counts once for each of its top-k experts. Tokens of
 * a modality not listed in `modalities` (e.g. specials, when only text and image are compared) are
 * skipped. The traces are not checked here; callers check them against their model first.
 */
export function expertUsageCounts<M extends string>(
  traces: readonly RoutedTokens[],
  numExperts: number,
  modalities: readonly M[],
  layers: readonly number[],
): UsageCounts<M> {
  const counts = {} as Record<M, number[][]>;
  const tokens = {} as Record<M, number>;
  for (const m of modalities) {
    counts[m] = layers.map(() => new Array<number>(numExperts).fill(0));
    tokens[m] = 0;
  }
  const counted = new Set<string>(modalities);
  for (const tr of traces) {
    const k = tr.topK;
    tr.modalities.forEach((mod, t) => {
      if (!counted.has(mod)) return;
      const m = mod as M;
      tokens[m]++;
      layers.forEach((l, i) => {
        const ex = tr.layers[l].experts;
        for (let s = 0; s < k; s++) counts[m][i][ex[t * k + s]]++;
      });
    });
  }
  return { counts, tokens };
}
