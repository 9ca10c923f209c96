/**
 * trainLoop(): the one training loop every trainer runs (LM, VQ-VAE, CLIP, and the coming diffusion
 * decoder and feature mapper). Per step: the batch of that step index (so a resumed run sees the batches
 * the uninterrupted run would have), loss and gradients of the trainable parameters, slice masks,
 * global-norm clipping, one AdamW update with warmup + cosine and per-group learning-rate multipliers
 * and weight decay, then the trainer's onStep; snapshots into the run directory (run-dir.ts) when due.
 *
 * Two seams. `gradients`: one function from (batch, step) to the loss and the gradient of every
 * trainable parameter (the default computes it here from `loss`); the rest of the step (masks, clipping,
 * one AdamW update) stays here. `updater`: the whole update elsewhere — data-parallel workers that also
 * reduce, clip and run AdamW on their pieces of the parameters in shared memory (train/parallel/
 * pooled-update.ts) — given the resolved trainable names, group settings, masks and optimizer options;
 * it must hold the AdamW moments in adamw.ts's `state()` format, so a run directory resumes either way.
 */
import * as tf from '@tensorflow/tfjs';
import type { DirEntry } from '../checkpoint/files';
import { readSafetensors, encodeSafetensors } from '../checkpoint/safetensors';
import type { HostTensor } from '../model/params';
import { AdamW, AdamWOptions } from './adamw';
import { ParamGroup, ParamSettings, TrainSlice, groupSettings, sliceMasks, trainableNames } from './params';
import { RunDir } from './run-dir';
import { learningRate } from './schedule';

const OPTIMIZER_FILE = 'optimizer.safetensors';

/** Loss (a host number) and gradients by parameter name; tensors belong to the step's tidy scope. */
export interface StepGradients {
  loss: number;
  /** A trainable parameter the loss does not reach may be absent (it then takes no step). */
  grads: Map<string, tf.Tensor>;
}

/** The "compute loss + grads for this batch" seam. */
export type GradientFn<B> = (batch: B, step: number, trainable: readonly string[]) => StepGradients;

/** What an updater is given: the loop's resolution of what trains and how. */
export interface UpdateSetup {
  /** Trainable parameter names (the loop's `params` minus `freeze`). */
  names: string[];
  /** Group settings by name (only parameters in a group). */
  settings: ReadonlyMap<string, ParamSettings>;
  /** 0/1 slice masks by name (the parameter's shape); the loop disposes them. */
  masks: ReadonlyMap<string, tf.Tensor>;
  adam: AdamWOptions;
  clipNorm: number;
}

/** One whole update per call (gradients, masks, clipping, AdamW), and the optimizer state it keeps. */
export interface Updater<B> {
  /** Updates done (AdamW's bias correction counts them). */
  readonly t: number;
  /** Updates the parameters from `batch`; returns the loss and the global gradient norm before clipping. */
  step(batch: B, step: number, lr: number): { loss: number; gradNorm: number };
  /** AdamW moments named `m.<param>` / `v.<param>` (adamw.ts's format). */
  state(): Map<string, HostTensor>;
  /** Restores moments saved by `state()` and the update count (validates everything first). */
  load(state: Map<string, HostTensor>, t: number): void;
  dispose(): void;
}

/** What the loop reports after each update. */
export interface LoopStep {
  /** Updates completed (1-based). */
  step: number;
  totalSteps: number;
  loss: number;
  /** The scheduled learning rate (before group multipliers). */
  lr: number;
  /** Global norm of the (masked) gradients before clipping. */
  gradNorm: number;
  /** performance.now() and process.cpuUsage() when the step began (before its batch was made). */
  startedAt: number;
  cpuAtStart: NodeJS.CpuUsage;
}

/** The run directory: what a snapshot holds besides the optimizer's moments, and how to restore it. */
export interface LoopRun<R extends object> {
  dir: string;
  /** The options that must match on resume (see run-dir.ts). */
  fingerprint: Record<string, unknown>;
  /** Snapshot every this many steps (and after the last); 0/undefined = only after the last. */
  every?: number;
  /** Also snapshot when aborted (default false). */
  onAbort?: boolean;
  /** Files of the snapshot of step `step` (weights, a checkpoint directory, EMA state, …). */
  content: (step: number) => Map<string, DirEntry>;
  /** The trainer's record kept in the state file (history, evaluations, …), plain JSON. */
  record: (step: number) => object;
  /** Restores the trainer from snapshot directory `dir`; must validate everything before changing anything. */
  restore: (dir: string, record: R, step: number) => void;
  onSaved?: (step: number) => void;
}

export interface LoopOptions<B, R extends object> {
  steps: number;
  /** Every parameter that may train (trainable = these minus `freeze`). */
  params: Map<string, tf.Variable>;
  /** The batch of 0-based step i (deterministic in i for resume to continue the same curve). */
  batches: (step: number) => B;
  /** The loss of a batch, computed from the parameters (under the gradient tape). */
  loss?: (batch: B, step: number) => tf.Scalar;
  /** Replaces the local loss + gradients computation (see the file comment); `loss` is then unused. */
  gradients?: GradientFn<B>;
  /** Replaces the whole update (see the file comment); `loss` and `gradients` are then unused. */
  updater?: (setup: UpdateSetup) => Updater<B>;
  /** Glob patterns (`*` = any run of characters) of parameters to keep frozen. */
  freeze?: string[];
  trainSlices?: TrainSlice[];
  groups?: ParamGroup[];
  lr: number;
  minLr: number;
  warmupSteps: number;
  adam: AdamWOptions;
  /** Clip the global gradient norm to this (0 = off). */
  clipNorm: number;
  /** After each update (the trainer's own bookkeeping: history, events, EMA, evaluations). */
  onStep?: (s: LoopStep, batch: B) => void;
  run?: LoopRun<R>;
  signal?: AbortSignal;
}

export interface LoopResult {
  /** Step the run resumed from (0 for a fresh run). */
  resumedFrom: number;
  stopped: 'done' | 'aborted';
}

/** Loss + gradients of the trainable parameters, computed here (the default GradientFn). */
export function localGradients<B>(params: Map<string, tf.Variable>, loss: (batch: B, step: number) => tf.Scalar): GradientFn<B> {
  return (batch, step, trainable) => {
    const vars = trainable.map((n) => params.get(n) as tf.Variable);
    // engine().gradients rather than variableGrads: a step where no trainable weight reaches the loss
    // (only Partial LoRA adapters training on a batch without image tokens) has no gradients, not an error.
    const { value, grads } = tf.engine().gradients(() => loss(batch, step), vars, undefined, true);
    const out = new Map<string, tf.Tensor>();
    trainable.forEach((n, i) => {
      if (grads[i]) out.set(n, grads[i]);
    });
    return { loss: value.dataSync()[0], grads: out };
  };
}

/** The update on this thread: `gradients`, then masks, global-norm clipping and AdamW on the parameters' tensors. */
export function localUpdater<B>(params: Map<string, tf.Variable>, gradients: GradientFn<B>, setup: UpdateSetup): Updater<B> {
  const { names, masks, clipNorm } = setup;
  const opt = new AdamW(names, params, setup.adam, masks, setup.settings);
  return {
    get t() {
      return opt.t;
    },
    step(batch, step, lr) {
      let loss = NaN;
      let gradNorm = 0;
      tf.tidy(() => {
        const r = gradients(batch, step, names);
        loss = r.loss;
        const gm = new Map<string, tf.Tensor>();
        for (const n of names) {
          const g = r.grads.get(n);
          const mask = masks.get(n);
          if (g) gm.set(n, mask ? tf.mul(g, mask) : g);
        }
        gradNorm = gm.size === 0 ? 0 : Math.sqrt(tf.addN([...gm.values()].map((g) => tf.sum(tf.square(g)))).dataSync()[0]);
        if (clipNorm > 0 && gradNorm > clipNorm) for (const [n, g] of gm) gm.set(n, tf.mul(g, clipNorm / (gradNorm + 1e-6)));
        opt.apply(gm, lr);
      });
      return { loss, gradNorm };
    },
    state: () => opt.state(),
    load: (state, t) => opt.load(state, t),
    dispose: () => opt.dispose(),
  };
}

export async function trainLoop<B, R extends object = Record<string, unknown>>(o: LoopOptions<B, R>): Promise<LoopResult> {
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`steps must be a positive integer, got ${JSON.stringify(o.steps)}`);
  if (!o.updater && !o.gradients && !o.loss) throw new Error('trainLoop: needs loss, gradients or updater');
  const names = trainableNames([...o.params.keys()], o.freeze);
  const settings = groupSettings(names, o.groups);
  const masks = sliceMasks(o.params, names, o.trainSlices ?? []);
  const setup: UpdateSetup = { names, settings, masks, adam: o.adam, clipNorm: o.clipNorm };
  let opt: Updater<B>;
  try {
    opt = o.updater ? o.updater(setup) : localUpdater(o.params, o.gradients ?? localGradients(o.params, o.loss as (batch: B, step: number) => tf.Scalar), setup);
  } catch (e) {
    for (const m of masks.values()) m.dispose();
    throw e;
  }
  const sched = { lr: o.lr, minLr: o.minLr, warmupSteps: o.warmupSteps, totalSteps: o.steps };
  const run = o.run ? new RunDir(o.run.dir, o.run.fingerprint) : null;
  const save = (step: number): void => {
    if (!run || !o.run) return;
    const content = o.run.content(step);
    content.set(OPTIMIZER_FILE, encodeSafetensors(opt.state(), { metadata: { step: String(step), adam_t: String(opt.t) } }));
    run.save(step, content, { adamT: opt.t, ...o.run.record(step) });
    o.run.onSaved?.(step);
  };
  let start = 0;
  try {
    const point = run?.resume<R & { adamT: number }>();
    if (point && o.run) {
      opt.load(readSafetensors(`${point.snapshot}/${OPTIMIZER_FILE}`).tensors, point.record.adamT); // validates every moment
      const { adamT: _t, ...record } = point.record;
      o.run.restore(point.snapshot, record as unknown as R, point.step);
      start = point.step;
    }
    for (let step = start; step < o.steps; step++) {
      await new Promise<void>((r) => setImmediate(r));
      if (o.signal?.aborted) {
        if (o.run?.onAbort) save(step);
        return { resumedFrom: start, stopped: 'aborted' };
      }
      const startedAt = performance.now();
      const cpuAtStart = process.cpuUsage();
      const batch = o.batches(step);
      const rate = learningRate(step, sched);
      const { loss, gradNorm } = opt.step(batch, step, rate);
      o.onStep?.({ step: step + 1, totalSteps: o.steps, loss, lr: rate, gradNorm, startedAt, cpuAtStart }, batch);
      const done = step + 1;
      if (done === o.steps || (o.run?.every && done % o.run.every === 0)) save(done);
    }
    return { resumedFrom: start, stopped: 'done' };
  } finally {
    opt.dispose();
    for (const m of masks.values()) m.dispose();
  }
}
