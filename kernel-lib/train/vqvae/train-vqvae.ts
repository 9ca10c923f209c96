/**
 * trainVQVAE(): trains the image tokenizer on RGB images at every size in its config at once (each step
 * has a batch at the full size and one at each smaller size, e.g. 32×32 → 8×8 codes and 16×16 → 4×4),
 * so one set of weights serves the low-res and the high-res stage.
 *
 *   loss = Σ_size w_size · (MSE(x̂, x) + β · MSE(z, sg(e)))      x in [−1, 1]; w = 1 for the full size, lowResWeight else
 *   encoder/decoder: AdamW (train/adamw.ts) with warmup + cosine (train/schedule.ts)
 *   codebook: EMA of assigned encoder outputs (decay γ, Laplace ε), dead codes (unused for `deadAfter`
 *             steps) re-seeded from random encoder outputs of the current batch, up to `restartUntil`.
 *
 * Batches and restarts are pure functions of (seed, step), so a run resumed from its run directory
 * continues exactly as the uninterrupted run would (batches.ts). The loop and the run directory are the
 * shared ones (train/loop.ts, train/run-dir.ts); a snapshot holds `model.safetensors` (F32),
 * `optimizer.safetensors` and `ema.json` (the EMA codebook state as float64 JSON).
 *
 * With `workers` > 1 each update runs in data-parallel worker threads (train/parallel, grads.ts), each on
 * contiguous rows of every size's batch and its own piece of the weights; the EMA update stays here and sees the
 * workers' encoder outputs joined in batch order, so the run follows the one-thread run within float
 * tolerance, the same bits for a given worker count, and its run directory is the same.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import type { RGBImage } from '../../image/types';
import { encodeSafetensors, readSafetensors } from '../../checkpoint/safetensors';
import type { DirEntry } from '../../checkpoint/files';
import { assignHostChecked } from '../../model/params';
import { trainLoop, UpdateSetup } from '../loop';
import { currentDevice } from '../../backend/backend';
import { concatTyped } from '../../util/concat';
import { DataParallelPool, compiledModule } from '../parallel/pool';
import { pooledUpdater } from '../parallel/pooled-update';
import { defaultVQVAEConfig, gridSize, VQVAEConfig } from '../../image/config';
import { CODEBOOK, toModelRange, VQVAE } from '../../image/model';
import { vqLoss, VqPartResult } from './loss';
import { joinOutputs, VqGradInit, vqShares } from './grads';
import { CodebookEma, codeUsage } from '../../image/quantizer';
import { evaluateVQVAE, packImages, SizeEval } from '../../image/evaluate';
import { makeBatch } from './batches';
import { EpochSampler, rngAt } from '../../util/random';
import { upperMedian } from '../../util/stats';

export interface VQVAETrainOptions {
  /** Architecture (default: defaultVQVAEConfig()). */
  config?: Partial<VQVAEConfig>;
  /** Training images at the largest size of the config; validation images for periodic evaluation. */
  train: readonly RGBImage[];
  val: readonly RGBImage[];
  steps: number;
  /**
   * Images per step at the full size (default 16: at equal compute, twice the updates at batch 16 beat
   * batch 32 by ~1.5 dB in 600-step trials).
   */
  batchSize?: number;
  /** Images per step at each smaller size (default 16). */
  lowResBatchSize?: number;
  /** Loss weight of the smaller sizes (default 0.5). */
  lowResWeight?: number;
  /** Peak learning rate (default 5e-3; 1e-3 … 8e-3 tried: higher was better up to 4e-3, flat after). */
  lr?: number;
  /** Final learning rate of the cosine (default lr/20). */
  minLr?: number;
  warmupSteps?: number;
  weightDecay?: number;
  /** β, default 0.25. */
  commitment?: number;
  emaDecay?: number;
  emaEpsilon?: number;
  /** A code unused for this many steps is dead (default 25). */
  deadAfter?: number;
  /** Restart dead codes until this fraction of the run (default 0.9), then let the codebook settle. */
  restartUntil?: number;
  /** Random horizontal flips of training images (default true). */
  flip?: boolean;
  seed?: number;
  /** Evaluate on `val` every this many steps (and at the end); 0 = only at the end. Default 500. */
  evalEvery?: number;
  /** Record a loss-curve point (averaged over the interval) every this many steps (default 10). */
  logEvery?: number;
  /** Resumable run directory (resumes when it holds a state.json). */
  runDir?: string;
  checkpointEvery?: number;
  onEvent?: (e: VQVAETrainEvent) => void;
  signal?: AbortSignal;
  /**
   * Data-parallel worker threads for the loss and gradients (train/parallel; default
   * session.device.trainWorkers, i.e. SWITCHBOARD_TRAIN_WORKERS, else 1 = this thread). Not part of the
   * run's settings: a run directory resumes with any worker count.
   */
  workers?: number;
}

/** One loss-curve point: means over the steps since the previous point. */
export interface CurvePoint {
  step: number;
  loss: number;
  /** Reconstruction MSE in [0, 1] pixel units, by image size. */
  mse: Record<string, number>;
  commitment: number;
  /** Perplexity of the codes of the last batch (all sizes). */
  batchPerplexity: number;
  /** Codes restarted in the interval. */
  restarts: number;
  lr: number;
  /** Wall-clock ms per step. */
  msPerStep: number;
  /** CPU ms per step of this process, every thread (the workers' too): the work done, whatever else runs. */
  cpuMsPerStep: number;
}

export type VQVAETrainEvent =
  | ({ kind: 'step'; totalSteps: number; elapsedMs: number; /** Threads computing the gradients. */ threads: number } & CurvePoint)
  | { kind: 'eval'; step: number; totalSteps: number; results: SizeEval[] }
  | { kind: 'checkpoint'; step: number; dir: string }
  | { kind: 'resume'; step: number };

export interface VQVAETrainResult {
  model: VQVAE;
  curve: CurvePoint[];
  evals: Array<{ step: number; results: SizeEval[] }>;
  resumedFrom: number;
  stopped: 'done' | 'aborted';
  /** Training wall time, summed over resumed sessions (ms). */
  elapsedMs: number;
  /** Median ms per step of this session. */
  msPerStep: number;
  /** CPU time of the training steps, summed over resumed sessions (ms). */
  cpuMs: number;
  /** Every setting the run used, defaults filled in (what resume checks). */
  settings: Record<string, unknown>;
  /** Threads that computed the gradients: data-parallel workers, or 1 (this thread). */
  threads: number;
}

type Resolved = Required<Omit<VQVAETrainOptions, 'config' | 'train' | 'val' | 'runDir' | 'onEvent' | 'signal' | 'workers'>> & { config: VQVAEConfig };

function resolve(o: VQVAETrainOptions): Resolved {
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`trainVQVAE: steps must be a positive integer, got ${JSON.stringify(o.steps)}`);
  const lr = o.lr ?? 5e-3;
  return {
    config: defaultVQVAEConfig(o.config),
    steps: o.steps,
    batchSize: o.batchSize ?? 16,
    lowResBatchSize: o.lowResBatchSize ?? 16,
    lowResWeight: o.lowResWeight ?? 0.5,
    lr,
    minLr: o.minLr ?? lr / 20,
    warmupSteps: o.warmupSteps ?? Math.min(200, Math.floor(o.steps / 10)),
    weightDecay: o.weightDecay ?? 0,
    commitment: o.commitment ?? 0.25,
    emaDecay: o.emaDecay ?? 0.99,
    emaEpsilon: o.emaEpsilon ?? 1e-5,
    deadAfter: o.deadAfter ?? 25,
    restartUntil: o.restartUntil ?? 0.9,
    flip: o.flip ?? true,
    seed: o.seed ?? 0,
    evalEvery: o.evalEvery ?? 500,
    logEvery: o.logEvery ?? 10,
    checkpointEvery: o.checkpointEvery ?? 250,
  };
}

function fingerprint(r: Resolved, nTrain: number): Record<string, unknown> {
  const { evalEvery: _e, logEvery: _l, checkpointEvery: _c, ...rest } = r;
  return { ...rest, trainImages: nTrain };
}

export async function trainVQVAE(options: VQVAETrainOptions): Promise<VQVAETrainResult> {
  const o = resolve(options);
  const workers = options.workers ?? currentDevice()?.trainWorkers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`trainVQVAE: workers must be a positive integer, got ${JSON.stringify(options.workers)}`);
  const sizes = [...o.config.imageSizes].sort((a, b) => b - a); // full size first
  const full = sizes[0];
  for (const [name, set] of [['train', options.train], ['val', options.val]] as const) {
    if (set.length === 0) throw new Error(`trainVQVAE: no ${name} images`);
    const bad = set.findIndex((im) => im.height !== full || im.width !== full);
    if (bad >= 0) throw new Error(`trainVQVAE: ${name} image ${bad} is ${set[bad].height}×${set[bad].width}, expected ${full}×${full}`);
  }
  const tables = new Map(sizes.map((s) => [s, packImages(options.train, s)]));
  const samplers = new Map(sizes.map((s, i) => [s, new EpochSampler(options.train.length, o.seed, 10 + i)]));
  const batchOf = (s: number): number => (s === full ? o.batchSize : o.lowResBatchSize);
  const weightOf = (s: number): number => (s === full ? 1 : o.lowResWeight);

  const model = VQVAE.create(o.config, o.seed);
  const ema = new CodebookEma(o.config.numCodes, o.config.codeDim, { decay: o.emaDecay, epsilon: o.emaEpsilon });
  const codebook = model.params.get(CODEBOOK) as tf.Variable;
  const curve: CurvePoint[] = [];
  const evals: Array<{ step: number; results: SizeEval[] }> = [];
  let priorMs = 0;
  let cpuMs = 0;
  const fp = fingerprint(o, options.train.length);
  const t0 = performance.now();
  const stepTimes: number[] = [];
  const acc = { n: 0, loss: 0, commit: 0, restarts: 0, ms: 0, cpu: 0, mse: new Map<number, number>() };
  const elapsed = (): number => priorMs + (performance.now() - t0);
  type Batches = Array<{ s: number; pixels: Uint8Array }>;
  // What the step's forward leaves for the EMA update (z and codes, by size in batch order) and the curve.
  let kept: VqPartResult[] = [];
  const pool = workers > 1 ? await startPool(model, o, sizes.map((s) => batchOf(s) * gridSize(s) ** 2), workers).catch((e: unknown) => (model.dispose(), Promise.reject(e))) : null;
  // With workers, each whole update runs in them (parallel/pooled-update.ts); the codebook, which they
  // only read, is written to them before every step.
  let shares: ReturnType<typeof vqShares> = [];
  const updater = pool
    ? (setup: UpdateSetup) =>
        pooledUpdater<Batches>(
          pool,
          model.params,
          setup,
          (batches) => (shares = vqShares(batches.map(({ s, pixels }) => ({ s, pixels, weight: weightOf(s) })), pool.size)),
          (res) => void (kept = joinOutputs(shares, res.outputs, res.stats, sizes)),
        )
    : undefined;
  try {
    const r = await trainLoop<Batches, RunRecord>({
      steps: o.steps,
      params: model.params,
      freeze: [CODEBOOK], // the codebook follows the EMA, not the gradient
      lr: o.lr,
      minLr: o.minLr,
      warmupSteps: o.warmupSteps,
      adam: { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: o.weightDecay },
      clipNorm: 0,
      batches: (step) => {
        const flipRand = o.flip ? rngAt(o.seed, 1, step) : null;
        const batches = sizes.map((s) => ({ s, pixels: makeBatch(tables.get(s) as Uint8Array, s, (samplers.get(s) as EpochSampler).indices(step, batchOf(s)), flipRand) }));
        if (step === 0) initCodebook(model, ema, batches, o.seed);
        return batches;
      },
      updater,
      // Forward every size, one backward; z and codes are kept for the EMA.
      loss: (batches) => {
        kept = [];
        return vqLoss(model, batches.map(({ s, pixels }) => ({ s, pixels, rows: batchOf(s), batchRows: batchOf(s), weight: weightOf(s) })), o.commitment, kept);
      },
      onStep: (st) => {
        const step = st.step - 1;
        // EMA codebook update on the host, then dead-code restarts.
        const zAll = concatTyped(kept.map((k) => k.z), Float32Array);
        const cAll = concatTyped(kept.map((k) => k.codes), Int32Array);
        ema.update(zAll, cAll, step + 1);
        let restarted = 0;
        if (step + 1 < o.restartUntil * o.steps) restarted = ema.restartDead(zAll, step + 1, o.deadAfter, rngAt(o.seed, 2, step)).length;
        tf.tidy(() => codebook.assign(tf.tensor2d(ema.codebook(), [o.config.numCodes, o.config.codeDim])));
        for (const k of kept) {
          acc.mse.set(k.s, (acc.mse.get(k.s) ?? 0) + k.mse / 4); // [−1, 1] → [0, 1] units
          acc.commit += k.commit * weightOf(k.s);
        }
        kept = [];
        const ms = performance.now() - st.startedAt;
        const cpuUsed = process.cpuUsage(st.cpuAtStart);
        const cpu = (cpuUsed.user + cpuUsed.system) / 1000;
        cpuMs += cpu;
        stepTimes.push(ms);
        acc.n++;
        acc.loss += st.loss;
        acc.restarts += restarted;
        acc.ms += ms;
        acc.cpu += cpu;
        const done = st.step;
        if (done % o.logEvery === 0 || done === o.steps) {
          const point: CurvePoint = {
            step: done,
            loss: acc.loss / acc.n,
            mse: Object.fromEntries(sizes.map((s) => [String(s), (acc.mse.get(s) ?? 0) / acc.n])),
            commitment: acc.commit / acc.n,
            batchPerplexity: codeUsage(cAll, o.config.numCodes).perplexity,
            restarts: acc.restarts,
            lr: st.lr,
            msPerStep: acc.ms / acc.n,
            cpuMsPerStep: acc.cpu / acc.n,
          };
          curve.push(point);
          options.onEvent?.({ kind: 'step', totalSteps: o.steps, elapsedMs: elapsed(), threads: pool ? pool.size : 1, ...point });
          Object.assign(acc, { n: 0, loss: 0, commit: 0, restarts: 0, ms: 0, cpu: 0, mse: new Map() });
        }
        if ((o.evalEvery > 0 && done % o.evalEvery === 0) || done === o.steps) {
          const results = evaluateVQVAE(model, options.val, sizes);
          evals.push({ step: done, results });
          options.onEvent?.({ kind: 'eval', step: done, totalSteps: o.steps, results });
        }
      },
      run: options.runDir
        ? {
            dir: options.runDir,
            fingerprint: fp,
            every: o.checkpointEvery,
            onAbort: true,
            content: () =>
              new Map<string, DirEntry>([
                ['model.safetensors', encodeSafetensors(model.hostTensors())],
                ['ema.json', JSON.stringify({ clusterSize: Array.from(ema.clusterSize), embedSum: Array.from(ema.embedSum), lastUsed: Array.from(ema.lastUsed) })],
              ]),
            record: () => ({ elapsedMs: elapsed(), cpuMs, curve, evals }),
            restore: (dir, st, step) => {
              restoreSnapshot(dir, model, ema);
              priorMs = st.elapsedMs;
              cpuMs = st.cpuMs;
              curve.push(...st.curve);
              evals.push(...st.evals);
              options.onEvent?.({ kind: 'resume', step });
            },
            onSaved: (step) => options.onEvent?.({ kind: 'checkpoint', step, dir: options.runDir as string }),
          }
        : undefined,
      signal: options.signal,
    });
    return { model, curve, evals, resumedFrom: r.resumedFrom, stopped: r.stopped, elapsedMs: elapsed(), msPerStep: stepTimes.length > 0 ? upperMedian(stepTimes) : 0, cpuMs, settings: fp, threads: pool ? pool.size : 1 };
  } finally {
    await pool?.close();
  }
}

/** Workers for the loss and gradients (grads.ts); `codesPerSize` bounds the z and codes each returns. */
function startPool(model: VQVAE, o: Resolved, codesPerSize: number[], workers: number): Promise<DataParallelPool> {
  const names = [...model.params.keys()].filter((n) => n !== CODEBOOK);
  const init: VqGradInit = { config: o.config, names, commitment: o.commitment };
  // Every parameter, the codebook included: the workers quantise with the current codebook.
  const specs = [...model.params].map(([name, v]) => ({ name, shape: v.shape.slice() }));
  const outputBytes = codesPerSize.reduce((a, n) => a + n * (o.config.codeDim + 1) * 4, 0);
  return DataParallelPool.start({ workers, module: compiledModule('kernel-lib/train/vqvae/grads'), init, specs, outputBytes, backend: currentDevice()?.tfBackend });
}

/** The trainer's part of trainer_state.json. */
interface RunRecord {
  elapsedMs: number;
  cpuMs: number;
  curve: CurvePoint[];
  evals: Array<{ step: number; results: SizeEval[] }>;
}

/** Loads a snapshot's weights and EMA state, all validated before anything is assigned. */
function restoreSnapshot(snap: string, model: VQVAE, ema: CodebookEma): void {
  const weights = readSafetensors(path.join(snap, 'model.safetensors')).tensors;
  const e = JSON.parse(fs.readFileSync(path.join(snap, 'ema.json'), 'utf8')) as Record<'clusterSize' | 'embedSum' | 'lastUsed', number[]>;
  if (e.clusterSize.length !== ema.clusterSize.length || e.embedSum.length !== ema.embedSum.length || e.lastUsed.length !== ema.lastUsed.length) {
    throw new Error(`${snap}/ema.json: EMA state does not fit a codebook of ${ema.numCodes}×${ema.dim}`);
  }
  assignHostChecked(model.params, weights, `${snap}/model.safetensors`);
  ema.clusterSize.set(e.clusterSize);
  ema.embedSum.set(e.embedSum);
  ema.lastUsed.set(e.lastUsed);
}

/** Seeds the codebook with distinct random encoder outputs of the first batches (k-means++-free init). */
function initCodebook(model: VQVAE, ema: CodebookEma, batches: Array<{ s: number; pixels: Uint8Array }>, seed: number): void {
  const D = model.config.codeDim;
  const K = model.config.numCodes;
  const z = concatTyped(
    batches.map(({ s, pixels }) =>
      tf.tidy(() => {
        const n = pixels.length / (s * s * 3);
        return model.encoderForward(toModelRange(pixels, [n, s, s, 3])).dataSync() as Float32Array;
      }),
    ),
    Float32Array,
  );
  const rows = z.length / D;
  const rand = rngAt(seed, 3, 0);
  const init = new Float32Array(K * D);
  for (let k = 0; k < K; k++) {
    const r = Math.floor(rand() * rows);
    for (let d = 0; d < D; d++) init[k * D + d] = z[r * D + d] + 0.01 * (rand() - 0.5);
  }
  ema.initFrom(init, 0);
  tf.tidy(() => (model.params.get(CODEBOOK) as tf.Variable).assign(tf.tensor2d(ema.codebook(), [K, D])));
}
