/**
 * Entry point of one data-parallel worker thread (compiled to dist/…/worker.js; see pool.ts). It owns a
 * TF.js instance with its own wasm backend and a copy of the parameters; per step it copies the current
 * values from shared memory into its variables, runs the gradient module on its share and writes the
 * gradients back. In an update step it then reduces and updates its own pieces of the flat parameter
 * vector (reduce-scatter): sums every worker's gradients there in worker order, joins the global norm
 * (an all-reduce of one number), clips and runs AdamW on those pieces in shared memory, so that no
 * thread touches every parameter (update-kernel.ts, shards.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../backend/backend';
import { readInto, writeVariable } from '../../backend/host-copy';
import { Collective } from './collective';
import { adamwScalars, clipScale } from './flat-adamw';
import { phaseTimer, PhaseTimer } from './phases';
import { regionViews } from './shared-state';
import { UpdateKernel } from './update-kernel';
import { CreateGradFn, flatLayout, FromWorker, GradFn, OutputLayout, postResult, threadCpuMs, ToWorker, UpdateConfig, UpdateStep, WorkerInit, writeOutputs } from './protocol';

async function main(): Promise<void> {
  const w = workerData as WorkerInit;
  const port = parentPort!;
  const send = (m: FromWorker): void => {
    if (m.type !== 'ready') postResult(w.results, w.rank, m);
    port.postMessage(m);
  };
  await initBackend(w.backend);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(w.module) as { createGradFn?: CreateGradFn };
  if (typeof mod.createGradFn !== 'function') throw new Error(`${w.module} does not export createGradFn`);
  const fn: GradFn = await mod.createGradFn(w.init);
  const layout = flatLayout(w.specs);
  const views = regionViews(w.shared);
  const { params } = views;
  const grads = views.grads[w.rank];
  const kernel = new UpdateKernel(views, w.shared.memory);
  const vars = w.specs.map((s) => {
    const v = fn.params.get(s.name);
    if (!v) throw new Error(`worker: the gradient module has no parameter '${s.name}'`);
    if (v.shape.join(',') !== s.shape.join(',')) throw new Error(`worker: parameter '${s.name}' has shape [${v.shape}], the pool expects [${s.shape}]`);
    return v;
  });
  const view = (a: Float32Array, i: number): Float32Array => a.subarray(layout.offsets[i], layout.offsets[i] + layout.sizes[i]);
  const collective = new Collective(w.rank, w.workers, w.collective);
  let update: UpdateConfig | null = null;

  /** This worker's part of an update: reduce its pieces, join the norm, clip, AdamW (see the file comment). */
  const updatePieces = (config: UpdateConfig, step: UpdateStep, timer: PhaseTimer): number => {
    const pieces = config.pieces[w.rank];
    collective.barrier(); // every worker's gradients are written
    timer.lap('wait: gradients');
    let sq = 0;
    for (const p of pieces) sq += kernel.sumGrads(p.from, p.to, config.settings[p.param]?.masked ?? false);
    timer.lap('sum');
    const norm = Math.sqrt(collective.allReduceSum(Float64Array.of(sq))[0]);
    timer.lap('wait: norm');
    const scale = clipScale(norm, config.clipNorm);
    const scalars = adamwScalars(config.adam, step.t);
    for (const p of pieces) kernel.adamw(p.from, p.to, scalars, step.lr, config.settings[p.param]!, scale); // from the sums sumGrads left in worker 0's buffer
    timer.lap('adamw');
    return norm;
  };

  port.on('message', (m: ToWorker) => {
    if (m.type === 'close') {
      port.close();
      return;
    }
    if (m.type === 'update-config') {
      update = m.config;
      return;
    }
    const t0 = performance.now();
    const c0 = threadCpuMs();
    const timer = phaseTimer(w.timers);
    try {
      vars.forEach((v, i) => writeVariable(v, view(params, i)));
      timer.lap('weights in');
      let outputs: OutputLayout[] = [];
      const r = tf.tidy(() => {
        const res = fn.grad(m.share, collective);
        timer.lap('forward+backward');
        w.specs.forEach((s, i) => {
          const g = res.grads.get(s.name);
          if (g) readInto(g, view(grads, i));
          else view(grads, i).fill(0);
        });
        outputs = writeOutputs(w.outputs, res.outputs ?? []);
        return { loss: res.loss, stats: res.stats ?? {} };
      });
      timer.lap('gradients out');
      let gradNorm: number | undefined;
      if (m.update) {
        if (!update) throw new Error('an update step before the pool was configured for updates');
        gradNorm = updatePieces(update, m.update, timer);
      }
      const phases = w.timers ? timer.result() : undefined;
      send({ type: 'done', id: m.id, loss: r.loss, stats: r.stats, outputs, ms: performance.now() - t0, cpuMs: threadCpuMs() - c0, gradNorm, phases });
    } catch (e) {
      Collective.abort(w.collective); // peers waiting in a barrier fail too instead of hanging
      send({ type: 'error', id: m.id, message: `worker ${w.rank}: ${(e as Error).message}` });
    }
  });
  send({ type: 'ready' });
}

main().catch((e) => {
  parentPort?.postMessage({ type: 'error', id: -1, message: `worker ${(workerData as WorkerInit).rank} failed to start: ${(e as Error).message}` } satisfies FromWorker);
});
