/**
 * What one Liquid continuation run records — `metrics.json` in its output directory (the mixture, the
 * budget, the loss curve, step times, the checkpoints, and a summary probe per evaluated checkpoint) —
 * and the per-item scores of each evaluation checkpoint, `eval/step-<N>.json`. One shape each gives the
 * type and the check of a file read back, so the notebook and the results builder read them typed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LIQUID_TASKS } from '../../data/liquid-pools';
import { SIZE_PRESETS } from '../../model/config';
import { arr, checkShape, Infer, int, keyed, num, numOrNull, obj, oneOf, opt, str, tuple } from '../shape';
import { BACKEND_BRIEF, OPTIMIZER_FIELDS, readJsonOf, readMetricsFile, runTailFields, STEP_TIME_FIELDS } from '../recipe-metrics';

export { METRICS_FILE } from '../recipe-metrics';
/** Inside a run's output directory: one float16 checkpoint per evaluation step, and their scores. */
export const CHECKPOINTS_DIR = 'checkpoints';
export const EVAL_DIR = 'eval';
const pad6 = (step: number) => String(step).padStart(6, '0');
export const checkpointName = (step: number): string => `${CHECKPOINTS_DIR}/step-${pad6(step)}`;
export const evalName = (step: number): string => `${EVAL_DIR}/step-${pad6(step)}.json`;

const GROUP = oneOf('language-cost', 'gen-only', 'mutual');

/** A summary of one evaluated checkpoint (means over the held-out items; the items are in its eval file). */
export const PROBE = obj({ step: int, brownNll: num, imageNll: numOrNull, imageAccuracy: numOrNull, captionNll: numOrNull, questionAccuracy: numOrNull });

export const RUN_METRICS = obj({
  name: str,
  paper: str,
  arm: str,
  size: oneOf(...SIZE_PRESETS),
  group: GROUP,
  seed: int,
  /** The text checkpoint it continued from. */
  base: str,
  vocabulary: obj({ total: int, textModel: int, imageCodes: int, init: str }),
  params: obj({ total: int, nonEmbedding: int }),
  mixture: obj({ ratios: keyed(LIQUID_TASKS, num), rowsPerBatch: keyed(LIQUID_TASKS, int), batchSize: int, seqLen: int, captionDropout: num }),
  /** The plan's budget: text tokens (steps · text rows · seqLen), all row tokens, training FLOPs per token. */
  budget: obj({ textTokens: int, totalTokens: int, trainFlopsPerToken: num }),
  evalSteps: arr(int),
  ...runTailFields({
    optimizer: obj(OPTIMIZER_FIELDS),
    /** [step, lm loss over the loss-bearing targets], thinned to ≤ 200 points. */
    lossCurve: arr(tuple(int, num)),
    stepTime: obj(STEP_TIME_FIELDS),
    probe: PROBE,
    /** Paths relative to the output directory: the evaluation checkpoints, the last one the trained model. */
    files: obj({ checkpoints: arr(str) }),
    backend: BACKEND_BRIEF,
  }),
});

export type Probe = Infer<typeof PROBE>;
export type RunMetrics = Infer<typeof RUN_METRICS>;

/** eval/step-N.json: one checkpoint's per-item held-out scores (NaN written as null). */
export const EVAL_FILE = obj({
  arm: str,
  size: oneOf(...SIZE_PRESETS),
  seed: int,
  step: int,
  split: str,
  /** Tokens trained on up to this step: text (loss-bearing Brown) and all row tokens (the plan's rows × seqLen). */
  tokens: obj({ text: int, total: int }),
  /** Training FLOPs up to this step (budget.ts: 6 · forward multiply-adds per token × total tokens). */
  flops: num,
  brown: obj({ nll: arr(num), textNll: arr(num) }),
  image: opt(obj({ ids: arr(str), nll: arr(num), accuracy: arr(num), shuffledNll: arr(num) })),
  caption: opt(obj({ ids: arr(str), nll: arr(num) })),
  questions: opt(obj({ ids: arr(str), kinds: arr(str), correct: arr(int) })),
  drawn: opt(obj({
    ids: arr(str),
    captions: arr(str),
    codes: arr(arr(int)),
    clipOwn: opt(arr(num)),
    clipShuffled: opt(arr(num)),
    objectsRight: opt(arr(numOrNull)),
    cfgScale: num,
    msPerImage: num,
  })),
  routing: opt(obj({ exclusivity: arr(numOrNull) })),
});
export type EvalFile = Infer<typeof EVAL_FILE>;

/** Checks a metrics object against the shape (what the recipe does before it writes one). */
export function checkRunMetrics(m: unknown, what: string): RunMetrics {
  return checkShape(RUN_METRICS, JSON.parse(JSON.stringify(m)), what);
}

/** Reads and checks a run's metrics: a `metrics.json` file, or the run's output directory. */
export function readRunMetrics(fileOrDir: string): RunMetrics {
  return readMetricsFile(RUN_METRICS, fileOrDir, 'liquid.readRunMetrics');
}

/** Reads and checks one evaluation file of a run (`eval/step-N.json` in its output directory). */
export function readEvalFile(dir: string, step: number): EvalFile {
  const file = path.join(dir, evalName(step));
  const r = checkShape(EVAL_FILE, readJsonOf(file, 'liquid.readEvalFile'), file);
  const n = (k: string, xs: readonly unknown[], m: number) => {
    if (xs.length !== m) throw new Error(`${file}: ${k} has ${xs.length} entries for ${m} items`);
  };
  if (r.image) for (const k of ['nll', 'accuracy', 'shuffledNll'] as const) n(`image.${k}`, r.image[k], r.image.ids.length);
  if (r.caption) n('caption.nll', r.caption.nll, r.caption.ids.length);
  if (r.questions) for (const k of ['kinds', 'correct'] as const) n(`questions.${k}`, r.questions[k], r.questions.ids.length);
  return r;
}

/** The evaluation files a run has, by step (those present, in step order). */
export function evaluatedSteps(dir: string): number[] {
  const d = path.join(dir, EVAL_DIR);
  if (!fs.existsSync(d)) return [];
  return fs
    .readdirSync(d)
    .map((f) => /^step-(\d{6})\.json$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** A run's output directory read back: its metrics and every evaluation file it has, in step order. */
export function readRun(dir: string): { metrics: RunMetrics; evals: EvalFile[] } {
  const metrics = readRunMetrics(dir);
  return { metrics, evals: evaluatedSteps(dir).map((k) => readEvalFile(dir, k)) };
}
