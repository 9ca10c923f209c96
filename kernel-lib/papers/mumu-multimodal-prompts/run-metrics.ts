/**
 * What one MUMU run records (`trainMumu`'s return value, `metrics.json` in its output directory), the
 * event each step reports, and the metrics builder: one shape gives the type and the check of a file read
 * back, so a notebook reads it typed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { arr, checkShape, Infer, int, num, numOrNull, obj, oneOf, opt, str, tuple } from '../shape';
import { ARM_NAMES } from './arms';

export const METRICS_FILE = 'metrics.json';
/** Inside a run's output directory: the connector (+ pooling), the decoder LoRA, or the fully trained denoiser. */
export const CONNECTOR_DIR = 'connector';
export const DECODER_LORA_DIR = 'decoder-lora';
export const DENOISER_FILE = 'denoiser.safetensors';

/** What onProgress receives after each step. */
export interface MumuEvent {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Wall and process CPU time of the step (ms), and the time since the run began. */
  stepMs: number;
  stepCpuMs: number;
  elapsedMs: number;
  /** Padded LM tokens of the step's batch (B × T; 0 for caption-only) and its crops. */
  tokens: number;
  crops: number;
}

/** The held-out loss of a fixed batch (nothing dropped, fixed noise). */
export const PROBE = obj({ step: int, split: str, items: int, loss: num });

/** Wall and CPU time of the steps this process ran, the first (kernel set-up) left out of the means. */
export const STEP_TIME = obj({ steps: int, firstMs: numOrNull, meanMs: numOrNull, medianMs: numOrNull, meanCpuMs: numOrNull, meanTokens: numOrNull });

export const RUN_METRICS = obj({
  name: str,
  paper: str,
  arm: oneOf(...ARM_NAMES),
  /** Tokens each crop enters the LM as (null: caption-only). */
  tokensPerCrop: numOrNull,
  seed: int,
  base: str,
  decoder: str,
  encoder: oneOf('prompt', 'caption'),
  augmentRate: num,
  decoderMode: oneOf('lora', 'full', 'frozen'),
  connector: opt(obj({ layers: int, heads: int, dim: int, params: int })),
  pooler: opt(obj({ tokens: int, codes: int, heads: int, params: int })),
  decoderLoRA: opt(obj({ rank: int, alpha: num, targets: arr(str), params: int })),
  /** Weights that train: connector, pooling, decoder (LoRA or the whole denoiser). */
  trainable: obj({ connector: int, pooler: int, decoder: int }),
  condDrop: num,
  data: obj({ description: str, split: str, items: int }),
  optimizer: obj({ name: str, lr: num, minLr: num, schedule: str, warmupSteps: int, weightDecay: num, batchSize: int, clipNorm: num, decoderLrScale: num }),
  steps: int,
  resumedFrom: int,
  stopped: oneOf('done', 'aborted'),
  /** [step, loss], thinned to ≤ 200 points. */
  lossCurve: arr(tuple(int, num)),
  stepTime: STEP_TIME,
  probes: arr(PROBE),
  /** Paths relative to the output directory. */
  files: obj({ connector: opt(str), decoderLoRA: opt(str), denoiser: opt(str) }),
  backend: obj({ backend: oneOf('tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'), tfBackend: str, threads: int }),
  date: str,
  train_wall_time_s: num,
  recipe_wall_time_s: num,
});

export type Probe = Infer<typeof PROBE>;
export type StepTime = Infer<typeof STEP_TIME>;
export type RunMetrics = Infer<typeof RUN_METRICS>;

const r1 = (x: number) => Number(x.toFixed(1));
const r4 = (x: number) => Number(x.toFixed(4));

/** [step, loss] thinned to at most n points (the last always kept). */
export function lossCurve(history: readonly MumuEvent[], n = 200): RunMetrics['lossCurve'] {
  const every = Math.max(1, Math.ceil(history.length / n));
  return history.filter((_e, i) => i % every === 0 || i === history.length - 1).map((e) => [e.step, r4(e.loss)]);
}

/** Times of the steps after `resumedFrom`: the first (kernel set-up) apart, mean and median wall, mean CPU. */
export function stepTimes(history: readonly MumuEvent[], resumedFrom: number): StepTime {
  const ran = history.filter((e) => e.step > resumedFrom);
  const rest = ran.slice(1);
  const mean = (xs: number[]) => (xs.length === 0 ? null : r1(xs.reduce((a, b) => a + b, 0) / xs.length));
  const sorted = rest.map((e) => e.stepMs).sort((a, b) => a - b);
  const median = sorted.length === 0 ? null : r1(sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2);
  return { steps: ran.length, firstMs: ran.length > 0 ? r1(ran[0].stepMs) : null, meanMs: mean(rest.map((e) => e.stepMs)), medianMs: median, meanCpuMs: mean(rest.map((e) => e.stepCpuMs)), meanTokens: mean(ran.map((e) => e.tokens)) };
}

/** Checks a metrics object against the shape (what the recipe does before it writes one). */
export function checkRunMetrics(m: unknown, what: string): RunMetrics {
  return checkShape(RUN_METRICS, JSON.parse(JSON.stringify(m)), what);
}

/** Reads and checks a run's metrics: a `metrics.json` file, or the run's output directory. */
export function readRunMetrics(fileOrDir: string): RunMetrics {
  const file = fs.existsSync(fileOrDir) && fs.statSync(fileOrDir).isDirectory() ? path.join(fileOrDir, METRICS_FILE) : fileOrDir;
  if (!fs.existsSync(file)) throw new Error(`mumu.readRunMetrics: ${file} does not exist`);
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`mumu.readRunMetrics: ${file} is not JSON (${(e as Error).message})`);
  }
  return checkShape(RUN_METRICS, json, file);
}
