/**
 * The arms of the Liquid reproduction (issue #16; the paper in citation.ts: Wu et al. 2024, "Liquid:
 * Language Models are Scalable and Unified Multi-modal Generators", arXiv:2412.04332) and their budgets.
 *
 * Experiment 1 compares continuing each size text-only vs mixed with the SAME number of text tokens:
 * a mixed arm sees text in only a share of each batch, so it runs more steps. Every batch holds exactly
 * batchCounts(ratios, batchSize)[text] text rows of seqLen tokens (data/mixture.ts guarantees the
 * counts), so an arm's text tokens are steps · textRows · seqLen. `planArms` picks, for a requested text
 * budget, the smallest common budget ≥ it that every text-bearing arm reaches exactly in whole steps
 * (a multiple of each arm's text tokens per step), and gives each arm its steps. An arm with `steps`
 * fixed (a compute-matched control) keeps them and its text tokens follow.
 */
import { SizePresetName, SIZE_PRESETS } from '../../model/config';
import { batchCounts } from '../../data/mixture';
import { LiquidTask, LIQUID_TASKS } from '../../data/liquid-pools';

export type LiquidRatios = Record<LiquidTask, number>;

/** What a caller describes: the arm's name, size, mixture, and optionally fixed steps. */
export interface LiquidArmSpec {
  name: string;
  size: SizePresetName;
  ratios: Partial<LiquidRatios>;
  /** Fixed steps (a compute-matched control); absent: steps follow from the common text budget. */
  steps?: number;
}

/** A planned arm. */
export interface LiquidArm {
  name: string;
  size: SizePresetName;
  ratios: LiquidRatios;
  steps: number;
  batchSize: number;
  seqLen: number;
  /** Rows of each pool in every batch. */
  rowsPerBatch: LiquidRatios;
  /** Text (Brown) tokens the arm trains on: steps · rowsPerBatch.text · seqLen. */
  textTokens: number;
  /** All tokens the arm processes: steps · batchSize · seqLen. */
  totalTokens: number;
}

export interface ArmBudgetOptions {
  /** Text tokens every text-matched arm must see (rounded up to the common budget; see the file comment). */
  textTokens: number;
  batchSize: number;
  /** Tokens per training row (rows are packed or padded to it). */
  seqLen: number;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
const lcm = (a: number, b: number): number => (a / gcd(a, b)) * b;

function fullRatios(spec: LiquidArmSpec): LiquidRatios {
  for (const k of Object.keys(spec.ratios)) {
    if (!(LIQUID_TASKS as readonly string[]).includes(k)) throw new Error(`arm '${spec.name}': unknown pool '${k}' in ratios; expected ${LIQUID_TASKS.join(', ')}`);
  }
  const r = Object.fromEntries(LIQUID_TASKS.map((t) => [t, spec.ratios[t] ?? 0])) as LiquidRatios;
  for (const t of LIQUID_TASKS) {
    if (!Number.isFinite(r[t]) || r[t] < 0) throw new Error(`arm '${spec.name}': ratio of '${t}' must be a finite number ≥ 0, got ${r[t]}`);
  }
  return r;
}

/** Plans every arm so the text-matched ones see exactly the same number of text tokens. */
export function planArms(specs: readonly LiquidArmSpec[], o: ArmBudgetOptions): LiquidArm[] {
  for (const f of ['textTokens', 'batchSize', 'seqLen'] as const) {
    if (!Number.isInteger(o[f]) || o[f] < 1) throw new Error(`planArms: ${f} must be a positive integer, got ${o[f]}`);
  }
  if (specs.length === 0) throw new Error('planArms: no arms');
  const names = new Set<string>();
  const rows = specs.map((spec) => {
    if (names.has(spec.name)) throw new Error(`planArms: two arms are named '${spec.name}'`);
    names.add(spec.name);
    if (!SIZE_PRESETS.includes(spec.size)) throw new Error(`arm '${spec.name}': size must be one of ${SIZE_PRESETS.join(', ')}, got '${spec.size}'`);
    if (spec.steps !== undefined && (!Number.isInteger(spec.steps) || spec.steps < 1)) throw new Error(`arm '${spec.name}': steps must be a positive integer, got ${spec.steps}`);
    const ratios = fullRatios(spec);
    const counts = batchCounts(LIQUID_TASKS.map((t) => ratios[t]), o.batchSize);
    const perBatch = Object.fromEntries(LIQUID_TASKS.map((t, i) => [t, counts[i]])) as LiquidRatios;
    if (spec.steps === undefined && perBatch.text === 0) throw new Error(`arm '${spec.name}' has no text rows, so no number of steps matches a text budget; give it steps`);
    return { spec, ratios, perBatch };
  });
  // The common budget: a multiple of every matched arm's text tokens per step, at least the request.
  let unit = 1;
  for (const r of rows) if (r.spec.steps === undefined) unit = lcm(unit, r.perBatch.text * o.seqLen);
  const budget = Math.ceil(o.textTokens / unit) * unit;
  return rows.map(({ spec, ratios, perBatch }) => {
    const steps = spec.steps ?? budget / (perBatch.text * o.seqLen);
    return {
      name: spec.name,
      size: spec.size,
      ratios,
      steps,
      batchSize: o.batchSize,
      seqLen: o.seqLen,
      rowsPerBatch: perBatch,
      textTokens: steps * perBatch.text * o.seqLen,
      totalTokens: steps * o.batchSize * o.seqLen,
    };
  });
}

/**
 * Experiment 1's arms: per size, text-only and mixed 1:1:1 (text : t2i : visual understanding). The
 * understanding third is `understanding` split by its ratios (default all image → caption; the plan
 * splits it between captions and questions, plan.ts UNDERSTANDING).
 */
export function languageCostArms(sizes: readonly SizePresetName[] = SIZE_PRESETS, understanding: Partial<Pick<LiquidRatios, 'i2t' | 'i2a'>> = { i2t: 1 }): LiquidArmSpec[] {
  const und = understandingShare(understanding, 1);
  return sizes.flatMap((size) => [
    { name: `${size}-text`, size, ratios: { text: 1 } },
    { name: `${size}-mixed`, size, ratios: { text: 1, t2i: 1, ...und } },
  ]);
}

/** The understanding pools' ratios scaled to sum to `total` (Liquid's "Visual Und." share of a mixture). */
export function understandingShare(understanding: Partial<Pick<LiquidRatios, 'i2t' | 'i2a'>>, total: number): Partial<LiquidRatios> {
  for (const k of Object.keys(understanding)) {
    if (k !== 'i2t' && k !== 'i2a') throw new Error(`understanding: unknown pool '${k}'; expected i2t, i2a`);
  }
  const t = understanding.i2t ?? 0;
  const a = understanding.i2a ?? 0;
  if (!(Number.isFinite(t) && Number.isFinite(a) && t >= 0 && a >= 0 && t + a > 0)) throw new Error(`understanding: ratios must be finite, ≥ 0 and not all 0, got i2t ${t}, i2a ${a}`);
  const out: Partial<LiquidRatios> = {};
  if (t > 0) out.i2t = (total * t) / (t + a);
  if (a > 0) out.i2a = (total * a) / (t + a);
  return out;
}
