/**
 * Training the latent diffusion decoder: batches as pure functions of (seed, step), the loss closure
 * (noise-prediction MSE, the caption dropped to the null conditioning with probability condDropProb),
 * and a small resumable loop (AdamW, warmup + cosine, global-norm clipping, run directory).
 *
 * The loop is written around `diffusionLossClosure(model, batch)` (a () => tf.Scalar over the model's
 * parameters), so it plugs into a generic training loop that takes a loss closure; this one stays
 * until the project's shared loop and run directory replace it.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { AdamW } from '../train/adamw';
import { learningRate } from '../train/schedule';
import { atomicWriteFile } from '../checkpoint/files';
import { encodeSafetensors, readSafetensors } from '../checkpoint/safetensors';
import { writeDirAtomic } from '../image/checkpoint';
import { rngAt, Sampler } from '../image/batches';
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
export function diffusionBatch(data: DiffusionTrainData, sampler: Sampler, step: number, batchSize: number, seed: number, dropProb: number): DiffusionBatch {
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

export async function trainDiffusion(model: LatentDiffusion, o: DiffusionTrainOptions): Promise<DiffusionTrainResult> {
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`trainDiffusion: steps must be a positive integer, got ${JSON.stringify(o.steps)}`);
  const batchSize = o.batchSize ?? 32;
  const lr = o.lr ?? 3e-4;
  const sched = { lr, minLr: o.minLr ?? lr / 10, warmupSteps: o.warmupSteps ?? Math.min(500, Math.floor(o.steps / 20)), totalSteps: o.steps };
  const seed = o.seed ?? 0;
  const clip = o.clipNorm ?? 1;
  const n = o.data.captions.length;
  if (n === 0) throw new Error('trainDiffusion: no training images');
  const names = [...model.params.keys()];
  // weight decay 0 by default: the denoiser is small and the data few; AdamW decays matrices only when asked
  const opt = new AdamW(names, model.params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: o.weightDecay ?? 0 });
  const fingerprint = { steps: o.steps, batchSize, lr, minLr: sched.minLr, warmupSteps: sched.warmupSteps, seed, images: n, config: model.config };
  const sampler = new Sampler(n, seed, 1);
  const history: DiffusionTrainEvent[] = [];
  let start = 0;
  try {
    if (o.runDir && fs.existsSync(path.join(o.runDir, 'state.json'))) start = resume(o.runDir, fingerprint, model, opt, history);
    const t0 = performance.now() - (history.at(-1)?.elapsedMs ?? 0);
    const vars = names.map((nm) => model.params.get(nm) as tf.Variable);
    for (let step = start; step < o.steps; step++) {
      await new Promise<void>((r) => setImmediate(r));
      if (o.signal?.aborted) return { history, resumedFrom: start, stopped: 'aborted' };
      const ts = performance.now();
      const cpu0 = process.cpuUsage();
      const batch = diffusionBatch(o.data, sampler, step, batchSize, seed, model.config.condDropProb);
      const rate = learningRate(step, sched);
      let loss = 0;
      let gradNorm = 0;
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(diffusionLossClosure(model, batch), vars);
        loss = value.dataSync()[0];
        const gm = new Map<string, tf.Tensor>(names.map((nm, i) => [nm, grads[vars[i].name]])); // keyed by the variables' own (auto) names
        gradNorm = Math.sqrt(tf.addN([...gm.values()].map((g) => tf.sum(tf.square(g)))).dataSync()[0]);
        if (clip > 0 && gradNorm > clip) for (const [nm, g] of gm) gm.set(nm, tf.mul(g, clip / (gradNorm + 1e-6)));
        opt.apply(gm, rate);
      });
      const cpu = process.cpuUsage(cpu0);
      const now = performance.now();
      const ev: DiffusionTrainEvent = { step: step + 1, totalSteps: o.steps, loss, lr: rate, gradNorm, stepMs: now - ts, stepCpuMs: (cpu.user + cpu.system) / 1000, elapsedMs: now - t0 };
      history.push(ev);
      o.onStep?.(ev);
      if (o.runDir && ((step + 1) % (o.checkpointEvery ?? 200) === 0 || step + 1 === o.steps)) save(o.runDir, fingerprint, model, opt, history);
    }
    return { history, resumedFrom: start, stopped: 'done' };
  } finally {
    opt.dispose();
  }
}

interface RunState {
  version: 1;
  step: number;
  snapshot: string;
  adamT: number;
  options: Record<string, unknown>;
  history: DiffusionTrainEvent[];
}

/** A snapshot directory written whole, then state.json naming it (older snapshots removed after). */
function save(dir: string, options: Record<string, unknown>, model: LatentDiffusion, opt: AdamW, history: DiffusionTrainEvent[]): void {
  fs.mkdirSync(dir, { recursive: true });
  const step = history.at(-1)?.step ?? 0;
  const name = `step-${String(step).padStart(6, '0')}`;
  writeDirAtomic(path.join(dir, name), new Map<string, Uint8Array | string>([
    ['model.safetensors', encodeSafetensors(model.hostParams())],
    ['optimizer.safetensors', encodeSafetensors(opt.state())],
  ]));
  const state: RunState = { version: 1, step, snapshot: name, adamT: opt.t, options, history };
  atomicWriteFile(path.join(dir, 'state.json'), `${JSON.stringify(state)}\n`);
  for (const old of fs.readdirSync(dir)) if (/^step-\d+$/.test(old) && old !== name) fs.rmSync(path.join(dir, old), { recursive: true, force: true });
}

function resume(dir: string, options: Record<string, unknown>, model: LatentDiffusion, opt: AdamW, history: DiffusionTrainEvent[]): number {
  const file = path.join(dir, 'state.json');
  const st = JSON.parse(fs.readFileSync(file, 'utf8')) as RunState;
  for (const [k, v] of Object.entries(options)) {
    if (JSON.stringify(st.options[k]) !== JSON.stringify(v)) {
      throw new Error(`${file}: this run was started with ${k} = ${JSON.stringify(st.options[k])}, now ${JSON.stringify(v)}; use a new run directory (--fresh) or the same options`);
    }
  }
  const snap = path.join(dir, st.snapshot);
  const weights = readSafetensors(path.join(snap, 'model.safetensors')).tensors;
  opt.load(readSafetensors(path.join(snap, 'optimizer.safetensors')).tensors, st.adamT);
  tf.tidy(() => {
    for (const [n, v] of model.params) {
      const h = weights.get(n);
      if (!h || h.shape.join(',') !== v.shape.join(',')) throw new Error(`${snap}/model.safetensors: parameter '${n}' is missing or has another shape`);
      v.assign(tf.tensor(h.data, h.shape));
    }
  });
  history.push(...st.history);
  return st.step;
}
