/**
 * Notebook 04's results JSON (`notebooks/results/04-minigpt5-generative-vokens.json`): its shape, the builder
 * the notebook calls with what it measured, and the check the tests run on a committed file. The builder's
 * output is the file: it averages over seeds, pairs the arms item by item, judges the claims (claims.ts),
 * rounds, and checks itself against the shape before it returns.
 */
import { arr, checkShape, Infer, int, num, numOrNull, obj, oneOf, opt, str } from '../shape';
import { ShapeError } from '../shape';
import { compare } from '../paired';
import type { SeedScores } from '../paired';
import { ARM_NAMES, Arm, TABLE5_ARMS, TABLE7_ARMS } from './arms';
import { CONTEXTS, Context, ImageScores, Numbers, verdicts } from './claims';
import type { RunMetrics } from './run-metrics';
import { VERDICT, verdictRecords } from '../verdict';
import { resultsHeader, resultsHeaderFields } from '../results-file';
import { comparisonRow, finiteMean, mean, medianStepMs, round, seedMeans } from '../summary';

export const NOTEBOOK = '04-minigpt5-generative-vokens';
/** The results file's name, in notebooks/results/ (full mode) or .cache/results/ (quick mode). */
export const RESULTS_FILE = `${NOTEBOOK}.json`;

const MEASURES = ['clipI', 'clipT', 'scene', 'nll'] as const;

export const RESULTS = obj({
  ...resultsHeaderFields(NOTEBOOK),
  decoder: str,
  heldOut: obj({ scenes: obj({ split: str, items: int }), stories: opt(obj({ split: str, items: int })) }),
  /** Tables 5 and 7: one row per stage-1 arm (means over items of the per-item seed means; FID per seed and its mean). */
  imageArms: arr(obj({
    arm: oneOf(...ARM_NAMES),
    seeds: arr(int, { min: 1 }),
    steps: int,
    stepMs: numOrNull,
    clipI: num,
    clipT: num,
    scene: num,
    fid: num,
    clipIPerSeed: arr(num),
    clipTPerSeed: arr(num),
    scenePerSeed: arr(num),
    fidPerSeed: arr(num),
  })),
  /** Table 6: CLIP-I of the last frame per model and context. */
  contexts: opt(arr(obj({ model: oneOf('minigpt5', 'twoStage'), context: oneOf(...CONTEXTS), clipI: num, clipIPerSeed: arr(num) }))),
  /** Table 2: held-out narration NLL (nats per token). */
  narration: opt(arr(obj({ model: oneOf('minigpt5', 'textOnly'), nll: num, nllPerSeed: arr(num), items: int }))),
  /** CFG scale sweep of the full arm: γ → CLIP-I, CLIP-T (means over items and seeds). */
  cfgSweep: opt(arr(obj({ scale: num, clipI: num, clipT: num }))),
  /** The unweighted losses at the start of stage 1 (are the paper's λs right for our scales?). */
  lossScales: opt(obj({ text: num, ldm: num, cap: num })),
  /** Beyond the paper: routing of voken tokens per layer and model (JSD in bits against text and image-code tokens). */
  routing: opt(arr(obj({ model: str, layer: int, vokensVsText: num, vokensVsImage: numOrNull }))),
  /** Paired differences A − B shown in the tables. */
  comparisons: arr(obj({ table: str, a: str, b: str, measure: oneOf(...MEASURES), mean: num, standardError: num, items: int, seeds: int, perSeed: arr(num) })),
  verdicts: arr(VERDICT),
});

export type Results = Infer<typeof RESULTS>;

/** Checks parsed results (e.g. the committed file): the shape, and per-seed lists as long as each row's seeds. */
export function checkResults(json: unknown, what = RESULTS_FILE): Results {
  const r = checkShape(RESULTS, json, what);
  for (const [i, row] of r.imageArms.entries()) {
    const n = row.seeds.length;
    for (const k of ['clipIPerSeed', 'clipTPerSeed', 'scenePerSeed', 'fidPerSeed'] as const) {
      if (row[k].length !== n) throw new ShapeError(`${what}: imageArms[${i}] (${row.arm}) has ${row[k].length} ${k} values for ${n} seeds`);
    }
  }
  return r;
}

/** One seed's image scores per held-out item, and its set's FID. */
export interface SeedImages {
  clipI: number[];
  clipT: number[];
  scene: number[];
  fid: number;
}

/** One stage-1 arm: each seed's run metrics and image scores, in seed order. */
export interface ArmImages {
  arm: Arm;
  metrics: RunMetrics[];
  scores: SeedImages[];
}

/** What notebook 04 measures. */
export interface Measurements {
  quick: boolean;
  retrained: boolean;
  base: string;
  decoder: string;
  scenes: { split: string; items: number };
  stories?: { split: string; items: number };
  imageArms: ArmImages[];
  /** Table 6: per model and context, [seed][story] CLIP-I. */
  contexts?: Record<'minigpt5' | 'twoStage', Record<Context, SeedScores>>;
  /** Table 2: [seed][item] narration NLL. */
  narration?: { minigpt5: SeedScores; textOnly: SeedScores };
  cfgSweep?: Results['cfgSweep'];
  lossScales?: Results['lossScales'];
  routing?: Results['routing'];
  minSeeds?: number;
  date?: Date;
}

const imageScores = (r: ArmImages): ImageScores => ({ clipI: r.scores.map((s) => s.clipI), clipT: r.scores.map((s) => s.clipT), scene: r.scores.map((s) => s.scene), fid: r.scores.map((s) => s.fid) });

/** What the verdicts judge, from the measurements: each table whose arms are all measured. */
export function numbersFrom(m: Pick<Measurements, 'imageArms' | 'contexts' | 'narration' | 'minSeeds'>): Numbers {
  const find = (arm: Arm) => m.imageArms.find((r) => r.arm === arm);
  const numbers: Numbers = { minSeeds: m.minSeeds };
  const all = <A extends Arm>(arms: readonly A[]) => (arms.every((a) => find(a)) ? (Object.fromEntries(arms.map((a) => [a, imageScores(find(a)!)])) as Record<A, ImageScores>) : undefined);
  const t5 = all(TABLE5_ARMS);
  const t7 = all(TABLE7_ARMS);
  if (t5) numbers.table5 = t5;
  if (t7) numbers.table7 = t7;
  if (m.contexts) numbers.table6 = m.contexts;
  if (m.narration) numbers.table2 = m.narration;
  return numbers;
}

/** The results JSON of notebook 04 from its measurements (scores rounded to 4 decimals). */
export function results(m: Measurements): Results {
  const find = (arm: Arm) => m.imageArms.find((r) => r.arm === arm);
  if (new Set(m.imageArms.map((r) => r.arm)).size !== m.imageArms.length) throw new Error('minigpt5.results: an arm appears twice');
  for (const r of m.imageArms) {
    if (r.scores.length === 0 || r.scores.length !== r.metrics.length) throw new Error(`minigpt5.results: ${r.arm} has ${r.metrics.length} run metrics and ${r.scores.length} score sets; give one of each per seed`);
    for (const x of r.metrics) if (x.arm !== r.arm || x.stage !== 1) throw new Error(`minigpt5.results: run ${x.name} is not stage 1 of ${r.arm}`);
    const n = r.scores[0].clipI.length;
    if (n !== m.scenes.items) throw new Error(`minigpt5.results: ${r.arm} scored ${n} items, heldOut.scenes.items is ${m.scenes.items}`);
  }
  const judged = verdicts(numbersFrom(m));

  const comparisons: Results['comparisons'] = [];
  const push = (table: string, a: string, b: string, measure: (typeof MEASURES)[number], x: SeedScores, y: SeedScores) => {
    const c = compare(x, y, `${table} ${measure} (${a} vs ${b})`);
    comparisons.push({ table, a, b, measure, ...comparisonRow(c) });
  };
  const full = find('full');
  for (const [table, arms] of [['Table 5', TABLE5_ARMS], ['Table 7', TABLE7_ARMS]] as const) {
    for (const arm of arms.slice(1)) {
      const other = find(arm);
      if (!full || !other || other.scores.length !== full.scores.length) continue;
      for (const measure of ['clipI', 'clipT', 'scene'] as const) push(table, 'full', arm, measure, imageScores(full)[measure], imageScores(other)[measure]);
    }
  }
  if (m.contexts) for (const k of CONTEXTS) push('Table 6', 'minigpt5', 'twoStage', 'clipI', m.contexts.minigpt5[k], m.contexts.twoStage[k]);
  if (m.narration) push('Table 2', 'minigpt5', 'textOnly', 'nll', m.narration.minigpt5, m.narration.textOnly);

  const built: Results = {
    ...resultsHeader(NOTEBOOK, m),
    decoder: m.decoder,
    heldOut: { scenes: m.scenes, ...(m.stories ? { stories: m.stories } : {}) },
    imageArms: m.imageArms.map((r) => {
      const s = imageScores(r);
      return {
        arm: r.arm,
        seeds: r.metrics.map((x) => x.seed),
        steps: r.metrics[0].steps,
        stepMs: medianStepMs(r.metrics),
        clipI: round(finiteMean(seedMeans(s.clipI))),
        clipT: round(finiteMean(seedMeans(s.clipT))),
        scene: round(finiteMean(seedMeans(s.scene))),
        fid: round(mean(s.fid)),
        clipIPerSeed: s.clipI.map((x) => round(finiteMean(x))),
        clipTPerSeed: s.clipT.map((x) => round(finiteMean(x))),
        scenePerSeed: s.scene.map((x) => round(finiteMean(x))),
        fidPerSeed: s.fid.map((x) => round(x)),
      };
    }),
    ...(m.contexts
      ? { contexts: (['minigpt5', 'twoStage'] as const).flatMap((model) => CONTEXTS.map((context) => ({ model, context, clipI: round(finiteMean(seedMeans(m.contexts![model][context]))), clipIPerSeed: m.contexts![model][context].map((x) => round(finiteMean(x))) }))) }
      : {}),
    ...(m.narration
      ? { narration: (['minigpt5', 'textOnly'] as const).map((model) => ({ model, nll: round(finiteMean(seedMeans(m.narration![model]))), nllPerSeed: m.narration![model].map((x) => round(finiteMean(x))), items: m.narration![model][0].filter(Number.isFinite).length })) }
      : {}),
    ...(m.cfgSweep ? { cfgSweep: m.cfgSweep } : {}),
    ...(m.lossScales ? { lossScales: m.lossScales } : {}),
    ...(m.routing ? { routing: m.routing } : {}),
    comparisons,
    verdicts: verdictRecords(judged),
  };
  // What is written must read back: NaN (an undefined measurement) fails here, naming the field.
  return checkResults(JSON.parse(JSON.stringify(built)), 'minigpt5.results');
}
