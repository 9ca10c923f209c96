/**
 * What one stage of the MiniGPT-5 recipe records (`trainStage`'s return value, `metrics.json` in its output
 * directory): one shape gives the type and the check of a file read back, so a notebook reads it typed.
 */
import { arr, bool, Infer, int, num, numOrNull, obj, oneOf, opt, str, tuple } from '../shape';
import { BACKEND_BRIEF, OPTIMIZER_FIELDS, readMetricsFile, runTailFields, STEP_TIME_FIELDS } from '../recipe-metrics';
import { ARM_NAMES } from './arms';
import { MAPPER_KINDS } from './mapper-config';

export { METRICS_FILE } from '../recipe-metrics';
/** Inside a stage's output directory: the voken rows, the mapper directory, the LoRA (stage 2, PEFT format). */
export const MAPPER_DIR = 'mapper';
export const ADAPTER_DIR = 'adapter';

/** Losses of a fixed held-out batch (no dropout, fixed noise): text, and the image losses where they are on. */
export const PROBE = obj({ step: int, split: str, items: int, text: num, ldm: numOrNull, cap: numOrNull });

/** Wall and CPU time of the steps this process ran, the first (kernel set-up) left out of the means. */
export const STEP_TIME = obj({ ...STEP_TIME_FIELDS, meanImages: numOrNull });

const WEIGHTS = obj({ text: num, ldm: num, cap: num });

export const RUN_METRICS = obj({
  name: str,
  paper: str,
  stage: int,
  arm: oneOf(...ARM_NAMES),
  seed: int,
  base: str,
  decoder: str,
  /** Stage 2: the stage-1 output it started from (its directory name). */
  from: opt(str),
  mapper: opt(obj({ kind: oneOf(...MAPPER_KINDS), encoderLayers: int, decoderLayers: int, heads: int, dim: int, length: int, learnableQueries: bool, params: int })),
  adapter: opt(obj({ kind: str, rank: int, alpha: num, params: int })),
  /** Weights that train: the voken rows (embed rows + head columns), the mapper's trainable part, the adapter. */
  trainable: obj({ vokenRows: int, mapper: int, adapter: int }),
  lossWeights: WEIGHTS,
  vokenDropout: num,
  negative: oneOf('zero-vokens', 'null'),
  data: obj({ description: str, split: str, items: int }),
  ...runTailFields({
    optimizer: obj({ ...OPTIMIZER_FIELDS, mapperLrScale: num }),
    /** [step, total, L_text, L_LDM or null, L_CAP or null], thinned to ≤ 200 points. */
    lossCurve: arr(tuple(int, num, num, numOrNull, numOrNull)),
    stepTime: STEP_TIME,
    probe: PROBE,
    /** Paths relative to the output directory. */
    files: obj({ vokens: opt(str), mapper: opt(str), adapter: opt(str) }),
    backend: BACKEND_BRIEF,
  }),
});

export type Probe = Infer<typeof PROBE>;
export type StepTime = Infer<typeof STEP_TIME>;
export type RunMetrics = Infer<typeof RUN_METRICS>;

/** Reads and checks a stage's metrics: a `metrics.json` file, or the stage's output directory. */
export function readRunMetrics(fileOrDir: string): RunMetrics {
  return readMetricsFile(RUN_METRICS, fileOrDir, 'minigpt5.readRunMetrics');
}
