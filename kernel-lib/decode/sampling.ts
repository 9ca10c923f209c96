/**
 * Next-token choice on the host: temperature, top-k, top-p (nucleus), an allowed-id mask, seeded.
 * Greedy (temperature 0) picks the highest logit, ties to the lowest id. Reported probabilities are
 * the model's distribution after masking (temperature 1), so a logprob means the same thing whatever
 * the sampling settings.
 */
export interface SamplingOptions {
  /** 0 = greedy. Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 or undefined = all). */
  topK?: number;
  /** Keep the smallest set whose probability reaches p (1 = all). */
  topP?: number;
}

export interface Choice {
  tokenId: number;
  /** log p(token) under the masked model distribution. */
  logprob: number;
  /** The most likely tokens under that distribution, best first (ties → lower id). */
  top: { tokenId: number; prob: number }[];
}

export function validateSampling(o: SamplingOptions): Required<SamplingOptions> {
  const temperature = o.temperature ?? 1;
  const topK = o.topK ?? 0;
  const topP = o.topP ?? 1;
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0) {
    throw new Error(`temperature must be a finite number ≥ 0, got ${JSON.stringify(o.temperature)}`);
  }
  if (!Number.isInteger(topK) || topK < 0) throw new Error(`topK must be an integer ≥ 0, got ${JSON.stringify(o.topK)}`);
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) throw new Error(`topP must be in (0, 1], got ${JSON.stringify(o.topP)}`);
  return { temperature, topK, topP };
}

/** Indices of the n largest values (descending, ties → lower index), skipping −∞. */
export function topIndices(values: Float32Array, n: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === -Infinity) continue;
    if (best.length === n && v <= values[best[n - 1]]) continue;
    let j = best.length < n ? best.length : n - 1;
    if (best.length < n) best.push(i);
    while (j > 0 && values[best[j - 1]] < v) {
      best[j] = best[j - 1];
      j--;
    }
    best[j] = i;
  }
  return best;
}

/**
 * Choose the next token. `logits` is modified in place: ids outside `allowed` are set to −∞.
 * `rand` is a seeded uniform [0, 1) source (used once per call when sampling).
 */
export function chooseToken(
  logits: Float32Array,
  o: Required<SamplingOptions>,
  rand: () => number,
  allowed?: (id: number) => boolean,
  topN = 5,
): Choice {
  const V = logits.length;
  if (allowed) for (let i = 0; i < V; i++) if (!allowed(i)) logits[i] = -Infinity;
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] > max) max = logits[i];
  if (max === -Infinity || Number.isNaN(max)) throw new Error('No token can be sampled: every allowed logit is −∞ or NaN');
  // Model distribution (temperature 1) for logprob and `top`.
  let z = 0;
  for (let i = 0; i < V; i++) z += Math.exp(logits[i] - max);
  const logZ = max + Math.log(z);
  const topIds = topIndices(logits, topN);
  const top = topIds.map((id) => ({ tokenId: id, prob: Math.exp(logits[id] - logZ) }));
  let tokenId: number;
  if (o.temperature === 0) {
    tokenId = topIds[0];
  } else {
    // Candidate set: top-k, then top-p over the tempered distribution.
    const k = o.topK > 0 ? Math.min(o.topK, V) : V;
    let cand: number[];
    if (k <= 64) {
      cand = topIndices(logits, k); // insertion into a short sorted list
    } else if (o.topP < 1 || k < V) {
      cand = [];
      for (let i = 0; i < V; i++) if (logits[i] !== -Infinity) cand.push(i);
      cand.sort((a, b) => logits[b] - logits[a] || a - b);
      if (cand.length > k) cand.length = k;
    } else {
      cand = [];
      for (let i = 0; i < V; i++) if (logits[i] !== -Infinity) cand.push(i);
    }
    const w = cand.map((id) => Math.exp((logits[id] - max) / o.temperature));
    if (o.topP < 1) {
      // cand is sorted descending when topP < 1
      const total = w.reduce((a, b) => a + b, 0);
      let acc = 0;
      let cut = cand.length;
      for (let i = 0; i < cand.length; i++) {
        acc += w[i] / total;
        if (acc >= o.topP) {
          cut = i + 1;
          break;
        }
      }
      cand = cand.slice(0, cut);
      w.length = cut;
    }
    const total = w.reduce((a, b) => a + b, 0);
    let r = rand() * total;
    tokenId = cand[cand.length - 1];
    for (let i = 0; i < cand.length; i++) {
      r -= w[i];
      if (r < 0) {
        tokenId = cand[i];
        break;
      }
    }
  }
  return { tokenId, logprob: logits[tokenId] - logZ, top };
}
