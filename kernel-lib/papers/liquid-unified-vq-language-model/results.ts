/**
 * Notebook 03's results JSON (`notebooks/results/03-liquid-unified-vq-language-model.json`): its shape, the
 * builder the notebook calls with what it read (each size's text checkpoint, every run's metrics and
 * evaluation files), and the check the tests run on a committed file. The builder's output is the file: it
 * summarises the curves, pairs the arms item by item, fits loss against compute, judges the claims
 * (claims.ts), rounds, and checks itself against the same shape before it returns.
 */
import { arr, checkShape, Infer, int, num, numOrNull, obj, oneOf, opt, str } from '../shape';
import * as path from 'node:path';
import { SIZE_PRESETS, validateMoEConfig } from '../../model/config';
import type { MoEConfig } from '../../model/config';
import { countNonEmbeddingParams, countParams } from '../../model/params';
import { readJsonOf } from '../recipe-metrics';
import { logLogFit } from '../../util/stats';
import { VERDICT, verdictRecords } from '../verdict';
import { resultsHeader, resultsHeaderFields } from '../results-file';
import { comparisonRow, finiteMean, median, round } from '../summary';
import { compare as pairedOrThrow } from '../paired';
import { languageCostVerdict, mutualVerdict, verdicts } from './claims';
import { MEASURES, mutualArms, numbersOf, RunRecord, runsOf } from './numbers';
import type { EvalFile } from './run-metrics';

export const NOTEBOOK = '03-liquid-unified-vq-language-model';
/** The results file's name, in notebooks/results/ (full mode) or .cache/results/ (quick mode). */
export const RESULTS_FILE = `${NOTEBOOK}.json`;

const SIZE = oneOf(...SIZE_PRESETS);
const COMPARISON = { mean: num, standardError: num, items: int, seeds: int, perSeed: arr(num) };

const POINT = obj({
  step: int,
  textTokens: int,
  tokens: int,
  flops: num,
  brownNll: num,
  imageNll: numOrNull,
  imageAccuracy: numOrNull,
  conditioningGap: numOrNull,
  captionNll: numOrNull,
  questionAccuracy: numOrNull,
  clipOwn: numOrNull,
  clipShuffled: numOrNull,
  checker: numOrNull,
});

export const RESULTS = obj({
  ...resultsHeaderFields(NOTEBOOK),
  /** Each size: its parameters and its text checkpoint measured against the interpolated bigram. */
  sizes: arr(obj({ size: SIZE, params: int, nonEmbedding: int, text: obj({ checkpoint: str, tokens: int, testPerplexity: num, bigramTestPerplexity: num }) }), { min: 1 }),
  /** Every arm that ran: its budget and median CPU ms per step. */
  runs: arr(obj({ arm: str, size: SIZE, group: oneOf('language-cost', 'gen-only', 'mutual'), seeds: arr(int, { min: 1 }), steps: int, textTokens: int, totalTokens: int, trainFlopsPerToken: num, stepCpuMs: numOrNull })),
  /** Means over held-out items at each evaluation checkpoint, per run. */
  curves: arr(obj({ arm: str, size: SIZE, seed: int, points: arr(POINT, { min: 1 }) })),
  /** Experiment 1: Δ Brown log-perplexity (mixed − text-only) per size, paired over windows. */
  languageCost: arr(obj({ size: SIZE, params: int, ...COMPARISON })),
  /** Experiment 3: mixed − generation-only image-code NLL, generation-only − mixed drawn-scene accuracy, per size. */
  imageCost: arr(obj({ size: SIZE, params: int, loss: obj(COMPARISON), drawn: opt(obj(COMPARISON)) })),
  /** Experiment 4 at one size: each arm's means (seed mean ± s.e. over seeds) and the verdict's comparisons. */
  mutual: opt(obj({
    size: SIZE,
    arms: arr(obj({ arm: str, role: oneOf('base', 'addT2i', 'addI2t', 'matched', 'addText'), steps: int, seeds: arr(int), imageNll: arr(num), questionAccuracy: arr(num), captionNll: arr(num), conditioningGap: arr(num), checker: arr(numOrNull) })),
    comparisons: arr(obj({ a: str, b: str, measure: oneOf('imageNll', 'questionAccuracy'), ...COMPARISON })),
  })),
  /** Beyond the paper: exclusivity of text vs image routing per layer at each run's last checkpoint (JSD, bits). */
  routing: arr(obj({ arm: str, size: SIZE, seed: int, params: int, exclusivity: arr(numOrNull) })),
  /** Loss vs compute: image-code NLL ≈ prefactor · FLOPs^exponent over the mixed runs' checkpoints. */
  computeFit: opt(obj({ exponent: num, prefactor: num, r2: num, points: int })),
  /** The samples grid (sizes × steps): the first drawn images of each size's mixed run (seed 0) at each checkpoint. */
  samples: arr(obj({ size: SIZE, arm: str, step: int, captions: arr(str), codes: arr(arr(int)) })),
  verdicts: arr(VERDICT),
});

export type Results = Infer<typeof RESULTS>;
export type CurvePoint = Infer<typeof POINT>;

/** Checks parsed results (e.g. the committed file): the shape, and per-seed lists as long as the seeds. */
export function checkResults(json: unknown, what = RESULTS_FILE): Results {
  const r = checkShape(RESULTS, json, what);
  for (const [i, a] of (r.mutual?.arms ?? []).entries()) {
    for (const k of ['imageNll', 'questionAccuracy', 'captionNll', 'conditioningGap', 'checker'] as const) {
      if (a[k].length !== a.seeds.length) throw new Error(`${what}: mutual.arms[${i}] (${a.arm}) has ${a[k].length} ${k} values for ${a.seeds.length} seeds`);
    }
  }
  return r;
}

/** A text checkpoint as Measurements lists it: from its directory's config.json and metrics.json (evaluateTextLm's). */
export function readTextRecord(size: (typeof SIZE_PRESETS)[number], dir: string): Measurements['text'][number] {
  const file = path.join(dir, 'metrics.json');
  const m = readJsonOf(file, 'liquid.readTextRecord') as { config?: MoEConfig; training?: { tokensSeen?: number }; test_perplexity?: number; bigram_test_perplexity?: number };
  if (!m.config || typeof m.test_perplexity !== 'number' || typeof m.bigram_test_perplexity !== 'number' || typeof m.training?.tokensSeen !== 'number') {
    throw new Error(`${file}: not an evaluated text checkpoint (config, training.tokensSeen, test_perplexity and bigram_test_perplexity are needed)`);
  }
  const config = validateMoEConfig(m.config);
  return { size, checkpoint: path.basename(dir), tokens: m.training.tokensSeen, testPerplexity: m.test_perplexity, bigramTestPerplexity: m.bigram_test_perplexity, params: countParams(config), nonEmbedding: countNonEmbeddingParams(config) };
}

/** What notebook 03 measured. */
export interface Measurements {
  quick: boolean;
  retrained: boolean;
  date?: Date;
  /** Each size's text checkpoint: its name and what its metrics.json says. */
  text: Array<{ size: (typeof SIZE_PRESETS)[number]; checkpoint: string; tokens: number; testPerplexity: number; bigramTestPerplexity: number; params: number; nonEmbedding: number }>;
  runs: RunRecord[];
  mutualSize: string;
  /** Drawn images per checkpoint in the samples grid (default 4). */
  samplesPerStep?: number;
}

const orNull = (x: number): number | null => (Number.isFinite(x) ? round(x) : null);

/** One checkpoint's means. */
export function pointOf(e: EvalFile): CurvePoint {
  const m = (xs: readonly (number | null)[] | undefined) => (xs ? orNull(finiteMean(xs.map((x) => (x === null ? NaN : x)))) : null);
  const gap = e.image ? orNull(finiteMean(e.image.shuffledNll.map((x, i) => x - (e.image as NonNullable<EvalFile['image']>).nll[i]))) : null;
  return {
    step: e.step,
    textTokens: e.tokens.text,
    tokens: e.tokens.total,
    flops: Number(e.flops.toPrecision(6)),
    brownNll: round(finiteMean(e.brown.nll)),
    imageNll: m(e.image?.nll),
    imageAccuracy: m(e.image?.accuracy),
    conditioningGap: gap,
    captionNll: m(e.caption?.nll),
    questionAccuracy: m(e.questions?.correct),
    clipOwn: m(e.drawn?.clipOwn),
    clipShuffled: m(e.drawn?.clipShuffled),
    checker: m(e.drawn?.objectsRight),
  };
}

/** Builds the results file from what was measured (see the file comment). */
export function results(m: Measurements): Results {
  const numbers = numbersOf(m.runs, m.mutualSize);
  const arms = [...new Set(m.runs.map((r) => r.metrics.arm))];
  const runs: Results['runs'] = arms.map((arm) => {
    const rs = [...runsOf(m.runs, arm).values()].sort((a, b) => a.metrics.seed - b.metrics.seed);
    const x = rs[0].metrics;
    const ms = median(rs.flatMap((r) => (r.metrics.stepTime.meanCpuMs === null ? [] : [r.metrics.stepTime.meanCpuMs])));
    return { arm, size: x.size, group: x.group, seeds: rs.map((r) => r.metrics.seed), steps: x.steps, textTokens: x.budget.textTokens, totalTokens: x.budget.totalTokens, trainFlopsPerToken: x.budget.trainFlopsPerToken, stepCpuMs: ms === null ? null : round(ms, 1) };
  });
  const curves = m.runs.map((r) => ({ arm: r.metrics.arm, size: r.metrics.size, seed: r.metrics.seed, points: r.evals.map(pointOf) }));
  const lc = numbers.languageCost ? languageCostVerdict(numbers.languageCost).deltas : [];
  const imageCost: Results['imageCost'] = (numbers.imageCost ?? []).map((row) => {
    const loss = comparisonRow(pairedOrThrow(row.mixed.imageNll, row.gen.imageNll, `${row.size} image cost`));
    let drawn: ReturnType<typeof comparisonRow> | undefined;
    try {
      drawn = comparisonRow(pairedOrThrow(row.gen.checker, row.mixed.checker, `${row.size} drawn cost`));
    } catch {
      drawn = undefined; // no drawn scenes scored (no checker): the loss side stands alone
    }
    return { size: row.size as Results['imageCost'][number]['size'], params: row.params, loss, ...(drawn ? { drawn } : {}) };
  });
  let mutual: Results['mutual'];
  if (numbers.mutual) {
    const v = mutualVerdict(numbers.mutual.scores, m.mutualSize);
    const names = mutualArms(m.mutualSize);
    const perSeed = (arm: string, f: (e: EvalFile) => number) => [...runsOf(m.runs, arm).values()].sort((a, b) => a.metrics.seed - b.metrics.seed).map((r) => f(r.evals.at(-1) as EvalFile));
    mutual = {
      size: m.mutualSize as NonNullable<Results['mutual']>['size'],
      arms: (Object.keys(names) as Array<keyof typeof names>).map((role) => {
        const arm = names[role];
        const p = (e: EvalFile) => pointOf(e);
        return {
          arm,
          role,
          steps: (runsOf(m.runs, arm).values().next().value as RunRecord).metrics.steps,
          seeds: [...runsOf(m.runs, arm).keys()].sort((a, b) => a - b),
          imageNll: perSeed(arm, (e) => p(e).imageNll ?? NaN).map((x) => round(x)),
          questionAccuracy: perSeed(arm, (e) => p(e).questionAccuracy ?? NaN).map((x) => round(x)),
          captionNll: perSeed(arm, (e) => p(e).captionNll ?? NaN).map((x) => round(x)),
          conditioningGap: perSeed(arm, (e) => p(e).conditioningGap ?? NaN).map((x) => round(x)),
          checker: perSeed(arm, (e) => p(e).checker ?? NaN).map(orNull),
        };
      }),
      comparisons: [
        ...(['base', 'matched', 'addText'] as const).map((b) => ({ a: names.addI2t, b: names[b], measure: 'imageNll' as const, ...comparisonRow(v.generation[b]) })),
        ...(['base', 'matched', 'addText'] as const).map((b) => ({ a: names.addT2i, b: names[b], measure: 'questionAccuracy' as const, ...comparisonRow(v.understanding[b]) })),
      ],
    };
  }
  const routing = m.runs.flatMap((r) => {
    const e = r.evals.at(-1);
    return e?.routing ? [{ arm: r.metrics.arm, size: r.metrics.size, seed: r.metrics.seed, params: r.metrics.params.nonEmbedding, exclusivity: e.routing.exclusivity.map((x) => (x === null ? null : round(x))) }] : [];
  });
  const fitPoints = m.runs.filter((r) => r.metrics.arm.endsWith('-mixed')).flatMap((r) => r.evals.filter((e) => e.image).map((e) => [e.flops, finiteMean(MEASURES.imageNll(e))] as const));
  const fit = fitPoints.length >= 2 && new Set(fitPoints.map((p) => p[0])).size >= 2 ? logLogFit(fitPoints.map((p) => p[0]), fitPoints.map((p) => p[1])) : null;
  const k = m.samplesPerStep ?? 4;
  const samples = m.runs
    .filter((r) => r.metrics.arm === `${r.metrics.size}-mixed` && r.metrics.seed === Math.min(...runsOf(m.runs, r.metrics.arm).keys()))
    .flatMap((r) => r.evals.filter((e) => e.drawn).map((e) => ({ size: r.metrics.size, arm: r.metrics.arm, step: e.step, captions: (e.drawn as NonNullable<EvalFile['drawn']>).captions.slice(0, k), codes: (e.drawn as NonNullable<EvalFile['drawn']>).codes.slice(0, k) })));
  const built: Results = {
    ...resultsHeader(NOTEBOOK, { quick: m.quick, retrained: m.retrained, base: m.text.map((t) => t.checkpoint).join(', '), date: m.date }),
    sizes: m.text.map((t) => ({ size: t.size, params: t.params, nonEmbedding: t.nonEmbedding, text: { checkpoint: t.checkpoint, tokens: t.tokens, testPerplexity: round(t.testPerplexity, 2), bigramTestPerplexity: round(t.bigramTestPerplexity, 2) } })),
    runs,
    curves,
    languageCost: lc.map((d) => ({ size: d.size as Results['languageCost'][number]['size'], params: d.params, ...comparisonRow(d) })),
    imageCost,
    ...(mutual ? { mutual } : {}),
    routing,
    ...(fit ? { computeFit: { exponent: round(fit.exponent), prefactor: Number(fit.prefactor.toPrecision(6)), r2: round(fit.r2), points: fitPoints.length } } : {}),
    samples,
    verdicts: verdictRecords(verdicts(numbers)),
  };
  // What is written must read back: NaN (an undefined measurement) fails here, naming the field.
  return checkResults(JSON.parse(JSON.stringify(built)), 'liquid.results');
}
