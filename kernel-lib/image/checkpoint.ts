/**
 * VQ-VAE checkpoints: a directory with
 *
 *   config.json        {"format": "switchboard-vqvae", "version": 1, "config": VQVAEConfig, "gridSizes": {"32": 8, …}, …}
 *   model.safetensors  every parameter by its path name (conv weights [kh, kw, in, out]), F16 or F32
 *   metrics.json       training record (loss curves, held-out PSNR, codebook usage, wall time, backend); optional
 *   README.md          what it is and what it was trained on (licence of the training images); optional
 *
 * Written into a temporary sibling directory and renamed into place (checkpoint/files.ts writeDirAtomic,
 * which puts the old checkpoint back if the rename fails), so a reader never sees half a checkpoint. Loading checks the format tag, the config, and every tensor's presence, shape and values.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError } from '../checkpoint/errors';
import { writeDirAtomic } from '../checkpoint/files';
import { isPlainObject, readJsonFile } from '../checkpoint/json';
import { encodeSafetensors, readSafetensors } from '../checkpoint/safetensors';
import { checkTensors } from '../checkpoint/tensors';
import type { HostTensor } from '../model/params';
import { DOWNSAMPLE, VQVAEConfig, validateVQVAEConfig, vqvaeParamShapes } from './config';

export const VQVAE_FORMAT = 'switchboard-vqvae';
export const VQVAE_FORMAT_VERSION = 1;
export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const METRICS_FILE = 'metrics.json';
export const README_FILE = 'README.md';

export interface SaveVQVAEOptions {
  /** Storage dtype of the weights (default float16). */
  dtype?: 'float16' | 'float32';
  /** Written as metrics.json (plain JSON). */
  metrics?: object;
  /** Written as README.md. */
  readme?: string;
  /** Extra keys for config.json (e.g. what the model was trained on). */
  extra?: Record<string, unknown>;
}

/**
 * Writes a checkpoint to `dir` atomically (replacing what was there once the new files are complete).
 * `tensors` are the model's parameters by name, in checkpoint order.
 */
export function writeVQVAECheckpoint(dir: string, modelConfig: VQVAEConfig, tensors: Map<string, HostTensor>, options: SaveVQVAEOptions = {}): void {
  writeDirAtomic(dir, vqvaeCheckpointFiles(modelConfig, tensors, options));
}

/** The files of a checkpoint by name (so another checkpoint can hold a VQ-VAE in a subdirectory). */
export function vqvaeCheckpointFiles(modelConfig: VQVAEConfig, tensors: Map<string, HostTensor>, options: SaveVQVAEOptions = {}): Map<string, Uint8Array | string> {
  validateVQVAEConfig(modelConfig);
  const dtype = options.dtype ?? 'float16';
  const config = {
    format: VQVAE_FORMAT,
    version: VQVAE_FORMAT_VERSION,
    config: modelConfig,
    gridSizes: Object.fromEntries(modelConfig.imageSizes.map((s) => [String(s), s / DOWNSAMPLE])),
    weightLayout: 'conv weights [kh, kw, in, out]; 1×1 weights [in, out]; quantizer.codebook [numCodes, codeDim]',
    pixelRange: 'inputs 0..255 mapped to [-1, 1] (x / 127.5 - 1); outputs mapped back, clamped and rounded',
    dtype,
    ...(options.extra ?? {}),
  };
  const files = new Map<string, Uint8Array | string>([
    [CONFIG_FILE, `${JSON.stringify(config, null, 2)}\n`],
    [WEIGHTS_FILE, encodeSafetensors(tensors, { dtype: dtype === 'float16' ? 'F16' : 'F32', metadata: { format: VQVAE_FORMAT } })],
  ]);
  if (options.metrics !== undefined) files.set(METRICS_FILE, `${JSON.stringify(options.metrics, null, 1)}\n`);
  if (options.readme !== undefined) files.set(README_FILE, options.readme);
  return files;
}

/** Reads and validates a checkpoint directory; throws CheckpointError naming the file (and tensor). */
export function readVQVAECheckpoint(dir: string): { config: VQVAEConfig; tensors: Map<string, HostTensor> } {
  const configFile = path.join(dir, CONFIG_FILE);
  if (!fs.existsSync(dir)) throw new CheckpointError(dir, 'checkpoint directory not found');
  const raw = readJsonFile(configFile);
  if (!isPlainObject(raw)) throw new CheckpointError(configFile, 'must be a JSON object');
  if (raw.format !== VQVAE_FORMAT) {
    throw new CheckpointError(configFile, `"format" is ${JSON.stringify(raw.format)}, expected "${VQVAE_FORMAT}" (is this a VQ-VAE checkpoint?)`);
  }
  if (raw.version !== VQVAE_FORMAT_VERSION) {
    throw new CheckpointError(configFile, `"version" is ${JSON.stringify(raw.version)}; this code reads version ${VQVAE_FORMAT_VERSION}`);
  }
  if (!isPlainObject(raw.config)) throw new CheckpointError(configFile, '"config" must be an object');
  const config = raw.config as unknown as VQVAEConfig;
  try {
    validateVQVAEConfig(config);
  } catch (e) {
    throw new CheckpointError(configFile, (e as Error).message);
  }
  const weightsFile = path.join(dir, WEIGHTS_FILE);
  const { tensors } = readSafetensors(weightsFile);
  const shapes = vqvaeParamShapes(config);
  checkTensors(weightsFile, tensors, shapes);
  return { config, tensors };
}

/** metrics.json of a checkpoint, or null when it has none. */
export function readVQVAEMetrics(dir: string): Record<string, unknown> | null {
  const file = path.join(dir, METRICS_FILE);
  if (!fs.existsSync(file)) return null;
  const m = readJsonFile(file);
  if (!isPlainObject(m)) throw new CheckpointError(file, 'must be a JSON object');
  return m;
}
