/**
 * A checkpoint is a directory in the Hugging Face layout:
 *
 *   <dir>/config.json         Mixtral config + a `switchboard` block (hf-config.ts)
 *   <dir>/model.safetensors   Mixtral-named [out, in] weights, in mixtralTensorShapes order, F32 or F16
 *   <dir>/tokenizer.json      the HF tokenizer, as given
 *
 * Saving is atomic (files.ts writeDirAtomic): the files are written and flushed into a temporary
 * directory beside `dir`, then renamed into place; an existing checkpoint is moved aside only once the
 * new one is complete, and deleted only after the new one is in place. A failure at any point leaves the
 * old checkpoint as it was. (Between the two renames there is an instant with no `dir`; a crash exactly
 * then leaves the old checkpoint in `.<name>.old-*` and the new one in `.<name>.tmp-*` beside it.)
 *
 * Loading validates everything (config, tokenizer, every tensor's presence, shape, dtype and values)
 * before returning, and throws CheckpointError (`<dir>/<file>: ...`) otherwise: never a half-loaded model.
 */
import * as fs from 'fs';
import * as path from 'path';
import { MoEConfig } from '../model/config';
import { HostTensor, fromMixtralTensors, internalParamShapes, mixtralTensorShapes, toMixtralTensors } from '../model/params';
import { CheckpointError } from './errors';
import { writeDirAtomic } from './files';
import { TorchDtype, parseHfConfig, toHfConfig } from './hf-config';
import { assertPlainJson, isPlainObject, readJsonFile } from './json';
import { SafetensorsDtype, encodeSafetensors, readSafetensors } from './safetensors';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const TOKENIZER_FILE = 'tokenizer.json';
const CHECKPOINT_FILES = new Set([CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE]);

export type CheckpointDtype = 'float32' | 'float16';

const TO_SAFETENSORS: Record<TorchDtype, SafetensorsDtype> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };
const FROM_SAFETENSORS: Record<SafetensorsDtype, TorchDtype> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/** The largest finite float16; values at or past the rounding midpoint 65520 would be stored as Inf. */
const FLOAT16_OVERFLOW = 65520;

export interface SaveCheckpointOptions {
  config: MoEConfig;
  /** Internal parameter names and layouts (as from initHostParams / toHostParams). */
  params: Map<string, HostTensor>;
  /** The Hugging Face tokenizer.json content. */
  tokenizer: object;
  /** How token ids are laid out (opaque; a numeric `vocabSize` must equal config.vocabSize). */
  tokenizerLayout: object;
  /** Storage dtype of the weights (default float32). */
  dtype?: CheckpointDtype;
  /** More plain-JSON keys for config.json's switchboard block (e.g. training info). */
  extra?: object;
}

export interface LoadedCheckpoint {
  config: MoEConfig;
  /** Internal parameter names and layouts, float32. */
  params: Map<string, HostTensor>;
  tokenizer: Record<string, unknown>;
  /** null for a config.json without one (e.g. a stock Mixtral config). */
  tokenizerLayout: Record<string, unknown> | null;
  extra: Record<string, unknown>;
  /** The dtype the weights were stored in. */
  dtype: TorchDtype;
}

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
const andMore = (n: number): string => (n > 1 ? ` (and ${n - 1} more)` : '');

/** Writes a checkpoint to `dir` atomically, replacing a previous checkpoint there only once complete. */
export function saveCheckpoint(dir: string, options: SaveCheckpointOptions): void {
  const at = (f: string): string => path.join(dir, f);
  const { config, params, tokenizer, tokenizerLayout } = options;
  const dtype = options.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float16') {
    throw new CheckpointError(at(WEIGHTS_FILE), `dtype must be "float32" or "float16", got ${JSON.stringify(dtype)}`);
  }

  // Everything is checked and serialised in memory first; nothing touches the disk until it all succeeded.
  const configText = `${JSON.stringify(toHfConfig(config, { tokenizerLayout, extra: options.extra, torchDtype: dtype }, at(CONFIG_FILE)), null, 2)}\n`;
  if (!isPlainObject(tokenizer)) throw new CheckpointError(at(TOKENIZER_FILE), 'tokenizer must be a plain JSON object');
  assertPlainJson(tokenizer, 'tokenizer', at(TOKENIZER_FILE));
  const tokenizerText = JSON.stringify(tokenizer);
  checkParams(config, params, dtype, at(WEIGHTS_FILE));
  const mixtral = toMixtralTensors(config, params);
  const ordered: [string, HostTensor][] = [...mixtralTensorShapes(config).keys()].map((n) => [n, mixtral.get(n) as HostTensor]);
  const weights = encodeSafetensors(ordered, { dtype: TO_SAFETENSORS[dtype] as 'F32' | 'F16', metadata: { format: 'pt' } }, at(WEIGHTS_FILE));

  writeDirAtomic(dir, new Map<string, Uint8Array | string>([[CONFIG_FILE, configText], [WEIGHTS_FILE, weights], [TOKENIZER_FILE, tokenizerText]]), {
    checkExisting: inspectTarget,
    writeError: (name, err, replacing) =>
      new CheckpointError(at(name), `cannot write (${err.message}); ${replacing ? 'the previous checkpoint is untouched' : 'nothing was saved'}`),
  });
}

/**
 * Whether `dir` holds something to replace. Refuses a file, or a directory with anything in it besides
 * checkpoint files: saving into the wrong folder must never delete the user's other files.
 */
function inspectTarget(dir: string): void {
  const target = path.resolve(dir);
  if (!fs.statSync(target).isDirectory()) throw new CheckpointError(dir, 'exists and is not a directory; refusing to replace it');
  const foreign = fs.readdirSync(target).filter((f) => !CHECKPOINT_FILES.has(f));
  if (foreign.length > 0) {
    throw new CheckpointError(dir, `exists and holds files that are not part of a checkpoint (${foreign.map((f) => `"${f}"`).join(', ')}); refusing to replace it`);
  }
}

/** Checks the caller's internal params against the config before anything is converted or written. */
function checkParams(config: MoEConfig, params: Map<string, HostTensor>, dtype: CheckpointDtype, file: string): void {
  const expected = internalParamShapes(config);
  const missing = [...expected.keys()].filter((n) => !params.has(n));
  if (missing.length > 0) throw new CheckpointError(file, `missing parameter "${missing[0]}"${andMore(missing.length)}`, missing[0]);
  const unexpected = [...params.keys()].filter((n) => !expected.has(n));
  if (unexpected.length > 0) throw new CheckpointError(file, `unexpected parameter "${unexpected[0]}"${andMore(unexpected.length)}`, unexpected[0]);
  for (const [name, shape] of expected) {
    const t = params.get(name) as HostTensor;
    if (!(t.data instanceof Float32Array)) throw new CheckpointError(file, `parameter "${name}" data must be a Float32Array`, name);
    if (JSON.stringify(t.shape) !== JSON.stringify(shape)) {
      throw new CheckpointError(file, `parameter "${name}" has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(shape)} from the config`, name);
    }
    const n = shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) {
      throw new CheckpointError(file, `parameter "${name}" has ${t.data.length} values, but shape ${JSON.stringify(shape)} needs ${n}`, name);
    }
    checkFinite(t.data, `parameter "${name}"`, name, file);
    if (dtype === 'float16') {
      const i = t.data.findIndex((v) => Math.abs(v) >= FLOAT16_OVERFLOW);
      if (i >= 0) {
        throw new CheckpointError(file, `parameter "${name}" value ${t.data[i]} at index ${i} is beyond the float16 range (±65504) and would be saved as Infinity; save as float32`, name);
      }
    }
  }
}

function checkFinite(data: Float32Array, what: string, name: string, file: string): void {
  let bad = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad > 0) throw new CheckpointError(file, `${what} has ${plural(bad, 'non-finite value')} (first: ${data[first]} at index ${first})`, name);
}

/** Reads and fully validates a checkpoint directory; throws CheckpointError naming the file (and tensor). */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const at = (f: string): string => path.join(dir, f);
  let stat: fs.Stats | null = null;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new CheckpointError(at(CONFIG_FILE), `file not found (there is no directory ${dir})`);
  }
  if (!stat.isDirectory()) throw new CheckpointError(at(CONFIG_FILE), `file not found (${dir} is a file, not a checkpoint directory)`);

  const { config, tokenizerLayout, extra, torchDtype } = parseHfConfig(readJsonFile(at(CONFIG_FILE)), at(CONFIG_FILE));
  const tokenizer = readJsonFile(at(TOKENIZER_FILE));
  if (!isPlainObject(tokenizer)) throw new CheckpointError(at(TOKENIZER_FILE), 'not a JSON object');

  const file = at(WEIGHTS_FILE);
  const { tensors } = readSafetensors(file);
  const expected = mixtralTensorShapes(config);
  const missing = [...expected.keys()].filter((n) => !tensors.has(n));
  if (missing.length > 0) throw new CheckpointError(file, `missing tensor "${missing[0]}"${andMore(missing.length)}`, missing[0]);
  const unexpected = [...tensors.keys()].filter((n) => !expected.has(n));
  if (unexpected.length > 0) throw new CheckpointError(file, `unexpected tensor "${unexpected[0]}"${andMore(unexpected.length)}`, unexpected[0]);

  const firstName = expected.keys().next().value as string;
  const wantDtype = torchDtype !== null ? TO_SAFETENSORS[torchDtype] : (tensors.get(firstName)?.dtype as SafetensorsDtype);
  const hf = new Map<string, HostTensor>();
  for (const [name, shape] of expected) {
    const t = tensors.get(name)!;
    if (JSON.stringify(t.shape) !== JSON.stringify(shape)) {
      throw new CheckpointError(file, `tensor "${name}" has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(shape)} from config.json`, name);
    }
    if (t.dtype !== wantDtype) {
      const why = torchDtype !== null ? `config.json has torch_dtype "${torchDtype}"` : `tensor "${firstName}" is ${wantDtype}; a checkpoint holds one dtype`;
      throw new CheckpointError(file, `tensor "${name}" has dtype ${t.dtype}, expected ${wantDtype} (${why})`, name);
    }
    checkFinite(t.data, `tensor "${name}"`, name, file);
    hf.set(name, { shape: t.shape, data: t.data });
  }
  return { config, params: fromMixtralTensors(config, hf), tokenizer, tokenizerLayout, extra, dtype: FROM_SAFETENSORS[wantDtype] };
}
