/**
 * The seeds and mechanism arms of notebook 01 (issue #18): which fine-tunes the sweep holds, where each
 * one's checkpoint lives, how one is evaluated (the same text suite, co-activation, exclusivity, caption
 * probe and CLIP-T as the notebook's single runs), and the shape of the sweep file
 * `notebooks/results/01-redundancy-aware-moe-plora.sweep.json` that `scripts/plora-sweep.js` writes and
 * the notebook reads. What the numbers say (means over seeds, the arms' findings) is in seeds.ts.
 */
import * as path from 'node:path';
import type { Session } from '../../session';
import type { VQVAE } from '../../image';
import type { ClipModel } from '../../eval';
import { coActivationByLayer } from '../../analysis/co-activation';
import { exclusivityByDepth } from '../../analysis/routing-by-modality';
import { relativeChange, textSuite, TEXT_TASKS, TextSuiteResult } from '../../analysis/text-suite';
import { captionFollowing } from '../../recipes/mm-moe-small';
import type { LoRAKind } from '../../adapters';
import { arr, checkShape, Infer, int, keyed, num, obj, oneOf, str, tuple } from '../shape';
import { ARM_NAMES, Arm } from './arms';
import { traces, HeldOut } from './analyses';
import { NOTEBOOK, INIT_ABLATION_FILE, CLIP_T, clipTSummary } from './clip-t';
import { RunMetrics } from './run-metrics';

/** The sweep file's name, in notebooks/results/ beside the results JSON. */
export const SWEEP_FILE = `${NOTEBOOK}.sweep.json`;
/** Seeds of the verdict-bearing runs (issue #18: 3 each, a run being ≤ 20 min). */
export const SWEEP_SEEDS = [0, 1, 2] as const;

export interface SweepRun {
  variant: LoRAKind;
  arm: Arm;
  seed: number;
}

/** The fine-tunes of the sweep: both variants at every seed (the paper's arm), and PLoRA's mechanism arms at seed 0. */
export function sweepRuns(): SweepRun[] {
  const out: SweepRun[] = [];
  for (const variant of ['plora', 'lora'] as const) for (const seed of SWEEP_SEEDS) out.push({ variant, arm: 'paper', seed });
  for (const arm of ARM_NAMES) if (arm !== 'paper') out.push({ variant: 'plora', arm, seed: 0 });
  return out;
}

/** `s1-plora`, `s1-plora-frozen-seed0`, …: the recipe's tag (cli/train.ts names run and output directories by it). */
export function runName(r: SweepRun): string {
  return r.arm === 'paper' && r.seed === 0 ? `s1-${r.variant}` : `s1-${r.variant}-${r.arm}-seed${r.seed}`;
}

/** Where `switchboard train s1-<variant> --arm A --seed K` writes the run: the shipped checkpoint for (paper, 0), else .cache/s1/. */
export function runDir(root: string, r: SweepRun): string {
  const name = runName(r);
  return r.arm === 'paper' && r.seed === 0 ? path.join(root, 'data', 'checkpoints', name) : path.join(root, '.cache', 's1', name);
}

/** Where the mean-init ablation of a seed keeps its metrics: the committed file for seed 0, else .cache/s1/. */
export function initAblationFile(root: string, seed: number): string {
  return seed === 0 ? path.join(root, 'notebooks', 'results', INIT_ABLATION_FILE) : path.join(root, '.cache', 's1', `s1-init-ablation-seed${seed}`, 'metrics.json');
}

/** How much held-out material each run is evaluated on (the notebook's full-mode numbers). */
export const PROTOCOL = obj({ passages: int, perplexityTokens: int, traceCaptions: int, tracePassages: int, captions: int, cfgScale: num });
export type Protocol = Infer<typeof PROTOCOL>;

/** A text suite's numbers (perplexity, task accuracies in percent, their average). */
export const SUITE = obj({ perplexity: num, scores: keyed(TEXT_TASKS, num), average: num, passages: int });
/** Co-activation and exclusivity per layer of the model training starts from. */
export const BEFORE = obj({ eca: arr(num), exclusivity: arr(num) });

/** One fine-tune, evaluated. */
export const RUN_EVAL = obj({
  name: str,
  variant: oneOf('lora', 'plora'),
  arm: oneOf(...ARM_NAMES),
  seed: int,
  train_wall_time_s: num,
  suite: SUITE,
  /** Change of the task average vs the base, percentage points; perplexity change, percent. */
  averageDelta: num,
  perplexityChangePercent: num,
  /**
   * The suite's perplexity renormalised over the base's (text) vocabulary: what is left of the rise once
   * the probability given to the new ids (image codes, <boi>, …) is taken out. Added after the first arms
   * were measured (a diagnostic, not a criterion).
   */
  textVocabPerplexity: num,
  /** Strongest-partner co-activation and exclusivity (JSD text vs image, bits), per layer. */
  eca: arr(num),
  exclusivity: arr(num),
  /** The recipe's last high-res caption probe: held-out image-code NLL after the own / a shuffled caption (nats per code). */
  probe: obj({ own: num, shuffled: num, gap: num, ownBetterFraction: num }),
  clipT: CLIP_T,
  /** Per held-out caption, CLIP-T own − shuffled (pairs the runs caption by caption). */
  clipTDiffs: arr(num),
});
export type RunEval = Infer<typeof RUN_EVAL>;

export const SWEEP = obj({
  notebook: oneOf(NOTEBOOK),
  date: str,
  protocol: PROTOCOL,
  base: SUITE,
  /** The model training starts from (base + GW rows at seed 0, adapters zero). */
  before: BEFORE,
  runs: arr(RUN_EVAL, { min: 1 }),
  /** Held-out low-res image-code NLL [step, nats per code] by row init, per seed (GW: the PLoRA run of that seed). */
  init: arr(obj({ seed: int, gw: arr(tuple(int, num), { min: 1 }), mean: arr(tuple(int, num), { min: 1 }) })),
});
export type Sweep = Infer<typeof SWEEP>;

/** Checks a parsed sweep file: the shape, per-layer arrays of one length, one entry per (variant, arm, seed). */
export function checkSweep(json: unknown, what = SWEEP_FILE): Sweep {
  const s = checkShape(SWEEP, json, what);
  const L = s.before.eca.length;
  const seen = new Set<string>();
  for (const r of s.runs) {
    for (const [k, xs] of [['eca', r.eca], ['exclusivity', r.exclusivity]] as const) {
      if (xs.length !== L) throw new Error(`${what}: ${r.name}.${k} has ${xs.length} layers, before.eca ${L}`);
    }
    if (r.clipTDiffs.length !== r.clipT.captions) throw new Error(`${what}: ${r.name} has ${r.clipTDiffs.length} CLIP-T differences for ${r.clipT.captions} captions`);
    if (seen.has(r.name)) throw new Error(`${what}: run ${r.name} appears twice`);
    seen.add(r.name);
  }
  return s;
}

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

/** The suite entry of the sweep (and of the results JSON), rounded. */
export function suiteEntry(r: TextSuiteResult): Sweep['base'] {
  return {
    perplexity: round(r.perplexity.perplexity, 4),
    scores: { lastWord: round(r.scores.lastWord), shuffled: round(r.scores.shuffled), continuation: round(r.scores.continuation) },
    average: round(r.average),
    passages: r.passages,
  };
}

/** The held-out material of one sweep evaluation, shared by every run. */
export interface SweepMaterial {
  held: HeldOut;
  /** The held-out scene captions drawn for CLIP-T (mm-moe-small's evaluation set). */
  captions: string[];
  /** The base model's suite (the sweep's `base` entry): Δ average and the perplexity change are against it. */
  base: Sweep['base'];
  vq: VQVAE;
  clip: ClipModel;
  protocol: Protocol;
}

export interface EvaluateOptions {
  /** (what is being done, done, total) as the work goes. */
  onProgress?: (what: string, done: number, total: number) => void;
}

/**
 * Evaluates one fine-tune (its session with the adapter enabled) as the notebook evaluates the shipped
 * ones: text suite and perplexity on the held-out Brown passages, routing traces for co-activation and
 * exclusivity, CLIP-T own vs shuffled on the held-out captions (caption i drawn with seed i), and the
 * caption probe its recipe measured last.
 */
export async function evaluateRun(s: Session, r: SweepRun, metrics: RunMetrics, m: SweepMaterial, o: EvaluateOptions = {}): Promise<RunEval> {
  const name = runName(r);
  const p = m.protocol;
  const textVocabulary = metrics.vocabulary.before;
  const suite = textSuite(s, m.held.passages, { seed: 0, perplexity: { maxTokens: p.perplexityTokens, textVocabulary }, onProgress: (d, t) => o.onProgress?.(`${name}: text suite`, d, t) });
  const routed = traces(s, { t2i: m.held.t2i, passages: m.held.passages.slice(0, p.tracePassages) }, { onProgress: (d, t) => o.onProgress?.(`${name}: routing traces`, d, t) });
  const eca = coActivationByLayer(routed).map((c) => round(c.topPartnerAverage));
  const exclusivity = exclusivityByDepth(routed).map((x) => round(x));
  const drawn = await captionFollowing(s, m.vq, m.clip, m.captions, { cfgScale: p.cfgScale, firstSeed: 0, onImage: (i) => o.onProgress?.(`${name}: images`, i, m.captions.length) });
  const scores = { own: drawn.own.scores, shuffled: drawn.shuffled.scores };
  const change = relativeChange(m.base.scores, suite.scores);
  const probes = metrics.stages.highres?.probes ?? [];
  const last = probes.at(-1);
  if (!last) throw new Error(`plora.evaluateRun: ${name}'s metrics have no high-res probe (a low-res-only run?)`);
  return {
    name,
    variant: r.variant,
    arm: r.arm,
    seed: r.seed,
    train_wall_time_s: round(metrics.recipe_wall_time_s, 1),
    suite: suiteEntry(suite),
    averageDelta: round(change.average.delta),
    perplexityChangePercent: round((100 * (suite.perplexity.perplexity - m.base.perplexity)) / m.base.perplexity),
    textVocabPerplexity: round(suite.perplexity.textOnly?.perplexity ?? NaN, 4),
    eca,
    exclusivity,
    probe: { own: round(last.own, 4), shuffled: round(last.shuffled, 4), gap: round(last.gap, 4), ownBetterFraction: round(last.ownBetterFraction) },
    clipT: clipTSummary(scores),
    clipTDiffs: Array.from(scores.own, (x, i) => round(x - scores.shuffled[i], 4)),
  };
}

