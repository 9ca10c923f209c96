/**
 * What the paper recipes' metrics.json files share (each folder's run-metrics.ts gives its whole shape): the
 * optimiser record, the fields every file ends with (steps … wall times, in one order), the step-time summary
 * and the short backend record of the recipes that keep a StepHistory, and the reader that checks a file
 * against its shape.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DeviceInfo } from '../backend/backend';
import type { DefaultOptimizer } from '../train/schedule';
import type { TimedStep } from '../train/step-history';
import { median } from './summary';
import { arr, checkShape, Infer, int, num, numOrNull, obj, oneOf, Shape, str } from './shape';

export const METRICS_FILE = 'metrics.json';

/** The optimiser fields of a metrics.json (a recipe adds its own after them, e.g. a group's lr scale). */
export const OPTIMIZER_FIELDS = { name: str, lr: num, minLr: num, schedule: str, warmupSteps: int, weightDecay: num, batchSize: int, clipNorm: num };
export type OptimizerRecord = { [K in keyof typeof OPTIMIZER_FIELDS]: Infer<(typeof OPTIMIZER_FIELDS)[K]> };

/** The record of a recipe's optimiser (train/schedule.ts defaultOptimizer) and batch size. */
export function optimizerRecord(o: DefaultOptimizer, batchSize: number): OptimizerRecord {
  return { name: 'AdamW', lr: o.lr, minLr: o.minLr, schedule: 'warmup + cosine', warmupSteps: o.warmupSteps, weightDecay: o.adam.weightDecay, batchSize, clipNorm: o.clipNorm };
}

/** The backends a metrics.json can name. */
export const BACKEND_KIND = oneOf('tensorflow-gpu', 'tensorflow', 'wasm', 'cpu');
/** The short backend record (the recipes on trainLoop: one thread's numbers). */
export const BACKEND_BRIEF = obj({ backend: BACKEND_KIND, tfBackend: str, threads: int });
export const backendBrief = (d: DeviceInfo): Infer<typeof BACKEND_BRIEF> => ({ backend: d.backend, tfBackend: d.tfBackend, threads: d.threads });

/**
 * The fields a recipe's metrics.json ends with, in this order: optimizer, steps, resumedFrom, stopped,
 * lossCurve, stepTime, probes, files, backend, date, train_wall_time_s, recipe_wall_time_s. The recipe gives
 * the shapes that are its own.
 */
export function runTailFields<O, L, S, P, F, B>(o: { optimizer: Shape<O>; lossCurve: Shape<L>; stepTime: Shape<S>; probe: Shape<P>; files: Shape<F>; backend: Shape<B> }) {
  return {
    optimizer: o.optimizer,
    steps: int,
    resumedFrom: int,
    stopped: oneOf('done', 'aborted'),
    lossCurve: o.lossCurve,
    stepTime: o.stepTime,
    probes: arr(o.probe),
    files: o.files,
    backend: o.backend,
    date: str,
    train_wall_time_s: num,
    recipe_wall_time_s: num,
  };
}

const r1 = (x: number) => Number(x.toFixed(1));

/** When the file was written and the wall times (s, 1 decimal): of training (`trainMs`) and of the whole recipe (since `t0`, a Date.now()). */
export function wallTimes(trainMs: number, t0: number): { date: string; train_wall_time_s: number; recipe_wall_time_s: number } {
  return { date: new Date().toISOString(), train_wall_time_s: r1(trainMs / 1000), recipe_wall_time_s: r1((Date.now() - t0) / 1000) };
}

/** What a recipe on trainLoop hands its metrics builder about the run itself. */
export interface RecipeRunRecord<E extends RecipeStep, P, F> {
  steps: number;
  batchSize: number;
  optimizer: DefaultOptimizer;
  resumedFrom: number;
  stopped: 'done' | 'aborted';
  history: E[];
  probes: P[];
  files: F;
  /** Date.now() when the recipe began. */
  t0: number;
}

/**
 * The metrics fields from `optimizer` to the wall times (runTailFields' order) of such a run: the optimiser
 * record with the recipe's own settings after it, the loss curve and step times as the recipe summarises them.
 */
export function runTailValues<E extends RecipeStep, P, F, X extends object, L, S>(m: RecipeRunRecord<E, P, F>, o: { optimizer: X; lossCurve: L; stepTime: S; device: DeviceInfo }) {
  return {
    optimizer: { ...optimizerRecord(m.optimizer, m.batchSize), ...o.optimizer },
    steps: m.steps,
    resumedFrom: m.resumedFrom,
    stopped: m.stopped,
    lossCurve: o.lossCurve,
    stepTime: o.stepTime,
    probes: m.probes,
    files: m.files,
    backend: backendBrief(o.device),
    ...wallTimes(m.history.at(-1)?.elapsedMs ?? 0, m.t0),
  };
}

/** A step of a recipe on trainLoop: its timing and the padded tokens of its batch. */
export interface RecipeStep extends TimedStep {
  tokens: number;
}

/** Wall and CPU time of the steps this process ran, the first (kernel set-up) left out of the means. */
export const STEP_TIME_FIELDS = { steps: int, firstMs: numOrNull, meanMs: numOrNull, medianMs: numOrNull, meanCpuMs: numOrNull, meanTokens: numOrNull };
export type StepTimeRecord = { [K in keyof typeof STEP_TIME_FIELDS]: Infer<(typeof STEP_TIME_FIELDS)[K]> };

/** Mean to 1 decimal; null for none. */
export const mean1 = (xs: readonly number[]): number | null => (xs.length === 0 ? null : r1(xs.reduce((a, b) => a + b, 0) / xs.length));

/** The steps after `resumedFrom` (those this process ran). */
export const stepsRun = <E extends { step: number }>(history: readonly E[], resumedFrom: number): E[] => history.filter((e) => e.step > resumedFrom);

/** Times of the steps after `resumedFrom`: the first (kernel set-up) apart, mean and median wall, mean CPU, mean tokens. */
export function stepTimes(history: readonly RecipeStep[], resumedFrom: number): StepTimeRecord {
  const ran = stepsRun(history, resumedFrom);
  const rest = ran.slice(1);
  const med = median(rest.map((e) => e.stepMs));
  return {
    steps: ran.length,
    firstMs: ran.length > 0 ? r1(ran[0].stepMs) : null,
    meanMs: mean1(rest.map((e) => e.stepMs)),
    medianMs: med === null ? null : r1(med),
    meanCpuMs: mean1(rest.map((e) => e.stepCpuMs)),
    meanTokens: mean1(ran.map((e) => e.tokens)),
  };
}

/** Parses a JSON file a recipe wrote; `<who>: <file> does not exist` / `is not JSON (…)` otherwise. */
export function readJsonOf(file: string, who: string): unknown {
  if (!fs.existsSync(file)) throw new Error(`${who}: ${file} does not exist`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${who}: ${file} is not JSON (${(e as Error).message})`);
  }
}

/** Reads a run's metrics checked against `shape`: a metrics file, or the output directory holding `metrics.json`. */
export function readMetricsFile<T>(shape: Shape<T>, fileOrDir: string, who: string): T {
  const file = fs.existsSync(fileOrDir) && fs.statSync(fileOrDir).isDirectory() ? path.join(fileOrDir, METRICS_FILE) : fileOrDir;
  return checkShape(shape, readJsonOf(file, who), file);
}
