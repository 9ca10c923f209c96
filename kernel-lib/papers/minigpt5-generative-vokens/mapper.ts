/**
 * The feature mapper (MiniGPT-5 Eq. 2): the n voken hidden states of the LM → a conditioning sequence of
 * L × d̂ for the latent diffusion decoder, with its padding mask.
 *
 *   h [B, n, H] → MLP: fc2(SiLU(fc1(h)))                              x [B·n, d̂]
 *   enc-dec:      encoder: L_e × [x += SelfAttn(LN x); x += FF(LN x)], LN → memory [B·n, d̂]
 *                 decoder: y = q (tiled) [B·L, d̂];  L_d × [y += SelfAttn(LN y); y += CrossAttn(LN y, memory);
 *                          y += FF(LN y)], LN → ĥ [B, L, d̂], mask all ones
 *   decoder-only: x through L_e + L_d self-attention blocks, LN → [B, n, d̂], zero-padded to L, mask 1 on the
 *                 n voken positions and 0 on the padding (the denoiser ignores masked keys)
 *
 * Pre-LN blocks as torch's nn.Transformer(norm_first=True) in the paper's code; SiLU where it uses GELU/ReLU
 * (TensorFlow.js has no GELU kernel). No position embeddings (the paper's mapper has none: the vokens are
 * different tokens, so their states differ). ĥ_0 = mapper(0) is the negative conditioning of CFG (Eq. 5).
 *
 * Saved as a directory (atomically): `config.json` {"format": "switchboard-voken-mapper", "version": 1,
 * "config"} and `mapper.safetensors` (parameters by name, `mapper.…`).
 */
import * as tf from '@tensorflow/tfjs';
import { assignHostChecked, copyToHost, variablesFromHost } from '../../model/params';
import type { HostTensor } from '../../model/params';
import { readTaggedDir, taggedDirFiles } from '../../checkpoint/tagged-dir';
import type { TaggedDirFormat } from '../../checkpoint/tagged-dir';
import { writeDirAtomic } from '../../checkpoint/files';
import type { Conditioning } from '../../diffusion/caption-encoder';
import { attention } from '../../diffusion/attention';
import { selfBlock } from '../../diffusion/blocks';
import { dense, layerNorm, param, Params, silu } from '../../diffusion/layers';
import { countMapperParams, initMapperParams, MapperConfig, mapperParamShapes, validateMapperConfig } from './mapper-config';

export const MAPPER_FORMAT = 'switchboard-voken-mapper';
export const MAPPER_FORMAT_VERSION = 1;
export const MAPPER_CONFIG_FILE = 'config.json';
export const MAPPER_WEIGHTS_FILE = 'mapper.safetensors';
const DIR_FORMAT: TaggedDirFormat = { format: MAPPER_FORMAT, version: MAPPER_FORMAT_VERSION, configFile: MAPPER_CONFIG_FILE, weightsFile: MAPPER_WEIGHTS_FILE, what: 'mapper', kind: 'a feature mapper' };

/** The mapper's forward on its parameters (differentiable with respect to them and to h). */
export function mapperForward(p: Params, c: MapperConfig, h: tf.Tensor3D): Conditioning {
  const [B, n, H] = h.shape;
  if (n !== c.numVokens || H !== c.hiddenSize) throw new Error(`mapper: voken states must have shape [B, ${c.numVokens}, ${c.hiddenSize}], got [${h.shape}]`);
  const d = c.dim;
  const L = c.length;
  let x = dense(p, 'mapper.mlp.fc2', silu(dense(p, 'mapper.mlp.fc1', tf.reshape<tf.Rank.R2>(h, [B * n, H])))); // [B·n, d̂]
  if (c.kind === 'decoder-only') {
    for (let i = 0; i < c.encoderLayers + c.decoderLayers; i++) x = selfBlock(p, `mapper.blocks.${i}`, x, B, c.heads);
    const out = tf.reshape(layerNorm(p, 'mapper.norm', x), [B, n, d]); // [B, n, d̂]
    const seq = (L > n ? tf.pad(out, [[0, 0], [0, L - n], [0, 0]]) : out) as tf.Tensor3D; // [B, L, d̂]
    const row = Float32Array.from({ length: L }, (_, i) => (i < n ? 1 : 0));
    return { seq, mask: tf.tile(tf.tensor2d(row, [1, L]), [B, 1]) as tf.Tensor2D };
  }
  for (let i = 0; i < c.encoderLayers; i++) x = selfBlock(p, `mapper.encoder.layers.${i}`, x, B, c.heads);
  const memory = layerNorm(p, 'mapper.encoder.norm', x); // [B·n, d̂]
  let y = tf.reshape<tf.Rank.R2>(tf.tile(tf.reshape(param(p, 'mapper.queries'), [1, L, d]), [B, 1, 1]), [B * L, d]); // [B·L, d̂]
  for (let i = 0; i < c.decoderLayers; i++) {
    const b = `mapper.decoder.layers.${i}`;
    const [q, k, v] = tf.split(dense(p, `${b}.attn.qkv`, layerNorm(p, `${b}.norm1`, y)), 3, 1) as tf.Tensor2D[];
    y = tf.add(y, dense(p, `${b}.attn.out`, attention(q, k, v, B, c.heads, null)));
    const cq = dense(p, `${b}.cross.q`, layerNorm(p, `${b}.norm2`, y)); // [B·L, d̂]
    const [ck, cv] = tf.split(dense(p, `${b}.cross.kv`, memory), 2, 1) as tf.Tensor2D[]; // [B·n, d̂] each
    y = tf.add(y, dense(p, `${b}.cross.out`, attention(cq, ck, cv, B, c.heads, null)));
    y = tf.add(y, dense(p, `${b}.ff.fc2`, silu(dense(p, `${b}.ff.fc1`, layerNorm(p, `${b}.norm3`, y)))));
  }
  const seq = tf.reshape(layerNorm(p, 'mapper.decoder.norm', y), [B, L, d]) as tf.Tensor3D; // [B, L, d̂]
  return { seq, mask: tf.ones([B, L]) as tf.Tensor2D };
}

export class FeatureMapper {
  readonly params: Map<string, tf.Variable>;

  private constructor(readonly config: MapperConfig, host: ReadonlyMap<string, HostTensor>) {
    validateMapperConfig(config);
    this.params = variablesFromHost(mapperParamShapes(config), host, 'FeatureMapper');
  }

  /** A fresh mapper (initMapperParams, seeded). */
  static create(config: MapperConfig, seed = 0): FeatureMapper {
    return new FeatureMapper(config, initMapperParams(config, seed));
  }

  /** A mapper from host parameters (e.g. a run snapshot). */
  static fromHost(config: MapperConfig, host: ReadonlyMap<string, HostTensor>): FeatureMapper {
    return new FeatureMapper(config, host);
  }

  /** Loads a directory written by `save`; errors name the file and the tensor. */
  static load(dir: string): FeatureMapper {
    const { config, params } = readMapper(dir);
    return new FeatureMapper(config, params);
  }

  /** Writes the mapper directory atomically (float32 by default). */
  save(dir: string, o: { dtype?: 'float16' | 'float32' } = {}): void {
    writeDirAtomic(dir, mapperFiles(this.config, this.hostParams(), o));
  }

  hostParams(): Map<string, HostTensor> {
    return copyToHost(this.params);
  }

  /** Sets every parameter from host tensors (all checked before any is assigned). */
  assign(host: ReadonlyMap<string, HostTensor>, where = 'FeatureMapper.assign'): void {
    assignHostChecked(this.params, host, where);
  }

  get numParams(): ReturnType<typeof countMapperParams> {
    return countMapperParams(this.config);
  }

  /** ĥ for voken states h [B, n, H] (call inside tf.tidy or a gradient scope; the result is the caller's). */
  forward(h: tf.Tensor3D): Conditioning {
    return mapperForward(this.params, this.config, h);
  }

  /** ĥ for host voken states (n·H values per image, B images); the tensors are the caller's. */
  map(states: Float32Array, batch = 1): Conditioning {
    const { numVokens: n, hiddenSize: H } = this.config;
    if (states.length !== batch * n * H) throw new Error(`mapper.map: expected ${batch} × ${n} × ${H} voken state values, got ${states.length}`);
    return tf.tidy(() => this.forward(tf.tensor3d(states, [batch, n, H])) as unknown as tf.TensorContainerObject) as unknown as Conditioning;
  }

  /** ĥ_0 = mapper(0): the negative conditioning of classifier-free guidance over vokens (Eq. 5). */
  zeroConditioning(batch = 1): Conditioning {
    const { numVokens: n, hiddenSize: H } = this.config;
    return this.map(new Float32Array(batch * n * H), batch);
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}

/** The files of a mapper directory. */
export function mapperFiles(config: MapperConfig, params: ReadonlyMap<string, HostTensor>, o: { dtype?: 'float16' | 'float32' } = {}): Map<string, string | Uint8Array> {
  validateMapperConfig(config);
  const dtype = o.dtype ?? 'float32';
  return taggedDirFiles(DIR_FORMAT, { config, dtype }, params, dtype);
}

/** Reads and validates a mapper directory. */
export function readMapper(dir: string): { config: MapperConfig; params: Map<string, HostTensor> } {
  return readTaggedDir(dir, DIR_FORMAT, (raw) => {
    const config = raw.config as MapperConfig;
    return { config, shapes: mapperParamShapes(config) };
  });
}
