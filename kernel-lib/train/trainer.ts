/**
 * train(): the language-model trainer on the shared loop (loop.ts): AdamW + warmup/cosine + global-norm
 * clipping + the MoE load-balancing loss, per-modality loss weights, frozen parameters, slices, parameter
 * groups, seeded and resumable. Batches come from a function of the step index, so a resumed run sees
 * exactly the batches the uninterrupted run would have, and its loss curve continues the same curve.
 *
 * The trainable set is the model's parameters plus the weights of every enabled adapter attached to it
 * (`model.adapters`, paths `adapters.<name>.…`), minus the frozen patterns, which apply to both.
 *
 * A run directory (run-dir.ts) holds `step-N/` snapshots of `checkpoint/` (a normal model checkpoint,
 * loadable on its own), `optimizer.safetensors` (AdamW moments) and `adapters.safetensors` (adapter
 * weights, when adapters are attached), and `trainer_state.json` (step, history, options) naming the
 * newest complete snapshot.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { MoEModel } from '../model/model';
import type { HostTensor } from '../model/params';
import { DEFAULT_ADAMW, DEFAULT_CLIP_NORM, defaultWarmupSteps } from './schedule';
import type { OptimOptions } from './schedule';
import { encodeSafetensors, loadCheckpoint, readSafetensors } from '../checkpoint';
import { MODALITY_CODES } from '../model/adapter-seam';
import { checkMetaRows, PositionMeta } from '../model/positions';
import type { DirEntry } from '../checkpoint/files';
import type { Modality } from '../tokenizer/prompt';
import { trainLoop, UpdateSetup } from './loop';
import { statesNll } from './lm-loss';
import { currentDevice } from '../backend/backend';
import { trainableNames } from './params';
import { DataParallelPool, compiledModule } from './parallel/pool';
import { pooledUpdater } from './parallel/pooled-update';
import { lmShare, splitRows, LmGradInit } from './parallel/lm-grads';
import type { ParamGroup, TrainSlice } from './params';
import { fnv1a } from '../util/random';

export { trainableNames } from './params';
export type { ParamGroup, TrainSlice } from './params';

const MODALITY_CODE: Record<Modality, number> = MODALITY_CODES;
const ADAPTERS_FILE = 'adapters.safetensors';

/** Rows of equal length T+1: inputs are ids[:, :-1], targets ids[:, 1:]. */
export interface TrainBatch {
  ids: number[][];
  /** Optional per-target loss weights [B, T] (multiplied with the modality weights). */
  weights?: number[][];
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
  /** Threads that computed the gradients: data-parallel workers, or 1 (this thread). */
  threads: number;
}

export interface TrainOptions extends OptimOptions {
  steps: number;
  /** The batch for 0-based step i (must be deterministic in i for resume to continue the same curve). */
  batches: (step: number) => TrainBatch;
  /**
   * Seeds the adapters' dropout masks: step i's forward gets dropoutSeed fnv1a(`dropout|seed|i`), so a run
   * draws the same masks in any process and when resumed (default 0; only adapters with dropout use it).
   */
  seed?: number;
  eps?: number;
  /** Clip the global gradient norm to this (0 = off). Default 1. */
  clipNorm?: number;
  /** Load-balancing loss weight (default: the model config's routerAuxLossCoef). */
  auxLossCoef?: number;
  /** Loss weight per modality of the TARGET token (default 1 each); needs `modalityOf`. */
  modalityWeights?: Partial<Record<Modality, number>>;
  modalityOf?: (id: number) => Modality;
  /**
   * Position metadata of a batch's input rows (each read from its own start; model/positions.ts), for
   * adapters that route by output modality or image grid cell (MoSS's ConvLoRA). When given, the
   * adapters get it instead of the modality codes of `modalityOf` (whose loss weights still apply).
   */
  positionsOf?: (rows: readonly (readonly number[])[]) => PositionMeta;
  /** Glob patterns (`*` = any run of characters) of parameters to keep frozen, e.g. `blocks.*.attn.*`. */
  freeze?: string[];
  /**
   * Parameters that train only in part: along `axis`, indices [from, to) train and the rest stays
   * exactly as it is (no gradient step, no weight decay). For a vocabulary grown for a new modality,
   * `{ param: 'embed', axis: 0, from: oldVocab }` and `{ param: 'lm_head', axis: 1, from: oldVocab }`
   * train the new rows/columns while the text ones stay frozen.
   */
  trainSlices?: TrainSlice[];
  /** Parameters (by glob) with their own learning-rate multiplier and weight decay (params.ts). */
  groups?: ParamGroup[];
  /** Directory for resumable checkpoints; with it, a run that finds trainer_state.json resumes. */
  runDir?: string;
  checkpointEvery?: number;
  /** Writes the model checkpoint into a directory (the session's save). Required with runDir. */
  saveModel?: (dir: string, extra: Record<string, unknown>) => void;
  onStep?: (e: TrainEvent) => void;
  signal?: AbortSignal;
  /**
   * Data-parallel worker threads for the updates (train/parallel; default session.device.trainWorkers,
   * i.e. SWITCHBOARD_TRAIN_WORKERS, else 1 = this thread). Same loss curve within float tolerance; not with
   * adapters attached (they train on this thread).
   */
  workers?: number;
}

export interface TrainResult {
  history: TrainEvent[];
  /** Step the run resumed from (0 for a fresh run). */
  resumedFrom: number;
  stopped: 'done' | 'aborted';
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
  if (o.groups && o.groups.length > 0) f.groups = o.groups; // likewise absent without groups
  if (o.seed !== undefined) f.seed = o.seed; // likewise absent when not given
  return f;
}

export async function train(model: MoEModel, o: TrainOptions): Promise<TrainResult> {
  const cfg = model.config;
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`steps must be a positive integer, got ${JSON.stringify(o.steps)}`);
  const lr = o.lr ?? 1e-3;
  if (o.seed !== undefined && !(Number.isInteger(o.seed) && o.seed >= 0 && o.seed < 2 ** 32)) throw new Error(`seed must be an integer in [0, 2^32), got ${JSON.stringify(o.seed)}`);
  const dropoutSeedOf = (step: number): number => fnv1a(`dropout|${o.seed ?? 0}|${step}`);
  const auxCoef = o.auxLossCoef ?? cfg.routerAuxLossCoef;
  if (o.runDir && !o.saveModel) throw new Error('train: runDir needs saveModel (pass session.save or use session.train)');
  if (o.modalityWeights && !o.modalityOf) throw new Error('train: modalityWeights needs modalityOf');
  const params = trainingParams(model);
  const adapterNames = [...params.keys()].filter((n) => !model.params.has(n));
  const history: TrainEvent[] = [];
  let t0 = performance.now();
  let lmLoss = 0;
  let auxLoss = 0;
  let shape = { B: 0, T: 0 };
  const workers = o.workers ?? currentDevice()?.trainWorkers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`train: workers must be a positive integer, got ${JSON.stringify(o.workers)}`);
  const pool = workers > 1 && adapterNames.length === 0 ? await startPool(model, trainableNames([...params.keys()], o.freeze), auxCoef, workers) : null;
  // With workers, each whole update (gradients, sum, clipping, AdamW) runs in them (parallel/pooled-update.ts).
  const updater = pool
    ? (setup: UpdateSetup) =>
        pooledUpdater<PreparedBatch>(
          pool,
          params,
          setup,
          (batch) => {
            shape = { B: batch.B, T: batch.T };
            return splitRows(batch.B, pool.size).map(([from, to]) => lmShare(batch, from, to));
          },
          (res) => {
            lmLoss = res.stats.lmLoss;
            auxLoss = res.stats.auxLoss;
          },
        )
    : undefined;
  try {
    const r = await trainLoop({
      steps: o.steps,
      params,
      freeze: o.freeze,
      trainSlices: o.trainSlices,
      groups: o.groups,
      lr,
      minLr: o.minLr ?? lr / 10,
      warmupSteps: o.warmupSteps ?? defaultWarmupSteps(o.steps),
      adam: { beta1: o.beta1 ?? DEFAULT_ADAMW.beta1, beta2: o.beta2 ?? DEFAULT_ADAMW.beta2, eps: o.eps ?? DEFAULT_ADAMW.eps, weightDecay: o.weightDecay ?? DEFAULT_ADAMW.weightDecay },
      clipNorm: o.clipNorm ?? DEFAULT_CLIP_NORM,
      batches: (step) => prepareBatch(o.batches(step), o, cfg.vocabSize),
      updater,
      loss: ({ inputs, targets, weights, modalities, positions, B, T }, step) => {
        shape = { B, T };
        const l = lmTrainLoss(model, { inputs, targets, weights, modalities, positions, B, T }, { auxCoef, dropoutSeed: dropoutSeedOf(step) });
        lmLoss = l.lm.dataSync()[0];
        auxLoss = l.aux.dataSync()[0];
        return l.total;
      },
      onStep: (s) => {
        const now = performance.now();
        const ev: TrainEvent = {
          step: s.step,
          totalSteps: o.steps,
          loss: lmLoss + auxCoef * auxLoss,
          lmLoss,
          auxLoss,
          lr: s.lr,
          gradNorm: s.gradNorm,
          tokensPerSec: (shape.B * shape.T) / ((now - s.startedAt) / 1000),
          elapsedMs: now - t0,
          threads: pool ? pool.size : 1,
        };
        history.push(ev);
        o.onStep?.(ev);
      },
      run: o.runDir
        ? {
            dir: o.runDir,
            fingerprint: fingerprint(o, adapterNames),
            every: o.checkpointEvery,
            content: (step) => {
              const files = new Map<string, DirEntry>([['checkpoint', (dir) => o.saveModel!(dir, { train_step: step })]]);
              if (adapterNames.length > 0) files.set(ADAPTERS_FILE, encodeSafetensors(hostOf(params, adapterNames), { metadata: { step: String(step) } }));
              return files;
            },
            record: () => ({ history }),
            restore: (dir, record: { history: TrainEvent[] }, step) => {
              restore(model, params, adapterNames, dir, step);
              history.push(...record.history);
              t0 = performance.now() - (history.at(-1)?.elapsedMs ?? 0);
            },
          }
        : undefined,
      signal: o.signal,
    });
    return { history, resumedFrom: r.resumedFrom, stopped: r.stopped };
  } finally {
    await pool?.close();
  }
}

type PreparedBatch = ReturnType<typeof prepareBatch>;

/**
 * The trainer's loss of a prepared batch (under the loop's gradient tape): the weighted next-token NLL plus
 * auxCoef · the load-balancing loss. The head runs only on the targets with a weight (lm-loss.ts statesNll:
 * the same loss and gradients as the head over every position, without the prompt and padding rows).
 */
export function lmTrainLoss(model: MoEModel, b: Omit<PreparedBatch, 'weights'> & { weights: Float32Array | number[] }, o: { auxCoef: number; dropoutSeed?: number }): { total: tf.Scalar; lm: tf.Scalar; aux: tf.Scalar } {
  const { inputs, targets, weights, modalities, positions, B, T } = b;
  const out = model.forwardStates(tf.tensor2d(inputs, [B, T], 'int32'), { capture: 'none', ...(positions ? { positions } : { modalities }), training: true, dropoutSeed: o.dropoutSeed });
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i];
  const lm = statesNll(out.states, (x) => model.head(x, true), targets, weights, total, model.config.vocabSize);
  return { total: tf.add(lm, tf.mul(out.aux, o.auxCoef)) as tf.Scalar, lm, aux: out.aux };
}

/**
 * Workers for the LM's updates, one share of each batch's rows each (train/parallel). They hold every
 * parameter (frozen ones too, with this model's values) and return gradients of the trainable `names`.
 */
function startPool(model: MoEModel, names: string[], auxCoef: number, workers: number): Promise<DataParallelPool> {
  const init: LmGradInit = { config: model.config, names, auxCoef };
  const specs = [...model.params].map(([name, v]) => ({ name, shape: v.shape.slice() }));
  return DataParallelPool.start({ workers, module: compiledModule('kernel-lib/train/parallel/lm-grads'), init, specs, backend: currentDevice()?.tfBackend });
}

function hostOf(params: Map<string, tf.Variable>, names: string[]): Array<[string, HostTensor]> {
  return names.map((n) => {
    const v = params.get(n) as tf.Variable;
    return [n, { shape: v.shape.slice(), data: v.dataSync() as Float32Array }];
  });
}

/** A batch's rows as the trainer's flat arrays: inputs, targets, per-target weights, modality codes or position metadata. */
export function prepareBatch(batch: TrainBatch, o: Pick<TrainOptions, 'modalityOf' | 'modalityWeights' | 'positionsOf'>, V: number) {
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
  const positions = o.positionsOf ? o.positionsOf(rows.map((r) => r.slice(0, T))) : undefined;
  if (positions) checkMetaRows(positions, B * T, 'train: positionsOf');
  return { inputs, targets, weights: Array.from(weights), modalities, positions, B, T };
}

/** Loads snapshot `dir` of step `step` into the model and its adapters, all validated before anything is assigned. */
function restore(model: MoEModel, params: Map<string, tf.Variable>, adapterNames: string[], dir: string, step: number): void {
  const ck = loadCheckpoint(path.join(dir, 'checkpoint'));
  if (ck.extra.train_step !== step) throw new Error(`${dir}/checkpoint: holds step ${String(ck.extra.train_step)}, the run directory names step ${step}`);
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
  tf.tidy(() => {
    for (const [n, h] of ck.params) (model.params.get(n) as tf.Variable).assign(tf.tensor(h.data, h.shape));
    for (const n of adapterNames) {
      const h = adapterState.get(n) as HostTensor;
      (params.get(n) as tf.Variable).assign(tf.tensor(h.data, h.shape));
    }
  });
}
