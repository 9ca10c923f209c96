/**
 * What one run of the recipe records (`trainVariant`'s return value, the `metrics.json` beside each
 * shipped fine-tune, the init ablation's results file): one shape gives the type and the check of a file
 * read back, so the notebook reads metrics as typed values, never through `any`.
 */
import { ARM_NAMES } from './arms';
import { arr, bool, Infer, int, num, obj, oneOf, opt, str, tuple } from '../shape';
import { BACKEND_KIND, readMetricsFile } from '../recipe-metrics';

/** The image-code NLL probe after own vs shuffled captions (eval/conditioning.ts) at one training step. */
export const PROBE = obj({ step: int, own: num, shuffled: num, gap: num, ownBetterFraction: num, examples: int, imageTokens: int });

/** One training stage (low-res or high-res). */
export const STAGE = obj({
  image: str,
  steps: int,
  /** [step, lm loss], thinned to ≤ 200 points. */
  lossCurve: arr(tuple(int, num)),
  /** The lm loss of the first 100 steps. */
  earlyLoss: arr(num),
  train_wall_time_s: num,
  resumedFrom: int,
  probes: arr(PROBE),
});

export const RUN_METRICS = obj({
  name: str,
  paper: str,
  base: str,
  variant: oneOf('lora', 'plora'),
  /** Mechanism arm (issue #18) and seed; absent in runs from before the arms (the shipped ones: paper, seed 0). */
  arm: opt(oneOf(...ARM_NAMES)),
  seed: opt(int),
  vocabulary: obj({ before: int, after: int, newRows: int, init: oneOf('gromov-wasserstein', 'mean'), init_seconds: num }),
  adapter: obj({
    kind: oneOf('lora', 'plora'),
    name: str,
    rank: int,
    alpha: num,
    layers: arr(int),
    targets: arr(oneOf('q', 'k', 'v', 'o')),
    seed: int,
    scaling: num,
    params: int,
  }),
  trainable: obj({ freeze: arr(str), trainSlices: arr(obj({ param: str, axis: int, from: int, to: opt(int) })) }),
  data: str,
  optimizer: obj({ name: str, lr: num, minLr: num, schedule: str, batchSize: int, seqLen: int }),
  /** `highres` is absent for a low-res-only run (the init ablation). */
  stages: obj({ lowres: STAGE, highres: opt(STAGE) }),
  /** `trainWorkers` (data-parallel gradient workers, issue #11) is absent in runs from before it existed. */
  backend: obj({ backend: BACKEND_KIND, tfBackend: str, gpu: bool, threads: int, simd: bool, trainWorkers: opt(int), skipped: arr(obj({ backend: str, reason: str })) }),
  date: str,
  recipe_wall_time_s: num,
});

export type Probe = Infer<typeof PROBE>;
export type StageMetrics = Infer<typeof STAGE>;
export type RunMetrics = Infer<typeof RUN_METRICS>;

/** Reads and checks a run's metrics: a `metrics.json` file, or a checkpoint directory holding one. */
export function readRunMetrics(fileOrDir: string): RunMetrics {
  return readMetricsFile(RUN_METRICS, fileOrDir, 'readRunMetrics');
}

/** The held-out image-code NLL probes of the low-res stage as [step, NLL after the own caption]. */
export function earlyProbes(m: RunMetrics): [number, number][] {
  return m.stages.lowres.probes.map((p) => [p.step, p.own]);
}
