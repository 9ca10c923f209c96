/**
 * Growing a text-only model's vocabulary: the embedding [V, H] gains rows and the LM head [H, V]
 * gains columns for the new ids (image codes, <boi>/<eoi>, vokens), initialised by a named strategy.
 * Strategies are a registry (a plain Map) so papers can add theirs (Gromov–Wasserstein, …).
 */
import type { MoEConfig } from './config';
import { HostTensor } from './params';
import { mulberry32, normalArray } from '../util/random';

/** Context a strategy sees: the existing rows (as [V, H] row-major), how many to add, a seeded RNG. */
export interface RowInitContext {
  existing: HostTensor;
  newRows: number;
  rand: () => number;
  /** Which matrix is grown ('embed' or 'lm_head', both given as [V, H] rows). */
  target: 'embed' | 'lm_head';
  /** The image tokenizer's codebook [K, D] (one row per image code), for strategies that use its geometry. */
  imageCodebook?: HostTensor;
  /** Index among the new rows of image code 0 (the codes' rows are consecutive). Default 0. */
  imageCodeOffset?: number;
  /** How many leading existing rows are text tokens (the rest are specials). Default: all. */
  textRows?: number;
}

/** What a caller of growVocabulary may tell strategies about the new rows (see RowInitContext). */
export type RowInitExtras = Pick<RowInitContext, 'imageCodebook' | 'imageCodeOffset' | 'textRows'>;

/** Returns [newRows, H] row-major. */
export type RowInitStrategy = (ctx: RowInitContext) => Float32Array;

function rowMeanStd(t: HostTensor): { mean: Float32Array; std: number } {
  const [V, H] = t.shape;
  const mean = new Float64Array(H);
  for (let v = 0; v < V; v++) for (let h = 0; h < H; h++) mean[h] += t.data[v * H + h];
  for (let h = 0; h < H; h++) mean[h] /= V;
  let ss = 0;
  for (let v = 0; v < V; v++) for (let h = 0; h < H; h++) ss += (t.data[v * H + h] - mean[h]) ** 2;
  return { mean: Float32Array.from(mean), std: Math.sqrt(ss / (V * H)) };
}

export const ROW_INIT_STRATEGIES = new Map<string, RowInitStrategy>([
  [
    // Mean of the existing rows plus Gaussian noise at the existing rows' spread (Hewitt 2021's
    // recipe for new tokens: keeps new logits near the average so training starts calmly).
    'mean-noise',
    ({ existing, newRows, rand }) => {
      const H = existing.shape[1];
      const { mean, std } = rowMeanStd(existing);
      const noise = normalArray(newRows * H, std, rand);
      for (let r = 0; r < newRows; r++) for (let h = 0; h < H; h++) noise[r * H + h] += mean[h];
      return noise;
    },
  ],
  ['mean', ({ existing, newRows }) => {
    const H = existing.shape[1];
    const { mean } = rowMeanStd(existing);
    const out = new Float32Array(newRows * H);
    for (let r = 0; r < newRows; r++) out.set(mean, r * H);
    return out;
  }],
  ['normal', ({ existing, newRows, rand }) => normalArray(newRows * existing.shape[1], rowMeanStd(existing).std, rand)],
]);

function transpose(t: HostTensor): HostTensor {
  const [r, c] = t.shape;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j];
  return { shape: [c, r], data: out };
}

/**
 * Returns the config and internal host params of the model with `newVocabSize` ids (≥ the old one).
 * Every existing weight is copied unchanged.
 */
export function growVocabulary(
  cfg: MoEConfig,
  params: Map<string, HostTensor>,
  newVocabSize: number,
  strategy = 'mean-noise',
  seed = 0,
  extras: RowInitExtras = {},
): { config: MoEConfig; params: Map<string, HostTensor> } {
  const init = ROW_INIT_STRATEGIES.get(strategy);
  if (!init) throw new Error(`Unknown init strategy '${strategy}'; expected one of ${[...ROW_INIT_STRATEGIES.keys()].join(', ')}`);
  const V = cfg.vocabSize;
  const H = cfg.hiddenSize;
  const n = newVocabSize - V;
  if (!Number.isInteger(newVocabSize) || n < 0) throw new Error(`new vocabulary size ${newVocabSize} must be an integer ≥ the current ${V}`);
  const rand = mulberry32(seed);
  const out = new Map(params);
  const grow = (rows: HostTensor, target: 'embed' | 'lm_head'): HostTensor => {
    const added = init({ ...extras, existing: rows, newRows: n, rand, target });
    if (added.length !== n * H) throw new Error(`init strategy '${strategy}' returned ${added.length} values, expected ${n * H}`);
    const data = new Float32Array((V + n) * H);
    data.set(rows.data);
    data.set(added, V * H);
    return { shape: [V + n, H], data };
  };
  const embed = params.get('embed');
  if (!embed) throw new Error("growVocabulary: parameter 'embed' is missing");
  out.set('embed', grow(embed, 'embed'));
  if (!cfg.tieWordEmbeddings) {
    const head = params.get('lm_head');
    if (!head) throw new Error("growVocabulary: parameter 'lm_head' is missing");
    out.set('lm_head', transpose(grow(transpose(head), 'lm_head'))); // [H, V] stored; grown as rows of [V, H]
  }
  return { config: { ...cfg, vocabSize: newVocabSize }, params: out };
}
