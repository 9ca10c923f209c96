/**
 * The feature mapper's configuration (MiniGPT-5 Eq. 2), validated in one place with messages that name the
 * field, its parameter names and shapes, and its seeded initialisation.
 *
 *   ĥ = EncDec(MLP(h_voken), q) ∈ R^{L × d̂}
 *
 * h_voken: the LM's output hidden states (final norm) at the n voken positions [n, H]; MLP: H → d̂ → d̂;
 * EncDec: a pre-LN transformer (torch's nn.Transformer with norm_first, as the paper's code) whose encoder
 * reads the n mapped vokens and whose decoder turns L queries q into the output, with cross-attention to
 * the encoder. L and d̂ are the diffusion decoder's caption encoder's (maxTokens, dim), so ĥ can stand in
 * for τ(caption). Table 7's variants: fixed (non-learnable) queries; a decoder-only mapper (no queries: a
 * self-attention stack over the n mapped vokens, its n outputs padded to L and the padding masked).
 */
import type { HostTensor } from '../../model/params';
import { mulberry32, normalArray } from '../../util/random';
import { selfBlockShapes } from '../../diffusion/blocks';

export type MapperKind = 'enc-dec' | 'decoder-only';
export const MAPPER_KINDS: readonly MapperKind[] = ['enc-dec', 'decoder-only'];

export interface MapperConfig {
  /** Width H of the LM's hidden states. */
  hiddenSize: number;
  /** Vokens per image (n). */
  numVokens: number;
  /** Output length L and width d̂ (the decoder's caption encoder's maxTokens and dim). */
  length: number;
  dim: number;
  kind: MapperKind;
  /** Encoder and decoder layers (the paper: 4 and 4); decoder-only has encoderLayers + decoderLayers blocks. */
  encoderLayers: number;
  decoderLayers: number;
  heads: number;
  /** Feed-forward width = mlpRatio · d̂ (nn.Transformer's dim_feedforward = 4 · d_model in the paper's code). */
  mlpRatio: number;
  /** Whether the queries q train (Table 7's "fixed queries": false). Ignored by decoder-only. */
  learnableQueries: boolean;
}

/** The defaults for an LM of width H with n vokens and a decoder conditioning of L × d̂. */
export function defaultMapperConfig(shape: { hiddenSize: number; numVokens: number; length: number; dim: number }, overrides: Partial<MapperConfig> = {}): MapperConfig {
  return { ...shape, kind: 'enc-dec', encoderLayers: 2, decoderLayers: 2, heads: 4, mlpRatio: 4, learnableQueries: true, ...overrides };
}

const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** Throws an Error naming the first bad field. */
export function validateMapperConfig(c: MapperConfig): void {
  if (typeof c !== 'object' || c === null) throw new Error('MapperConfig must be an object');
  for (const k of ['hiddenSize', 'numVokens', 'length', 'dim', 'heads', 'mlpRatio'] as const) {
    if (!posInt(c[k])) throw new Error(`MapperConfig.${k} must be a positive integer, got ${JSON.stringify(c[k])}`);
  }
  for (const k of ['encoderLayers', 'decoderLayers'] as const) {
    if (!(typeof c[k] === 'number' && Number.isInteger(c[k]) && c[k] >= 0)) throw new Error(`MapperConfig.${k} must be a non-negative integer, got ${JSON.stringify(c[k])}`);
  }
  if (!MAPPER_KINDS.includes(c.kind)) throw new Error(`MapperConfig.kind must be one of ${MAPPER_KINDS.join(', ')}, got ${JSON.stringify(c.kind)}`);
  if (c.dim % c.heads !== 0) throw new Error(`MapperConfig.dim (${c.dim}) must be divisible by heads (${c.heads})`);
  if (typeof c.learnableQueries !== 'boolean') throw new Error(`MapperConfig.learnableQueries must be true or false, got ${JSON.stringify(c.learnableQueries)}`);
  if (c.kind === 'enc-dec' && c.decoderLayers < 1) throw new Error('MapperConfig.decoderLayers must be at least 1 for an enc-dec mapper (the queries are read out by the decoder)');
  if (c.kind === 'decoder-only' && c.encoderLayers + c.decoderLayers < 1) throw new Error('MapperConfig: a decoder-only mapper needs at least one block (encoderLayers + decoderLayers ≥ 1)');
  if (c.kind === 'decoder-only' && c.numVokens > c.length) {
    throw new Error(`MapperConfig: a decoder-only mapper outputs one position per voken, so numVokens (${c.numVokens}) must be at most length (${c.length})`);
  }
}

/** Parameter names (all under `mapper.`) and shapes; linear weights are [in, out]. */
export function mapperParamShapes(c: MapperConfig): Map<string, number[]> {
  validateMapperConfig(c);
  const m = new Map<string, number[]>();
  const d = c.dim;
  const lin = (name: string, i: number, o: number): void => {
    m.set(`${name}.weight`, [i, o]);
    m.set(`${name}.bias`, [o]);
  };
  const norm = (name: string): void => {
    m.set(`${name}.weight`, [d]);
    m.set(`${name}.bias`, [d]);
  };
  const selfBlock = (b: string): void => {
    for (const [name, shape] of selfBlockShapes(b, d, c.mlpRatio)) m.set(name, shape);
  };
  lin('mapper.mlp.fc1', c.hiddenSize, d);
  lin('mapper.mlp.fc2', d, d);
  if (c.kind === 'decoder-only') {
    for (let i = 0; i < c.encoderLayers + c.decoderLayers; i++) selfBlock(`mapper.blocks.${i}`);
    norm('mapper.norm');
    return m;
  }
  for (let i = 0; i < c.encoderLayers; i++) selfBlock(`mapper.encoder.layers.${i}`);
  norm('mapper.encoder.norm');
  m.set('mapper.queries', [c.length, d]);
  for (let i = 0; i < c.decoderLayers; i++) {
    const b = `mapper.decoder.layers.${i}`;
    norm(`${b}.norm1`);
    lin(`${b}.attn.qkv`, d, 3 * d);
    lin(`${b}.attn.out`, d, d);
    norm(`${b}.norm2`);
    lin(`${b}.cross.q`, d, d);
    lin(`${b}.cross.kv`, d, 2 * d);
    lin(`${b}.cross.out`, d, d);
    norm(`${b}.norm3`);
    lin(`${b}.ff.fc1`, d, c.mlpRatio * d);
    lin(`${b}.ff.fc2`, c.mlpRatio * d, d);
  }
  norm('mapper.decoder.norm');
  return m;
}

/** Parameters of the MLP and of the enc-dec (or decoder-only) transformer, and of the queries. */
export function countMapperParams(c: MapperConfig): { mlp: number; transformer: number; queries: number; total: number } {
  let mlp = 0;
  let transformer = 0;
  let queries = 0;
  for (const [name, shape] of mapperParamShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (name.startsWith('mapper.mlp.')) mlp += n;
    else if (name === 'mapper.queries') queries += n;
    else transformer += n;
  }
  return { mlp, transformer, queries, total: mlp + transformer + queries };
}

/**
 * Fresh parameters, deterministic per seed: linear weights Xavier-normal, biases 0, LayerNorm gain 1 and
 * bias 0, queries N(0, 1) (torch.randn, as the paper's code initialises its decoder prompt).
 */
export function initMapperParams(c: MapperConfig, seed = 0): Map<string, HostTensor> {
  const rand = mulberry32(seed);
  const out = new Map<string, HostTensor>();
  for (const [name, shape] of mapperParamShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (name === 'mapper.queries') data = normalArray(n, 1, rand);
    else if (/norm\d?\.weight$/.test(name)) data = new Float32Array(n).fill(1);
    else if (name.endsWith('.bias')) data = new Float32Array(n);
    else data = normalArray(n, Math.sqrt(2 / (shape[0] + shape[1])), rand);
    out.set(name, { shape, data });
  }
  return out;
}
