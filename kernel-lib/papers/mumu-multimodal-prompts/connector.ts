/**
 * The trained encoder-side parts of MUMU in one holder: the connector (connector-config.ts) and, when crops
 * enter the LM as fewer tokens than their codes, the crop pooling (pooler.ts). Saved as a directory
 * (atomically): `config.json` {"format": "switchboard-mumu-connector", "version": 1, "connector", "pooler"}
 * and `connector.safetensors` (parameters by name, `connector.…` and `pool.…`).
 */
import * as tf from '@tensorflow/tfjs';
import { assignHostChecked, copyToHost, variablesFromHost } from '../../model/params';
import type { HostTensor } from '../../model/params';
import { readTaggedDir, taggedDirFiles } from '../../checkpoint/tagged-dir';
import type { TaggedDirFormat } from '../../checkpoint/tagged-dir';
import { writeDirAtomic } from '../../checkpoint/files';
import type { Conditioning } from '../../diffusion/caption-encoder';
import { keyBiasFromMask } from '../../diffusion/attention';
import { selfBlock } from '../../diffusion/blocks';
import { dense, layerNorm, Params } from '../../diffusion/layers';
import { ConnectorConfig, connectorParamShapes, initConnectorParams, validateConnectorConfig } from './connector-config';
import { initPoolerParams, PoolerConfig, poolerForward, poolerParamShapes } from './pooler';

export const CONNECTOR_FORMAT = 'switchboard-mumu-connector';
export const CONNECTOR_FORMAT_VERSION = 1;
const CONFIG_FILE = 'config.json';
const WEIGHTS_FILE = 'connector.safetensors';
const DIR_FORMAT: TaggedDirFormat = { format: CONNECTOR_FORMAT, version: CONNECTOR_FORMAT_VERSION, configFile: CONFIG_FILE, weightsFile: WEIGHTS_FILE, what: 'connector', kind: 'a MUMU connector' };

/** The connector's forward (see connector-config.ts): states [B, T, H] and mask [B, T] → the conditioning. */
export function connectorForward(p: Params, c: ConnectorConfig, states: tf.Tensor3D, mask: tf.Tensor2D): Conditioning {
  const [B, T, H] = states.shape;
  if (H !== c.hiddenSize) throw new Error(`connector: states must have width ${c.hiddenSize}, got [${states.shape}]`);
  if (mask.shape[0] !== B || mask.shape[1] !== T) throw new Error(`connector: the mask has shape [${mask.shape}], the states need [${B}, ${T}]`);
  const bias = keyBiasFromMask(mask); // [B, T]: 0 real, −1e9 padding
  let x = dense(p, 'connector.in', tf.reshape<tf.Rank.R2>(states, [B * T, H])); // [B·T, d̂]
  for (let i = 0; i < c.layers; i++) x = selfBlock(p, `connector.layers.${i}`, x, B, c.heads, bias);
  const out = tf.mul(layerNorm(p, 'connector.norm', x), tf.reshape(mask, [B * T, 1])); // [B·T, d̂], padding zeroed
  return { seq: tf.reshape(out, [B, T, c.dim]) as tf.Tensor3D, mask };
}

/** Both parts' configs: the connector's and the pooling's (null: crops enter as all their codes). */
export interface ConnectorFileConfig {
  connector: ConnectorConfig;
  pooler: PoolerConfig | null;
}

function shapesOf(c: ConnectorFileConfig): Map<string, number[]> {
  validateConnectorConfig(c.connector);
  const m = connectorParamShapes(c.connector);
  if (c.pooler) {
    if (c.pooler.hiddenSize !== c.connector.hiddenSize) throw new Error(`connector: the pooling's hiddenSize (${c.pooler.hiddenSize}) differs from the connector's (${c.connector.hiddenSize})`);
    for (const [n, s] of poolerParamShapes(c.pooler)) m.set(n, s);
  }
  return m;
}

export class Connector {
  readonly params: Map<string, tf.Variable>;

  private constructor(readonly config: ConnectorFileConfig, host: ReadonlyMap<string, HostTensor>) {
    this.params = variablesFromHost(shapesOf(config), host, 'Connector');
  }

  /** Fresh parts (seeded: the connector with `seed`, the pooling with seed + 1). */
  static create(config: ConnectorFileConfig, seed = 0): Connector {
    const host = initConnectorParams(config.connector, seed);
    if (config.pooler) for (const [n, t] of initPoolerParams(config.pooler, seed + 1)) host.set(n, t);
    return new Connector(config, host);
  }

  static load(dir: string): Connector {
    const { config, params } = readConnector(dir);
    return new Connector(config, params);
  }

  /** Tokens a crop enters the LM as (its codes when there is no pooling). */
  tokensPerCrop(codes: number): number {
    return this.config.pooler?.tokens ?? codes;
  }

  /** The conditioning of LM states [B, T, H] with mask [B, T] (in the caller's scope). */
  forward(states: tf.Tensor3D, mask: tf.Tensor2D): Conditioning {
    return connectorForward(this.params, this.config.connector, states, mask);
  }

  /** Pooled tokens of crops' code embeddings [n, C, H] → [n, N, H] (in the caller's scope). */
  pool(E: tf.Tensor3D): tf.Tensor3D {
    if (!this.config.pooler) throw new Error('Connector.pool: these crops enter as all their codes (no pooling)');
    return poolerForward(this.params, this.config.pooler, E);
  }

  get numParams(): { connector: number; pooler: number; total: number } {
    let connector = 0;
    let pooler = 0;
    for (const [n, v] of this.params) if (n.startsWith('pool.')) pooler += v.size;
    else connector += v.size;
    return { connector, pooler, total: connector + pooler };
  }

  hostParams(): Map<string, HostTensor> {
    return copyToHost(this.params);
  }

  /** Sets every parameter from host tensors (all checked before any is assigned). */
  assign(host: ReadonlyMap<string, HostTensor>, where = 'Connector.assign'): void {
    assignHostChecked(this.params, host, where);
  }

  /** Writes the directory atomically (float32). */
  save(dir: string): void {
    writeDirAtomic(dir, taggedDirFiles(DIR_FORMAT, { ...this.config }, this.hostParams()));
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}

/** Reads and validates a connector directory; errors name the file and the tensor. */
export function readConnector(dir: string): { config: ConnectorFileConfig; params: Map<string, HostTensor> } {
  return readTaggedDir(dir, DIR_FORMAT, (raw) => {
    const config: ConnectorFileConfig = { connector: raw.connector as ConnectorConfig, pooler: (raw.pooler ?? null) as PoolerConfig | null };
    return { config, shapes: shapesOf(config) };
  });
}
