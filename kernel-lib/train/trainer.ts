/**
 * train(): AdamW + warmup/cosine + global-norm clipping + the MoE load-balancing loss, per-modality
 * loss weights, frozen parameter groups, seeded and resumable. Batches come from a function of the
 * step index, so a resumed run sees exactly the batches the uninterrupted run would have, and its loss
 * curve continues the same curve.
 *
 * The trainable set is the model's parameters plus the weights of every enabled adapter attached to it
 * (`model.adapters`, paths `adapters.<name>.…`), minus the frozen patterns, which apply to both.
 *
 * A run directory holds `checkpoint/` (a normal model checkpoint, loadable on its own),
 * `optimizer.safetensors` (AdamW moments), `adapters.safetensors` (adapter weights, when adapters are
 * attached) and `trainer_state.json` (step, history, options), written in that order each time so the
 * state file only ever names a complete checkpoint.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { MoEModel } from '../model/model';
import type { HostTensor } from '../model/params';
import { AdamW } from './adamw';
import { learningRate, OptimOptions } from './schedule';
import { loadCheckpoint, readSafetensors, writeSafetensors } from '../checkpoint';
import { atomicWriteFile } from '../checkpoint/files';
import { MODALITY_CODES } from '../model/adapter-seam';

export type Modality = 'text' | 'image' | 'special';
const MODALITY_CODE: Record<Modality, number> = MODALITY_CODES;
const ADAPTERS_FILE = 'adapters.safetensors';

/** Rows of equal length T+1: inputs are ids[:, :-1], targets ids[:, 1:]. */
export interface TrainBatch {
  ids: number[][];
  /** Optional per-target loss weights [B, T] (multiplied with the modality weights). */
  weights?: number[][];
}

/** Part of a parameter that trains (see TrainOptions.trainSlices). */
export interface TrainSlice {
  param: string;
  axis: number;
  from: number;
  /** Exclusive end (default: the whole axis). */
  to?: number;
}

export interface TrainEvent {
  /** Updates completed (1-based). */
  step: number;
  totalSteps: number;
  loss: number;
  lmLoss: number;
  auxLoss: number;
  lr: number;
  gradNorm: number;
  tokensPerSec: number;
  elapsedMs: number;
}

export interface TrainOptions extends OptimOptions {
  steps: number;
  /** The batch for 0-based step i (must be deterministic in i for resume to continue the same curve). */
  batches: (step: number) => TrainBatch;
  eps?: number;
  /** Clip the global gradient norm to this (0 = off). Default 1. */
  clipNorm?: number;
  /** Load-balancing loss weight (default: the model config's routerAuxLossCoef). */
  auxLossCoef?: number;
  /** Loss weight per modality of the TARGET token (default 1 each); needs `modalityOf`. */
  modalityWeights?: Partial<Record<Modality, number>>;
  modalityOf?: (id: number) => Modality;
  /** Glob patterns (`*` = any run of characters) of parameters to keep frozen, e.g. `blocks.*.attn.*`. */
  freeze?: string[];
  /**
   * Parameters that train only in part: along `axis`, indices [from, to) train and the rest stays
   * exactly as it is (no gradient step, no weight decay). For a vocabulary grown for a new modality,
   * `{ param: 'embed', axis: 0, from: oldVocab }` and `{ param: 'lm_head', axis: 1, from: oldVocab }`
   * train the new rows/columns while the text ones stay frozen.
   */
  trainSlices?: TrainSlice[];
  /** Directory for resumable checkpoints; with it, a run that finds trainer_state.json resumes. */
  runDir?: string;
  checkpointEvery?: number;
  /** Writes the model checkpoint into a directory (the session's save). Required with runDir. */
  saveModel?: (dir: string, extra: Record<string, unknown>) => void;
  onStep?: (e: TrainEvent) => void;
  signal?: AbortSignal;
}

export interface TrainResult {
  history: TrainEvent[];
  /** Step the run resumed from (0 for a fresh run). */
  resumedFrom: number;
  stopped: 'done' | 'aborted';
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** The names of parameters that train, given freeze patterns (each pattern must match something). */
export function trainableNames(all: string[], freeze: string[] = []): string[] {
  const res = freeze.map((g) => ({ g, re: globToRegExp(g), hit: false }));
  const out = all.filter((n) => {
    let frozen = false;
    for (const r of res) if (r.re.test(n)) (r.hit = true), (frozen = true);
    return !frozen;
  });
  const miss = res.find((r) => !r.hit);
  if (miss) throw new Error(`freeze pattern '${miss.g}' matches no parameter`);
  if (out.length === 0) throw new Error('every parameter is frozen: nothing to train');
  return out;
}

/** The model's parameters and its enabled adapters' weights (adapter paths start with `adapters.`). */
export function trainingParams(model: MoEModel): Map<string, tf.Variable> {
  const all = new Map(model.params);
  for (const [n, v] of model.adapters.parameters()) {
    if (all.has(n)) throw new Error(`train: adapter parameter '${n}' has the name of a model parameter`);
    all.set(n, v);
  }
  return all;
}

function fingerprint(o: TrainOptions, adapterNames: string[]): Record<string, unknown> {
  const f: Record<string, unknown> = { steps: o.steps, lr: o.lr, minLr: o.minLr, warmupSteps: o.warmupSteps, weightDecay: o.weightDecay, freeze: o.freeze ?? [] };
  if (o.trainSlices && o.trainSlices.length > 0) f.trainSlices = o.trainSlices;
  if (adapterNames.length > 0) f.adapters = adapterNames; // absent without adapters, so older run directories still resume
  return f;
}

export async function train(model: MoEModel, o: TrainOptions): Promise<TrainResult> {
  const cfg = model.config;
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`steps must be a positive integer, got ${JSON.stringify(o.steps)}`);
  const lr = o.lr ?? 1e-3;
  const sched = { lr, minLr: o.minLr ?? lr / 10, warmupSteps: o.warmupSteps ?? Math.min(100, Math.floor(o.steps / 10)), totalSteps: o.steps };
  const auxCoef = o.auxLossCoef ?? cfg.routerAuxLossCoef;
  const clip = o.clipNorm ?? 1;
  if (o.runDir && !o.saveModel) throw new Error('train: runDir needs saveModel (pass session.save or use session.train)');
  if (o.modalityWeights && !o.modalityOf) throw new Error('train: modalityWeights needs modalityOf');
  const params = trainingParams(model);
  const adapterNames = [...params.keys()].filter((n) => !model.params.has(n));
  const names = trainableNames([...params.keys()], o.freeze);
  const masks = sliceMasks(params, names, o.trainSlices ?? []);
  const opt = new AdamW(names, params, { beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.95, eps: o.eps ?? 1e-8, weightDecay: o.weightDecay ?? 0.1 }, masks);
  const history: TrainEvent[] = [];
  let start = 0;
  const statePath = o.runDir ? path.join(o.runDir, 'trainer_state.json') : '';
  try {
    if (o.runDir && fs.existsSync(statePath)) {
      start = resume(model, params, adapterNames, opt, o, history);
    }
    const t0 = performance.now() - (history.at(-1)?.elapsedMs ?? 0);
    for (let step = start; step < o.steps; step++) {
      await new Promise<void>((r) => setImmediate(r));
      if (o.signal?.aborted) return { history, resumedFrom: start, stopped: 'aborted' };
      const ts = performance.now();
      const batch = o.batches(step);
      const { inputs, targets, weights, modalities, B, T } = prepareBatch(batch, o, cfg.vocabSize);
      const rate = learningRate(step, sched);
      let lmLoss = 0;
      let auxLoss = 0;
      let gradNorm = 0;
      tf.tidy(() => {
        const vars = names.map((n) => params.get(n) as tf.Variable);
        // engine().gradients rather than variableGrads: a step where no trainable weight reaches the loss
        // (only Partial LoRA adapters training on a batch without image tokens) has no gradients, not an error.
        const { grads } = tf.engine().gradients(() => {
          const r = model.forwardTensors(tf.tensor2d(inputs, [B, T], 'int32'), { capture: 'none', modalities, training: true });
          const logp = tf.logSoftmax(r.logits); // [N, V]
          const oh = tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), cfg.vocabSize), 'float32'); // [N, V] (gather has no wasm gradient)
          const nll = tf.neg(tf.sum(tf.mul(logp, oh), -1)); // [N]
          const w = tf.tensor1d(weights);
          const lm = tf.div(tf.sum(tf.mul(nll, w)), Math.max(1e-8, weights.reduce((a, b) => a + b, 0)));
          lmLoss = lm.dataSync()[0];
          auxLoss = r.aux.dataSync()[0];
          return tf.add(lm, tf.mul(r.aux, auxCoef)) as tf.Scalar;
        }, vars, undefined, true);
        const gm = new Map<string, tf.Tensor>();
        names.forEach((n, i) => {
          const mask = masks.get(n);
          if (grads[i]) gm.set(n, mask ? tf.mul(grads[i], mask) : grads[i]);
        });
        gradNorm = gm.size === 0 ? 0 : Math.sqrt(tf.addN([...gm.values()].map((g) => tf.sum(tf.square(g)))).dataSync()[0]);
        if (clip > 0 && gradNorm > clip) for (const [n, g] of gm) gm.set(n, tf.mul(g, clip / (gradNorm + 1e-6)));
        opt.apply(gm, rate);
      });
      const now = performance.now();
      const ev: TrainEvent = {
        step: step + 1,
        totalSteps: o.steps,
        loss: lmLoss + auxCoef * auxLoss,
        lmLoss,
        auxLoss,
        lr: rate,
        gradNorm,
        tokensPerSec: (B * T) / ((now - ts) / 1000),
        elapsedMs: now - t0,
      };
      history.push(ev);
      o.onStep?.(ev);
      const last = step + 1 === o.steps;
      if (o.runDir && (last || (o.checkpointEvery && (step + 1) % o.checkpointEvery === 0))) save(opt, o, history, params, adapterNames);
    }
    return { history, resumedFrom: start, stopped: 'done' };
  } finally {
    opt.dispose();
    for (const m of masks.values()) m.dispose();
  }
}

/** 0/1 masks for TrainOptions.trainSlices, validated against the trainable parameters. */
function sliceMasks(params: Map<string, tf.Variable>, trainable: string[], slices: TrainSlice[]): Map<string, tf.Tensor> {
  const ranges = new Map<string, TrainSlice>();
  for (const [i, sl] of slices.entries()) {
    const where = `trainSlices[${i}]`;
    const p = params.get(sl?.param);
    if (!p) throw new Error(`${where}: no parameter '${String(sl?.param)}'`);
    if (!trainable.includes(sl.param)) throw new Error(`${where}: parameter '${sl.param}' is frozen; a slice of it cannot train`);
    if (ranges.has(sl.param)) throw new Error(`${where}: parameter '${sl.param}' has two slices`);
    if (!Number.isInteger(sl.axis) || sl.axis < 0 || sl.axis >= p.rank) throw new Error(`${where}: axis must be an integer in [0, ${p.rank}) for '${sl.param}' of shape [${p.shape.join(', ')}], got ${String(sl.axis)}`);
    const dim = p.shape[sl.axis];
    const to = sl.to ?? dim;
    if (!Number.isInteger(sl.from) || !Number.isInteger(to) || sl.from < 0 || to > dim || sl.from >= to) {
      throw new Error(`${where}: need integers 0 <= from < to <= ${dim} on axis ${sl.axis} of '${sl.param}', got from ${String(sl.from)}, to ${String(to)}`);
    }
    ranges.set(sl.param, { ...sl, to });
  }
  const out = new Map<string, tf.Tensor>();
  for (const [n, sl] of ranges) {
    const p = params.get(n) as tf.Variable;
    const dim = p.shape[sl.axis];
    const line = new Float32Array(dim);
    line.fill(1, sl.from, sl.to);
    const shape = p.shape.map((d, a) => (a === sl.axis ? d : 1));
    out.set(n, tf.tidy(() => tf.mul(tf.ones(p.shape), tf.tensor(line, shape))));
  }
  return out;
}

function prepareBatch(batch: TrainBatch, o: TrainOptions, V: number) {
  const rows = batch.ids;
  if (!Array.isArray(rows) || rows.length === 0) throw new Error('train: a batch needs at least one row of ids');
  const L = rows[0].length;
  if (L < 2) throw new Error('train: batch rows need at least 2 ids (input and target)');
  const B = rows.length;
  const T = L - 1;
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  const weights = new Float32Array(B * T).fill(1);
  const modalities = o.modalityOf ? new Uint8Array(B * T) : undefined;
  rows.forEach((r, b) => {
    if (r.length !== L) throw new Error(`train: batch row ${b} has ${r.length} ids, expected ${L}`);
    for (let j = 0; j < L; j++) {
      const id = r[j];
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`train: batch row ${b} id ${id} at ${j} is outside [0, ${V})`);
    }
    for (let j = 0; j < T; j++) {
      inputs[b * T + j] = r[j];
      targets[b * T + j] = r[j + 1];
      let w = batch.weights ? batch.weights[b]?.[j] ?? 1 : 1;
      if (o.modalityOf) {
        modalities![b * T + j] = MODALITY_CODE[o.modalityOf(r[j])];
        if (o.modalityWeights) w *= o.modalityWeights[o.modalityOf(r[j + 1])] ?? 1;
      }
      weights[b * T + j] = w;
    }
  });
  return { inputs, targets, weights: Array.from(weights), modalities, B, T };
}

function save(opt: AdamW, o: TrainOptions, history: TrainEvent[], params: Map<string, tf.Variable>, adapterNames: string[]): void {
  const dir = o.runDir as string;
  const step = history.at(-1)?.step ?? 0;
  fs.mkdirSync(dir, { recursive: true });
  o.saveModel!(path.join(dir, 'checkpoint'), { train_step: step });
  const tmp = path.join(dir, `optimizer.safetensors.tmp-${process.pid}`);
  writeSafetensors(tmp, opt.state(), { metadata: { step: String(step), adam_t: String(opt.t) } });
  fs.renameSync(tmp, path.join(dir, 'optimizer.safetensors'));
  if (adapterNames.length > 0) {
    const host = adapterNames.map((n): [string, { shape: number[]; data: Float32Array }] => {
      const v = params.get(n) as tf.Variable;
      return [n, { shape: v.shape.slice(), data: v.dataSync() as Float32Array }];
    });
    writeSafetensors(path.join(dir, ADAPTERS_FILE), host, { metadata: { step: String(step) } });
  }
  atomicWriteFile(path.join(dir, 'trainer_state.json'), JSON.stringify({ step, adamT: opt.t, options: fingerprint(o, adapterNames), history }, null, 1));
}

function resume(model: MoEModel, params: Map<string, tf.Variable>, adapterNames: string[], opt: AdamW, o: TrainOptions, history: TrainEvent[]): number {
  const dir = o.runDir as string;
  const file = path.join(dir, 'trainer_state.json');
  const state = JSON.parse(fs.readFileSync(file, 'utf8')) as { step: number; adamT: number; options: Record<string, unknown>; history: TrainEvent[] };
  const want = fingerprint(o, adapterNames);
  for (const k of new Set([...Object.keys(want), ...Object.keys(state.options)])) {
    const v = want[k];
    if (JSON.stringify(state.options[k]) !== JSON.stringify(v)) {
      throw new Error(`${file}: this run was started with ${k} = ${JSON.stringify(state.options[k])}, now ${JSON.stringify(v)}; use a new runDir or the same options`);
    }
  }
  const ck = loadCheckpoint(path.join(dir, 'checkpoint'));
  if (ck.extra.train_step !== state.step) {
    throw new Error(`${file}: names step ${state.step} but checkpoint/ holds step ${String(ck.extra.train_step)}`);
  }
  for (const [n, h] of ck.params) {
    const v = model.params.get(n);
    if (!v || v.shape.join(',') !== h.shape.join(',')) throw new Error(`${dir}/checkpoint: parameter '${n}' does not fit this model`);
  }
  const adapterState = adapterNames.length > 0 ? readSafetensors(path.join(dir, ADAPTERS_FILE)).tensors : new Map<string, HostTensor>();
  for (const n of adapterNames) {
    const h = adapterState.get(n);
    const v = params.get(n) as tf.Variable;
    if (!h || h.shape.join(',') !== v.shape.join(',')) throw new Error(`${dir}/${ADAPTERS_FILE}: adapter parameter '${n}' is missing or has another shape`);
  }
  const optState = readSafetensors(path.join(dir, 'optimizer.safetensors'));
  opt.load(optState.tensors, state.adamT); // validates every moment before the model is touched
  tf.tidy(() => {
    for (const [n, h] of ck.params) (model.params.get(n) as tf.Variable).assign(tf.tensor(h.data, h.shape));
    for (const n of adapterNames) {
      const h = adapterState.get(n) as HostTensor;
      (params.get(n) as tf.Variable).assign(tf.tensor(h.data, h.shape));
    }
  });
  history.push(...state.history);
  return state.step;
}
