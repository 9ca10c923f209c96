/**
 * The contract between the pool (main thread) and its workers, and between a worker and the gradient
 * module it runs. A gradient module is a compiled JS file exporting `createGradFn(init)`; each worker
 * loads it once, with its own TF.js and wasm backend.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Collective, CollectiveBuffers } from './collective';

export interface ParamSpec {
  name: string;
  shape: number[];
}

/** Loss and gradients of one worker's share of a batch. */
export interface ShareResult {
  /**
   * The share's part of the batch loss, scaled so that the sum over workers is the whole batch's loss
   * (and the sum of the gradients its gradient): the pool only adds.
   */
  loss: number;
  /** By parameter name; a missing name means a zero gradient. */
  grads: Map<string, tf.Tensor>;
  /** Extra numbers to add up across workers (e.g. the parts of the loss). */
  stats?: Record<string, number>;
}

export interface GradFn<Share = unknown> {
  /** The parameters the gradients are for; the worker writes the current values into them before each call. */
  params: Map<string, tf.Variable>;
  /** Runs inside tf.tidy; `share` is null when this worker has no rows this step (it must still join every all-reduce). */
  grad(share: Share | null, collective: Collective): ShareResult;
}

export type CreateGradFn<Init = unknown, Share = unknown> = (init: Init) => GradFn<Share> | Promise<GradFn<Share>>;

/** workerData of each worker. */
export interface WorkerInit {
  rank: number;
  workers: number;
  /** Absolute path of the compiled gradient module. */
  module: string;
  init: unknown;
  backend: string;
  specs: ParamSpec[];
  /** Current parameter values, all specs back to back (float32). */
  params: SharedArrayBuffer;
  /** This worker's gradients, same layout. */
  grads: SharedArrayBuffer;
  collective: CollectiveBuffers;
}

export type ToWorker = { type: 'step'; id: number; share: unknown } | { type: 'close' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'done'; id: number; loss: number; stats: Record<string, number>; ms: number }
  | { type: 'error'; id: number; message: string };

/** Offsets of each parameter in the flat float32 layout. */
export function flatLayout(specs: ParamSpec[]): { offsets: number[]; sizes: number[]; total: number } {
  const offsets: number[] = [];
  const sizes: number[] = [];
  let total = 0;
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    offsets.push(total);
    sizes.push(n);
    total += n;
  }
  return { offsets, sizes, total };
}
