/**
 * The connector (MUMU §3, Fig. 2: "a small non-causal 'adapter' transformer on top of Idefics2's hidden
 * states", 16 layers there): the LM's last-layer states of every prompt position → the diffusion decoder's
 * conditioning sequence, with its padding mask.
 *
 *   h [B, T, H] → x = h·W_in + b                         [B·T, d̂]
 *   layers × pre-LN self-attention block (diffusion/blocks.ts), keys masked at padding, NO causal mask:
 *            every position reads every real position, before and after it
 *   c = LN(x) ⊙ mask                                      [B, T, d̂]   (padding zeroed; the mask goes along)
 *
 * No position embedding: the LM's states already carry where they are (its attention is rotary-positioned).
 * d̂ is the decoder's conditioning width (its caption encoder's dim), so c stands in for τ(caption).
 */
import type { HostTensor } from '../../model/params';
import { selfBlockShapes } from '../../diffusion/blocks';
import { mulberry32, normalArray } from '../../util/random';

export interface ConnectorConfig {
  /** The LM's hidden size H. */
  hiddenSize: number;
  /** The decoder's conditioning width d̂. */
  dim: number;
  layers: number;
  heads: number;
  mlpRatio: number;
}

/** Defaults at workbench scale: 2 layers (the paper: 16), 4 heads, FF 4·d̂. */
export function defaultConnectorConfig(shape: { hiddenSize: number; dim: number }, o: Partial<ConnectorConfig> = {}): ConnectorConfig {
  return { ...shape, layers: 2, heads: 4, mlpRatio: 4, ...o };
}

const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** Throws naming the first bad field. */
export function validateConnectorConfig(c: ConnectorConfig): void {
  if (typeof c !== 'object' || c === null) throw new Error('ConnectorConfig must be an object');
  for (const k of ['hiddenSize', 'dim', 'heads', 'mlpRatio'] as const) {
    if (!posInt(c[k])) throw new Error(`ConnectorConfig.${k} must be a positive integer, got ${JSON.stringify(c[k])}`);
  }
  if (!(Number.isInteger(c.layers) && c.layers >= 0)) throw new Error(`ConnectorConfig.layers must be a non-negative integer, got ${JSON.stringify(c.layers)}`);
  if (c.dim % c.heads !== 0) throw new Error(`ConnectorConfig.dim (${c.dim}) must be divisible by heads (${c.heads})`);
}

/** Parameter names (under `connector.`) and shapes; linear weights [in, out]. */
export function connectorParamShapes(c: ConnectorConfig): Map<string, number[]> {
  validateConnectorConfig(c);
  const m = new Map<string, number[]>();
  m.set('connector.in.weight', [c.hiddenSize, c.dim]);
  m.set('connector.in.bias', [c.dim]);
  for (let i = 0; i < c.layers; i++) for (const [n, s] of selfBlockShapes(`connector.layers.${i}`, c.dim, c.mlpRatio)) m.set(n, s);
  m.set('connector.norm.weight', [c.dim]);
  m.set('connector.norm.bias', [c.dim]);
  return m;
}

/** Fresh parameters, deterministic per seed: linear weights Xavier-normal, biases 0, LayerNorm gain 1. */
export function initConnectorParams(c: ConnectorConfig, seed = 0): Map<string, HostTensor> {
  const rand = mulberry32(seed);
  const out = new Map<string, HostTensor>();
  for (const [name, shape] of connectorParamShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (/norm\d?\.weight$/.test(name)) data = new Float32Array(n).fill(1);
    else if (name.endsWith('.bias')) data = new Float32Array(n);
    else data = normalArray(n, Math.sqrt(2 / (shape[0] + shape[1])), rand);
    out.set(name, { shape, data });
  }
  return out;
}
