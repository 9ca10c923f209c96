/**
 * Entry point of one data-parallel worker thread (compiled to dist/…/worker.js; see pool.ts). It owns a
 * TF.js instance with its own wasm backend and a copy of the parameters; per step it copies the current
 * values from shared memory, runs the gradient module on its share and writes the gradients back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../backend/backend';
import { Collective } from './collective';
import { CreateGradFn, flatLayout, FromWorker, GradFn, OutputLayout, postResult, threadCpuMs, ToWorker, WorkerInit, writeOutputs } from './protocol';

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
  const params = new Float32Array(w.params);
  const grads = new Float32Array(w.grads);
  const vars = w.specs.map((s) => {
    const v = fn.params.get(s.name);
    if (!v) throw new Error(`worker: the gradient module has no parameter '${s.name}'`);
    if (v.shape.join(',') !== s.shape.join(',')) throw new Error(`worker: parameter '${s.name}' has shape [${v.shape}], the pool expects [${s.shape}]`);
    return v;
  });
  const collective = new Collective(w.rank, w.workers, w.collective);
  port.on('message', (m: ToWorker) => {
    if (m.type === 'close') {
      port.close();
      return;
    }
    const t0 = performance.now();
    const c0 = threadCpuMs();
    try {
      tf.tidy(() => {
        vars.forEach((v, i) => v.assign(tf.tensor(params.subarray(layout.offsets[i], layout.offsets[i] + layout.sizes[i]), v.shape)));
      });
      let outputs: OutputLayout[] = [];
      const r = tf.tidy(() => {
        const res = fn.grad(m.share, collective);
        w.specs.forEach((s, i) => {
          const g = res.grads.get(s.name);
          const dst = grads.subarray(layout.offsets[i], layout.offsets[i] + layout.sizes[i]);
          if (g) dst.set(g.dataSync() as Float32Array);
          else dst.fill(0);
        });
        outputs = writeOutputs(w.outputs, res.outputs ?? []);
        return { loss: res.loss, stats: res.stats ?? {} };
      });
      send({ type: 'done', id: m.id, loss: r.loss, stats: r.stats, outputs, ms: performance.now() - t0, cpuMs: threadCpuMs() - c0 });
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
