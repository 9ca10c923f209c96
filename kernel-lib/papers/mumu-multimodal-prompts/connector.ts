/**
 * The trained encoder-side parts of MUMU in one holder: the connector (connector-config.ts) and, when crops
 * enter the LM as fewer tokens than their codes, the crop pooling (pooler.ts). Saved as a directory
 * (atomically): `config.json` {"format": "switchboard-mumu-connector", "version": 1, "connector", "pooler"}
 * and `connector.safetensors` (parameters by name, `connector.…` and `pool.…`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { HostTensor } from '../../model/params';
import { CheckpointError } from '../../checkpoint/errors';
import { isPlainObject, readJsonFile } from '../../checkpoint/json';
import { encodeSafetensors, readSafetensors } from '../../checkpoint/safetensors';
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
  readonly params = new Map<string, tf.Variable>();

  private constructor(readonly config: ConnectorFileConfig, host: ReadonlyMap<string, HostTensor>) {
    for (const [name, shape] of shapesOf(config)) {
      const t = host.get(name);
      if (!t) throw new Error(`Connector: missing parameter '${name}'`);
      if (t.shape.join(',') !== shape.join(',')) throw new Error(`Connector: parameter '${name}' has shape [${t.shape}], expected [${shape}]`);
      this.params.set(name, tf.tidy(() => tf.variable(tf.tensor(t.data, shape))));
    }
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
    return new Map([...this.params].map(([n, v]) => [n, { shape: v.shape.slice(), data: (v.dataSync() as Float32Array).slice() }]));
  }

  /** Sets every parameter from host tensors (all checked before any is assigned). */
  assign(host: ReadonlyMap<string, HostTensor>, where = 'Connector.assign'): void {
    for (const [name, v] of this.params) {
      const h = host.get(name);
      if (!h || h.shape.join(',') !== v.shape.join(',')) throw new Error(`${where}: parameter '${name}' is missing or has another shape`);
    }
    tf.tidy(() => {
      for (const [name, v] of this.params) {
        const h = host.get(name) as HostTensor;
        v.assign(tf.tensor(h.data, h.shape));
      }
    });
  }

  /** Writes the directory atomically (float32). */
  save(dir: string): void {
    const meta = { format: CONNECTOR_FORMAT, version: CONNECTOR_FORMAT_VERSION, ...this.config, weightLayout: 'linear weights [in, out]' };
    writeDirAtomic(
      dir,
      new Map<string, string | Uint8Array>([
        [CONFIG_FILE, `${JSON.stringify(meta, null, 2)}\n`],
        [WEIGHTS_FILE, encodeSafetensors(this.hostParams(), { metadata: { format: CONNECTOR_FORMAT } })],
      ]),
    );
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}

/** Reads and validates a connector directory; errors name the file and the tensor. */
export function readConnector(dir: string): { config: ConnectorFileConfig; params: Map<string, HostTensor> } {
  if (!fs.existsSync(dir)) throw new CheckpointError(dir, 'connector directory not found');
  const file = path.join(dir, CONFIG_FILE);
  const raw = readJsonFile(file);
  if (!isPlainObject(raw) || raw.format !== CONNECTOR_FORMAT) throw new CheckpointError(file, `"format" is ${JSON.stringify(isPlainObject(raw) ? raw.format : raw)}, expected "${CONNECTOR_FORMAT}" (is this a MUMU connector?)`);
  if (raw.version !== CONNECTOR_FORMAT_VERSION) throw new CheckpointError(file, `"version" is ${JSON.stringify(raw.version)}; this code reads version ${CONNECTOR_FORMAT_VERSION}`);
  const config: ConnectorFileConfig = { connector: raw.connector as ConnectorConfig, pooler: (raw.pooler ?? null) as PoolerConfig | null };
  let shapes: Map<string, number[]>;
  try {
    shapes = shapesOf(config);
  } catch (e) {
    throw new CheckpointError(file, (e as Error).message);
  }
  const weights = path.join(dir, WEIGHTS_FILE);
  const { tensors } = readSafetensors(weights);
  for (const [name, shape] of shapes) {
    const t = tensors.get(name);
    if (!t) throw new CheckpointError(weights, `missing tensor "${name}"`, name);
    if (t.shape.join(',') !== shape.join(',')) throw new CheckpointError(weights, `tensor "${name}" has shape [${t.shape}], the config needs [${shape}]`, name);
    const bad = t.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new CheckpointError(weights, `tensor "${name}" holds ${t.data[bad]} at index ${bad}`, name);
  }
  for (const name of tensors.keys()) if (!shapes.has(name)) throw new CheckpointError(weights, `unexpected tensor "${name}" (not in this config)`, name);
  return { config, params: tensors };
}
