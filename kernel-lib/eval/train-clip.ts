/**
 * trainClip(): contrastive training of the workbench CLIP. Each batch mixes emoji (a random caption
 * variant, shifted by up to `maxShift` pixels) and scenes; the loss is the symmetric InfoNCE of CLIP
 * over the batch's image–caption similarity matrix scaled by exp(logit_scale). Two items with the same
 * caption text are both positives for each other (soft targets), so repeated captions are not
 * punished as negatives.
 *
 * The shared loop (train/loop.ts: AdamW + warmup/cosine). The batch of step i is a pure function of
 * (seed, i), so a resumed run sees the batches the uninterrupted run would have. Its run directory
 * (train/run-dir.ts) keeps `step-N/` snapshots of `checkpoint/` (a float32 CLIP checkpoint) and
 * `optimizer.safetensors`, and `trainer_state.json` naming the newest complete one.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import type { DirEntry } from '../checkpoint/files';
import { permutation, rngFor } from '../util/random';
import { currentDevice } from '../backend/backend';
import { trainLoop, UpdateSetup } from '../train/loop';
import { compiledModule, DataParallelPool } from '../train/parallel/pool';
import { pooledUpdater } from '../train/parallel/pooled-update';
import type { OptimOptions } from '../train/schedule';
import { ClipModel } from './clip';
import { captionTargets, clipLoss } from './clip-loss';
import { ClipGradInit, clipReduceLength, clipShares } from './clip-grads';

export { captionTargets, clipLoss } from './clip-loss';
import { patchGrid } from './clip-config';
import { ClipExample, ClipSource } from './clip-data';
import { imagePatches, textBags } from './clip-inputs';
import { CaptionedImage, clipRetrieval, RetrievalMetrics } from './retrieval';

export interface ClipTrainData {
  emoji: readonly ClipExample[];
  scenes: readonly ClipExample[];
}

export interface ClipTrainOptions extends OptimOptions {
  steps: number;
  /** Pairs per batch (default 256). */
  batchSize?: number;
  /** Share of each batch drawn from emoji, the rest from scenes (default 0.5). */
  emojiShare?: number;
  /** Emoji are translated by up to this many pixels in each direction (default 2; scenes never). */
  maxShift?: number;
  seed?: number;
  /** Held-out sets measured every `evalEvery` steps and at the end. */
  evalSets?: Record<string, readonly CaptionedImage[]>;
  evalEvery?: number;
  /** With a runDir, a run that finds trainer_state.json there resumes. */
  runDir?: string;
  checkpointEvery?: number;
  onEvent?: (e: ClipTrainEvent) => void;
  signal?: AbortSignal;
  /**
   * Data-parallel worker threads (train/parallel, clip-grads.ts; default session.device.trainWorkers,
   * i.e. SWITCHBOARD_TRAIN_WORKERS, else 1 = this thread). Not part of the run's settings: a run
   * directory resumes with any worker count.
   */
  workers?: number;
}

export interface ClipStepRecord {
  step: number;
  loss: number;
  lr: number;
  logitScale: number;
  elapsedMs: number;
}

export interface ClipEvalRecord {
  step: number;
  sets: Record<string, RetrievalMetrics>;
}

export type ClipTrainEvent =
  | ({ kind: 'step'; totalSteps: number; pairsPerSec: number; /** Threads computing the updates. */ threads: number } & ClipStepRecord)
  | ({ kind: 'eval' } & ClipEvalRecord)
  | { kind: 'checkpoint'; step: number; dir: string }
  | { kind: 'resume'; step: number; dir: string };

export interface ClipTrainResult {
  history: ClipStepRecord[];
  evals: ClipEvalRecord[];
  resumedFrom: number;
  stopped: 'done' | 'aborted';
  /** Threads that computed the updates: data-parallel workers, or 1 (this thread). */
  threads: number;
}

interface Resolved {
  steps: number;
  batchSize: number;
  emojiShare: number;
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  maxShift: number;
  seed: number;
}

function resolve(o: ClipTrainOptions): Resolved {
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`trainClip: steps must be a positive integer, got ${JSON.stringify(o.steps)}`);
  const lr = o.lr ?? 1e-3;
  const r: Resolved = {
    steps: o.steps,
    batchSize: o.batchSize ?? 256,
    emojiShare: o.emojiShare ?? 0.5,
    lr,
    minLr: o.minLr ?? lr / 10,
    warmupSteps: o.warmupSteps ?? Math.min(100, Math.floor(o.steps / 10)),
    weightDecay: o.weightDecay ?? 0.05,
    beta1: o.beta1 ?? 0.9,
    beta2: o.beta2 ?? 0.98,
    maxShift: o.maxShift ?? 2,
    seed: o.seed ?? 0,
  };
  if (!Number.isInteger(r.batchSize) || r.batchSize < 2) throw new Error(`trainClip: batchSize must be an integer ≥ 2, got ${r.batchSize}`);
  if (!(r.emojiShare >= 0 && r.emojiShare <= 1)) throw new Error(`trainClip: emojiShare must be in [0, 1], got ${r.emojiShare}`);
  if (!Number.isInteger(r.maxShift) || r.maxShift < 0) throw new Error(`trainClip: maxShift must be a non-negative integer, got ${r.maxShift}`);
  return r;
}

/** One training batch: images, the caption used for each, and per-image shifts. */
interface Batch {
  items: ClipExample[];
  captions: string[];
  shifts: Int8Array;
}

/** The batch of 0-based step `step`: a pure function of (seed, step). Exported for tests. */
export function clipBatch(data: ClipTrainData, o: Pick<Resolved, 'batchSize' | 'emojiShare' | 'maxShift' | 'seed'>, step: number): Batch {
  const nEmoji = data.scenes.length === 0 ? o.batchSize : data.emoji.length === 0 ? 0 : Math.round(o.batchSize * o.emojiShare);
  const parts: Array<[ClipSource, number]> = [['emoji', nEmoji], ['scenes', o.batchSize - nEmoji]];
  const items: ClipExample[] = [];
  const captions: string[] = [];
  const shifts = new Int8Array(2 * o.batchSize);
  for (const [source, count] of parts) {
    const pool = data[source];
    if (count === 0) continue;
    if (pool.length === 0) throw new Error(`trainClip: no ${source} examples to draw ${count} per batch from`);
    const perms = new Map<number, Int32Array>();
    for (let j = 0; j < count; j++) {
      const k = step * count + j; // k-th draw from this source over the whole run
      const epoch = Math.floor(k / pool.length);
      let perm = perms.get(epoch);
      if (!perm) perms.set(epoch, (perm = permutation(pool.length, rngFor(`clip/${source}/epoch/${epoch}`, o.seed))));
      const ex = pool[perm[k % pool.length]];
      const rand = rngFor(`clip/${source}/draw/${k}`, o.seed);
      const b = items.length;
      items.push(ex);
      captions.push(ex.captions[Math.floor(rand() * ex.captions.length)]);
      if (source === 'emoji' && o.maxShift > 0) {
        shifts[2 * b] = Math.floor(rand() * (2 * o.maxShift + 1)) - o.maxShift;
        shifts[2 * b + 1] = Math.floor(rand() * (2 * o.maxShift + 1)) - o.maxShift;
      }
    }
  }
  return { items, captions, shifts };
}

/** Trains `model` in place. See the file comment. */
export async function trainClip(model: ClipModel, data: ClipTrainData, options: ClipTrainOptions): Promise<ClipTrainResult> {
  const r = resolve(options);
  const cfg = model.config;
  const history: ClipStepRecord[] = [];
  const evals: ClipEvalRecord[] = [];
  const emit = options.onEvent ?? (() => {});
  const G2 = patchGrid(cfg) ** 2;
  const rowLen = cfg.patchSize * cfg.patchSize * 3;
  let t0 = performance.now();
  const runEval = (step: number): void => {
    if (!options.evalSets) return;
    const sets: Record<string, RetrievalMetrics> = {};
    for (const [name, items] of Object.entries(options.evalSets)) sets[name] = clipRetrieval(model, items);
    const rec = { step, sets };
    evals.push(rec);
    emit({ kind: 'eval', ...rec });
  };
  const workers = options.workers ?? currentDevice()?.trainWorkers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`trainClip: workers must be a positive integer, got ${JSON.stringify(options.workers)}`);
  const pool = workers > 1 ? await startPool(model, r.batchSize, workers) : null;
  const threads = pool ? pool.size : 1;
  // With workers, each whole update runs in them (clip-grads.ts says how the batch's rows are shared).
  const updater = pool
    ? (setup: UpdateSetup) =>
        pooledUpdater<Batch>(pool, model.params, setup, (batch) =>
          clipShares(batch.items.map((e) => e.image), batch.shifts, batch.captions.map((c) => model.tokenize(c)), batch.captions, pool.size),
        )
    : undefined;
  try {
    const res = await trainLoop<Batch, { history: ClipStepRecord[]; evals: ClipEvalRecord[] }>({
      steps: r.steps,
      params: model.params,
      lr: r.lr,
      minLr: r.minLr,
      warmupSteps: r.warmupSteps,
      adam: { beta1: r.beta1, beta2: r.beta2, eps: 1e-8, weightDecay: r.weightDecay },
      clipNorm: 0,
      batches: (step) => clipBatch(data, r, step),
      updater,
      loss: (batch) => {
        const B = batch.items.length;
        const x = tf.tensor2d(imagePatches(batch.items.map((e) => e.image), cfg, batch.shifts), [B * G2, rowLen]);
        const t = tf.tensor2d(textBags(batch.captions.map((c) => model.tokenize(c)), cfg.vocabSize), [2 * B, cfg.vocabSize]);
        const y = tf.tensor2d(captionTargets(batch.captions), [B, B]);
        return clipLoss(model.imageTower(x, B), model.textTower(t, B), model.params.get('logit_scale') as tf.Variable, cfg.maxLogitScale, y);
      },
      onStep: (s, batch) => {
        if (!Number.isFinite(s.loss)) throw new Error(`trainClip: loss became ${s.loss} at step ${s.step}`);
        const now = performance.now();
        const rec: ClipStepRecord = { step: s.step, loss: s.loss, lr: s.lr, logitScale: model.logitScale, elapsedMs: now - t0 };
        history.push(rec);
        emit({ kind: 'step', totalSteps: r.steps, pairsPerSec: batch.items.length / ((now - s.startedAt) / 1000), threads, ...rec });
        if (s.step === r.steps || (options.evalEvery && s.step % options.evalEvery === 0)) runEval(s.step);
      },
      run: options.runDir
        ? {
            dir: options.runDir,
            fingerprint: { ...r },
            every: options.checkpointEvery,
            content: (step) => new Map<string, DirEntry>([['checkpoint', (dir) => model.save(dir, { dtype: 'float32', extra: { train_step: step } })]]),
            record: () => ({ history, evals }),
            restore: (dir, record, step) => {
              restore(model, path.join(dir, 'checkpoint'), step);
              history.push(...record.history);
              evals.push(...record.evals);
              t0 = performance.now() - (history.at(-1)?.elapsedMs ?? 0);
              emit({ kind: 'resume', step, dir: options.runDir as string });
            },
            onSaved: (step) => emit({ kind: 'checkpoint', step, dir: options.runDir as string }),
          }
        : undefined,
      signal: options.signal,
    });
    return { history, evals, resumedFrom: res.resumedFrom, stopped: res.stopped, threads };
  } finally {
    await pool?.close();
  }
}

/** Workers for the updates of every parameter (clip-grads.ts). */
function startPool(model: ClipModel, batchSize: number, workers: number): Promise<DataParallelPool> {
  const specs = [...model.params].map(([name, v]) => ({ name, shape: v.shape.slice() }));
  const init: ClipGradInit = { config: model.config };
  return DataParallelPool.start({ workers, module: compiledModule('kernel-lib/eval/clip-grads'), init, specs, reduceCapacity: Math.max(65536, clipReduceLength(model.config, batchSize)), backend: currentDevice()?.tfBackend });
}

/** Loads the snapshot's checkpoint into `model` (validated: its step and config must fit). */
function restore(model: ClipModel, dir: string, step: number): void {
  const saved = ClipModel.load(dir);
  try {
    if (saved.extra.train_step !== step) throw new Error(`${dir}: holds step ${String(saved.extra.train_step)}, the run directory names step ${step}`);
    if (JSON.stringify(saved.config) !== JSON.stringify(model.config)) throw new Error(`${dir}: its ClipConfig differs from the model being trained`);
    model.setParams(saved.hostParams());
  } finally {
    saved.dispose();
  }
}
