/**
 * Training the latent diffusion decoder on the project's one training loop (train/loop.ts): batches as
 * pure functions of (seed, step), the loss closure (noise-prediction MSE, the caption dropped to the null
 * conditioning with probability condDropProb), and the run directory's snapshot content (the weights as
 * float32 safetensors; the loop adds the AdamW moments and writes the state file last).
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import type { DirEntry } from '../checkpoint/files';
import { encodeSafetensors, readSafetensors } from '../checkpoint/safetensors';
import { trainLoop } from '../train/loop';
import { EpochSampler, rngAt } from '../util/random';
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
  /** Seeds the timesteps and noise of this step. */
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
  return { latents, captions, noiseSeed: (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b)) >>> 0 };
}

/** The loss of one batch as a closure over the model's parameters (for a loop that takes one). */
export function diffusionLossClosure(model: LatentDiffusion, batch: DiffusionBatch): () => tf.Scalar {
  return () => model.loss(batch.latents, model.encodeCaption(batch.captions), { seed: batch.noiseSeed });
}

export interface DiffusionTrainEvent {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Wall time of this step and the process CPU time it used (ms). */
  stepMs: number;
  stepCpuMs: number;
  elapsedMs: number;
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
  signal?: AbortSignal;
}

export interface DiffusionTrainResult {
  history: DiffusionTrainEvent[];
  resumedFrom: number;
  stopped: 'done' | 'aborted';
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
  const sampler = new EpochSampler(n, seed, 1);
  const history: DiffusionTrainEvent[] = [];
  let t0 = performance.now();
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
    loss: (batch) => diffusionLossClosure(model, batch)(),
    onStep: (s) => {
      if (!Number.isFinite(s.loss)) throw new Error(`trainDiffusion: loss became ${s.loss} at step ${s.step}`);
      const now = performance.now();
      const cpu = process.cpuUsage(s.cpuAtStart);
      const ev: DiffusionTrainEvent = { step: s.step, totalSteps: o.steps, loss: s.loss, lr: s.lr, gradNorm: s.gradNorm, stepMs: now - s.startedAt, stepCpuMs: (cpu.user + cpu.system) / 1000, elapsedMs: now - t0 };
      history.push(ev);
      o.onStep?.(ev);
    },
    run: o.runDir
      ? {
          dir: o.runDir,
          fingerprint: { steps: o.steps, batchSize, lr, minLr, warmupSteps, seed, images: n, config: model.config },
          every: o.checkpointEvery ?? 200,
          content: () => new Map<string, DirEntry>([[WEIGHTS, encodeSafetensors(model.hostParams())]]),
          record: () => ({ history }),
          restore: (dir, record) => {
            const weights = readSafetensors(path.join(dir, WEIGHTS)).tensors;
            for (const [name, v] of model.params) {
              const h = weights.get(name);
              if (!h || h.shape.join(',') !== v.shape.join(',')) throw new Error(`${dir}/${WEIGHTS}: parameter '${name}' is missing or has another shape`);
            }
            tf.tidy(() => {
              for (const [name, v] of model.params) {
                const h = weights.get(name) as { shape: number[]; data: Float32Array };
                v.assign(tf.tensor(h.data, h.shape));
              }
            });
            history.push(...record.history);
            t0 = performance.now() - (history.at(-1)?.elapsedMs ?? 0);
          },
        }
      : undefined,
    signal: o.signal,
  });
  return { history, resumedFrom: res.resumedFrom, stopped: res.stopped };
}
