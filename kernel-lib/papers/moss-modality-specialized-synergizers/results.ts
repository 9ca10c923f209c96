/**
 * Notebook 02's results JSON (`notebooks/results/02-moss-modality-specialized-synergizers.json`): its shape,
 * the builder the notebook calls with what it measured (each arm's run metrics and per-item held-out
 * scores per seed), and the check the tests run on a committed file. The builder's output is the file:
 * it averages over seeds, pairs the arms item by item, judges the claims (claims.ts), rounds, and checks
 * itself against the same shape before it returns.
 */
import { INSTRUCTION_KINDS } from '../../data/instructions';
import { arr, checkShape, Infer, int, keyed, num, numOrNull, obj, oneOf, opt, str } from '../shape';
import { ShapeError } from '../shape';
import { ARM_NAMES, TABLE2_RANK, Arm } from './arms';
import { ArmScores, compare, Numbers, SeedScores, verdicts } from './claims';
import type { DrawnScores, ItemScores } from './evaluate';
import type { RunMetrics } from './run-metrics';
import { VERDICT, verdictRecords } from '../verdict';
import { resultsHeader, resultsHeaderFields } from '../results-file';
import { comparisonRow, finiteMean, mean, medianStepMs, round, seedMeans } from '../summary';

export const NOTEBOOK = '02-moss-modality-specialized-synergizers';
/** The results file's name, in notebooks/results/ (full mode) or .cache/results/ (quick mode). */
export const RESULTS_FILE = `${NOTEBOOK}.json`;

const MEASURES = ['image', 'text', 'scene'] as const;

export const RESULTS = obj({
  ...resultsHeaderFields(NOTEBOOK),
  /** The held-out items every arm and seed was scored on, in order (per-item arrays follow it). */
  heldOut: obj({ split: str, items: int, perKind: keyed(INSTRUCTION_KINDS, int), textItems: int, ids: arr(str) }),
  /** One row per arm and rank: means over items of the per-item seed means, and each seed's own mean. */
  runs: arr(obj({
    arm: oneOf(...ARM_NAMES),
    /** The rank asked for (absent for full); adapterRank is the adapter's (moe-lora-matched's differs). */
    rank: opt(int),
    adapterRank: opt(int),
    params: int,
    seeds: arr(int, { min: 1 }),
    steps: int,
    /** Median per-step wall time over the seeds' runs (ms). */
    stepMs: numOrNull,
    imageNll: num,
    imageNllPerSeed: arr(num),
    textNll: num,
    textNllPerSeed: arr(num),
  }), { min: 1 }),
  /** Per arm and rank, per held-out item: the mean over seeds (text: null where the target has no text). */
  perItem: arr(obj({ arm: oneOf(...ARM_NAMES), rank: opt(int), imageNll: arr(num), textNll: arr(numOrNull) })),
  /** Paired differences A − B (lower NLL is better; for `scene`, higher is better). */
  comparisons: arr(obj({ a: str, b: str, rank: opt(int), measure: oneOf(...MEASURES), mean: num, standardError: num, items: int, seeds: int, perSeed: arr(num) })),
  /** C.3: milliseconds per generated image (cached step decoding) by model. */
  decode: opt(arr(obj({ model: str, msPerImage: num }))),
  /** Drawn targets checked by the scene checker, per arm (means over items and seeds). */
  scene: opt(arr(obj({ arm: oneOf(...ARM_NAMES), rank: opt(int), items: int, objectsRight: num, editRight: numOrNull }))),
  /** Beyond the paper: routing of image tokens per layer, by model (JSD exclusivity in bits, strongest-partner co-activation). */
  routing: opt(arr(obj({ model: str, exclusivity: arr(num), coActivation: arr(num) }))),
  verdicts: arr(VERDICT),
});

export type Results = Infer<typeof RESULTS>;

/** Checks parsed results (e.g. the committed file): the shape, and per-item arrays as long as the held-out list. */
export function checkResults(json: unknown, what = RESULTS_FILE): Results {
  const r = checkShape(RESULTS, json, what);
  const n = r.heldOut.items;
  if (r.heldOut.ids.length !== n) throw new ShapeError(`${what}: heldOut.ids has ${r.heldOut.ids.length} entries, heldOut.items is ${n}`);
  for (const [i, p] of r.perItem.entries()) {
    if (p.imageNll.length !== n || p.textNll.length !== n) throw new ShapeError(`${what}: perItem[${i}] (${p.arm}) has ${p.imageNll.length} image and ${p.textNll.length} text scores for ${n} items`);
  }
  for (const [i, row] of r.runs.entries()) {
    if (row.imageNllPerSeed.length !== row.seeds.length || row.textNllPerSeed.length !== row.seeds.length) throw new ShapeError(`${what}: runs[${i}] (${row.arm}) has per-seed means that do not match its ${row.seeds.length} seeds`);
  }
  return r;
}

/** One arm at one rank: each seed's run metrics, held-out scores and (optionally) drawn targets, in seed order. */
export interface ArmRun {
  arm: Arm;
  /** The rank asked for (omit for full). */
  rank?: number;
  metrics: RunMetrics[];
  scores: ItemScores[];
  drawn?: DrawnScores[];
}

/** What notebook 02 measures. */
export interface Measurements {
  quick: boolean;
  retrained: boolean;
  base: string;
  split: string;
  runs: ArmRun[];
  /** Milliseconds per generated image by model name (base, lora, moss, …); `lora` and `moss` give the C.3 verdict. */
  decodeMs?: Record<string, number>;
  routing?: Results['routing'];
  /** Seeds a verdict-bearing arm needs (default 3; quick mode runs fewer and says so in every verdict). */
  minSeeds?: number;
  date?: Date;
}

const label = (r: ArmRun) => (r.rank === undefined ? r.arm : `${r.arm} r=${r.rank}`);

/** Checks every seed of every run scored the same items in the same order; returns that order. */
function sameItems(runs: readonly ArmRun[]): ItemScores {
  const first = runs[0]?.scores[0];
  if (!first) throw new Error('moss.results: no runs with scores');
  for (const r of runs) {
    if (r.scores.length === 0 || r.scores.length !== r.metrics.length) throw new Error(`moss.results: ${label(r)} has ${r.metrics.length} run metrics and ${r.scores.length} score sets; give one of each per seed`);
    for (const [k, sc] of r.scores.entries()) {
      if (sc.ids.length !== first.ids.length || sc.ids.some((id, i) => id !== first.ids[i])) throw new Error(`moss.results: ${label(r)} seed ${r.metrics[k].seed} scored other items than ${label(runs[0])}; every arm and seed must score the same held-out list`);
    }
    const seeds = r.metrics.map((m) => m.seed);
    if (new Set(seeds).size !== seeds.length) throw new Error(`moss.results: ${label(r)} repeats a seed (${seeds.join(', ')})`);
    for (const m of r.metrics) {
      if (m.arm !== r.arm || (r.arm !== 'full' && m.rank !== r.rank)) throw new Error(`moss.results: run ${m.name} is not ${label(r)}`);
    }
  }
  return first;
}

const armScores = (r: ArmRun): ArmScores => ({ image: r.scores.map((s) => s.imageNll), text: r.scores.map((s) => s.textNll) });

/** The pairs the notebook shows: at each rank MoSS against each baseline present, MoE-LoRA against LoRA, and full against MoSS. */
const PAIRS: [Arm, Arm][] = [['moss', 'moe-lora'], ['moe-lora', 'lora'], ['moss', 'lora'], ['moss', 'moe-lora-matched'], ['moss', 'sam-convlora']];

/** The results JSON of notebook 02 from its measurements (NLLs rounded to 4 decimals). */
export function results(m: Measurements): Results {
  const first = sameItems(m.runs);
  const find = (arm: Arm, rank?: number) => m.runs.find((r) => r.arm === arm && (arm === 'full' || r.rank === rank));
  const keyOf = (r: ArmRun) => `${r.arm}|${r.rank ?? ''}`;
  if (new Set(m.runs.map(keyOf)).size !== m.runs.length) throw new Error('moss.results: an arm appears twice at the same rank');
  const need = (arm: Arm): ArmRun => {
    const r = find(arm, TABLE2_RANK);
    if (!r) throw new Error(`moss.results: Table 2 needs ${arm} at r = ${TABLE2_RANK}`);
    return r;
  };
  const t2 = { lora: need('lora'), 'moe-lora': need('moe-lora'), moss: need('moss'), 'moe-lora-matched': need('moe-lora-matched') };
  const numbers: Numbers = {
    table2: { lora: armScores(t2.lora), 'moe-lora': armScores(t2['moe-lora']), moss: armScores(t2.moss), 'moe-lora-matched': armScores(t2['moe-lora-matched']) },
    params: Object.fromEntries(Object.entries(t2).map(([k, r]) => [k, r.metrics[0].adapter?.params ?? r.metrics[0].trainableParams])),
    minSeeds: m.minSeeds,
  };
  const rankList = [...new Set(m.runs.filter((r) => r.rank !== undefined).map((r) => r.rank as number))].sort((a, b) => a - b);
  const curve = rankList.flatMap((rank) => {
    const [l, e, s] = (['lora', 'moe-lora', 'moss'] as const).map((a) => find(a, rank));
    return l && e && s ? [{ rank, lora: armScores(l), 'moe-lora': armScores(e), moss: armScores(s) }] : [];
  });
  if (curve.length >= 2) numbers.ranks = curve;
  const sam = find('sam-convlora', TABLE2_RANK);
  if (sam) numbers.table10 = { moss: numbers.table2.moss, 'sam-convlora': armScores(sam) };
  const full = find('full');
  if (full) numbers.table12 = { moss: numbers.table2.moss, full: armScores(full) };
  if (m.decodeMs?.lora !== undefined && m.decodeMs.moss !== undefined) numbers.decodeMs = { lora: m.decodeMs.lora, moss: m.decodeMs.moss };
  const drawn = (['lora', 'moe-lora', 'moss'] as const).map((a) => t2[a].drawn?.map((d) => d.objectsRight));
  if (drawn.every((d) => d !== undefined && d.length > 0)) numbers.scene = { lora: drawn[0] as SeedScores, 'moe-lora': drawn[1] as SeedScores, moss: drawn[2] as SeedScores };
  const judged = verdicts(numbers);

  const comparisons: Results['comparisons'] = [];
  const push = (a: ArmRun, b: ArmRun, rank: number | undefined) => {
    for (const measure of ['image', 'text'] as const) {
      const c = compare(armScores(a)[measure], armScores(b)[measure], `${label(a)} vs ${label(b)} (${measure})`);
      comparisons.push({ a: a.arm, b: b.arm, ...(rank === undefined ? {} : { rank }), measure, ...comparisonRow(c) });
    }
  };
  for (const rank of rankList) {
    for (const [a, b] of PAIRS) {
      const ra = find(a, rank);
      const rb = find(b, rank);
      if (ra && rb && ra.scores.length === rb.scores.length) push(ra, rb, rank);
    }
  }
  if (full && full.scores.length === t2.moss.scores.length) push(full, t2.moss, undefined);
  if (numbers.scene) {
    const s = numbers.scene;
    for (const [a, b] of [['moss', 'moe-lora'], ['moe-lora', 'lora']] as const) {
      const c = compare(s[a], s[b], `drawn scenes (${a} vs ${b})`);
      comparisons.push({ a, b, rank: TABLE2_RANK, measure: 'scene', ...comparisonRow(c) });
    }
  }

  const built: Results = {
    ...resultsHeader(NOTEBOOK, m),
    heldOut: {
      split: m.split,
      items: first.ids.length,
      perKind: Object.fromEntries(INSTRUCTION_KINDS.map((k) => [k, first.kinds.filter((x) => x === k).length])) as Record<(typeof INSTRUCTION_KINDS)[number], number>,
      textItems: first.textTokens.filter((n) => n > 0).length,
      ids: first.ids,
    },
    runs: runRows(m.runs),
    perItem: m.runs.map((r) => ({
      arm: r.arm,
      ...(r.arm === 'full' ? {} : { rank: r.rank as number }),
      imageNll: seedMeans(r.scores.map((s) => s.imageNll)).map((x) => round(x)),
      textNll: seedMeans(r.scores.map((s) => s.textNll)).map((x) => (Number.isFinite(x) ? round(x) : null)),
    })),
    comparisons,
    ...(m.decodeMs ? { decode: Object.entries(m.decodeMs).map(([model, ms]) => ({ model, msPerImage: round(ms, 1) })) } : {}),
    ...(numbers.scene
      ? {
          scene: (['lora', 'moe-lora', 'moss'] as const).map((a) => {
            const d = t2[a].drawn as DrawnScores[];
            return { arm: a, rank: TABLE2_RANK, items: d[0].ids.length, objectsRight: round(mean(d.map((x) => finiteMean(x.objectsRight))), 3), editRight: edits(d) };
          }),
        }
      : {}),
    ...(m.routing ? { routing: m.routing } : {}),
    verdicts: verdictRecords(judged),
  };
  // What is written must read back: NaN (an undefined measurement) fails here, naming the field.
  return checkResults(JSON.parse(JSON.stringify(built)), 'moss.results');
}

/** One row of the results' `runs` per arm and rank: seed means of the held-out NLLs, sizes, steps, step time. */
export function runRows(runs: readonly ArmRun[]): Results['runs'] {
  return runs.map((r) => ({
    arm: r.arm,
    ...(r.arm === 'full' ? {} : { rank: r.rank as number }),
    ...(r.metrics[0].adapter ? { adapterRank: r.metrics[0].adapter.rank } : {}),
    params: r.metrics[0].adapter?.params ?? r.metrics[0].trainableParams,
    seeds: r.metrics.map((x) => x.seed),
    steps: r.metrics[0].steps,
    stepMs: medianStepMs(r.metrics),
    imageNll: round(finiteMean(seedMeans(r.scores.map((s) => s.imageNll)))),
    imageNllPerSeed: r.scores.map((s) => round(finiteMean(s.imageNll))),
    textNll: round(finiteMean(seedMeans(r.scores.map((s) => s.textNll)))),
    textNllPerSeed: r.scores.map((s) => round(finiteMean(s.textNll))),
  }));
}

/** Mean edit accuracy over seeds (null when no item is an edit). */
function edits(d: readonly DrawnScores[]): number | null {
  const per = d.map((x) => x.editRight.filter(Number.isFinite));
  if (per.every((p) => p.length === 0)) return null;
  return round(mean(per.map((p) => mean(p))), 3);
}
