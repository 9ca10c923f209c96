/**
 * The small statistics several layers share, in one place below all of them: the paired-difference
 * mean and standard error (caption probes, paper claims), a max-shifted log-sum-exp over a row of logits
 * (perplexity, the conditioning probe, forced-token log-probabilities while decoding), top-k expert
 * usage counted by modality (routing by modality, the expert-usage figure), and the rank correlation and
 * log–log line of a scaling claim (Liquid's "the gap shrinks as the model grows", loss vs compute).
 */

/** Arithmetic mean (NaN for none). */
export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The median, the mean of the two middle values for an even count (NaN for none). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/**
 * The upper of the two middle values for an even count (the middle one for an odd count; NaN for none):
 * always one of the samples, as step-time medians report them (a measured step, not an average of two).
 */
export function upperMedian(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  return [...xs].sort((a, b) => a - b)[xs.length >> 1];
}

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

/** Ranks 1…n of `x`, ties given the mean of the ranks they span. */
function ranks(x: readonly number[]): number[] {
  const order = x.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v);
  const r = new Array<number>(x.length);
  for (let a = 0; a < order.length; ) {
    let b = a;
    while (b + 1 < order.length && order[b + 1].v === order[a].v) b++;
    for (let k = a; k <= b; k++) r[order[k].i] = (a + b) / 2 + 1;
    a = b + 1;
  }
  return r;
}

/**
 * Spearman's rank correlation: Pearson's correlation of the ranks (ties at their mean rank), in [−1, 1].
 * Needs at least 2 pairs of finite numbers; NaN when either side is constant.
 */
export function spearman(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new Error(`spearman: ${x.length} x values but ${y.length} y values`);
  if (x.length < 2) throw new Error(`spearman: needs at least 2 pairs, got ${x.length}`);
  if (![...x, ...y].every(Number.isFinite)) throw new Error('spearman: every value must be a finite number');
  const rx = ranks(x);
  const ry = ranks(y);
  const m = (x.length + 1) / 2;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (rx[i] - m) * (ry[i] - m);
    sxx += (rx[i] - m) ** 2;
    syy += (ry[i] - m) ** 2;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}

/**
 * The least-squares line through (ln x, ln y): y ≈ prefactor · x^exponent, with r² of the fit in log space
 * (a scaling law's "loss vs compute"). Needs at least 2 points with x, y > 0 and two distinct x.
 */
export function logLogFit(x: readonly number[], y: readonly number[]): { exponent: number; prefactor: number; r2: number } {
  if (x.length !== y.length) throw new Error(`logLogFit: ${x.length} x values but ${y.length} y values`);
  if (x.length < 2) throw new Error(`logLogFit: needs at least 2 points, got ${x.length}`);
  if (![...x, ...y].every((v) => Number.isFinite(v) && v > 0)) throw new Error('logLogFit: every value must be a finite number > 0');
  const lx = x.map(Math.log);
  const ly = y.map(Math.log);
  const n = x.length;
  const mx = lx.reduce((a, b) => a + b, 0) / n;
  const my = ly.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (lx[i] - mx) * (ly[i] - my);
    sxx += (lx[i] - mx) ** 2;
    syy += (ly[i] - my) ** 2;
  }
  if (sxx === 0) throw new Error('logLogFit: needs two distinct x values');
  const exponent = sxy / sxx;
  return { exponent, prefactor: Math.exp(my - exponent * mx), r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}
