/**
 * What one run of the MoSS recipe records (`trainArm`'s return value, `metrics.json` in the run's output
 * directory) and the held-out scores written beside it (`eval-<split>.json`): one shape each gives the type
 * and the check of a file read back, so the notebook reads them as typed values.
 */
import * as path from 'node:path';
import { INSTRUCTION_KINDS } from '../../data/instructions';
import { ARM_NAMES } from './arms';
import { arr, bool, checkShape, Infer, int, num, numOrNull, obj, oneOf, opt, str, tuple } from '../shape';
import { BACKEND_KIND, OPTIMIZER_FIELDS, readJsonOf, readMetricsFile, runTailFields } from '../recipe-metrics';

export { METRICS_FILE } from '../recipe-metrics';
/** The adapter's PEFT directory inside a run's output directory (adapter arms). */
export const ADAPTER_DIR = 'adapter';
/** The fine-tuned model inside a run's output directory (the `full` arm). */
export const CHECKPOINT_DIR = 'checkpoint';
export const evalFile = (split: string): string => `eval-${split}.json`;

/** Held-out scores of a few items (means; the per-item lists are in eval-<split>.json). */
export const PROBE = obj({ step: int, split: str, items: int, imageNll: num, textNll: numOrNull });

/** Wall time of the training steps this process ran (not counting a resumed run's earlier steps). */
export const STEP_TIME = obj({
  /** Steps timed: those after the resume point, the first (kernel set-up) left out of the mean and median. */
  steps: int,
  firstMs: numOrNull,
  meanMs: numOrNull,
  medianMs: numOrNull,
  /** Mean padded tokens per step (rows × longest row): step time grows with it. */
  tokensPerStep: numOrNull,
  /** Threads that computed the gradients (adapters train on one; `full` may use data-parallel workers). */
  threads: int,
});

export const RUN_METRICS = obj({
  name: str,
  paper: str,
  base: str,
  arm: oneOf(...ARM_NAMES),
  /** The rank asked for (absent for `full`); the adapter's own rank differs for moe-lora-matched. */
  rank: opt(int),
  seed: int,
  adapter: opt(obj({
    kind: str,
    name: str,
    rank: int,
    alpha: num,
    dropout: num,
    scaling: num,
    params: int,
    layers: arr(int),
    targets: arr(oneOf('q', 'k', 'v', 'o')),
    grid: opt(obj({ height: int, width: int })),
  })),
  /** Weights that train (the adapter's, or every model parameter for `full`). */
  trainableParams: int,
  data: obj({ description: str, split: str, items: int, kinds: arr(oneOf(...INSTRUCTION_KINDS)) }),
  ...runTailFields({
    optimizer: obj(OPTIMIZER_FIELDS),
    /** [step, lm loss on the target tokens], thinned to ≤ 200 points. */
    lossCurve: arr(tuple(int, num)),
    stepTime: STEP_TIME,
    probe: PROBE,
    /** Paths relative to the output directory. */
    files: obj({ adapter: opt(str), checkpoint: opt(str) }),
    backend: obj({ backend: BACKEND_KIND, tfBackend: str, gpu: bool, threads: int, simd: bool, skipped: arr(obj({ backend: str, reason: str })) }),
  }),
});

export type Probe = Infer<typeof PROBE>;
export type StepTime = Infer<typeof STEP_TIME>;
export type RunMetrics = Infer<typeof RUN_METRICS>;

/** eval-<split>.json: one arm's per-item held-out scores (NaN written as null). */
export const ITEM_SCORES_FILE = obj({
  arm: oneOf(...ARM_NAMES),
  rank: opt(int),
  seed: int,
  split: str,
  ids: arr(str),
  kinds: arr(oneOf(...INSTRUCTION_KINDS)),
  imageNll: arr(numOrNull),
  imageTokens: arr(int),
  textNll: arr(numOrNull),
  textTokens: arr(int),
});
export type ItemScoresFile = Infer<typeof ITEM_SCORES_FILE>;

/** Reads and checks a run's metrics: a `metrics.json` file, or the run's output directory. */
export function readRunMetrics(fileOrDir: string): RunMetrics {
  return readMetricsFile(RUN_METRICS, fileOrDir, 'moss.readRunMetrics');
}

/** Reads and checks a run's held-out scores (`eval-<split>.json` in its output directory); nulls come back as NaN. */
export function readItemScores(dir: string, split = 'test'): ItemScoresFile & { imageNll: number[]; textNll: number[] } {
  const file = path.join(dir, evalFile(split));
  const r = checkShape(ITEM_SCORES_FILE, readJsonOf(file, 'moss.readItemScores'), file);
  const n = r.ids.length;
  for (const k of ['kinds', 'imageNll', 'imageTokens', 'textNll', 'textTokens'] as const) {
    if (r[k].length !== n) throw new Error(`${file}: ${k} has ${r[k].length} entries for ${n} items`);
  }
  const nan = (xs: (number | null)[]) => xs.map((x) => (x === null ? NaN : x));
  return { ...r, imageNll: nan(r.imageNll), textNll: nan(r.textNll) };
}
