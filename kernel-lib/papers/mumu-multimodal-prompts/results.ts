/**
 * Notebook 05's results JSON (`notebooks/results/05-mumu-multimodal-prompts.json`): its shape, the builder
 * the notebook calls with what it measured, and the check the tests run on a committed file. The builder's
 * output is the file: it averages over seeds, pairs the runs prompt by prompt, judges the claims
 * (claims.ts), rounds, and checks itself against the shape before it returns.
 */
import { arr, checkShape, Infer, int, keyed, num, numOrNull, obj, oneOf, opt, str } from '../shape';
import { ROUTING } from './routing';
import { ShapeError } from '../shape';
import { compare } from '../paired';
import type { SeedScores } from '../paired';
import { ARM_NAMES, Arm } from './arms';
import { DetailScores, MumuVerdict, Numbers, OTHER_SOURCES, OtherSource, verdicts } from './claims';
import { TOKENS_PER_CROP, TokensPerCrop } from './pooler';
import type { RunMetrics } from './run-metrics';
import { VERDICT, verdictRecords } from '../verdict';
import { resultsHeader, resultsHeaderFields } from '../results-file';
import { comparisonRow, finiteMean, medianStepMs, round, seedMeans } from '../summary';

export const NOTEBOOK = '05-mumu-multimodal-prompts';
/** The results file's name, in notebooks/results/ (full mode) or .cache/results/ (quick mode). */
export const RESULTS_FILE = `${NOTEBOOK}.json`;

export const MEASURES = ['identity', 'cropClipI', 'copied', 'harmonised'] as const;
export type Measure = (typeof MEASURES)[number];

const SCORES = obj({ identity: numOrNull, cropClipI: numOrNull, copied: numOrNull, harmonised: numOrNull });

export const RESULTS = obj({
  ...resultsHeaderFields(NOTEBOOK),
  decoder: str,
  heldOut: obj({ sameSource: obj({ split: str, items: int }), otherSource: opt(obj({ split: str, items: int })) }),
  /** One row per trained run set (arm × tokens per crop): means over prompts of the per-prompt seed means (null: undefined). */
  runs: arr(obj({
    arm: oneOf(...ARM_NAMES),
    tokensPerCrop: numOrNull,
    seeds: arr(int, { min: 1 }),
    steps: int,
    stepMs: numOrNull,
    sameSource: SCORES,
    otherSource: opt(keyed(OTHER_SOURCES, SCORES)),
    /** Standard errors over prompts of the per-prompt seed means (null: fewer than 2 prompts scored). */
    sameSourceSe: SCORES,
    otherSourceSe: opt(keyed(OTHER_SOURCES, SCORES)),
    identityPerSeed: arr(numOrNull),
    cropClipIPerSeed: arr(numOrNull),
  })),
  /** Paired differences A − B the verdicts read. */
  comparisons: arr(obj({ claim: str, a: str, b: str, measure: oneOf(...MEASURES), set: str, mean: num, standardError: num, items: int, seeds: int, perSeed: arr(num) })),
  /** Beyond the paper: how the frozen LM routes crop codes and the words they stand before (routing.ts). */
  routing: opt(ROUTING),
  verdicts: arr(VERDICT),
});

export type Results = Infer<typeof RESULTS>;

/** Checks parsed results (e.g. the committed file): the shape, and per-seed lists as long as each row's seeds. */
export function checkResults(json: unknown, what = RESULTS_FILE): Results {
  const r = checkShape(RESULTS, json, what);
  for (const [i, row] of r.runs.entries()) {
    for (const k of ['identityPerSeed', 'cropClipIPerSeed'] as const) {
      if (row[k].length !== row.seeds.length) throw new ShapeError(`${what}: runs[${i}] (${row.arm}) has ${row[k].length} ${k} values for ${row.seeds.length} seeds`);
    }
  }
  return r;
}

/** One seed's per-prompt scores on a set of held-out prompts (evaluate.ts), prompts in the same order for every run. */
export type SeedSet = Record<Measure, number[]>;

/** One trained run set: each seed's run metrics and scores, in seed order. */
export interface RunScores {
  arm: Arm;
  tokensPerCrop: TokensPerCrop | null;
  metrics: RunMetrics[];
  sameSource: SeedSet[];
  /** Per seed, the scores on each other-source set. */
  otherSource?: Array<Record<OtherSource, SeedSet>>;
}

/** What notebook 05 measures. */
export interface Measurements {
  quick: boolean;
  retrained: boolean;
  base: string;
  decoder: string;
  sameSource: { split: string; items: number };
  otherSource?: { split: string; items: number };
  runs: RunScores[];
  routing?: Results['routing'];
  minSeeds?: number;
  date?: Date;
}

const orNull = (x: number): number | null => (Number.isFinite(x) ? round(x) : null);

/** Standard error over items of the finite entries (NaN for fewer than 2). */
function finiteSe(xs: readonly number[]): number {
  const f = xs.filter(Number.isFinite);
  if (f.length < 2) return NaN;
  const m = f.reduce((a, b) => a + b, 0) / f.length;
  return Math.sqrt(f.reduce((a, x) => a + (x - m) ** 2, 0) / (f.length - 1) / f.length);
}

const summary = (sets: readonly SeedSet[], f: (xs: readonly number[]) => number = finiteMean) => Object.fromEntries(MEASURES.map((k) => [k, orNull(f(seedMeans(sets.map((s) => s[k]))))])) as Record<Measure, number | null>;
const detail = (r: RunScores): DetailScores => ({ identity: r.sameSource.map((s) => s.identity), cropClipI: r.sameSource.map((s) => s.cropClipI) });
const other = (r: RunScores, k: OtherSource, m: Measure): SeedScores => (r.otherSource ?? []).map((s) => s[k][m]);
const allOther = (r: RunScores, m: Measure): SeedScores => (r.otherSource ?? []).map((s) => OTHER_SOURCES.flatMap((k) => s[k][m]));
const seedsOf = (r: RunScores) => r.metrics.map((x) => x.seed);

/** A run set restricted to the given seeds, in their order. */
function onSeeds(r: RunScores, seeds: readonly number[]): RunScores {
  const at = seeds.map((k) => seedsOf(r).indexOf(k));
  return { ...r, metrics: at.map((i) => r.metrics[i]), sameSource: at.map((i) => r.sameSource[i]), ...(r.otherSource ? { otherSource: at.map((i) => r.otherSource![i]) } : {}) };
}

/**
 * Run sets compared seed k against seed k: each restricted to the seeds all of them have (null when they
 * share none), so a run set with a seed still missing is compared on the seeds that are there.
 */
function paired(...rs: Array<RunScores | undefined>): RunScores[] | null {
  if (rs.some((r) => !r)) return null;
  const common = seedsOf(rs[0]!).filter((k) => rs.every((r) => seedsOf(r!).includes(k))).sort((a, b) => a - b);
  return common.length === 0 ? null : rs.map((r) => onSeeds(r!, common));
}

/**
 * What the results are judged on: the measurements checked, the numbers each verdict reads (run sets paired
 * seed by seed on the seeds they share), the paired comparisons, and the verdicts with what failed (the
 * notebook's verdicts table; the results file keeps their five shared fields).
 */
export function judge(m: Measurements): { numbers: Numbers; comparisons: Results['comparisons']; verdicts: MumuVerdict[] } {
  const find = (arm: Arm, t: TokensPerCrop | null) => m.runs.find((r) => r.arm === arm && r.tokensPerCrop === t);
  const keys = m.runs.map((r) => `${r.arm}/${r.tokensPerCrop}`);
  if (new Set(keys).size !== keys.length) throw new Error('mumu.results: a run set (arm and tokens per crop) appears twice');
  for (const r of m.runs) {
    if (r.metrics.length === 0 || r.metrics.length !== r.sameSource.length) throw new Error(`mumu.results: ${r.arm} (${r.tokensPerCrop} tokens) has ${r.metrics.length} run metrics and ${r.sameSource.length} score sets; give one of each per seed`);
    if (r.otherSource && r.otherSource.length !== r.metrics.length) throw new Error(`mumu.results: ${r.arm} (${r.tokensPerCrop} tokens) has other-source scores for ${r.otherSource.length} of its ${r.metrics.length} seeds`);
    for (const x of r.metrics) if (x.arm !== r.arm || x.tokensPerCrop !== r.tokensPerCrop) throw new Error(`mumu.results: run ${x.name} is not ${r.arm} at ${r.tokensPerCrop} tokens per crop`);
    if (new Set(seedsOf(r)).size !== r.metrics.length) throw new Error(`mumu.results: ${r.arm} (${r.tokensPerCrop} tokens) has seed ${seedsOf(r).find((k, i) => seedsOf(r).indexOf(k) !== i)} twice`);
    for (const s of r.sameSource) for (const k of MEASURES) if (s[k].length !== m.sameSource.items) throw new Error(`mumu.results: ${r.arm} (${r.tokensPerCrop} tokens) scored ${s[k].length} same-source prompts on ${k}, heldOut.sameSource.items is ${m.sameSource.items}`);
  }
  const numbers: Numbers = { minSeeds: m.minSeeds };
  const comparisons: Results['comparisons'] = [];
  const push = (claim: string, a: string, b: string, measure: Measure, set: string, x: SeedScores, y: SeedScores) => {
    const c = compare(x, y, `${claim} ${measure} (${a} vs ${b}, ${set})`);
    comparisons.push({ claim, a, b, measure, set, ...comparisonRow(c) });
  };
  const byTokens = paired(...TOKENS_PER_CROP.map((t) => find('mumu', t)));
  if (byTokens) {
    numbers.finding1 = Object.fromEntries(TOKENS_PER_CROP.map((t, i) => [t, detail(byTokens[i])])) as Record<TokensPerCrop, DetailScores>;
    for (const k of ['identity', 'cropClipI'] as const) push('Finding 1', 'mumu t64', 'mumu t1', k, 'same-source', detail(byTokens[3])[k], detail(byTokens[0])[k]);
  }
  const withOther = (r: RunScores | undefined) => (r?.otherSource ? r : undefined);
  const f2 = paired(withOther(find('mumu', 64)), withOther(find('caption-only', null)));
  if (f2) {
    const [mumu, caption] = f2;
    numbers.finding2 = Object.fromEntries(OTHER_SOURCES.map((k) => [k, { mumu: other(mumu, k, 'harmonised'), captionOnly: other(caption, k, 'harmonised') }])) as Numbers['finding2'];
    for (const k of OTHER_SOURCES) push('Finding 2', 'mumu t64', 'caption-only', 'harmonised', k, other(mumu, k, 'harmonised'), other(caption, k, 'harmonised'));
  }
  const aug = paired(withOther(find('mumu', 64)), withOther(find('no-augment', 64)));
  if (aug) {
    const [mumu, noAug] = aug;
    const pick = (r: RunScores) => ({ cropClipI: detail(r).cropClipI, copied: allOther(r, 'copied'), harmonised: allOther(r, 'harmonised') });
    numbers.augmentation = { augment: pick(mumu), noAugment: pick(noAug) };
    push('§7', 'no-augment t64', 'mumu t64', 'cropClipI', 'same-source', detail(noAug).cropClipI, detail(mumu).cropClipI);
    for (const k of ['copied', 'harmonised'] as const) push('§7', 'no-augment t64', 'mumu t64', k, 'other-source', allOther(noAug, k), allOther(mumu, k));
  }
  const cap = paired(find('mumu', 64), find('caption-only', null));
  if (cap) {
    const [mumu, caption] = cap;
    numbers.captionOnly = { mumu: detail(mumu), captionOnly: detail(caption) };
    for (const k of ['identity', 'cropClipI'] as const) push('encoder vs caption-only', 'mumu t64', 'caption-only', k, 'same-source', detail(mumu)[k], detail(caption)[k]);
  }
  const dec = paired(find('mumu', 64), find('decoder-full', 64));
  if (dec) {
    const [mumu, full] = dec;
    numbers.decoder = { lora: detail(mumu), full: detail(full) };
    for (const k of ['identity', 'cropClipI'] as const) push('§7 Q1', 'decoder-full t64', 'mumu t64', k, 'same-source', detail(full)[k], detail(mumu)[k]);
  }
  return { numbers, comparisons, verdicts: verdicts(numbers) };
}

/** The results JSON of notebook 05 from its measurements (scores rounded to 4 decimals). */
export function results(m: Measurements): Results {
  const { comparisons, verdicts: judged } = judge(m);
  const built: Results = {
    ...resultsHeader(NOTEBOOK, m),
    decoder: m.decoder,
    heldOut: { sameSource: m.sameSource, ...(m.otherSource ? { otherSource: m.otherSource } : {}) },
    runs: m.runs.map((r) => ({
      arm: r.arm,
      tokensPerCrop: r.tokensPerCrop,
      seeds: seedsOf(r),
      steps: r.metrics[0].steps,
      stepMs: medianStepMs(r.metrics),
      sameSource: summary(r.sameSource),
      ...(r.otherSource ? { otherSource: Object.fromEntries(OTHER_SOURCES.map((k) => [k, summary(r.otherSource!.map((s) => s[k]))])) as Record<OtherSource, Record<Measure, number | null>> } : {}),
      sameSourceSe: summary(r.sameSource, finiteSe),
      ...(r.otherSource ? { otherSourceSe: Object.fromEntries(OTHER_SOURCES.map((k) => [k, summary(r.otherSource!.map((s) => s[k]), finiteSe)])) as Record<OtherSource, Record<Measure, number | null>> } : {}),
      identityPerSeed: r.sameSource.map((s) => orNull(finiteMean(s.identity))),
      cropClipIPerSeed: r.sameSource.map((s) => orNull(finiteMean(s.cropClipI))),
    })),
    comparisons,
    ...(m.routing ? { routing: m.routing } : {}),
    verdicts: verdictRecords(judged),
  };
  // What is written must read back: NaN (an undefined measurement) fails here, naming the field.
  return checkResults(JSON.parse(JSON.stringify(built)), 'mumu.results');
}
