/**
 * Training the latent diffusion decoder on the project's one training loop (train/loop.ts): batches as
 * pure functions of (seed, step), the loss (noise-prediction MSE, the caption dropped to the null
 * conditioning with probability condDropProb; each row's timestep and noise from (seed, step, row), see
 * loss.ts), and the run directory's snapshot content (the weights as float32 safetensors; the loop adds
 * the AdamW moments and writes the state file last).
 *
 * With `workers` > 1 each update runs in data-parallel worker threads (train/parallel, grads.ts): each
 * computes the gradients of contiguous rows of the batch, then sums, clips and AdamW-updates its own piece
 * of the weights in shared memory (train/parallel/pooled-update.ts). The run follows the
 * one-thread run within float tolerance (the same bits for a given worker count), and the worker count
 * is not a setting of the run: a run directory resumes with any count.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import type { DirEntry } from '../checkpoint/files';
import { assignHostChecked } from '../model/params';
import { encodeSafetensors, readSafetensors } from '../checkpoint/safetensors';
import { currentDevice } from '../backend/backend';
import { trainLoop, UpdateSetup } from '../train/loop';
import type { TimedStep } from '../train/step-history';
import { compiledModule, DataParallelPool } from '../train/parallel/pool';
import { pooledUpdater } from '../train/parallel/pooled-update';
import { EpochSampler, rngAt } from '../util/random';
import { tokenizeCaptions } from './caption-encoder';
import { diffusionShares, DiffusionGradInit } from './grads';
import { batchPart, DiffusionPart, LossTarget, LOSS_TARGETS, partLoss, stepNoiseSeed } from './loss';
import type { LatentDiffusion } from './model';

/** Normalised latents of n images [n, g, g, C] and each image's caption variants. */
export interface DiffusionTrainData {
  latents: Float32Array;
  captions: ReadonlyArray<readonly string[]>;
}

export interface DiffusionBatch {
  latents: Float32Array;
  /** '' where the caption was dropped (null conditioning). */
  captions: string[];
  /** Seeds the timesteps and noise of this step: row r's come from (noiseSeed, r) (loss.ts rowDraws). */
  noiseSeed: number;
}

/** The batch of 0-based step `step`: epoch-shuffled images, a caption variant each, dropped with probability p. */
export function diffusionBatch(data: DiffusionTrainData, sampler: EpochSampler, step: number, batchSize: number, seed: number, dropProb: number): DiffusionBatch {
  const n = data.captions.length;
  const per = data.latents.length / n;
  const idx = sampler.indices(step, batchSize);
  const rand = rngAt(seed, 7, step);
  const latents = new Float32Array(batchSize * per);
  const captions = idx.map((i, b) => {
    latents.set(data.latents.subarray(i * per, (i + 1) * per), b * per);
    const variants = data.captions[i];
    const caption = variants[Math.floor(rand() * variants.length)];
    return rand() < dropProb ? '' : caption;
  });
  return { latents, captions, noiseSeed: stepNoiseSeed(seed, step) };
}

/** The whole batch as one part (its captions tokenized with the model's tokenizer). */
function wholeBatch(model: LatentDiffusion, batch: DiffusionBatch, target: LossTarget): DiffusionPart {
  const tokens = tokenizeCaptions(model.tokenizer, batch.captions, model.config.caption);
  return { ...(batchPart(batch.latents, tokens, batch.noiseSeed, 0, tokens.batch) as DiffusionPart), target };
}

/** The loss of one batch as a closure over the model's parameters (for a loop that takes one). */
export function diffusionLossClosure(model: LatentDiffusion, batch: DiffusionBatch, target: LossTarget = 'epsilon'): () => tf.Scalar {
  const part = wholeBatch(model, batch, target);
  return () => partLoss(model, part);
}

/** A step's numbers and timing (train/step-history.ts TimedStep) and the threads that computed it. */
export interface DiffusionTrainEvent extends TimedStep {
  /** Threads that computed the gradients: data-parallel workers, or 1 (this thread). */
  threads: number;
}

export interface DiffusionTrainOptions {
  data: DiffusionTrainData;
  steps: number;
  batchSize?: number;
  lr?: number;
  minLr?: number;
  warmupSteps?: number;
  weightDecay?: number;
  clipNorm?: number;
  seed?: number;
  /** With a run directory, a later call resumes from its last snapshot. */
  runDir?: string;
  checkpointEvery?: number;
  onStep?: (e: DiffusionTrainEvent) => void;
  /** Called once when the run resumes from its run directory, with the step it continues from. */
  onResume?: (step: number) => void;
  /** What the loss compares: 'epsilon' (default, MiniGPT-5 Eq. 3) or 'v' (loss.ts says why). */
  target?: LossTarget;
  /**
   * How the weights were initialised before training (e.g. 'clip-emoji caption embedding'), part of the run
   * directory's fingerprint, so a run is not continued from a snapshot of another start.
   */
  init?: string;
  signal?: AbortSignal;
  /**
   * Data-parallel worker threads for the loss and gradients (train/parallel; default
   * session.device.trainWorkers, i.e. SWITCHBOARD_TRAIN_WORKERS, else 1 = this thread). Not part of the
   * run's settings: a run directory resumes with any worker count.
   */
  workers?: number;
}

export interface DiffusionTrainResult {
  history: DiffusionTrainEvent[];
  resumedFrom: number;
  stopped: 'done' | 'aborted';
  /** Threads that computed the gradients. */
  threads: number;
}

const WEIGHTS = 'model.safetensors';

export async function trainDiffusion(model: LatentDiffusion, o: DiffusionTrainOptions): Promise<DiffusionTrainResult> {
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`trainDiffusion: steps must be a positive integer, got ${JSON.stringify(o.steps)}`);
  const batchSize = o.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`trainDiffusion: batchSize must be a positive integer, got ${JSON.stringify(o.batchSize)}`);
  const lr = o.lr ?? 3e-4;
  const minLr = o.minLr ?? lr / 10;
  const warmupSteps = o.warmupSteps ?? Math.min(500, Math.floor(o.steps / 20));
  const seed = o.seed ?? 0;
  const n = o.data.captions.length;
  if (n === 0) throw new Error('trainDiffusion: no training images');
  const per = model.config.latentSize ** 2 * model.config.latentChannels;
  if (o.data.latents.length !== n * per) throw new Error(`trainDiffusion: ${o.data.latents.length} latent values for ${n} captioned images (need ${per} each)`);
  const workers = o.workers ?? currentDevice()?.trainWorkers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`trainDiffusion: workers must be a positive integer, got ${JSON.stringify(o.workers)}`);
  const target = o.target ?? 'epsilon';
  if (!LOSS_TARGETS.includes(target)) throw new Error(`trainDiffusion: target must be one of ${LOSS_TARGETS.join(', ')}, got ${JSON.stringify(o.target)}`);
  const sampler = new EpochSampler(n, seed, 1);
  const history: DiffusionTrainEvent[] = [];
  let t0 = performance.now();
  const pool = workers > 1 ? await startPool(model, workers) : null;
  const threads = pool ? pool.size : 1;
  // With workers, each whole update (gradients, sum, clipping, AdamW) runs in them (train/parallel/pooled-update.ts).
  const updater = pool
    ? (setup: UpdateSetup) =>
        pooledUpdater<DiffusionBatch>(pool, model.params, setup, (batch) => {
          const tokens = tokenizeCaptions(model.tokenizer, batch.captions, model.config.caption);
          return diffusionShares(batch.latents, tokens, batch.noiseSeed, pool.size).map((p) => p && { ...p, target });
        })
    : undefined;
  try {
    const res = await trainLoop<DiffusionBatch, { history: DiffusionTrainEvent[] }>({
      steps: o.steps,
      params: model.params,
      lr,
      minLr,
      warmupSteps,
      // no weight decay by default: a small denoiser on little data; AdamW decays matrices only when asked
      adam: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: o.weightDecay ?? 0 },
      clipNorm: o.clipNorm ?? 1,
      batches: (step) => diffusionBatch(o.data, sampler, step, batchSize, seed, model.config.condDropProb),
      updater,
      loss: (batch) => diffusionLossClosure(model, batch, target)(),
      onStep: (s) => {
        if (!Number.isFinite(s.loss)) throw new Error(`trainDiffusion: loss became ${s.loss} at step ${s.step}`);
        const now = performance.now();
        const cpu = process.cpuUsage(s.cpuAtStart);
        const ev: DiffusionTrainEvent = { step: s.step, totalSteps: o.steps, loss: s.loss, lr: s.lr, gradNorm: s.gradNorm, stepMs: now - s.startedAt, stepCpuMs: (cpu.user + cpu.system) / 1000, elapsedMs: now - t0, threads };
        history.push(ev);
        o.onStep?.(ev);
      },
      run: o.runDir
        ? {
            dir: o.runDir,
            // noise: how timesteps and noise are drawn (per row since data-parallel training); a run
            // directory of the earlier whole-batch stream is refused rather than continued on other draws
            fingerprint: { steps: o.steps, batchSize, lr, minLr, warmupSteps, seed, images: n, config: model.config, noise: 'per-row', init: o.init, target: target === 'epsilon' ? undefined : target },
            every: o.checkpointEvery ?? 200,
            content: () => new Map<string, DirEntry>([[WEIGHTS, encodeSafetensors(model.hostParams())]]),
            record: () => ({ history }),
            restore: (dir, record, step) => {
              assignHostChecked(model.params, readSafetensors(path.join(dir, WEIGHTS)).tensors, `${dir}/${WEIGHTS}`);
              history.push(...record.history);
              t0 = performance.now() - (history.at(-1)?.elapsedMs ?? 0);
              o.onResume?.(step);
            },
          }
        : undefined,
      signal: o.signal,
    });
    return { history, resumedFrom: res.resumedFrom, stopped: res.stopped, threads };
  } finally {
    await pool?.close();
  }
}

/** Workers for the loss and gradients of every parameter (grads.ts). */
function startPool(model: LatentDiffusion, workers: number): Promise<DataParallelPool> {
  const specs = [...model.params].map(([name, v]) => ({ name, shape: v.shape.slice() }));
  const init: DiffusionGradInit = { config: model.config, names: specs.map((s) => s.name) };
  return DataParallelPool.start({ workers, module: compiledModule('kernel-lib/diffusion/grads'), init, specs, backend: currentDevice()?.tfBackend });
}
