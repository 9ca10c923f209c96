/**
 * Notebook 01's results JSON (`notebooks/results/01-redundancy-aware-moe-plora.json`): its shape, the
 * builder the notebook calls with what it measured, and the check the tests run on the committed file.
 * The builder's output is the file: it rounds, derives the Table 1 deltas and the verdicts, and checks
 * itself against the same shape before it returns.
 */
import type { BudgetTable } from '../../analysis/budget';
import type { CoActivation } from '../../analysis/co-activation';
import type { RoutingByModality } from '../../analysis/routing-by-modality';
import { relativeChange, TEXT_TASKS, TextSuiteResult } from '../../analysis/text-suite';
import type { LoRAKind } from '../../adapters';
import { arr, bool, checkShape, Infer, int, keyed, num, obj, oneOf, str, tuple } from '../shape';
import { ShapeError } from '../shape';
import { verdicts } from './claims';
import type { Verdict } from './claims';
import { CLIP_T, clipTDifferences, clipTSummary, NOTEBOOK, RESULTS_FILE } from './clip-t';
import type { ClipTScores } from './clip-t';
import { earlyProbes, RunMetrics } from './run-metrics';
import { SEEDS, seedsEntry, seedVerdicts } from './seeds';
import type { Sweep } from './sweep';
import { VERDICT } from '../verdict';

const SUITE = obj({ perplexity: num, scores: keyed(TEXT_TASKS, num), average: num, passages: int });

export { NOTEBOOK, RESULTS_FILE, INIT_ABLATION_FILE, clipTDifferences, clipTSummary } from './clip-t';
export type { ClipTScores } from './clip-t';

export const RESULTS = obj({
  notebook: oneOf(NOTEBOOK),
  /** Quick mode (SWITCHBOARD_QUICK=1): small samples; full mode: every held-out item. */
  quick: bool,
  /** Whether the models were retrained first (SWITCHBOARD_S1_RETRAIN=1) rather than the shipped ones. */
  retrained: bool,
  /** When it ran; not a result (a re-run that measures the same numbers leaves the file alone). */
  date: str,
  models: obj({ base: str, lora: str, plora: str }),
  /** Table 2 analogue. */
  budget: obj({ baseParams: int, adapterParams: int, vocabParams: int, newModalityShare: num }),
  /** Held-out low-res image-code NLL [step, nats per code] during the first low-res steps, by row init. */
  init: obj({ gw: arr(tuple(int, num), { min: 1 }), mean: arr(tuple(int, num), { min: 1 }) }),
  /** Table 1 analogue. */
  textSuite: keyed(['base', 'lora', 'plora'] as const, SUITE),
  /** Change of the task average vs the base, percentage points. */
  textAverageDelta: keyed(['lora', 'plora'] as const, num),
  textPerplexityChangePercent: keyed(['lora', 'plora'] as const, num),
  /** Text perplexity of each variant with its adapter on and off. */
  adapterToggle: arr(obj({ variant: oneOf('lora', 'plora'), 'adapter on': num, 'adapter off': num }), { length: 2 }),
  /** Fig. 3: strongest-partner co-activation per layer; the all-pairs mean (the same for any router). */
  eca: obj({ before: arr(num), lora: arr(num), plora: arr(num), allPairsMean: arr(num) }),
  /** Fig. 4: routing exclusivity (JSD text vs image, bits) per layer. */
  exclusivity: keyed(['before', 'lora', 'plora'] as const, arr(num)),
  /** Fig. 4: the PLoRA model's share of each modality's top-k picks per expert at the layers shown. */
  routing: arr(obj({ layer: int, exclusivity: num, tokens: obj({ text: int, image: int }), text: arr(num), image: arr(num) }), { min: 1 }),
  /** CLIP-T of drawn (and real) images with their own and with shuffled captions. */
  clipT: obj({ plora: CLIP_T, lora: CLIP_T, real: CLIP_T }),
  liveDecode: obj({ tokens: int, stopReason: str, imageCodes: int }),
  /** Issue #18: the seeds and mechanism arms (from the sweep file, `npm run plora:sweep`), summarised. */
  seeds: SEEDS,
  /** The paper's claims judged on the seed means (seeds.ts); `verdictsSeed0` on the single runs above. */
  verdicts: arr(VERDICT),
  verdictsSeed0: arr(VERDICT),
});

export type Results = Infer<typeof RESULTS>;

/** Checks parsed results (e.g. the committed file): the shape, and per-layer arrays of one length. */
export function checkResults(json: unknown, what = RESULTS_FILE): Results {
  const r = checkShape(RESULTS, json, what);
  const L = r.eca.before.length;
  const perLayer: [string, unknown[]][] = [
    ...(['before', 'lora', 'plora', 'allPairsMean'] as const).map((k): [string, unknown[]] => [`eca.${k}`, r.eca[k]]),
    ...(['before', 'lora', 'plora'] as const).map((k): [string, unknown[]] => [`exclusivity.${k}`, r.exclusivity[k]]),
  ];
  for (const [name, xs] of perLayer) {
    if (xs.length !== L) throw new ShapeError(`${what}: ${name} has ${xs.length} layers, eca.before ${L}`);
  }
  for (const [i, g] of r.routing.entries()) {
    if (g.layer >= L) throw new ShapeError(`${what}: routing[${i}].layer is ${g.layer}, but there are ${L} layers`);
    if (g.text.length !== g.image.length) throw new ShapeError(`${what}: routing[${i}] has ${g.text.length} text and ${g.image.length} image experts`);
  }
  return r;
}

/** What notebook 01 measures, as the analyses return it. */
export interface Measurements {
  quick: boolean;
  retrained: boolean;
  models: { base: string; lora: string; plora: string };
  budget: BudgetTable;
  /** The GW-initialised PLoRA run and the mean-initialised ablation (their low-res probes). */
  runs: { gw: RunMetrics; mean: RunMetrics };
  suites: Record<'base' | 'lora' | 'plora', TextSuiteResult>;
  adapterToggle: { variant: LoRAKind; on: number; off: number }[];
  coActivation: Record<'before' | 'lora' | 'plora', CoActivation[]>;
  exclusivity: Record<'before' | 'lora' | 'plora', number[]>;
  routing: RoutingByModality[];
  clipT: Record<'plora' | 'lora' | 'real', ClipTScores>;
  /** The live caption → image decode: tokens, why it stopped (null: it did not finish), image codes drawn. */
  liveDecode: { tokens: number; stopReason: string | null; imageCodes: number };
  /** The seeds and mechanism arms (the sweep file, checked: `sb.plora.checkSweep`). */
  sweep: Sweep;
  /** Defaults to now. */
  date?: Date;
}

/** Fig. 3's numbers: strongest-partner co-activation per layer of each model, and the all-pairs mean. */
export function ecaOf(coActivation: Record<'before' | 'lora' | 'plora', CoActivation[]>): Results['eca'] {
  const top = (k: 'before' | 'lora' | 'plora') => coActivation[k].map((c) => c.topPartnerAverage);
  return { before: top('before'), lora: top('lora'), plora: top('plora'), allPairsMean: coActivation.plora.map((c) => c.average) };
}

/** Fig. 4's numbers at one layer: the two distributions over experts, token counts and JSD. */
export function routingOf(r: RoutingByModality): Results['routing'][number] {
  return { layer: r.layer, exclusivity: r.exclusivity, tokens: { text: r.tokens.text, image: r.tokens.image }, text: r.distributions.text, image: r.distributions.image };
}

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

const verdictEntry = (v: Verdict): Results['verdicts'][number] => ({ claim: v.claim, paper: v.paper, ours: v.ours, criterion: v.criterion, reproduces: v.reproduces });

/** The results JSON of notebook 01 from its measurements (rounded: 3 decimals, NLLs and perplexities 4). */
export function results(m: Measurements): Results {
  const { suites } = m;
  const changes = { lora: relativeChange(suites.base, suites.lora), plora: relativeChange(suites.base, suites.plora) };
  const eca = ecaOf(m.coActivation);
  const clipTDiffs = clipTDifferences(m.clipT.plora);
  const judged = verdicts({
    textAverageDelta: { lora: changes.lora.average.delta, plora: changes.plora.average.delta },
    textPerplexity: { base: suites.base.perplexity.perplexity, lora: suites.lora.perplexity.perplexity, plora: suites.plora.perplexity.perplexity },
    ecaBefore: eca.before,
    ecaAfter: eca.plora,
    exclusivity: m.exclusivity.plora,
    clipTDiffs,
    clipTDiffsLoRA: clipTDifferences(m.clipT.lora),
  });
  const suite = (r: TextSuiteResult) => ({
    perplexity: round(r.perplexity.perplexity),
    scores: { lastWord: round(r.scores.lastWord), shuffled: round(r.scores.shuffled), continuation: round(r.scores.continuation) },
    average: round(r.average),
    passages: r.passages,
  });
  const probes = (r: RunMetrics) => earlyProbes(r).map(([step, nll]): [number, number] => [step, round(nll, 4)]);
  const built: Results = {
    notebook: NOTEBOOK,
    quick: m.quick,
    retrained: m.retrained,
    date: (m.date ?? new Date()).toISOString(),
    models: m.models,
    budget: { baseParams: m.budget.baseParams, adapterParams: m.budget.adapterParams, vocabParams: m.budget.vocabParams, newModalityShare: round(m.budget.newModalityShare) },
    init: { gw: probes(m.runs.gw), mean: probes(m.runs.mean) },
    textSuite: { base: suite(suites.base), lora: suite(suites.lora), plora: suite(suites.plora) },
    textAverageDelta: { lora: round(changes.lora.average.delta), plora: round(changes.plora.average.delta) },
    textPerplexityChangePercent: { lora: round(changes.lora.perplexity?.relative ?? NaN), plora: round(changes.plora.perplexity?.relative ?? NaN) },
    adapterToggle: m.adapterToggle.map((t) => ({ variant: t.variant, 'adapter on': round(t.on, 4), 'adapter off': round(t.off, 4) })),
    eca: { before: eca.before.map((x) => round(x)), lora: eca.lora.map((x) => round(x)), plora: eca.plora.map((x) => round(x)), allPairsMean: eca.allPairsMean.map((x) => round(x)) },
    exclusivity: { before: m.exclusivity.before.map((x) => round(x)), lora: m.exclusivity.lora.map((x) => round(x)), plora: m.exclusivity.plora.map((x) => round(x)) },
    routing: m.routing.map(routingOf).map((r) => ({ ...r, exclusivity: round(r.exclusivity), text: r.text.map((x) => round(x, 4)), image: r.image.map((x) => round(x, 4)) })),
    clipT: { plora: clipTSummary(m.clipT.plora), lora: clipTSummary(m.clipT.lora), real: clipTSummary(m.clipT.real) },
    liveDecode: { tokens: m.liveDecode.tokens, stopReason: m.liveDecode.stopReason ?? 'unfinished', imageCodes: m.liveDecode.imageCodes },
    seeds: seedsEntry(m.sweep),
    verdicts: seedVerdicts(m.sweep).map(verdictEntry),
    verdictsSeed0: judged.map(verdictEntry),
  };
  // What is written must read back: NaN (an undefined measurement) fails here, naming the field.
  return checkResults(JSON.parse(JSON.stringify(built)), 'plora.results');
}
