/**
 * trainClip(): contrastive training of the workbench CLIP. Each batch mixes emoji (a random caption
 * variant, shifted by up to `maxShift` pixels) and scenes; the loss is the symmetric InfoNCE of CLIP
 * over the batch's image–caption similarity matrix scaled by exp(logit_scale). Two items with the same
 * caption text are both positives for each other (soft targets), so repeated captions are not
 * punished as negatives.
 *
 * AdamW + warmup/cosine (train/adamw.ts, train/schedule.ts). The batch of step i is a pure function of
 * (seed, i), so a resumed run sees the batches the uninterrupted run would have. A run directory holds
 * `checkpoint/` (a float32 CLIP checkpoint), `optimizer.safetensors` and `trainer_state.json`, written
 * in that order so the state file only ever names a complete checkpoint.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { atomicWriteFile } from '../checkpoint/files';
import { readSafetensors, writeSafetensors } from '../checkpoint/safetensors';
import { permutation, rngFor } from '../data/random';
import { AdamW } from '../train/adamw';
import { linear } from '../model/linear';
import { learningRate, OptimOptions } from '../train/schedule';
import { ClipModel } from './clip';
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
  | ({ kind: 'step'; totalSteps: number; pairsPerSec: number } & ClipStepRecord)
  | ({ kind: 'eval' } & ClipEvalRecord)
  | { kind: 'checkpoint'; step: number; dir: string }
  | { kind: 'resume'; step: number; dir: string };

export interface ClipTrainResult {
  history: ClipStepRecord[];
  evals: ClipEvalRecord[];
  resumedFrom: number;
  stopped: 'done' | 'aborted';
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

/** Row-normalised "same caption" matrix [B, B]: the soft targets of the contrastive loss. */
export function captionTargets(captions: readonly string[]): Float32Array {
  const B = captions.length;
  const y = new Float32Array(B * B);
  for (let i = 0; i < B; i++) {
    let n = 0;
    for (let j = 0; j < B; j++) if (captions[j] === captions[i]) n++;
    for (let j = 0; j < B; j++) if (captions[j] === captions[i]) y[i * B + j] = 1 / n;
  }
  return y;
}

/**
 * Symmetric InfoNCE over normalised image and text embeddings [B, d] with soft targets [B, B]
 * (symmetric, rows summing to 1). Returns a scalar; call inside tidy / variableGrads.
 */
export function clipLoss(img: tf.Tensor2D, txt: tf.Tensor2D, logitScale: tf.Tensor, maxLogitScale: number, targets: tf.Tensor2D): tf.Scalar {
  const B = img.shape[0];
  const scale = tf.exp(tf.minimum(logitScale, maxLogitScale)); // [1]
  const logits = tf.mul(linear(img, tf.transpose(txt)), scale) as tf.Tensor2D; // [B, B]: row i = image i against every caption
  const i2t = tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits, 1))));
  const t2i = tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(tf.transpose(logits), 1))));
  return tf.div(tf.add(i2t, t2i), 2 * B) as tf.Scalar;
}

function fingerprint(r: Resolved): Record<string, unknown> {
  return { ...r };
}

/** Trains `model` in place. See the file comment. */
export async function trainClip(model: ClipModel, data: ClipTrainData, options: ClipTrainOptions): Promise<ClipTrainResult> {
  const r = resolve(options);
  const cfg = model.config;
  const names = [...model.params.keys()];
  const opt = new AdamW(names, model.params, { beta1: r.beta1, beta2: r.beta2, eps: 1e-8, weightDecay: r.weightDecay });
  const sched = { lr: r.lr, minLr: r.minLr, warmupSteps: r.warmupSteps, totalSteps: r.steps };
  const history: ClipStepRecord[] = [];
  const evals: ClipEvalRecord[] = [];
  const emit = options.onEvent ?? (() => {});
  const G2 = patchGrid(cfg) ** 2;
  const rowLen = cfg.patchSize * cfg.patchSize * 3;
  let start = 0;
  try {
    if (options.runDir && fs.existsSync(path.join(options.runDir, 'trainer_state.json'))) {
      start = resume(model, opt, options.runDir, r, history, evals);
      emit({ kind: 'resume', step: start, dir: options.runDir });
    }
    const runEval = (step: number): void => {
      if (!options.evalSets) return;
      const sets: Record<string, RetrievalMetrics> = {};
      for (const [name, items] of Object.entries(options.evalSets)) sets[name] = clipRetrieval(model, items);
      const rec = { step, sets };
      evals.push(rec);
      emit({ kind: 'eval', ...rec });
    };
    const t0 = performance.now() - (history.at(-1)?.elapsedMs ?? 0);
    for (let step = start; step < r.steps; step++) {
      await new Promise<void>((res) => setImmediate(res));
      if (options.signal?.aborted) return { history, evals, resumedFrom: start, stopped: 'aborted' };
      const ts = performance.now();
      const batch = clipBatch(data, r, step);
      const B = batch.items.length;
      const patches = imagePatches(batch.items.map((x) => x.image), cfg, batch.shifts);
      const bags = textBags(batch.captions.map((c) => model.tokenize(c)), cfg.vocabSize);
      const targets = captionTargets(batch.captions);
      const rate = learningRate(step, sched);
      let loss = NaN;
      tf.tidy(() => {
        const x = tf.tensor2d(patches, [B * G2, rowLen]);
        const t = tf.tensor2d(bags, [2 * B, cfg.vocabSize]);
        const y = tf.tensor2d(targets, [B, B]);
        const vars = names.map((n) => model.params.get(n) as tf.Variable);
        const { value, grads } = tf.variableGrads(
          () => clipLoss(model.imageTower(x, B), model.textTower(t, B), model.params.get('logit_scale') as tf.Variable, cfg.maxLogitScale, y),
          vars,
        );
        loss = value.dataSync()[0];
        const gm = new Map<string, tf.Tensor>();
        for (const n of names) {
          const g = grads[(model.params.get(n) as tf.Variable).name];
          if (g) gm.set(n, g);
        }
        opt.apply(gm, rate);
      });
      if (!Number.isFinite(loss)) throw new Error(`trainClip: loss became ${loss} at step ${step + 1}`);
      const now = performance.now();
      const rec: ClipStepRecord = { step: step + 1, loss, lr: rate, logitScale: model.logitScale, elapsedMs: now - t0 };
      history.push(rec);
      emit({ kind: 'step', totalSteps: r.steps, pairsPerSec: B / ((now - ts) / 1000), ...rec });
      const last = step + 1 === r.steps;
      if (last || (options.evalEvery && (step + 1) % options.evalEvery === 0)) runEval(step + 1);
      if (options.runDir && (last || (options.checkpointEvery && (step + 1) % options.checkpointEvery === 0))) {
        save(model, opt, options.runDir, r, history, evals);
        emit({ kind: 'checkpoint', step: step + 1, dir: options.runDir });
      }
    }
    return { history, evals, resumedFrom: start, stopped: 'done' };
  } finally {
    opt.dispose();
  }
}

interface TrainerState {
  step: number;
  adamT: number;
  options: Record<string, unknown>;
  history: ClipStepRecord[];
  evals: ClipEvalRecord[];
}

function save(model: ClipModel, opt: AdamW, dir: string, r: Resolved, history: ClipStepRecord[], evals: ClipEvalRecord[]): void {
  const step = history.at(-1)?.step ?? 0;
  fs.mkdirSync(dir, { recursive: true });
  model.save(path.join(dir, 'checkpoint'), { dtype: 'float32', extra: { train_step: step } });
  writeSafetensors(path.join(dir, 'optimizer.safetensors'), opt.state(), { metadata: { step: String(step), adam_t: String(opt.t) } });
  const state: TrainerState = { step, adamT: opt.t, options: fingerprint(r), history, evals };
  atomicWriteFile(path.join(dir, 'trainer_state.json'), JSON.stringify(state));
}

function resume(model: ClipModel, opt: AdamW, dir: string, r: Resolved, history: ClipStepRecord[], evals: ClipEvalRecord[]): number {
  const file = path.join(dir, 'trainer_state.json');
  const state = JSON.parse(fs.readFileSync(file, 'utf8')) as TrainerState;
  for (const [k, v] of Object.entries(fingerprint(r))) {
    if (JSON.stringify(state.options[k]) !== JSON.stringify(v)) {
      throw new Error(`${file}: this run was started with ${k} = ${JSON.stringify(state.options[k])}, now ${JSON.stringify(v)}; use a new runDir or the same options`);
    }
  }
  const saved = ClipModel.load(path.join(dir, 'checkpoint'));
  try {
    if (saved.extra.train_step !== state.step) throw new Error(`${file}: names step ${state.step} but checkpoint/ holds step ${String(saved.extra.train_step)}`);
    if (JSON.stringify(saved.config) !== JSON.stringify(model.config)) throw new Error(`${dir}/checkpoint: its ClipConfig differs from the model being trained`);
    opt.load(readSafetensors(path.join(dir, 'optimizer.safetensors')).tensors, state.adamT);
    model.setParams(saved.hostParams());
  } finally {
    saved.dispose();
  }
  history.push(...state.history);
  evals.push(...state.evals);
  return state.step;
}
