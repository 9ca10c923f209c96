/**
 * Adapter files: `<dir>/<name>.safetensors` (tensors named by their parameter paths, so loading is a
 * name-by-name copy) and `<dir>/<name>.json` (kind, rank, alpha, layers, targets and the model shape they
 * fit), plus the same adapter as a PEFT directory `<dir>/<name>/` (peft.ts) for PyTorch users. Keep them beside a checkpoint (e.g. `data/checkpoints/mm-moe-small-adapters/`), not inside it:
 * saving a checkpoint replaces its directory whole.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { HostTensor } from '../model/params';
import { readSafetensors, writeSafetensors, CheckpointError, CONFIG_FILE, WEIGHTS_FILE } from '../checkpoint';
import { atomicWriteFile } from '../checkpoint/files';
import { AdapterHost, LoRAHandle, attachLoRA, modelOf } from './attach';
import { LoRASpec } from './lora';
import type { ModalityLoRASpec } from './modality-spec';
import { AdapterModelShape, adapterModelShape } from './model-shape';
import { savePeftAdapter } from './peft';

export const ADAPTER_FORMAT = 'switchboard-lora';
export const ADAPTER_FORMAT_VERSION = 1;

type AdapterJson = (LoRASpec | ModalityLoRASpec) & {
  format: string;
  version: number;
  scaling: number;
  model: AdapterModelShape;
};

const modelShape = adapterModelShape;

export function adapterFiles(dir: string, name: string): { weights: string; config: string; peft: string } {
  return { weights: path.join(dir, `${name}.safetensors`), config: path.join(dir, `${name}.json`), peft: path.join(dir, name) };
}

/**
 * Writes the adapter's weights (float32) and description into `dir`, and its PEFT export into
 * `<dir>/<name>/`; returns the paths.
 */
export function saveAdapter(handle: LoRAHandle, dir: string): { weights: string; config: string; peft: string } {
  const files = adapterFiles(dir, handle.name);
  if (fs.existsSync(path.join(dir, CONFIG_FILE)) && fs.existsSync(path.join(dir, WEIGHTS_FILE))) {
    throw new Error(`${dir} is a checkpoint directory, which saving a checkpoint replaces whole; save adapters beside it (e.g. ${dir.replace(/\/+$/, '')}-adapters)`);
  }
  const tensors: [string, HostTensor][] = [...handle.parameters()].map(([n, v]) => [n, { shape: v.shape.slice(), data: v.dataSync() as Float32Array }]);
  const json: AdapterJson = {
    format: ADAPTER_FORMAT,
    version: ADAPTER_FORMAT_VERSION,
    ...handle.spec,
    scaling: handle.scaling,
    model: modelShape(handle.model.config),
  };
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(files.weights, tensors, { metadata: { format: ADAPTER_FORMAT } });
  savePeftAdapter(handle, files.peft);
  atomicWriteFile(files.config, `${JSON.stringify(json, null, 2)}\n`); // written last: it names complete weights
  return files;
}

/**
 * Attaches the adapter saved as `<dir>/<name>.*`. Everything is validated (format, model shape, every
 * tensor's name and shape, finite values) before anything is attached.
 */
export function loadAdapter(host: AdapterHost, dir: string, name: string, opts: { enabled?: boolean } = {}): LoRAHandle {
  const model = modelOf(host);
  const files = adapterFiles(dir, name);
  let json: AdapterJson;
  try {
    json = JSON.parse(fs.readFileSync(files.config, 'utf8')) as AdapterJson;
  } catch (err) {
    throw new CheckpointError(files.config, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `not valid JSON (${(err as Error).message})`);
  }
  if (json.format !== ADAPTER_FORMAT) throw new CheckpointError(files.config, `format is ${JSON.stringify(json.format)}, expected "${ADAPTER_FORMAT}"`);
  if (json.version !== ADAPTER_FORMAT_VERSION) throw new CheckpointError(files.config, `version ${JSON.stringify(json.version)} is not supported (this library reads ${ADAPTER_FORMAT_VERSION})`);
  if (json.name !== name) throw new CheckpointError(files.config, `names adapter ${JSON.stringify(json.name)}, not "${name}"`);
  const want = modelShape(model.config);
  for (const k of Object.keys(want) as (keyof AdapterJson['model'])[]) {
    if (json.model?.[k] !== want[k]) throw new CheckpointError(files.config, `was made for a model with ${k} ${JSON.stringify(json.model?.[k])}; this model has ${want[k]}`);
  }
  const st = readSafetensors(files.weights);
  const { format: _f, version: _v, scaling: _s, model: _m, ...spec } = json;
  const handle = attachLoRA(model, spec);
  try {
    const params = handle.parameters();
    for (const n of st.tensors.keys()) if (!params.has(n)) throw new CheckpointError(files.weights, `unexpected tensor "${n}"`, n);
    for (const [n, v] of params) {
      const t = st.tensors.get(n);
      if (!t) throw new CheckpointError(files.weights, `missing tensor "${n}"`, n);
      if (t.shape.join(',') !== v.shape.join(',')) throw new CheckpointError(files.weights, `tensor "${n}" has shape [${t.shape}], expected [${v.shape}]`, n);
      const bad = t.data.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw new CheckpointError(files.weights, `tensor "${n}" has a non-finite value (${t.data[bad]} at index ${bad})`, n);
    }
    tf.tidy(() => {
      for (const [n, v] of params) {
        const t = st.tensors.get(n) as HostTensor;
        v.assign(tf.tensor(t.data, t.shape));
      }
    });
  } catch (err) {
    handle.detach();
    throw err;
  }
  handle.enabled = opts.enabled ?? true;
  return handle;
}
