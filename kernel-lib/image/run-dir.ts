/**
 * The resumable run directory of trainVQVAE: `step-NNNNNN/` (weights F32, AdamW moments, EMA state as
 * float64 JSON), written whole into a temporary directory and renamed, then `state.json`, written last,
 * naming the complete snapshot (older snapshots are removed after).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import type { AdamW } from '../train/adamw';
import { atomicWriteFile } from '../checkpoint/files';
import { encodeSafetensors, readSafetensors } from '../checkpoint/safetensors';
import type { VQVAE } from './model';
import type { CodebookEma } from './quantizer';
import type { SizeEval } from './evaluate';
import type { CurvePoint } from './train-vqvae';
import { writeDirAtomic } from './checkpoint';

export interface RunState {
  version: 1;
  step: number;
  snapshot: string;
  adamT: number;
  elapsedMs: number;
  cpuMs: number;
  options: Record<string, unknown>;
  curve: CurvePoint[];
  evals: Array<{ step: number; results: SizeEval[] }>;
}


export function saveRun(dir: string, step: number, model: VQVAE, opt: AdamW, ema: CodebookEma, state: RunState): void {
  fs.mkdirSync(dir, { recursive: true });
  const name = `step-${String(step).padStart(6, '0')}`;
  const emaJson = JSON.stringify({ clusterSize: Array.from(ema.clusterSize), embedSum: Array.from(ema.embedSum), lastUsed: Array.from(ema.lastUsed) });
  writeDirAtomic(
    path.join(dir, name),
    new Map<string, Uint8Array | string>([
      ['model.safetensors', encodeSafetensors(model.hostTensors())],
      ['optimizer.safetensors', encodeSafetensors(opt.state(), { metadata: { adam_t: String(opt.t) } })],
      ['ema.json', emaJson],
    ]),
  );
  atomicWriteFile(path.join(dir, 'state.json'), `${JSON.stringify({ ...state, snapshot: name }, null, 1)}\n`);
  for (const old of fs.readdirSync(dir)) if (/^step-\d+$/.test(old) && old !== name) fs.rmSync(path.join(dir, old), { recursive: true, force: true });
}

export function resumeRun(dir: string, fp: Record<string, unknown>, model: VQVAE, opt: AdamW, ema: CodebookEma): RunState {
  const file = path.join(dir, 'state.json');
  const st = JSON.parse(fs.readFileSync(file, 'utf8')) as RunState;
  for (const [k, v] of Object.entries(fp)) {
    if (JSON.stringify(st.options[k]) !== JSON.stringify(v)) {
      throw new Error(`${file}: this run was started with ${k} = ${JSON.stringify(st.options[k])}, now ${JSON.stringify(v)}; use a new run directory or the same options`);
    }
  }
  const snap = path.join(dir, st.snapshot);
  const weights = readSafetensors(path.join(snap, 'model.safetensors')).tensors;
  const moments = readSafetensors(path.join(snap, 'optimizer.safetensors')).tensors;
  const e = JSON.parse(fs.readFileSync(path.join(snap, 'ema.json'), 'utf8')) as Record<'clusterSize' | 'embedSum' | 'lastUsed', number[]>;
  if (e.clusterSize.length !== ema.clusterSize.length || e.embedSum.length !== ema.embedSum.length) {
    throw new Error(`${snap}/ema.json: EMA state does not fit a codebook of ${ema.numCodes}×${ema.dim}`);
  }
  opt.load(moments, st.adamT);
  tf.tidy(() => {
    for (const [n, v] of model.params) {
      const h = weights.get(n);
      if (!h || h.shape.join(',') !== v.shape.join(',')) throw new Error(`${snap}/model.safetensors: parameter '${n}' is missing or has another shape`);
      v.assign(tf.tensor(h.data, h.shape));
    }
  });
  ema.clusterSize.set(e.clusterSize);
  ema.embedSum.set(e.embedSum);
  ema.lastUsed.set(e.lastUsed);
  return st;
}
