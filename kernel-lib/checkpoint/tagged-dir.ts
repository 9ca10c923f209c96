/**
 * A small trained part saved as a directory of two files (a paper's feature mapper, its connector):
 *
 *   <configFile>   {"format": "<tag>", "version": N, …the part's own fields, "weightLayout": "linear weights [in, out]"}
 *   <weightsFile>  every parameter by name (safetensors, metadata {"format": "<tag>"}), F32 or F16
 *
 * Written atomically by the caller (checkpoint/files.ts writeDirAtomic of `taggedDirFiles`); read back with
 * the format tag, the version, the part's config and every tensor checked, errors naming the file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HostTensor } from '../model/params';
import { CheckpointError } from './errors';
import { isPlainObject, readJsonFile } from './json';
import { encodeSafetensors, readSafetensors } from './safetensors';
import { checkTensors } from './tensors';

export interface TaggedDirFormat {
  format: string;
  version: number;
  configFile: string;
  weightsFile: string;
  /** Names the directory when it is missing: "<what> directory not found". */
  what: string;
  /** What the format tag says the directory is, asked when another tag is found: "(is this <kind>?)". */
  kind: string;
}

/** The files of a directory: the tagged config (`fields` between the version and the weight layout) and the weights. */
export function taggedDirFiles(f: TaggedDirFormat, fields: Record<string, unknown>, params: Iterable<[string, HostTensor]>, dtype: 'float16' | 'float32' = 'float32'): Map<string, string | Uint8Array> {
  const meta = { format: f.format, version: f.version, ...fields, weightLayout: 'linear weights [in, out]' };
  return new Map<string, string | Uint8Array>([
    [f.configFile, `${JSON.stringify(meta, null, 2)}\n`],
    [f.weightsFile, encodeSafetensors(params, { dtype: dtype === 'float16' ? 'F16' : 'F32', metadata: { format: f.format } })],
  ]);
}

/**
 * Reads and checks a directory: `parse` turns the config file's JSON into the part's config and the tensor
 * shapes it needs (its errors become CheckpointErrors naming the config file); every tensor is then checked
 * against those shapes (checkTensors).
 */
export function readTaggedDir<C>(dir: string, f: TaggedDirFormat, parse: (raw: Record<string, unknown>) => { config: C; shapes: ReadonlyMap<string, readonly number[]> }): { config: C; params: Map<string, HostTensor> } {
  if (!fs.existsSync(dir)) throw new CheckpointError(dir, `${f.what} directory not found`);
  const file = path.join(dir, f.configFile);
  const raw = readJsonFile(file);
  if (!isPlainObject(raw) || raw.format !== f.format) throw new CheckpointError(file, `"format" is ${JSON.stringify(isPlainObject(raw) ? raw.format : raw)}, expected "${f.format}" (is this ${f.kind}?)`);
  if (raw.version !== f.version) throw new CheckpointError(file, `"version" is ${JSON.stringify(raw.version)}; this code reads version ${f.version}`);
  let parsed: { config: C; shapes: ReadonlyMap<string, readonly number[]> };
  try {
    parsed = parse(raw);
  } catch (e) {
    throw new CheckpointError(file, (e as Error).message);
  }
  const weights = path.join(dir, f.weightsFile);
  const { tensors } = readSafetensors(weights);
  checkTensors(weights, tensors, parsed.shapes);
  return { config: parsed.config, params: tensors };
}
