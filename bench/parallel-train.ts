/**
 * Training tokens/s with data-parallel workers (kernel-lib/train/parallel), for several worker counts in
 * one run: the counts take turns step by step, so a machine whose load drifts affects them alike. A step
 * is what the trainer does: loss and gradients (in the workers), global-norm clipping and AdamW (on the
 * main thread), on batch 8×128 of random ids. Besides wall-clock rates it records each thread's CPU time,
 * which a busy machine inflates far less, and the rate those predict for an idle machine.
 */
import * as tf from '@tensorflow/tfjs';
import type { Session } from '../kernel-lib/session';
import { AdamW } from '../kernel-lib/train/adamw';
import { DataParallelPool, compiledModule } from '../kernel-lib/train/parallel/pool';
import { threadCpuMs } from '../kernel-lib/train/parallel/protocol';
import { lmShare, splitRows, LmGradInit } from '../kernel-lib/train/parallel/lm-grads';
import { mulberry32 } from '../kernel-lib/util/random';

export interface ParallelRates {
  /** Median tokens/s per worker count (wall clock: on a busy machine, mostly a measure of the load). */
  tokensPerSec: Record<string, number>;
  /** Median of the slowest worker's compute time per step, ms, per worker count. */
  workerMs: Record<string, number>;
  /** Medians per worker count of CPU ms per step: the busiest worker thread, all workers, the main thread. */
  cpuMs: Record<string, { maxWorker: number; workers: number; main: number }>;
  /**
   * Tokens/s the CPU times predict on an otherwise idle machine with a core per worker: a step takes the
   * main thread's time plus the busiest worker's (they run one after the other).
   */
  projectedTokensPerSec: Record<string, number>;
  steps: number;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function parallelTrainRates(s: Session, counts: number[], steps: number, log: (m: string) => void, rows = 8, seq = 128): Promise<ParallelRates> {
  const model = s.model;
  const names = [...model.params.keys()];
  const init: LmGradInit = { config: model.config, names, auxCoef: model.config.routerAuxLossCoef };
  const specs = names.map((name) => ({ name, shape: (model.params.get(name) as tf.Variable).shape.slice() }));
  const pools = new Map<number, DataParallelPool>();
  const opt = new AdamW(names, model.params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  const rand = mulberry32(5);
  const V = model.config.vocabSize;
  const times = new Map<number, number[]>(counts.map((c) => [c, []]));
  const wms = new Map<number, number[]>(counts.map((c) => [c, []]));
  const cpu = new Map<number, { maxWorker: number; workers: number; main: number }[]>(counts.map((c) => [c, []]));
  try {
    for (const c of counts) pools.set(c, await DataParallelPool.start({ workers: c, module: compiledModule('kernel-lib/train/parallel/lm-grads'), init, specs }));
    for (let step = 0; step < steps + 1; step++) {
      for (const c of counts) {
        const inputs = Int32Array.from({ length: rows * seq }, () => Math.floor(rand() * V));
        const targets = Int32Array.from({ length: rows * seq }, () => Math.floor(rand() * V));
        const b = { inputs, targets, weights: new Float32Array(rows * seq).fill(1), B: rows, T: seq };
        const t0 = performance.now();
        const m0 = threadCpuMs();
        const shares = splitRows(rows, c).map(([from, to]) => lmShare(b, from, to));
        const r = await (pools.get(c) as DataParallelPool).grads((n) => (model.params.get(n) as tf.Variable).dataSync() as Float32Array, shares);
        tf.tidy(() => {
          const gm = new Map<string, tf.Tensor>(names.map((n) => [n, tf.tensor(r.grads.get(n) as Float32Array, (model.params.get(n) as tf.Variable).shape)]));
          const norm = Math.sqrt(tf.addN([...gm.values()].map((g) => tf.sum(tf.square(g)))).dataSync()[0]);
          if (norm > 1) for (const [n, g] of gm) gm.set(n, tf.mul(g, 1 / (norm + 1e-6)));
          opt.apply(gm, 1e-4);
        });
        const dt = performance.now() - t0;
        const main = threadCpuMs() - m0;
        if (step > 0) {
          (times.get(c) as number[]).push(dt);
          (wms.get(c) as number[]).push(Math.max(...r.workerMs));
          (cpu.get(c) as { maxWorker: number; workers: number; main: number }[]).push({ maxWorker: Math.max(...r.workerCpuMs), workers: r.workerCpuMs.reduce((a, b) => a + b, 0), main });
        }
      }
      if (step > 0) log(`parallel step ${step}/${steps}: ${counts.map((c) => `${c} worker(s) ${((rows * seq) / ((times.get(c) as number[]).at(-1) as number) * 1000).toFixed(0)} tok/s`).join(', ')}`);
    }
  } finally {
    opt.dispose();
    for (const p of pools.values()) await p.close();
  }
  const cpuOf = (c: number) => {
    const xs = cpu.get(c) as { maxWorker: number; workers: number; main: number }[];
    return { maxWorker: median(xs.map((x) => x.maxWorker)), workers: median(xs.map((x) => x.workers)), main: median(xs.map((x) => x.main)) };
  };
  return {
    tokensPerSec: Object.fromEntries(counts.map((c) => [String(c), (rows * seq) / (median(times.get(c) as number[]) / 1000)])),
    workerMs: Object.fromEntries(counts.map((c) => [String(c), median(wms.get(c) as number[])])),
    cpuMs: Object.fromEntries(counts.map((c) => [String(c), cpuOf(c)])),
    projectedTokensPerSec: Object.fromEntries(counts.map((c) => [String(c), (rows * seq) / ((cpuOf(c).main + cpuOf(c).maxWorker) / 1000)])),
    steps,
  };
}
