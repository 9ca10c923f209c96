/**
 * From trained runs (each its metrics.json and its eval/step-N.json files) to what the claims judge: the
 * per-item scores of the right runs at their last checkpoint, seeds paired seed by seed (only the seeds
 * both sides have), ordered by size. The results builder (results.ts) and the notebook use it.
 */
import type { SeedScores } from '../paired';
import type { EvalFile, RunMetrics } from './run-metrics';
import type { MutualArm, MutualScores, Numbers } from './claims';
import { finiteMean } from '../summary';

/** One trained run: its metrics and its evaluation files in step order. */
export interface RunRecord {
  metrics: RunMetrics;
  evals: EvalFile[];
}

const nan = (xs: readonly (number | null)[] | undefined): number[] => (xs ?? []).map((x) => (x === null ? NaN : x));

/** The last evaluation of a run (its trained weights). */
export function lastEval(r: RunRecord): EvalFile {
  const e = r.evals.at(-1);
  if (!e) throw new Error(`liquid: ${r.metrics.name} has no evaluation files`);
  if (e.step !== r.metrics.steps) throw new Error(`liquid: ${r.metrics.name}'s last evaluation is at step ${e.step}, not its last step ${r.metrics.steps}; finish its evaluation (the same train:liquid command)`);
  return e;
}

/** The runs of an arm by seed. */
export function runsOf(runs: readonly RunRecord[], arm: string): Map<number, RunRecord> {
  const out = new Map<number, RunRecord>();
  for (const r of runs) {
    if (r.metrics.arm !== arm) continue;
    if (out.has(r.metrics.seed)) throw new Error(`liquid: ${arm} seed ${r.metrics.seed} is given twice`);
    out.set(r.metrics.seed, r);
  }
  return out;
}

/** Seeds every listed arm has (sorted). */
export function commonSeeds(runs: readonly RunRecord[], arms: readonly string[]): number[] {
  const sets = arms.map((a) => new Set(runsOf(runs, a).keys()));
  return [...sets[0]].filter((k) => sets.every((s) => s.has(k))).sort((a, b) => a - b);
}

/** A per-item measure of the last checkpoint, one row per seed. */
export type Measure = (e: EvalFile) => number[];
export const MEASURES: Record<'brown' | 'imageNll' | 'imageAccuracy' | 'questions' | 'captionNll' | 'checker', Measure> = {
  brown: (e) => e.brown.nll,
  imageNll: (e) => need(e, 'image').nll,
  imageAccuracy: (e) => need(e, 'image').accuracy,
  questions: (e) => need(e, 'questions').correct,
  captionNll: (e) => need(e, 'caption').nll,
  checker: (e) => (e.drawn?.objectsRight ? nan(e.drawn.objectsRight) : (e.drawn?.ids ?? []).map(() => NaN)),
};

function need<K extends 'image' | 'questions' | 'caption'>(e: EvalFile, k: K): NonNullable<EvalFile[K]> {
  const v = e[k];
  if (!v) throw new Error(`liquid: ${e.arm} seed ${e.seed} step ${e.step} has no ${k} scores (a text-only arm?)`);
  return v as NonNullable<EvalFile[K]>;
}

/** [seed][item] of a measure at the last checkpoint of `arm`, for `seeds`. */
export function scoresOf(runs: readonly RunRecord[], arm: string, seeds: readonly number[], measure: Measure): SeedScores {
  const by = runsOf(runs, arm);
  return seeds.map((k) => measure(lastEval(by.get(k) as RunRecord)));
}

/** Sizes that have runs of all `suffixes` arms (`<size>-<suffix>`), with their non-embedding parameters, smallest first. */
function sizesWith(runs: readonly RunRecord[], suffixes: readonly string[]): Array<{ size: string; params: number }> {
  const sizes = new Map<string, number>();
  for (const r of runs) sizes.set(r.metrics.size, r.metrics.params.nonEmbedding);
  return [...sizes]
    .filter(([size]) => commonSeeds(runs, suffixes.map((x) => `${size}-${x}`)).length > 0)
    .map(([size, params]) => ({ size, params }))
    .sort((a, b) => a.params - b.params);
}

/** The claims' numbers from the runs there are (an experiment is left out when its runs are missing). */
export function numbersOf(runs: readonly RunRecord[], mutualSize: string): Numbers {
  const n: Numbers = {};
  const lc = sizesWith(runs, ['text', 'mixed']);
  if (lc.length >= 2) {
    n.languageCost = lc.map(({ size, params }) => {
      const seeds = commonSeeds(runs, [`${size}-text`, `${size}-mixed`]);
      return { size, params, text: scoresOf(runs, `${size}-text`, seeds, MEASURES.brown), mixed: scoresOf(runs, `${size}-mixed`, seeds, MEASURES.brown) };
    });
  }
  const sc = sizesWith(runs, ['mixed']);
  if (sc.length >= 2) {
    n.scaling = sc.map(({ size, params }) => {
      const arm = `${size}-mixed`;
      const seeds = [...runsOf(runs, arm).keys()].sort((a, b) => a - b);
      const curves = seeds.map((k) => (runsOf(runs, arm).get(k) as RunRecord).evals.map((e) => finiteMean(MEASURES.imageNll(e))));
      return { size, params, imageNll: scoresOf(runs, arm, seeds, MEASURES.imageNll), imageAccuracy: scoresOf(runs, arm, seeds, MEASURES.imageAccuracy), checker: scoresOf(runs, arm, seeds, MEASURES.checker), curves };
    });
  }
  const ic = sizesWith(runs, ['mixed', 'gen']);
  if (ic.length >= 2) {
    n.imageCost = ic.map(({ size, params }) => {
      const seeds = commonSeeds(runs, [`${size}-mixed`, `${size}-gen`]);
      const side = (arm: string) => ({ imageNll: scoresOf(runs, arm, seeds, MEASURES.imageNll), checker: scoresOf(runs, arm, seeds, MEASURES.checker) });
      return { size, params, mixed: side(`${size}-mixed`), gen: side(`${size}-gen`) };
    });
  }
  const arms = mutualArms(mutualSize);
  const seeds = commonSeeds(runs, Object.values(arms));
  if (seeds.length > 0) {
    const scores = Object.fromEntries(
      (Object.keys(arms) as MutualArm[]).map((k) => [k, { imageNll: scoresOf(runs, arms[k], seeds, MEASURES.imageNll), questions: scoresOf(runs, arms[k], seeds, MEASURES.questions) }]),
    ) as MutualScores;
    n.mutual = { size: mutualSize, scores };
  }
  return n;
}

/** Experiment 4's arms at a size. */
export const mutualArms = (size: string): Record<MutualArm, string> => ({
  base: `${size}-mixed`,
  addT2i: `${size}-add-t2i`,
  addI2t: `${size}-add-i2t`,
  matched: `${size}-matched`,
  addText: `${size}-add-text`,
});

