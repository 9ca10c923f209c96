/**
 * PEFT adapter directories (Hugging Face `peft`'s file layout), so PyTorch users can read our adapters:
 *
 *   adapter_model.safetensors  base_model.model.model.layers.{i}.self_attn.{q,k,v,o}_proj.lora_A.weight [r, in]
 *                                                                          ….lora_B.weight [out, r]
 *                              output-modality kinds add the image branch beside them:
 *                                moe-lora      ….image_lora_A.weight [r, in], ….image_lora_B.weight [out, r]
 *                                convlora      ….image_lora_A.weight [r, in, 2, 2] (PyTorch Conv2d), ….image_lora_B.weight
 *                                sam-convlora  ….image_lora_A.weight [r, in], ….image_lora_conv2.weight [r, r, 2, 2],
 *                                              ….image_lora_conv4.weight [r, r, 4, 4], ….image_lora_B.weight
 *   adapter_config.json        PEFT's r, lora_alpha, use_rslora (true: scaling α/√r), lora_dropout,
 *                              target_modules, layers_to_transform, plus `switchboard` (kind, position rule,
 *                              grid, and the model shape it fits).
 *
 * PEFT's weights are [out, in] (y = x·Wᵀ); the model stores [in, out], so A and B are transposed. The
 * model fuses q|k|v into one projection (`attn.wqkv`, columns [q | k | v]); adapters keep q, k and v
 * apart, so q_proj/k_proj/v_proj map one to one onto the fused projection's column blocks (PEFT's
 * rows of lora_B). A conv weight [r, d, k, k] maps onto our im2col layout [k²·d, r]: row (kh·k + kw)·d + c.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { HostTensor } from '../model/params';
import { CheckpointError, encodeSafetensors, readSafetensors } from '../checkpoint';
import { writeDirAtomic } from '../checkpoint/files';
import { AdapterHost, LoRAHandle, attachLoRA, modelOf } from './attach';
import type { LoRAOptions } from './lora';
import { ModalityLoRAOptions, POSITION_RULES } from './modality-spec';
import { adapterModelShape, AdapterModelShape } from './model-shape';

export const PEFT_WEIGHTS = 'adapter_model.safetensors';
export const PEFT_CONFIG = 'adapter_config.json';

const PLAIN_RULES: Record<string, string> = {
  lora: 'every position',
  plora: 'modality: image-token positions only (Partial LoRA), text and special tokens use the base weights',
};

export interface PeftConfig {
  peft_type: 'LORA';
  task_type: 'CAUSAL_LM';
  r: number;
  lora_alpha: number;
  use_rslora: true;
  lora_dropout: number;
  target_modules: string[];
  layers_to_transform: number[];
  bias: 'none';
  fan_in_fan_out: false;
  switchboard: {
    kind: string;
    name: string;
    seed: number;
    position_rule: string;
    grid: { height: number; width: number } | null;
    model: AdapterModelShape;
  };
}

/** One parameter path's PEFT tensor name and how its values move. */
interface Mapping {
  peft: string;
  /** Our shape → PEFT's shape; `toPeft` / `fromPeft` reorder the values. */
  shape: number[];
  toPeft(data: Float32Array, shape: number[]): Float32Array;
  fromPeft(data: Float32Array, shape: number[]): Float32Array;
}

function transpose2(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j];
  return out;
}

/** [k²·d, r] (im2col) ⇄ [r, d, k, k] (Conv2d). */
function convToTorch(data: Float32Array, k: number, d: number, r: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let kh = 0; kh < k; kh++) for (let kw = 0; kw < k; kw++) for (let c = 0; c < d; c++) for (let a = 0; a < r; a++) out[((a * d + c) * k + kh) * k + kw] = data[((kh * k + kw) * d + c) * r + a];
  return out;
}
function convFromTorch(data: Float32Array, k: number, d: number, r: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let kh = 0; kh < k; kh++) for (let kw = 0; kw < k; kw++) for (let c = 0; c < d; c++) for (let a = 0; a < r; a++) out[((kh * k + kw) * d + c) * r + a] = data[((a * d + c) * k + kh) * k + kw];
  return out;
}

/** The PEFT mapping of one of our parameter paths (`adapters.<name>.blocks.<i>.attn.<t>.<…>`) of shape `shape`. */
export function peftMapping(paramPath: string, shape: number[]): Mapping {
  const m = /^adapters\.[A-Za-z0-9_-]+\.blocks\.(\d+)\.attn\.([qkvo])\.(A|B|text\.A|text\.B|image\.A|image\.B|image\.conv\d*)$/.exec(paramPath);
  if (!m) throw new Error(`no PEFT name for adapter parameter '${paramPath}'`);
  const module = `base_model.model.model.layers.${m[1]}.self_attn.${m[2]}_proj`;
  const w = m[3];
  const [rows, cols] = shape;
  const t2: Pick<Mapping, 'toPeft' | 'fromPeft' | 'shape'> = {
    shape: [cols, rows],
    toPeft: (d) => transpose2(d, rows, cols),
    fromPeft: (d) => transpose2(d, cols, rows),
  };
  if (w === 'A' || w === 'text.A') return { peft: `${module}.lora_A.weight`, ...t2 };
  if (w === 'B' || w === 'text.B') return { peft: `${module}.lora_B.weight`, ...t2 };
  if (w === 'image.A') return { peft: `${module}.image_lora_A.weight`, ...t2 };
  if (w === 'image.B') return { peft: `${module}.image_lora_B.weight`, ...t2 };
  // conv weights: `image.conv` (MoSS, k = 2, d = d_in) takes image_lora_A's place; `image.conv<k>` (SAM, d = r)
  const r = cols;
  const k = w === 'image.conv' ? 2 : Number(w.slice('image.conv'.length));
  const d = rows / (k * k);
  return {
    peft: w === 'image.conv' ? `${module}.image_lora_A.weight` : `${module}.image_lora_conv${k}.weight`,
    shape: [r, d, k, k],
    toPeft: (data) => convToTorch(data, k, d, r),
    fromPeft: (data) => convFromTorch(data, k, d, r),
  };
}

/** The adapter_config.json of an attached adapter. */
export function peftConfig(handle: LoRAHandle): PeftConfig {
  const spec = handle.spec;
  const modalityKind = spec.kind !== 'lora' && spec.kind !== 'plora';
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    r: spec.rank,
    lora_alpha: spec.alpha,
    use_rslora: true,
    lora_dropout: spec.dropout ?? 0,
    target_modules: spec.targets.map((t) => `${t}_proj`),
    layers_to_transform: spec.layers.slice(),
    bias: 'none',
    fan_in_fan_out: false,
    switchboard: {
      kind: spec.kind,
      name: spec.name,
      seed: spec.seed,
      position_rule: modalityKind ? POSITION_RULES[spec.kind as keyof typeof POSITION_RULES] : PLAIN_RULES[spec.kind],
      grid: 'grid' in spec ? spec.grid : null,
      model: adapterModelShape(handle.model.config),
    },
  };
}

/** Writes the adapter as a PEFT directory `dir` (replacing it atomically); returns the two file paths. */
export function savePeftAdapter(handle: LoRAHandle, dir: string): { weights: string; config: string } {
  const tensors: [string, HostTensor][] = [...handle.parameters()].map(([n, v]) => {
    const m = peftMapping(n, v.shape);
    return [m.peft, { shape: m.shape, data: m.toPeft(v.dataSync() as Float32Array, v.shape) }];
  });
  const weights = encodeSafetensors(tensors, { metadata: { format: 'pt' } }, path.join(dir, PEFT_WEIGHTS));
  writeDirAtomic(dir, new Map<string, Uint8Array | string>([[PEFT_WEIGHTS, weights], [PEFT_CONFIG, `${JSON.stringify(peftConfig(handle), null, 2)}\n`]]));
  return { weights: path.join(dir, PEFT_WEIGHTS), config: path.join(dir, PEFT_CONFIG) };
}

/** Whether `dir` holds a PEFT adapter (its adapter_config.json). */
export function isPeftDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, PEFT_CONFIG));
}

/**
 * Attaches the PEFT adapter in `dir` (one written by savePeftAdapter). Everything is validated (config,
 * model shape, every tensor's name, shape and finiteness) before the adapter is switched on.
 */
export function loadPeftAdapter(host: AdapterHost, dir: string, opts: { enabled?: boolean; name?: string } = {}): LoRAHandle {
  const model = modelOf(host);
  const cfgFile = path.join(dir, PEFT_CONFIG);
  const wFile = path.join(dir, PEFT_WEIGHTS);
  let c: PeftConfig;
  try {
    c = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as PeftConfig;
  } catch (err) {
    throw new CheckpointError(cfgFile, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `not valid JSON (${(err as Error).message})`);
  }
  if (c.peft_type !== 'LORA') throw new CheckpointError(cfgFile, `peft_type is ${JSON.stringify(c.peft_type)}, expected "LORA"`);
  if (c.use_rslora !== true) throw new CheckpointError(cfgFile, `use_rslora is ${JSON.stringify(c.use_rslora)}; this library scales by lora_alpha/√r (use_rslora: true)`);
  const sb = c.switchboard;
  if (!sb || typeof sb.kind !== 'string') throw new CheckpointError(cfgFile, "has no 'switchboard' field naming the adapter kind and position rule");
  const want = adapterModelShape(model.config);
  for (const k of Object.keys(want) as (keyof AdapterModelShape)[]) {
    if (sb.model?.[k] !== want[k]) throw new CheckpointError(cfgFile, `was made for a model with ${k} ${JSON.stringify(sb.model?.[k])}; this model has ${want[k]}`);
  }
  const targets = (c.target_modules ?? []).map((m) => m.replace(/_proj$/, '')) as LoRAOptions['targets'];
  const options = { kind: sb.kind, name: opts.name ?? sb.name, rank: c.r, alpha: c.lora_alpha, layers: c.layers_to_transform, targets, seed: sb.seed, dropout: c.lora_dropout, grid: sb.grid };
  const handle = sb.kind === 'lora' || sb.kind === 'plora'
    ? attachLoRA(model, { kind: sb.kind, name: options.name, rank: c.r, alpha: c.lora_alpha, layers: c.layers_to_transform, targets, seed: sb.seed, ...(c.lora_dropout ? { dropout: c.lora_dropout } : {}) })
    : attachLoRA(model, options as ModalityLoRAOptions);
  try {
    const st = readSafetensors(wFile);
    const params = handle.parameters();
    const maps = new Map([...params].map(([n, v]) => [n, peftMapping(n, v.shape)]));
    const expected = new Set([...maps.values()].map((m) => m.peft));
    for (const n of st.tensors.keys()) if (!expected.has(n)) throw new CheckpointError(wFile, `unexpected tensor "${n}"`, n);
    for (const m of maps.values()) {
      const t = st.tensors.get(m.peft);
      if (!t) throw new CheckpointError(wFile, `missing tensor "${m.peft}"`, m.peft);
      if (t.shape.join(',') !== m.shape.join(',')) throw new CheckpointError(wFile, `tensor "${m.peft}" has shape [${t.shape}], expected [${m.shape}]`, m.peft);
      const bad = t.data.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw new CheckpointError(wFile, `tensor "${m.peft}" has a non-finite value (${t.data[bad]} at index ${bad})`, m.peft);
    }
    tf.tidy(() => {
      for (const [n, v] of params) {
        const m = maps.get(n) as Mapping;
        const t = st.tensors.get(m.peft) as HostTensor;
        v.assign(tf.tensor(m.fromPeft(t.data, t.shape), v.shape));
      }
    });
  } catch (err) {
    handle.detach();
    throw err;
  }
  handle.enabled = opts.enabled ?? true;
  return handle;
}
