/**
 * Gromov–Wasserstein initialisation of new image-code rows (the paper's §2, after Mémoli 2011): the VQ
 * codebook and the text embeddings live in different spaces, but each has a geometry (its pairwise
 * distances). An entropic GW coupling T [n text rows, K codes] matches the two geometries, and each code's
 * new row is the barycentric projection of the text rows coupled to it:
 *
 *   row_k = Σ_i T[i,k] · E_text[i] / Σ_i T[i,k]
 *
 * so codes that are close in the codebook start close in the embedding (and the LM head), at the scale
 * and in the region the text rows occupy. Distances are Euclidean, each matrix scaled to a maximum of 1.
 * The other new rows (<boi>, <eoi>, <img>, vokens) get the default 'mean-noise' rows.
 *
 * Cost: one GW solve per grown matrix (embedding, and LM head when untied), about 20–30 s each at
 * n = K = 512 on one core (O(n²K + nK²) per outer iteration, ~35 iterations); `sampleSize` trades speed
 * for coverage of the text geometry.
 *
 * Importing this module registers the strategy as ROW_INIT_STRATEGIES 'gromov-wasserstein'.
 */
import type { HostTensor } from './params';
import { ROW_INIT_STRATEGIES, RowInitContext, RowInitStrategy } from './vocab-extend';
import { GWOptions, GWResult, barycentricProjection, entropicGromovWasserstein, pairwiseDistances } from './gromov-wasserstein';

export interface GWInitOptions extends GWOptions {
  /** Text rows sampled (without replacement, seeded) for the text geometry. Default 512. */
  sampleSize?: number;
  /** Called with each solve's result (diagnostics: objective, iterations, marginal error). */
  onSolve?: (r: GWResult & { target: RowInitContext['target']; sample: number[] }) => void;
}

function scaleToUnitMax(c: Float64Array): Float64Array {
  let mx = 0;
  for (const x of c) mx = Math.max(mx, x);
  if (mx > 0) for (let i = 0; i < c.length; i++) c[i] /= mx;
  return c;
}

/** k distinct indices of [0, n), in increasing order (partial Fisher–Yates with the context's RNG). */
function sampleIndices(n: number, k: number, rand: () => number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (n - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, k).sort((a, b) => a - b);
}

/** A 'gromov-wasserstein' row-init strategy with these solver options. */
export function gromovWassersteinInit(opts: GWInitOptions = {}): RowInitStrategy {
  return (ctx) => {
    const cb: HostTensor | undefined = ctx.imageCodebook;
    if (!cb) {
      throw new Error(
        "init strategy 'gromov-wasserstein' needs the image codebook: pass codebook (the VQ codebook, [numImageCodes, D]) " +
          "to Session.extendWithImages, or use another init ('mean-noise', 'mean', 'normal')",
      );
    }
    if (cb.shape.length !== 2 || cb.data.length !== cb.shape[0] * cb.shape[1]) throw new Error(`imageCodebook must be [K, D] with K·D values, got shape [${cb.shape}] with ${cb.data.length} values`);
    const [K, D] = cb.shape;
    const off = ctx.imageCodeOffset ?? 0;
    if (!Number.isInteger(off) || off < 0 || off + K > ctx.newRows) throw new Error(`the ${K} image-code rows at offset ${off} do not fit in the ${ctx.newRows} new rows`);
    const [V, H] = ctx.existing.shape;
    const textRows = ctx.textRows ?? V;
    if (!Number.isInteger(textRows) || textRows < 2 || textRows > V) throw new Error(`textRows ${textRows} must be an integer in [2, ${V}]`);

    const out = (ROW_INIT_STRATEGIES.get('mean-noise') as RowInitStrategy)(ctx); // every new row; the codes' are replaced
    const sample = sampleIndices(textRows, Math.min(opts.sampleSize ?? 512, textRows), ctx.rand);
    const n = sample.length;
    const X = new Float64Array(n * H); // [n, H] sampled text rows
    sample.forEach((r, i) => {
      for (let h = 0; h < H; h++) X[i * H + h] = ctx.existing.data[r * H + h];
    });
    const C1 = scaleToUnitMax(pairwiseDistances(X, n, H)); // [n, n]
    const C2 = scaleToUnitMax(pairwiseDistances(cb.data, K, D)); // [K, K]
    const res = entropicGromovWasserstein(C1, C2, n, K, opts);
    opts.onSolve?.({ ...res, target: ctx.target, sample });
    const rows = barycentricProjection(res.coupling, n, K, X, H); // [K, H]
    for (let x = 0; x < K * H; x++) out[off * H + x] = rows[x];
    return out;
  };
}

ROW_INIT_STRATEGIES.set('gromov-wasserstein', gromovWassersteinInit());
