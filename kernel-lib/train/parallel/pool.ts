/**
 * Data-parallel gradients on worker threads (issue #11.2). TF.js's wasm backend runs one thread under
 * Node, so a second core only helps through a second backend: each worker thread loads its own TF.js and
 * wasm backend, keeps a copy of the parameters, and computes the gradients of its share of a batch. The
 * pool writes the current parameter values into shared memory, starts every worker on its share, and adds
 * the workers' gradients up in worker order (the same bits for a given worker count). The optimizer step
 * stays on the main thread, which owns the real parameters.
 *
 * Narrow on purpose: parameter names and shapes in, a gradient module (loss + gradients for a share) and
 * shares per step, summed loss and gradients out, plus each worker's own arrays where the main thread
 * needs them unsummed (`outputBytes`: the VQ-VAE's encoder outputs for its host-side codebook EMA). A
 * training loop calls `grads` where it would have run its own forward and backward.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { repoRoot } from '../../paths';
import { Collective, collectiveBuffers, CollectiveBuffers } from './collective';
import { flatLayout, FromWorker, OutputArray, ParamSpec, readOutputs, readResult, resultsBuffer, ToWorker, WorkerInit } from './protocol';

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

  private constructor(
    private readonly workers: Worker[],
    private readonly specs: ParamSpec[],
    private readonly params: Float32Array,
    private readonly gradBufs: Float32Array[],
    private readonly collective: CollectiveBuffers,
    private readonly results: SharedArrayBuffer,
    private readonly outputBufs: SharedArrayBuffer[],
  ) {}

  get size(): number {
    return this.workers.length;
  }

  static async start(o: PoolOptions): Promise<DataParallelPool> {
    if (!Number.isInteger(o.workers) || o.workers < 1) throw new Error(`data-parallel workers must be a positive integer, got ${String(o.workers)}`);
    const layout = flatLayout(o.specs);
    const params = new SharedArrayBuffer(layout.total * 4);
    const grads = Array.from({ length: o.workers }, () => new SharedArrayBuffer(layout.total * 4));
    const collective = collectiveBuffers(o.workers, o.reduceCapacity ?? 65536);
    const script = compiledModule('kernel-lib/train/parallel/worker');
    const results = resultsBuffer(o.workers);
    const outputBytes = o.outputBytes ?? 0;
    if (!Number.isInteger(outputBytes) || outputBytes < 0 || outputBytes % 4 !== 0) throw new Error(`data-parallel outputBytes must be a non-negative multiple of 4, got ${String(o.outputBytes)}`);
    const outputs = grads.map(() => new SharedArrayBuffer(outputBytes));
    const workers = grads.map((g, rank) => {
      const init: WorkerInit = { rank, workers: o.workers, module: o.module, init: o.init, backend: o.backend ?? 'wasm', specs: o.specs, params, grads: g, collective, results, outputs: outputs[rank] };
      return new Worker(script, { workerData: init });
    });
    const pool = new DataParallelPool(workers, o.specs, new Float32Array(params), grads.map((g) => new Float32Array(g)), collective, results, outputs);
    try {
      await Promise.all(workers.map((w) => pool.reply(w, null)));
    } catch (e) {
      await pool.close();
      throw e;
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
    const id = this.begin(values, shares);
    const replies = this.workers.map((w) => this.reply(w, id));
    this.post(id, shares);
    const settled = await Promise.allSettled(replies);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason as Error;
    return this.finish(settled.map((s) => (s as PromiseFulfilledResult<Extract<FromWorker, { type: 'done' }>>).value));
  }

  /**
   * The same, blocking this thread until every worker is done (Atomics.wait; allowed on Node's main thread):
   * for a synchronous seam such as the training loop's `gradients`. `timeoutMs` bounds a step whose worker
   * died without reporting.
   */
  gradsSync(values: (name: string) => Float32Array, shares: unknown[], timeoutMs = 600_000): PoolResult {
    const id = this.begin(values, shares);
    const counter = new Int32Array(this.results, 0, 1);
    Atomics.store(counter, 0, 0);
    this.post(id, shares);
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
    return this.finish(done);
  }

  private begin(values: (name: string) => Float32Array, shares: unknown[]): number {
    if (this.closed) throw new Error('data-parallel pool is closed');
    if (shares.length !== this.workers.length) throw new Error(`data-parallel grads: ${shares.length} shares for ${this.workers.length} workers`);
    const layout = flatLayout(this.specs);
    this.specs.forEach((s, i) => {
      const v = values(s.name);
      if (v.length !== layout.sizes[i]) throw new Error(`data-parallel grads: parameter '${s.name}' has ${v.length} values, expected ${layout.sizes[i]}`);
      this.params.set(v, layout.offsets[i]);
    });
    Collective.reset(this.collective);
    return this.nextId++;
  }

  private post(id: number, shares: unknown[]): void {
    this.workers.forEach((w, r) => w.postMessage({ type: 'step', id, share: shares[r] } satisfies ToWorker));
  }

  /** Adds the workers' gradients in worker order (the same bits for a given worker count). */
  private finish(done: Extract<FromWorker, { type: 'done' }>[]): PoolResult {
    const layout = flatLayout(this.specs);
    const grads = new Map<string, Float32Array>();
    this.specs.forEach((s, i) => {
      const sum = new Float32Array(layout.sizes[i]);
      for (const g of this.gradBufs) {
        const part = g.subarray(layout.offsets[i], layout.offsets[i] + layout.sizes[i]);
        for (let j = 0; j < sum.length; j++) sum[j] += part[j];
      }
      grads.set(s.name, sum);
    });
    const stats: Record<string, number> = {};
    let loss = 0;
    for (const d of done) {
      loss += d.loss;
      for (const [k, v] of Object.entries(d.stats)) stats[k] = (stats[k] ?? 0) + v;
    }
    const outputs = done.map((d, r) => readOutputs(this.outputBufs[r], d.outputs));
    return { loss, grads, stats, outputs, workerMs: done.map((d) => d.ms), workerCpuMs: done.map((d) => d.cpuMs) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Collective.abort(this.collective);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
