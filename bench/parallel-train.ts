/**
 * Training tokens/s with data-parallel workers (kernel-lib/train/parallel), for several worker counts in
 * one run: the counts take turns step by step, so a machine whose load drifts affects them alike. A step
 * is what the trainer does with workers (train/parallel/pooled-update.ts): the workers compute the loss
 * and gradients of their rows, sum, clip and AdamW-update their pieces of the parameters in shared
 * memory, and this thread copies the new values into its variables; batch 8×128 of random ids. Besides
 * wall-clock rates it records each thread's CPU time, which a busy machine inflates far less, the rate
 * those predict for an idle machine, and where a step's wall time goes (per-phase timers of the pool).
 */
import * as tf from '@tensorflow/tfjs';
import type { Session } from '../kernel-lib/session';
import { DataParallelPool, compiledModule } from '../kernel-lib/train/parallel/pool';
import { pooledUpdater, PooledUpdater } from '../kernel-lib/train/parallel/pooled-update';
import { threadCpuMs } from '../kernel-lib/train/parallel/protocol';
import { lmShare, splitRows, LmGradInit } from '../kernel-lib/train/parallel/lm-grads';
import { mulberry32 } from '../kernel-lib/util/random';
import { median } from './train-turns';

/** Median wall ms per phase of a step: this thread's, and each worker's by rank. */
export interface StepPhases {
  main: Record<string, number>;
  workers: Record<string, number>[];
}

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
  /** Where a step's wall time goes, per worker count (absent in results from before the timers). */
  phases?: Record<string, StepPhases>;
  steps: number;
}

/** Median of each key over records. */
function medianPhases(xs: Record<string, number>[]): Record<string, number> {
  const keys = [...new Set(xs.flatMap((x) => Object.keys(x)))];
  return Object.fromEntries(keys.map((k) => [k, median(xs.map((x) => x[k] ?? 0))]));
}

export async function parallelTrainRates(s: Session, counts: number[], steps: number, log: (m: string) => void, rows = 8, seq = 128): Promise<ParallelRates> {
  const model = s.model;
  const names = [...model.params.keys()];
  const init: LmGradInit = { config: model.config, names, auxCoef: model.config.routerAuxLossCoef };
  const specs = names.map((name) => ({ name, shape: (model.params.get(name) as tf.Variable).shape.slice() }));
  const setup = { names, settings: new Map(), masks: new Map(), adam: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 }, clipNorm: 1 };
  const pools = new Map<number, DataParallelPool>();
  const updaters = new Map<number, PooledUpdater<{ B: number; T: number; inputs: Int32Array; targets: Int32Array; weights: Float32Array }>>();
  const rand = mulberry32(5);
  const V = model.config.vocabSize;
  const times = new Map<number, number[]>(counts.map((c) => [c, []]));
  const wms = new Map<number, number[]>(counts.map((c) => [c, []]));
  const cpu = new Map<number, { maxWorker: number; workers: number; main: number }[]>(counts.map((c) => [c, []]));
  const phases = new Map<number, { main: Record<string, number>[]; workers: Record<string, number>[][] }>(counts.map((c) => [c, { main: [], workers: [] }]));
  try {
    for (const c of counts) {
      const pool = await DataParallelPool.start({ workers: c, module: compiledModule('kernel-lib/train/parallel/lm-grads'), init, specs, timers: true });
      pools.set(c, pool);
      updaters.set(c, pooledUpdater(pool, model.params, setup, (b) => splitRows(rows, c).map(([from, to]) => lmShare(b, from, to))));
    }
    for (let step = 0; step < steps + 1; step++) {
      for (const c of counts) {
        const inputs = Int32Array.from({ length: rows * seq }, () => Math.floor(rand() * V));
        const targets = Int32Array.from({ length: rows * seq }, () => Math.floor(rand() * V));
        const b = { inputs, targets, weights: new Float32Array(rows * seq).fill(1), B: rows, T: seq };
        const u = updaters.get(c) as PooledUpdater<typeof b>;
        const t0 = performance.now();
        const m0 = threadCpuMs();
        u.step(b, step, 1e-4);
        const dt = performance.now() - t0;
        const main = threadCpuMs() - m0;
        const last = u.last;
        if (step === 0 || !last) continue; // the first step starts the workers' kernels
        (times.get(c) as number[]).push(dt);
        (wms.get(c) as number[]).push(Math.max(...last.workerMs));
        (cpu.get(c) as { maxWorker: number; workers: number; main: number }[]).push({ maxWorker: Math.max(...last.workerCpuMs), workers: last.workerCpuMs.reduce((a, x) => a + x, 0), main });
        const ph = phases.get(c) as { main: Record<string, number>[]; workers: Record<string, number>[][] };
        ph.main.push(last.main);
        ph.workers.push(last.workers);
      }
      if (step > 0) log(`parallel step ${step}/${steps}: ${counts.map((c) => `${c} worker(s) ${((rows * seq) / ((times.get(c) as number[]).at(-1) as number) * 1000).toFixed(0)} tok/s`).join(', ')}`);
    }
  } finally {
    for (const p of pools.values()) await p.close();
  }
  const cpuOf = (c: number) => {
    const xs = cpu.get(c) as { maxWorker: number; workers: number; main: number }[];
    return { maxWorker: median(xs.map((x) => x.maxWorker)), workers: median(xs.map((x) => x.workers)), main: median(xs.map((x) => x.main)) };
  };
  const phasesOf = (c: number): StepPhases => {
    const ph = phases.get(c) as { main: Record<string, number>[]; workers: Record<string, number>[][] };
    return { main: medianPhases(ph.main), workers: Array.from({ length: c }, (_, r) => medianPhases(ph.workers.map((w) => w[r] ?? {}))) };
  };
  return {
    tokensPerSec: Object.fromEntries(counts.map((c) => [String(c), (rows * seq) / (median(times.get(c) as number[]) / 1000)])),
    workerMs: Object.fromEntries(counts.map((c) => [String(c), median(wms.get(c) as number[])])),
    cpuMs: Object.fromEntries(counts.map((c) => [String(c), cpuOf(c)])),
    projectedTokensPerSec: Object.fromEntries(counts.map((c) => [String(c), (rows * seq) / ((cpuOf(c).main + cpuOf(c).maxWorker) / 1000)])),
    phases: Object.fromEntries(counts.map((c) => [String(c), phasesOf(c)])),
    steps,
  };
}

/** One line per worker count: this thread's phases and each worker's, median ms. */
export function formatPhases(phases: Record<string, StepPhases>): string[] {
  const fmt = (p: Record<string, number>) => Object.entries(p).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
  return Object.entries(phases).flatMap(([c, p]) => [`  ${c} worker(s), wall ms per step — main: ${fmt(p.main)}`, ...p.workers.map((w, r) => `    worker ${r}: ${fmt(w)}`)]);
}
