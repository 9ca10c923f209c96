/**
 * What one MUMU run records (`trainMumu`'s return value, `metrics.json` in its output directory), the
 * event each step reports, and the metrics builder: one shape gives the type and the check of a file read
 * back, so a notebook reads it typed.
 */
import { arr, checkShape, Infer, int, num, numOrNull, obj, oneOf, opt, str, tuple } from '../shape';
import { BACKEND_BRIEF, OPTIMIZER_FIELDS, readMetricsFile, RecipeStep, runTailFields, STEP_TIME_FIELDS } from '../recipe-metrics';
import { thinned } from '../../train/step-history';
import { ARM_NAMES } from './arms';

export { METRICS_FILE } from '../recipe-metrics';
export { stepTimes } from '../recipe-metrics';
/** Inside a run's output directory: the connector (+ pooling), the decoder LoRA, or the fully trained denoiser. */
export const CONNECTOR_DIR = 'connector';
export const DECODER_LORA_DIR = 'decoder-lora';
export const DENOISER_FILE = 'denoiser.safetensors';

/** What onProgress receives after each step: the loop's numbers and timing, the padded LM tokens of the step's batch (B × T; 0 for caption-only) and its crops. */
export interface MumuEvent extends RecipeStep {
  crops: number;
}

/** The held-out loss of a fixed batch (nothing dropped, fixed noise). */
export const PROBE = obj({ step: int, split: str, items: int, loss: num });

/** Wall and CPU time of the steps this process ran, the first (kernel set-up) left out of the means. */
export const STEP_TIME = obj(STEP_TIME_FIELDS);

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
  ...runTailFields({
    optimizer: obj({ ...OPTIMIZER_FIELDS, decoderLrScale: num }),
    /** [step, loss], thinned to ≤ 200 points. */
    lossCurve: arr(tuple(int, num)),
    stepTime: STEP_TIME,
    probe: PROBE,
    /** Paths relative to the output directory. */
    files: obj({ connector: opt(str), decoderLoRA: opt(str), denoiser: opt(str) }),
    backend: BACKEND_BRIEF,
  }),
});

export type Probe = Infer<typeof PROBE>;
export type StepTime = Infer<typeof STEP_TIME>;
export type RunMetrics = Infer<typeof RUN_METRICS>;

/** [step, loss] thinned to at most n points (the last always kept). */
export function lossCurve(history: readonly MumuEvent[], n = 200): RunMetrics['lossCurve'] {
  return thinned(history, n).map((e) => [e.step, Number(e.loss.toFixed(4))]);
}

/** Checks a metrics object against the shape (what the recipe does before it writes one). */
export function checkRunMetrics(m: unknown, what: string): RunMetrics {
  return checkShape(RUN_METRICS, JSON.parse(JSON.stringify(m)), what);
}

/** Reads and checks a run's metrics: a `metrics.json` file, or the run's output directory. */
export function readRunMetrics(fileOrDir: string): RunMetrics {
  return readMetricsFile(RUN_METRICS, fileOrDir, 'mumu.readRunMetrics');
}
