/**
 * The contract between the pool (main thread) and its workers, and between a worker and the gradient
 * module it runs. A gradient module is a compiled JS file exporting `createGradFn(init)`; each worker
 * loads it once, with its own TF.js and wasm backend.
 */
import * as fs from 'node:fs';
import type * as tf from '@tensorflow/tfjs';
import type { AdamWOptions } from '../adamw';
import type { Collective, CollectiveBuffers } from './collective';
import type { FlatParamSettings } from './flat-adamw';
import type { SharedRegions } from './shared-state';
import type { Piece } from './shards';

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
  /**
   * Arrays the main thread needs back as they are, not summed (the VQ-VAE's encoder outputs and codes for
   * its host-side codebook update): written back to back into the worker's output buffer (PoolOptions.outputBytes).
   */
  outputs?: OutputArray[];
}

export type OutputArray = Float32Array | Int32Array;

/** How a worker's outputs lie in its output buffer: 4-byte values, back to back, in the order returned. */
export interface OutputLayout {
  dtype: 'float32' | 'int32';
  length: number;
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
  /** Parameters, moments, masks and every worker's gradients in the flat layout (shared-state.ts). */
  shared: SharedRegions;
  collective: CollectiveBuffers;
  /**
   * Where the worker also reports each step (for `gradsSync`, whose main thread blocks and cannot receive
   * messages): Int32 [0] = steps finished by all workers (Atomics-notified); then per worker a UTF-8 JSON
   * FromWorker message in its RESULT_BYTES slot, length-prefixed.
   */
  results: SharedArrayBuffer;
  /** This worker's output arrays (ShareResult.outputs); empty when the pool was started without outputBytes. */
  outputs: SharedArrayBuffer;
  /** Record per-phase wall times of each step (FromWorker done.phases). */
  timers: boolean;
}

/**
 * What an update step needs besides the gradients (pool.configureUpdate; the moments and masks are in
 * the shared regions): each worker updates only its own pieces of the parameters and moments.
 */
export interface UpdateConfig {
  /** By spec index; null for a parameter that takes no update (frozen). */
  settings: Array<FlatParamSettings | null>;
  /** Each worker's pieces (shards.ts), by rank. */
  pieces: Piece[][];
  adam: AdamWOptions;
  clipNorm: number;
}

/** An update step's learning rate and AdamW update number (1-based). */
export interface UpdateStep {
  lr: number;
  t: number;
}

export const RESULT_BYTES = 8192;

export function resultsBuffer(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(8 + workers * RESULT_BYTES);
}

/** Writes worker `rank`'s message into its slot and counts it as finished. */
export function postResult(buf: SharedArrayBuffer, rank: number, m: FromWorker): void {
  const bytes = new TextEncoder().encode(JSON.stringify(m).slice(0, RESULT_BYTES / 4 - 8));
  const base = 8 + rank * RESULT_BYTES;
  new DataView(buf).setInt32(base, bytes.length, true);
  new Uint8Array(buf, base + 4, bytes.length).set(bytes);
  const counter = new Int32Array(buf, 0, 1);
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
}

export function readResult(buf: SharedArrayBuffer, rank: number): FromWorker {
  const base = 8 + rank * RESULT_BYTES;
  const n = new DataView(buf).getInt32(base, true);
  return JSON.parse(new TextDecoder().decode(new Uint8Array(buf, base + 4, n).slice())) as FromWorker;
}

/**
 * `step` without `update`: gradients into the worker's buffer only (the pool sums them). With `update`:
 * the worker also sums its pieces of every worker's gradients, joins the global norm and runs AdamW on
 * its pieces of the shared parameters and moments (configured first by an `update-config` message).
 */
export type ToWorker = { type: 'step'; id: number; share: unknown; update?: UpdateStep } | { type: 'update-config'; config: UpdateConfig } | { type: 'close' };
export type FromWorker =
  | { type: 'ready' }
  | {
      type: 'done';
      id: number;
      loss: number;
      stats: Record<string, number>;
      outputs: OutputLayout[];
      ms: number;
      cpuMs: number;
      /** Global norm of the summed (masked) gradients before clipping (update steps only). */
      gradNorm?: number;
      /** Wall ms by phase (when the pool was started with timers). */
      phases?: Record<string, number>;
    }
  | { type: 'error'; id: number; message: string };

/** Writes `arrays` back to back into `buf` (4 bytes a value) and returns their layout; throws when they do not fit. */
export function writeOutputs(buf: SharedArrayBuffer, arrays: readonly OutputArray[]): OutputLayout[] {
  const bytes = arrays.reduce((a, x) => a + x.length * 4, 0);
  if (bytes > buf.byteLength) throw new Error(`outputs of ${bytes} bytes exceed the pool's output buffer of ${buf.byteLength} bytes (PoolOptions.outputBytes)`);
  let offset = 0;
  return arrays.map((x) => {
    const dtype = x instanceof Int32Array ? 'int32' : 'float32';
    (dtype === 'int32' ? new Int32Array(buf, offset, x.length) : new Float32Array(buf, offset, x.length)).set(x);
    offset += x.length * 4;
    return { dtype, length: x.length };
  });
}

/** Copies of the arrays `writeOutputs` wrote (the buffer is reused by the next step). */
export function readOutputs(buf: SharedArrayBuffer, layout: readonly OutputLayout[]): OutputArray[] {
  let offset = 0;
  return layout.map(({ dtype, length }) => {
    const x = dtype === 'int32' ? new Int32Array(buf, offset, length).slice() : new Float32Array(buf, offset, length).slice();
    offset += length * 4;
    return x;
  });
}

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

/**
 * CPU time of the calling thread in ms (Linux: utime + stime of /proc/thread-self/stat, 10 ms ticks);
 * NaN where that file does not exist. On a machine shared with other work a worker's wall time says how
 * busy the machine is, its CPU time how much work the worker did.
 */
export function threadCpuMs(): number {
  try {
    const stat = fs.readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after "pid (comm) ", field 3 is fields[0]
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return NaN;
  }
}
/** USER_HZ: 100 on every Linux architecture Node supports. */
const CLOCK_TICKS_PER_S = 100;
