/**
 * The training loop's `updater` (loop.ts) on a data-parallel pool: every update runs in the workers
 * (pool.ts updateSync — gradients of each share, then each worker sums, clips and AdamW-updates its own
 * pieces of the flat parameter vector in shared memory). This thread's part of a step is small: write
 * the parameters that do not train (they may change between steps, e.g. the VQ-VAE's EMA codebook),
 * post the shares, wait, and copy the new values of the trained parameters into its own variables (one
 * in-place write each on wasm), which the trainer's hooks, evaluations and snapshots read.
 *
 * The trainable parameters' values in shared memory are the real ones between steps; they are written
 * from this thread's variables before the first update and after `load` (a resumed run restores the
 * variables before its first step). The moments live in shared memory and are saved and restored in
 * adamw.ts's format, so a run directory resumes with any worker count, one thread included.
 */
import * as tf from '@tensorflow/tfjs';
import { writeVariable } from '../../backend/host-copy';
import type { HostTensor } from '../../model/params';
import type { Updater, UpdateSetup } from '../loop';
import type { FlatParamSettings } from './flat-adamw';
import type { DataParallelPool, UpdateResult } from './pool';
import { phaseTimer } from './phases';

/** Timings of the last step (when the pool has timers): this thread's phases and each worker's. */
export interface UpdateTimings {
  main: Record<string, number>;
  workers: Record<string, number>[];
  /** Each worker's wall and thread CPU ms for the step. */
  workerMs: number[];
  workerCpuMs: number[];
}

export interface PooledUpdater<B> extends Updater<B> {
  /** The last step's timings (phases only when the pool was started with timers). */
  readonly last: UpdateTimings | null;
}

/**
 * An updater for trainLoop's `updater` option. `params` are this thread's variables (every parameter of
 * the pool: the trainable ones of `setup` and any the workers only read); `sharesOf` cuts a batch into
 * one share per worker; `onResult` sees each step's result (stats, outputs) before the loop goes on.
 */
export function pooledUpdater<B>(pool: DataParallelPool, params: ReadonlyMap<string, tf.Variable>, setup: UpdateSetup, sharesOf: (batch: B, step: number) => unknown[], onResult?: (r: UpdateResult) => void): PooledUpdater<B> {
  const variable = (n: string): tf.Variable => {
    const v = params.get(n);
    if (!v) throw new Error(`pooled update: no variable '${n}'`);
    return v;
  };
  const trained = setup.names;
  const fixed = pool.paramNames().filter((n) => !trained.includes(n));
  const settings = new Map<string, FlatParamSettings>();
  const masks = new Map<string, Float32Array>();
  for (const n of trained) {
    const v = variable(n);
    const group = setup.settings.get(n);
    const weightDecay = group?.weightDecay ?? setup.adam.weightDecay;
    const mask = setup.masks.get(n);
    settings.set(n, { lrScale: group ? group.lrScale : 1, weightDecay: v.rank >= 2 && weightDecay > 0 ? weightDecay : 0, masked: mask !== undefined });
    if (mask) masks.set(n, mask.dataSync() as Float32Array);
  }
  pool.configureUpdate({ settings, masks, adam: setup.adam, clipNorm: setup.clipNorm });
  const hostValues = (n: string): Float32Array => variable(n).dataSync() as Float32Array;
  let t = 0;
  let fresh = false; // whether shared memory holds the trained parameters' current values
  let last: UpdateTimings | null = null;
  return {
    get t() {
      return t;
    },
    get last() {
      return last;
    },
    step(batch, step, lr) {
      const timer = phaseTimer(pool.hasTimers);
      pool.writeParams(hostValues, fresh ? fixed : [...trained, ...fixed]);
      fresh = true;
      const shares = sharesOf(batch, step);
      timer.lap('weights in + shares');
      const r = pool.updateSync(shares, lr, t + 1);
      t++;
      timer.lap('step (post + wait)');
      for (const n of trained) writeVariable(variable(n), pool.paramValues(n));
      timer.lap('weights out');
      onResult?.(r);
      last = { main: timer.result(), workers: r.phases?.workers ?? [], workerMs: r.workerMs, workerCpuMs: r.workerCpuMs };
      return { loss: r.loss, gradNorm: r.gradNorm };
    },
    state: () => pool.optimizerState(),
    load(state: Map<string, HostTensor>, at: number) {
      pool.loadOptimizerState(state);
      t = at;
      fresh = false;
    },
    dispose: () => undefined, // the pool belongs to the trainer, which closes it
  };
}
