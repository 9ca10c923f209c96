/**
 * What the sweep of issue #18 says (sweep.ts holds the runs): the paper's claims re-judged on means over
 * seeds with their standard errors, the initialisation ablation over seeds, and the mechanism arms'
 * findings — which trainable part carries the text damage, and whether text replay prevents it. Every
 * criterion here was written down before the sweep's numbers were measured.
 */
import { pairedDifference } from '../../util/stats';
import { verdicts, Verdict } from './claims';
import { PROTOCOL } from './sweep';
import type { RunEval, Sweep } from './sweep';
import { ARM_NAMES } from './arms';
import type { Arm } from './arms';
import { CLIP_T } from './clip-t';
import { arr, bool, Infer, int, keyed, num, obj, oneOf, str } from '../shape';
import type { LoRAKind } from '../../adapters';

/** Mean and standard error (n − 1 in the variance; 0 for one value) of a list of numbers. */
export interface MeanSe {
  mean: number;
  se: number;
  n: number;
}

export function meanSe(xs: readonly number[]): MeanSe {
  if (xs.length === 0) throw new Error('plora.meanSe: no values');
  if (xs.length === 1) return { mean: xs[0], se: 0, n: 1 };
  const { mean, standardError } = pairedDifference(xs);
  return { mean, se: standardError, n: xs.length };
}

const f1 = (x: number) => x.toFixed(1);
const f3 = (x: number) => x.toFixed(3);
const pm = (m: MeanSe, f = f3) => `${f(m.mean)} ± ${f(m.se)}`;
const signed = (x: number, f = f3) => `${x >= 0 ? '+' : ''}${f(x)}`;

/** The runs of one variant and arm, by seed (ascending). */
export function runsOf(s: Sweep, variant: LoRAKind, arm: Arm): RunEval[] {
  return s.runs.filter((r) => r.variant === variant && r.arm === arm).sort((a, b) => a.seed - b.seed);
}

/** Per-layer means over runs. */
function layerMeans(rows: number[][]): number[] {
  return rows[0].map((_, l) => rows.reduce((a, r) => a + r[l], 0) / rows.length);
}

/** Per held-out caption, the mean over runs of CLIP-T own − shuffled (the runs draw the same captions). */
export function pooledClipTDiffs(runs: readonly RunEval[]): number[] {
  if (runs.length === 0) throw new Error('plora.pooledClipTDiffs: no runs');
  const n = runs[0].clipTDiffs.length;
  for (const r of runs) if (r.clipTDiffs.length !== n) throw new Error(`plora.pooledClipTDiffs: ${r.name} has ${r.clipTDiffs.length} captions, ${runs[0].name} ${n}`);
  return Array.from({ length: n }, (_, i) => runs.reduce((a, r) => a + r.clipTDiffs[i], 0) / runs.length);
}

/** One variant's paper-arm runs summarised over seeds. */
export interface SeedSummary {
  variant: LoRAKind;
  seeds: number[];
  perplexity: MeanSe;
  /** The perplexity renormalised over the text vocabulary (sweep.ts, textVocabPerplexity). */
  textVocabPerplexity: MeanSe;
  perplexityChangePercent: MeanSe;
  averageDelta: MeanSe;
  /** Mean over layers of the strongest-partner co-activation. */
  eca: MeanSe;
  imageNll: MeanSe;
  /** Per-seed CLIP-T own − shuffled (each the mean over captions). */
  clipT: MeanSe;
}

export function seedSummary(s: Sweep, variant: LoRAKind): SeedSummary {
  const runs = runsOf(s, variant, 'paper');
  if (runs.length === 0) throw new Error(`plora.seedSummary: the sweep has no ${variant} runs of the paper's arm`);
  const of = (f: (r: RunEval) => number) => meanSe(runs.map(f));
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    variant,
    seeds: runs.map((r) => r.seed),
    perplexity: of((r) => r.suite.perplexity),
    textVocabPerplexity: of((r) => r.textVocabPerplexity),
    perplexityChangePercent: of((r) => r.perplexityChangePercent),
    averageDelta: of((r) => r.averageDelta),
    eca: of((r) => avg(r.eca)),
    imageNll: of((r) => r.probe.own),
    clipT: of((r) => r.clipT.difference),
  };
}

/**
 * The paper's claims (claims.ts, same criteria) judged on the seed means: text numbers averaged over
 * seeds, co-activation and exclusivity averaged per layer over seeds, CLIP-T differences averaged per
 * caption over seeds (then paired over captions). Each verdict's `ours` adds the spread over seeds.
 */
export function seedVerdicts(s: Sweep): Verdict[] {
  const plora = runsOf(s, 'plora', 'paper');
  const lora = runsOf(s, 'lora', 'paper');
  if (plora.length === 0 || lora.length === 0) throw new Error('plora.seedVerdicts: the sweep needs paper-arm runs of both variants');
  const sp = seedSummary(s, 'plora');
  const sl = seedSummary(s, 'lora');
  const judged = verdicts({
    textAverageDelta: { lora: sl.averageDelta.mean, plora: sp.averageDelta.mean },
    textPerplexity: { base: s.base.perplexity, lora: sl.perplexity.mean, plora: sp.perplexity.mean },
    ecaBefore: s.before.eca,
    ecaAfter: layerMeans(plora.map((r) => r.eca)),
    exclusivity: layerMeans(plora.map((r) => r.exclusivity)),
    clipTDiffs: pooledClipTDiffs(plora),
    clipTDiffsLoRA: pooledClipTDiffs(lora),
  });
  const spread: Record<string, string> = {
    'PLoRA preserves text performance': `Δ average ${pm(sp.averageDelta, (x) => x.toFixed(2))} pp, perplexity change ${pm(sp.perplexityChangePercent, f1)} %`,
    'plain LoRA degrades text performance more than PLoRA': `Δ average LoRA ${pm(sl.averageDelta, (x) => x.toFixed(2))} vs PLoRA ${pm(sp.averageDelta, (x) => x.toFixed(2))} pp`,
    'expert co-activation falls after multimodal training': `layer-mean co-activation after ${pm(sp.eca)}`,
    'PLoRA images follow their captions': `per-seed CLIP-T difference PLoRA ${pm(sp.clipT)}, LoRA ${pm(sl.clipT)}`,
  };
  return judged.map((v) => ({ ...v, ours: `${v.ours} — mean of seeds ${sp.seeds.join(', ')}${spread[v.claim] ? `; over seeds (mean ± s.e.): ${spread[v.claim]}` : ''}` }));
}

/** A question of issue #18 about the mechanism, answered by a criterion fixed in code before the runs. */
export interface Finding {
  question: string;
  answer: string;
  criterion: string;
  /** Whether the criterion holds (the answer says in words what that means). */
  holds: boolean;
}

/** Perplexity rise over the base (percent) within which text "survives bit-for-bit-close". */
export const CLOSE_TO_BASE_PERCENT = 1;
/** The paper's own bar for "preserves text" (claims.ts): perplexity within +5 % of the base. */
export const PRESERVED_PERCENT = 5;
/** Share of the paper arm's perplexity rise at or above which an arm "carries" the damage. */
export const CARRIES_SHARE = 0.5;

/** Held-out low-res image NLL over probes in (0, 100] steps: mean init minus GW, per seed. */
export function initGaps(s: Sweep): { seed: number; gap: number }[] {
  return s.init.map((x) => {
    const at = new Map(x.gw);
    const both = x.mean.filter(([step]) => step > 0 && step <= 100 && at.has(step));
    if (both.length === 0) throw new Error(`plora.initGaps: seed ${x.seed} has no common probe step in (0, 100]`);
    return { seed: x.seed, gap: both.reduce((a, [step, nll]) => a + nll - (at.get(step) as number), 0) / both.length };
  });
}

/** The mechanism arms against the paper's arm (PLoRA; its seed mean and spread are the yardstick), and the init ablation over seeds. */
export function mechanismFindings(s: Sweep): Finding[] {
  const paper = seedSummary(s, 'plora');
  const base = s.base.perplexity;
  const arm = (a: Arm): RunEval => {
    const r = runsOf(s, 'plora', a)[0];
    if (!r) throw new Error(`plora.mechanismFindings: the sweep has no PLoRA run of the '${a}' arm`);
    return r;
  };
  const rise = (r: RunEval) => r.suite.perplexity - base;
  const paperRise = paper.perplexity.mean - base;
  const share = (r: RunEval) => rise(r) / paperRise;
  const images = (r: RunEval) =>
    `image NLL ${f3(r.probe.own)} vs the paper arm's ${pm(paper.imageNll)} nats/code; CLIP-T own − shuffled ${signed(r.clipT.difference)} ± ${f3(r.clipT.standardError)} vs ${pm(paper.clipT)}`;
  const frozen = arm('frozen');
  const routers = arm('routers');
  const experts = arm('experts');
  const replay = arm('replay');
  const carriers = [routers, experts].filter((r) => share(r) >= CARRIES_SHARE).map((r) => r.arm);
  const out: Finding[] = [
    {
      question: 'Routers and experts frozen: does text survive, and what does it cost the images?',
      answer: `perplexity ${f1(base)} → ${f1(frozen.suite.perplexity)} (${signed(frozen.perplexityChangePercent, f1)} %), Δ average ${signed(frozen.averageDelta, (x) => x.toFixed(2))} pp; ${images(frozen)}`,
      criterion: `text survives if the perplexity is within ±${CLOSE_TO_BASE_PERCENT} % of the base`,
      holds: Math.abs(frozen.perplexityChangePercent) <= CLOSE_TO_BASE_PERCENT,
    },
    {
      question: 'Routers or experts: which carries the text damage?',
      answer:
        `share of the paper arm's perplexity rise (${signed(paperRise, f1)}, seed mean): routers only ${f3(share(routers))} (${f1(routers.suite.perplexity)}), experts only ${f3(share(experts))} (${f1(experts.suite.perplexity)}); ` +
        (carriers.length === 1 ? `the ${carriers[0]} carry it` : carriers.length === 2 ? 'each alone carries most of it' : 'neither alone carries most of it (they act together)'),
      criterion: `an arm carries the damage if its perplexity rise is ≥ ${CARRIES_SHARE} of the paper arm's; the finding holds if exactly one of the two does`,
      holds: carriers.length === 1,
    },
    {
      question: 'Text replay (25 % Brown rows): does it keep the perplexity?',
      answer: `perplexity ${f1(base)} → ${f1(replay.suite.perplexity)} (${signed(replay.perplexityChangePercent, f1)} %) vs the paper arm's ${pm(paper.perplexityChangePercent, f1)} %; ${images(replay)}`,
      criterion: `kept if within +${PRESERVED_PERCENT} % of the base (the paper-claim criterion)`,
      holds: replay.perplexityChangePercent <= PRESERVED_PERCENT,
    },
  ];
  if (s.init.length > 0) {
    const gaps = initGaps(s);
    const g = meanSe(gaps.map((x) => x.gap));
    out.push({
      question: 'Does Gromov–Wasserstein initialisation lower the early image loss vs mean initialisation?',
      answer: `held-out low-res image NLL, mean init − GW, averaged over the probes in steps 1–100: ${pm(g)} nats/code over seeds ${gaps.map((x) => x.seed).join(', ')} (per seed ${gaps.map((x) => signed(x.gap)).join(', ')})`,
      criterion: 'GW is better if the seed mean of the gap is > 2 s.e. above 0 (needs ≥ 2 seeds)',
      holds: g.n >= 2 && g.mean > 2 * g.se,
    });
  }
  return out;
}

const MEAN_SE = obj({ mean: num, se: num, n: int });
const SUMMARY = obj({ seeds: arr(int), perplexity: MEAN_SE, textVocabPerplexity: MEAN_SE, perplexityChangePercent: MEAN_SE, averageDelta: MEAN_SE, eca: MEAN_SE, imageNll: MEAN_SE, clipT: MEAN_SE });

/** The results JSON's `seeds` entry: the sweep summarised (the sweep file keeps every run's numbers). */
export const SEEDS = obj({
  protocol: PROTOCOL,
  /** The paper's arm of each variant over its seeds (mean ± s.e.). */
  summary: keyed(['plora', 'lora'] as const, SUMMARY),
  /** PLoRA at seed 0, arm by arm (the paper's arm first). */
  arms: arr(obj({ arm: oneOf(...ARM_NAMES), perplexity: num, textVocabPerplexity: num, perplexityChangePercent: num, averageDelta: num, imageNll: num, clipT: CLIP_T, eca: arr(num), exclusivity: arr(num) }), { min: 1 }),
  /** The base's held-out perplexity (the sweep's). */
  basePerplexity: num,
  /** Mean init − GW held-out low-res image NLL (steps 1–100), per seed. */
  init: arr(obj({ seed: int, gap: num })),
  findings: arr(obj({ question: str, answer: str, criterion: str, holds: bool })),
});
export type SeedsEntry = Infer<typeof SEEDS>;

const r4 = (x: number) => Number(x.toFixed(4));
const ms = (m: MeanSe) => ({ mean: r4(m.mean), se: r4(m.se), n: m.n });

/** The `seeds` entry of the results JSON from a sweep (rounded). */
export function seedsEntry(s: Sweep): SeedsEntry {
  const summary = (v: LoRAKind) => {
    const x = seedSummary(s, v);
    return { seeds: x.seeds, perplexity: ms(x.perplexity), textVocabPerplexity: ms(x.textVocabPerplexity), perplexityChangePercent: ms(x.perplexityChangePercent), averageDelta: ms(x.averageDelta), eca: ms(x.eca), imageNll: ms(x.imageNll), clipT: ms(x.clipT) };
  };
  const arms = ARM_NAMES.map((a) => runsOf(s, 'plora', a).find((r) => r.seed === 0))
    .filter((r): r is RunEval => r !== undefined)
    .map((r) => ({ arm: r.arm, perplexity: r.suite.perplexity, textVocabPerplexity: r.textVocabPerplexity, perplexityChangePercent: r.perplexityChangePercent, averageDelta: r.averageDelta, imageNll: r.probe.own, clipT: r.clipT, eca: r.eca, exclusivity: r.exclusivity }));
  return {
    protocol: s.protocol,
    basePerplexity: s.base.perplexity,
    summary: { plora: summary('plora'), lora: summary('lora') },
    arms,
    init: s.init.length > 0 ? initGaps(s).map((g) => ({ seed: g.seed, gap: r4(g.gap) })) : [],
    findings: mechanismFindings(s),
  };
}

/** One arm's text damage in nats per token, split in two additive parts (see damageDecomposition). */
export interface Damage {
  arm: Arm;
  /** ln(perplexity / base perplexity): the whole rise of the text NLL. */
  total: number;
  /** ln(perplexity / perplexity over text ids): probability given to the new ids at text positions. */
  newIds: number;
  /** ln(perplexity over text ids / base perplexity): worse prediction among the text ids themselves. */
  textIds: number;
}

/**
 * Each PLoRA arm's (seed 0) rise of the held-out text NLL over the base, in nats per token, split into the
 * part the new vocabulary takes (mass on image codes, <boi>, … at text positions) and the part left among
 * text ids: total = newIds + textIds exactly (logarithms of the two perplexity ratios).
 */
export function damageDecomposition(seeds: SeedsEntry, basePerplexity: number): Damage[] {
  return seeds.arms.map((a) => ({
    arm: a.arm,
    total: Math.log(a.perplexity / basePerplexity),
    newIds: Math.log(a.perplexity / a.textVocabPerplexity),
    textIds: Math.log(a.textVocabPerplexity / basePerplexity),
  }));
}
