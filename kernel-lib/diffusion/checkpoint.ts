/**
 * Latent diffusion checkpoints: one self-contained directory
 *
 *   config.json        {"format": "switchboard-ldm", "version": 1, "config": LatentDiffusionConfig, "dtype", …}
 *   model.safetensors  denoiser.* and caption.* parameters by path name (linear weights [in, out]), plus
 *                      latent.shift / latent.scale (the latent normalisation), F16 or F32
 *   tokenizer.json     the caption encoder's BPE (Hugging Face tokenizer.json)
 *   vqvae/             the VQ-VAE whose latents it denoises (a normal VQ-VAE checkpoint)
 *   metrics.json, README.md, samples.png   optional
 *
 * Written into a temporary sibling directory and renamed into place (a reader never sees half of one).
 * Reading checks the format tag, the config, and every tensor's presence, shape and values.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError } from '../checkpoint/errors';
import { isPlainObject, readJsonFile } from '../checkpoint/json';
import { encodeSafetensors, readSafetensors } from '../checkpoint/safetensors';
import { checkTensors } from '../checkpoint/tensors';
import type { HostTensor } from '../model/params';
import { writeDirAtomic } from '../checkpoint/files';
import { vqvaeCheckpointFiles } from '../image/checkpoint';
import type { VQVAEConfig } from '../image/config';
import { diffusionParamShapes, LatentDiffusionConfig, validateDiffusionConfig } from './config';
import type { LatentStats } from './latent-space';

export const LDM_FORMAT = 'switchboard-ldm';
export const LDM_FORMAT_VERSION = 1;
export const VQVAE_SUBDIR = 'vqvae';
export const LATENT_SHIFT = 'latent.shift';
export const LATENT_SCALE = 'latent.scale';

export interface SaveDiffusionOptions {
  /** Storage dtype of the weights (default float16). */
  dtype?: 'float16' | 'float32';
  metrics?: object;
  readme?: string;
  /** Extra files (e.g. samples.png), by name. */
  files?: Map<string, Uint8Array | string>;
  /** Extra keys for config.json. */
  extra?: Record<string, unknown>;
}

export interface DiffusionCheckpointParts {
  config: LatentDiffusionConfig;
  params: Map<string, HostTensor>;
  stats: LatentStats;
  tokenizerJson: unknown;
  vqvae: { config: VQVAEConfig; tensors: Map<string, HostTensor> };
}

export function writeDiffusionCheckpoint(dir: string, parts: DiffusionCheckpointParts, options: SaveDiffusionOptions = {}): void {
  validateDiffusionConfig(parts.config);
  const dtype = options.dtype ?? 'float16';
  const C = parts.config.latentChannels;
  const tensors = new Map(parts.params);
  tensors.set(LATENT_SHIFT, { shape: [C], data: parts.stats.shift });
  tensors.set(LATENT_SCALE, { shape: [C], data: parts.stats.scale });
  const config = {
    format: LDM_FORMAT,
    version: LDM_FORMAT_VERSION,
    config: parts.config,
    weightLayout: 'linear weights [in, out]; latent.shift/scale [C] normalise VQ-VAE encoder outputs as (z - shift) / scale',
    vqvae: `${VQVAE_SUBDIR}/`,
    tokenizer: 'tokenizer.json',
    dtype,
    ...(options.extra ?? {}),
  };
  const files = new Map<string, Uint8Array | string>([
    ['config.json', `${JSON.stringify(config, null, 2)}\n`],
    ['model.safetensors', encodeSafetensors(tensors, { dtype: dtype === 'float16' ? 'F16' : 'F32', metadata: { format: LDM_FORMAT } })],
    ['tokenizer.json', `${JSON.stringify(parts.tokenizerJson)}\n`],
  ]);
  // The VQ-VAE keeps its own storage dtype choice: float16 (as shipped), so copying it is exact.
  for (const [name, data] of vqvaeCheckpointFiles(parts.vqvae.config, parts.vqvae.tensors, { dtype: 'float16' })) files.set(`${VQVAE_SUBDIR}/${name}`, data);
  if (options.metrics !== undefined) files.set('metrics.json', `${JSON.stringify(options.metrics, null, 1)}\n`);
  if (options.readme !== undefined) files.set('README.md', options.readme);
  for (const [name, data] of options.files ?? []) files.set(name, data);
  writeDirAtomic(dir, files);
}

/** Reads and validates the diffusion part of a checkpoint (the VQ-VAE is read by VQVAE.load). */
export function readDiffusionCheckpoint(dir: string): Omit<DiffusionCheckpointParts, 'vqvae'> {
  if (!fs.existsSync(dir)) throw new CheckpointError(dir, 'checkpoint directory not found');
  const configFile = path.join(dir, 'config.json');
  const raw = readJsonFile(configFile);
  if (!isPlainObject(raw)) throw new CheckpointError(configFile, 'must be a JSON object');
  if (raw.format !== LDM_FORMAT) {
    throw new CheckpointError(configFile, `"format" is ${JSON.stringify(raw.format)}, expected "${LDM_FORMAT}" (is this a latent diffusion checkpoint?)`);
  }
  if (raw.version !== LDM_FORMAT_VERSION) throw new CheckpointError(configFile, `"version" is ${JSON.stringify(raw.version)}; this code reads version ${LDM_FORMAT_VERSION}`);
  if (!isPlainObject(raw.config)) throw new CheckpointError(configFile, '"config" must be an object');
  const config = raw.config as unknown as LatentDiffusionConfig;
  try {
    validateDiffusionConfig(config);
  } catch (e) {
    throw new CheckpointError(configFile, (e as Error).message);
  }
  const weightsFile = path.join(dir, 'model.safetensors');
  const { tensors } = readSafetensors(weightsFile);
  const shapes = diffusionParamShapes(config);
  shapes.set(LATENT_SHIFT, [config.latentChannels]);
  shapes.set(LATENT_SCALE, [config.latentChannels]);
  checkTensors(weightsFile, tensors, shapes);
  const stats = { shift: Float32Array.from((tensors.get(LATENT_SHIFT) as HostTensor).data), scale: Float32Array.from((tensors.get(LATENT_SCALE) as HostTensor).data) };
  tensors.delete(LATENT_SHIFT);
  tensors.delete(LATENT_SCALE);
  const tokFile = path.join(dir, 'tokenizer.json');
  if (!fs.existsSync(tokFile)) throw new CheckpointError(tokFile, 'missing (the caption encoder needs its tokenizer)');
  return { config, params: tensors, stats, tokenizerJson: readJsonFile(tokFile) };
}
