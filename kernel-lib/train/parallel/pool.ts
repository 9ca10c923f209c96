/**
 * Data-parallel gradients and updates on worker threads (issue #11.2). TF.js's wasm backend runs one
 * thread under Node, so a second core only helps through a second backend: each worker thread loads its
 * own TF.js and wasm backend, keeps a copy of the parameters, and computes the gradients of its share of a
 * batch. The parameters, every worker's gradients and (for updates) the AdamW moments lie in shared memory
 * in one flat layout (protocol.ts flatLayout).
 *
 * Two kinds of step:
 * - `grads` / `gradsSync`: the workers' gradients, added up here in worker order (the same bits for a
 *   given worker count); the caller runs its own optimizer.
 * - `updateSync` (after `configureUpdate`): the whole update in the workers. Each worker sums, clips and
 *   AdamW-updates its own contiguous pieces of the flat vector in shared memory (reduce-scatter; the
 *   global norm is an all-reduce of one number), so this thread's serial work per step is posting the
 *   shares and reading the new values (pooled-update.ts). Same sums in the same order, and AdamW with
 *   the same float32 rounding as adamw.ts (flat-adamw.ts).
 *
 * Narrow on purpose: parameter names and shapes in, a gradient module (loss + gradients for a share) and
 * shares per step, summed loss and gradients (or the updated parameters) out, plus each worker's own
 * arrays where the main thread needs them unsummed (`outputBytes`: the VQ-VAE's encoder outputs for its
 * host-side codebook EMA).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import { repoRoot } from '../../paths';
import type { HostTensor } from '../../model/params';
import type { AdamWOptions } from '../adamw';
import { Collective, collectiveBuffers, CollectiveBuffers } from './collective';
import type { FlatParamSettings } from './flat-adamw';
import { phaseTimer } from './phases';
import { flatLayout, FromWorker, OutputArray, ParamSpec, readOutputs, readResult, resultsBuffer, ToWorker, UpdateConfig, WorkerInit } from './protocol';
import { regionViews, sharedRegions, SharedRegions } from './shared-state';
import { shardPieces } from './shards';

export interface PoolOptions {
  workers: number;
  /** Absolute path of the compiled gradient module (see `compiledModule`). */
  module: string;
  /** Passed to the module's createGradFn in every worker (structured-cloneable). */
  init: unknown;
  specs: ParamSpec[];
  /** TF.js backend for the workers (default wasm). */
  backend?: string;
  /** Longest all-reduce a gradient module may do, in float64 values (default 65,536). */
  reduceCapacity?: number;
  /** Bytes of shared memory per worker for the arrays a step returns as they are (ShareResult.outputs; default 0). */
  outputBytes?: number;
  /** Record per-phase wall times of every step (PoolResult.phases); off by default, and then free. */
  timers?: boolean;
  /** The workers' V8 initial old-generation size, MB (default WORKER_INITIAL_OLD_SPACE_MB; 0: V8's default). */
  initialOldSpaceMb?: number;
}

/** What `configureUpdate` needs: the optimizer settings of every parameter that trains. */
export interface UpdateOptions {
  /** By parameter name; parameters of the pool not named here take no update (frozen). */
  settings: Map<string, FlatParamSettings>;
  /** 0/1 slice masks (the parameter's size) of the parameters whose settings say `masked`. */
  masks: Map<string, Float32Array>;
  adam: AdamWOptions;
  /** Clip the global gradient norm to this (0 = off). */
  clipNorm: number;
}

export interface PoolResult {
  /** Sum of the workers' losses (each worker scales its share's, so this is the batch's loss). */
  loss: number;
  grads: Map<string, Float32Array>;
  stats: Record<string, number>;
  /** Each worker's ShareResult.outputs (copies), in worker order. */
  outputs: OutputArray[][];
  /** Each worker's compute time, ms: wall and its thread's CPU time. */
  workerMs: number[];
  workerCpuMs: number[];
  /** Each worker's wall ms by phase, and this thread's (`main`), when the pool has timers. */
  phases?: { workers: Record<string, number>[]; main: Record<string, number> };
}

export interface UpdateResult extends Omit<PoolResult, 'grads'> {
  /** Global norm of the summed (masked) gradients before clipping. */
  gradNorm: number;
}

/**
 * V8's initial old-generation size for the workers' isolates, MB. A training step's objects live until its
 * backward pass (the tape holds every intermediate tensor), so they outlast a scavenge or two and land in
 * the old generation; with V8's default, sized from the ~21 MB the heap keeps alive, a worker ran 7–8
 * mark-compacts a step (mm-moe-small, 8×128, 2 workers) and their helper threads took the second core from
 * the other worker. At 256 MB it runs about one every few steps: in one process, steps interleaved, the
 * process's CPU per 2-worker step fell from 1,193 to 884 ms and its wall time from 646 to 489 ms (README,
 * "Training on both cores"). Resident memory grows by up to this much per worker before a full collection.
 */
export const WORKER_INITIAL_OLD_SPACE_MB = 256;

/**
 * V8 flags are per process and Node does not pass them to a Worker (execArgv refuses them), but an isolate
 * reads --initial-old-space-size when it is created: so it is set while the pool's workers start and set
 * back to V8's default (0) afterwards, sparing isolates created later. A process started with its own
 * --initial-old-space-size keeps it. `mb` 0: V8's default.
 */
function workerHeap(mb: number): { restore: () => void } {
  if (!Number.isInteger(mb) || mb < 0) throw new Error(`data-parallel initialOldSpaceMb must be a non-negative integer, got ${String(mb)}`);
  const own = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => /^--initial[-_]old[-_]space[-_]size/.test(a));
  if (own || mb === 0) return { restore: () => undefined };
  v8.setFlagsFromString(`--initial-old-space-size=${mb}`);
  return { restore: () => v8.setFlagsFromString('--initial-old-space-size=0') };
}

/** The compiled JS of a repository file (e.g. `kernel-lib/train/parallel/lm-grads`): workers run JS, not TS. */
export function compiledModule(fromRepoRoot: string): string {
  // Compiled, this file is dist/kernel-lib/train/parallel/pool.js; under ts-jest it is the .ts source and
  // the compiled tree is dist/ at the repository root.
  const dist = __filename.endsWith('.ts') ? path.join(repoRoot(), 'dist') : path.resolve(__dirname, '..', '..', '..');
  const file = path.join(dist, `${fromRepoRoot}.js`);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: data-parallel workers run compiled JS; build first (npx tsc -p tsconfig.build.json, or any npm script)`);
  return file;
}

export class DataParallelPool {
  private nextId = 0;
  private closed = false;
  private readonly layout: ReturnType<typeof flatLayout>;
  private readonly index: Map<string, number>;
  /** Which parameters take updates (set by configureUpdate). */
  private trains: boolean[] | null = null;
  private readonly views: ReturnType<typeof regionViews>;

  private constructor(
    private readonly workers: Worker[],
    private readonly specs: ParamSpec[],
    shared: SharedRegions,
    private readonly collective: CollectiveBuffers,
    private readonly results: SharedArrayBuffer,
    private readonly outputBufs: SharedArrayBuffer[],
    private readonly timers: boolean,
  ) {
    this.layout = flatLayout(specs);
    this.index = new Map(specs.map((s, i) => [s.name, i]));
    this.views = regionViews(shared);
  }

  private get params(): Float32Array {
    return this.views.params;
  }

  get size(): number {
    return this.workers.length;
  }

  /** Whether steps record per-phase times (PoolOptions.timers). */
  get hasTimers(): boolean {
    return this.timers;
  }

  /** The parameters' names, in the flat layout's order. */
  paramNames(): string[] {
    return this.specs.map((s) => s.name);
  }

  static async start(o: PoolOptions): Promise<DataParallelPool> {
    if (!Number.isInteger(o.workers) || o.workers < 1) throw new Error(`data-parallel workers must be a positive integer, got ${String(o.workers)}`);
    const layout = flatLayout(o.specs);
    const shared = sharedRegions(layout.total, o.workers);
    const collective = collectiveBuffers(o.workers, o.reduceCapacity ?? 65536);
    const script = compiledModule('kernel-lib/train/parallel/worker');
    const results = resultsBuffer(o.workers);
    const outputBytes = o.outputBytes ?? 0;
    if (!Number.isInteger(outputBytes) || outputBytes < 0 || outputBytes % 4 !== 0) throw new Error(`data-parallel outputBytes must be a non-negative multiple of 4, got ${String(o.outputBytes)}`);
    const outputs = Array.from({ length: o.workers }, () => new SharedArrayBuffer(outputBytes));
    const timers = o.timers ?? false;
    const heap = workerHeap(o.initialOldSpaceMb ?? WORKER_INITIAL_OLD_SPACE_MB);
    const workers = outputs.map((out, rank) => {
      const init: WorkerInit = { rank, workers: o.workers, module: o.module, init: o.init, backend: o.backend ?? 'wasm', specs: o.specs, shared, collective, results, outputs: out, timers };
      return new Worker(script, { workerData: init });
    });
    const pool = new DataParallelPool(workers, o.specs, shared, collective, results, outputs, timers);
    try {
      await Promise.all(workers.map((w) => pool.reply(w, null)));
    } catch (e) {
      await pool.close();
      throw e;
    } finally {
      heap.restore(); // every worker's isolate exists now (each said ready, or the pool is closed)
    }
    return pool;
  }

  /** The next message of one worker: `ready` (id null) or the result of step `id`; errors reject. */
  private reply(w: Worker, id: number | null): Promise<Extract<FromWorker, { type: 'done' | 'ready' }>> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        cleanup();
        if (m.type === 'error') reject(new Error(m.message));
        else if (id === null ? m.type !== 'ready' : m.type !== 'done' || m.id !== id) reject(new Error(`data-parallel worker: unexpected message ${JSON.stringify(m).slice(0, 200)}`));
        else resolve(m);
      };
      const onError = (e: Error): void => {
        cleanup();
        reject(new Error(`data-parallel worker crashed: ${e.message}`));
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(new Error(`data-parallel worker exited (code ${code})`));
      };
      const cleanup = (): void => {
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
      };
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
    });
  }

  /**
   * Loss and gradients of one batch: `values(name)` gives each parameter's current values, `shares[r]`
   * is worker r's part of the batch (null: none this step).
   */
  async grads(values: (name: string) => Float32Array, shares: unknown[]): Promise<PoolResult> {
    this.writeParams(values);
    const id = this.begin(shares);
    const replies = this.workers.map((w) => this.reply(w, id));
    this.post(id, shares);
    const settled = await Promise.allSettled(replies);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason as Error;
    const done = settled.map((s) => (s as PromiseFulfilledResult<Extract<FromWorker, { type: 'done' }>>).value);
    return { ...this.collect(done, {}), grads: this.sumGradients() };
  }

  /**
   * The same, blocking this thread until every worker is done (Atomics.wait; allowed on Node's main thread):
   * for a synchronous seam such as the training loop's `gradients`. `timeoutMs` bounds a step whose worker
   * died without reporting.
   */
  gradsSync(values: (name: string) => Float32Array, shares: unknown[], timeoutMs = 600_000): PoolResult {
    const timer = phaseTimer(this.timers);
    this.writeParams(values);
    timer.lap('weights in');
    const done = this.runSync(shares, undefined, timeoutMs);
    timer.lap('post + wait');
    const grads = this.sumGradients();
    timer.lap('sum');
    return { ...this.collect(done, timer.result()), grads };
  }

  /**
   * Writes parameter values into shared memory (every parameter, or those named), where the next step's
   * workers read them. Parameters an update step trains need it only before the first update (and after
   * their values changed outside the pool); the others, before any step that should see new values.
   */
  writeParams(values: (name: string) => Float32Array, names: readonly string[] = this.specs.map((s) => s.name)): void {
    for (const n of names) {
      const i = this.index.get(n);
      if (i === undefined) throw new Error(`data-parallel pool: no parameter '${n}'`);
      const v = values(n);
      if (v.length !== this.layout.sizes[i]) throw new Error(`data-parallel grads: parameter '${n}' has ${v.length} values, expected ${this.layout.sizes[i]}`);
      this.params.set(v, this.layout.offsets[i]);
    }
  }

  /** Parameter `name`'s values in shared memory (a view: valid until the next step changes them). */
  paramValues(name: string): Float32Array {
    const i = this.index.get(name);
    if (i === undefined) throw new Error(`data-parallel pool: no parameter '${name}'`);
    return this.params.subarray(this.layout.offsets[i], this.layout.offsets[i] + this.layout.sizes[i]);
  }

  /**
   * Sets the pool up for `updateSync`: AdamW moments (zero) in shared memory for the parameters that
   * train, and each worker's pieces of them. Call once, before the first update.
   */
  configureUpdate(o: UpdateOptions): void {
    if (this.trains) throw new Error('data-parallel pool: configureUpdate was already called');
    const { offsets, sizes } = this.layout;
    for (const n of o.settings.keys()) if (!this.index.has(n)) throw new Error(`data-parallel pool: no parameter '${n}' to train`);
    const settings = this.specs.map((s) => o.settings.get(s.name) ?? null);
    settings.forEach((x, i) => {
      if (!x?.masked) return;
      const h = o.masks.get(this.specs[i].name);
      if (!h || h.length !== sizes[i]) throw new Error(`data-parallel pool: parameter '${this.specs[i].name}' is masked but has no mask of ${sizes[i]} values`);
      this.views.mask.set(h, offsets[i]);
    });
    const trains = settings.map((x) => x !== null);
    const pieces = shardPieces(offsets.map((offset, i) => ({ offset, size: sizes[i] })), trains, this.workers.length);
    const config: UpdateConfig = { settings, pieces, adam: o.adam, clipNorm: o.clipNorm };
    for (const w of this.workers) w.postMessage({ type: 'update-config', config } satisfies ToWorker);
    this.trains = trains;
  }

  /**
   * One whole training update (see the file comment): the workers compute the gradients of their shares,
   * reduce and update their pieces; the new parameter values are then in shared memory (`paramValues`).
   * `t` is the AdamW update number (1-based), `lr` the scheduled learning rate.
   */
  updateSync(shares: unknown[], lr: number, t: number, timeoutMs = 600_000): UpdateResult {
    if (!this.trains) throw new Error('data-parallel pool: updateSync before configureUpdate');
    if (!Number.isInteger(t) || t < 1) throw new Error(`data-parallel pool: update number t must be a positive integer, got ${String(t)}`);
    const timer = phaseTimer(this.timers);
    const done = this.runSync(shares, { lr, t }, timeoutMs);
    timer.lap('post + wait');
    const gradNorm = done[0].gradNorm as number;
    return { ...this.collect(done, timer.result()), gradNorm };
  }

  /** AdamW moments of the parameters that train, as adamw.ts's `state()` names them (`m.<param>`, `v.<param>`; copies). */
  optimizerState(): Map<string, HostTensor> {
    const trains = this.requireTrains();
    const out = new Map<string, HostTensor>();
    this.specs.forEach((s, i) => {
      if (!trains[i]) return;
      const at = (a: Float32Array) => a.slice(this.layout.offsets[i], this.layout.offsets[i] + this.layout.sizes[i]);
      out.set(`m.${s.name}`, { shape: s.shape.slice(), data: at(this.views.m) });
      out.set(`v.${s.name}`, { shape: s.shape.slice(), data: at(this.views.v) });
    });
    return out;
  }

  /** Restores moments saved by `optimizerState()` (or adamw.ts's `state()`); every moment must be present with the right shape. */
  loadOptimizerState(state: Map<string, HostTensor>): void {
    const trains = this.requireTrains();
    const checked: Array<[Float32Array, number, HostTensor]> = [];
    this.specs.forEach((s, i) => {
      if (!trains[i]) return;
      for (const [kind, arr] of [['m', this.views.m], ['v', this.views.v]] as const) {
        const key = `${kind}.${s.name}`;
        const h = state.get(key);
        if (!h) throw new Error(`optimizer state is missing '${key}'`);
        if (h.shape.join(',') !== s.shape.join(',')) throw new Error(`optimizer state '${key}' has shape [${h.shape}], expected [${s.shape}]`);
        checked.push([arr, this.layout.offsets[i], h]);
      }
    });
    for (const [arr, offset, h] of checked) arr.set(h.data as Float32Array, offset);
  }

  private requireTrains(): boolean[] {
    if (!this.trains) throw new Error('data-parallel pool: not configured for updates (configureUpdate)');
    return this.trains;
  }

  private begin(shares: unknown[]): number {
    if (this.closed) throw new Error('data-parallel pool is closed');
    if (shares.length !== this.workers.length) throw new Error(`data-parallel grads: ${shares.length} shares for ${this.workers.length} workers`);
    Collective.reset(this.collective);
    return this.nextId++;
  }

  private post(id: number, shares: unknown[], update?: { lr: number; t: number }): void {
    this.workers.forEach((w, r) => w.postMessage({ type: 'step', id, share: shares[r], update } satisfies ToWorker));
  }

  /** Posts a step and blocks until every worker reported it (or one failed, or `timeoutMs` passed). */
  private runSync(shares: unknown[], update: { lr: number; t: number } | undefined, timeoutMs: number): Extract<FromWorker, { type: 'done' }>[] {
    const id = this.begin(shares);
    const counter = new Int32Array(this.results, 0, 1);
    Atomics.store(counter, 0, 0);
    this.post(id, shares, update);
    const until = Date.now() + timeoutMs;
    for (let n = Atomics.load(counter, 0); n < this.workers.length; n = Atomics.load(counter, 0)) {
      if (Date.now() > until) {
        Collective.abort(this.collective);
        throw new Error(`data-parallel step: no result from ${this.workers.length - n} worker(s) within ${timeoutMs} ms`);
      }
      Atomics.wait(counter, 0, n, 1000);
    }
    const msgs = this.workers.map((_, r) => readResult(this.results, r));
    const err = msgs.find((m): m is Extract<FromWorker, { type: 'error' }> => m.type === 'error');
    if (err) throw new Error(err.message);
    const done = msgs as Extract<FromWorker, { type: 'done' }>[];
    if (done.some((m) => m.id !== id)) throw new Error('data-parallel step: a worker reported another step');
    return done;
  }

  /** Adds the workers' gradients in worker order (the same bits for a given worker count). */
  private sumGradients(): Map<string, Float32Array> {
    const { offsets, sizes } = this.layout;
    const grads = new Map<string, Float32Array>();
    this.specs.forEach((s, i) => {
      const sum = new Float32Array(sizes[i]);
      for (const g of this.views.grads) {
        const part = g.subarray(offsets[i], offsets[i] + sizes[i]);
        for (let j = 0; j < sum.length; j++) sum[j] += part[j];
      }
      grads.set(s.name, sum);
    });
    return grads;
  }

  /** Losses and stats added up in worker order, outputs copied, timings gathered. */
  private collect(done: Extract<FromWorker, { type: 'done' }>[], main: Record<string, number>): Omit<PoolResult, 'grads'> {
    const stats: Record<string, number> = {};
    let loss = 0;
    for (const d of done) {
      loss += d.loss;
      for (const [k, v] of Object.entries(d.stats)) stats[k] = (stats[k] ?? 0) + v;
    }
    const outputs = done.map((d, r) => readOutputs(this.outputBufs[r], d.outputs));
    const phases = this.timers ? { workers: done.map((d) => d.phases ?? {}), main } : undefined;
    return { loss, stats, outputs, workerMs: done.map((d) => d.ms), workerCpuMs: done.map((d) => d.cpuMs), phases };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Collective.abort(this.collective);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
