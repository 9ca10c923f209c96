/**
 * Notebook 05's figures, built from the results JSON's fields (so the notebook, which builds them from what it
 * just measured, and a reader of the committed file draw the same picture), and the live routing heatmap.
 * Every figure has a title and labelled axes, with units where there are. Error bars: ± 1 s.e. over held-out
 * prompts of the per-prompt seed means; paired differences ± 2 s.e. (the verdicts' threshold).
 *
 *   tokensFigure          Finding 1 (Fig. 5): identity accuracy or crop–region CLIP-I vs tokens per crop
 *   harmonisationFigure   Finding 2 (Fig. 6): share of other-source prompts harmonised, per source, per arm
 *   augmentationFigure    §7 (Fig. 12): crop CLIP-I (same-source), copy share and harmonised (other-source), ±augmentation
 *   detailFigure          identity and crop CLIP-I of chosen run sets (encoder vs caption-only, LoRA vs full)
 *   comparisonsFigure     a claim's paired differences A − B, ± 2 s.e.
 *   routingFigure         beyond the paper: the routing measures per layer (routing.ts)
 *   promptRoutingFigure   the LM's router probabilities at one layer for a prompt, each crop's codes averaged
 */
import type { Figure, PlotlyTrace } from '../../display/plotly';
import type { RoutingTrace } from '../../session';
import { pieceLabel } from '../../display/figures';
import { MARGIN, PALETTE } from '../figures';
import type { Arm } from './arms';
import { OTHER_SOURCES } from './claims';
import { TOKENS_PER_CROP } from './pooler';
import type { Measure, Results } from './results';
import type { PromptRouting } from './routing';

type Row = Results['runs'][number];
const COLORS = [...PALETTE, '#dc7ec0'];

/** Axis titles of the measures (units in brackets). */
export const MEASURE_LABELS: Record<Measure, string> = {
  identity: 'identity accuracy (share of crops)',
  cropClipI: 'crop–region CLIP-I (cosine)',
  copied: 'copy share (share of crops)',
  harmonised: 'harmonised (share of prompts)',
};
/** Short names of the measures, for titles and tables. */
export const MEASURE_NAMES: Record<Measure, string> = { identity: 'identity accuracy', cropClipI: 'crop–region CLIP-I', copied: 'copy share', harmonised: 'harmonised' };
const SHORT = MEASURE_NAMES;

/** "mumu t64", "caption-only". */
export const runLabel = (r: { arm: Arm; tokensPerCrop: number | null }) => (r.tokensPerCrop === null ? r.arm : `${r.arm} t${r.tokensPerCrop}`);
const find = (r: Pick<Results, 'runs'>, arm: Arm, t: number | null) => r.runs.find((x) => x.arm === arm && x.tokensPerCrop === t);
const bar = (x: number | null) => x ?? 0;

/** Finding 1: a same-source measure vs tokens per crop (mean ± s.e. over prompts; each seed's mean as a dot). */
export function tokensFigure(r: Pick<Results, 'runs'>, measure: 'identity' | 'cropClipI'): Figure {
  const rows = TOKENS_PER_CROP.map((t) => find(r, 'mumu', t)).filter((x): x is Row => !!x);
  if (rows.length === 0) throw new Error('mumu.tokensFigure: no mumu runs at any tokens per crop');
  const perSeed = (x: Row) => (measure === 'identity' ? x.identityPerSeed : x.cropClipIPerSeed);
  const data: PlotlyTrace[] = [
    {
      type: 'scatter', mode: 'lines+markers', name: 'mean over prompts (± s.e.)', x: rows.map((x) => x.tokensPerCrop), y: rows.map((x) => x.sameSource[measure]),
      error_y: { type: 'data', array: rows.map((x) => bar(x.sameSourceSe[measure])), visible: true }, line: { color: COLORS[0] },
    },
    {
      type: 'scatter', mode: 'markers', name: 'each seed', x: rows.flatMap((x) => perSeed(x).map(() => x.tokensPerCrop)), y: rows.flatMap((x) => perSeed(x)),
      marker: { color: '#999', size: 6, symbol: 'circle-open' },
    },
  ];
  return {
    data,
    layout: {
      title: { text: `Finding 1 (Fig. 5): ${SHORT[measure]} vs tokens per crop, held-out scenes` },
      xaxis: { title: { text: 'tokens per crop (log scale)' }, type: 'log', tickvals: [...TOKENS_PER_CROP], ticktext: TOKENS_PER_CROP.map(String) },
      yaxis: { title: { text: MEASURE_LABELS[measure] } },
      legend: { orientation: 'h', y: -0.25 },
      height: 400,
      margin: { ...MARGIN, b: 90 },
    },
  };
}

/** Grouped bars: one trace per run set, one group per category, ± s.e. */
function groupedBars(sets: Row[], categories: string[], value: (x: Row, i: number) => { mean: number | null; se: number | null }, layout: { title: string; x: string; y: string }): Figure {
  if (sets.length === 0) throw new Error(`mumu figures: no runs for "${layout.title}"`);
  return {
    data: sets.map((s, j) => ({
      type: 'bar', name: runLabel(s), x: categories, y: categories.map((_, i) => value(s, i).mean),
      error_y: { type: 'data', array: categories.map((_, i) => bar(value(s, i).se)), visible: true }, marker: { color: COLORS[j % COLORS.length] },
    })),
    layout: {
      title: { text: layout.title },
      barmode: 'group',
      xaxis: { title: { text: layout.x } },
      yaxis: { title: { text: layout.y }, rangemode: 'tozero' },
      legend: { orientation: 'h', y: -0.25 },
      height: 400,
      margin: { ...MARGIN, b: 90 },
    },
  };
}

/** Finding 2: share of other-source prompts harmonised, per crop source, for MUMU (64), caption-only and no-augment. */
export function harmonisationFigure(r: Pick<Results, 'runs'>): Figure {
  const sets = [find(r, 'mumu', 64), find(r, 'caption-only', null), find(r, 'no-augment', 64)].filter((x): x is Row => !!x?.otherSource);
  return groupedBars(sets, [...OTHER_SOURCES], (x, i) => ({ mean: x.otherSource![OTHER_SOURCES[i]].harmonised, se: x.otherSourceSe![OTHER_SOURCES[i]].harmonised }), {
    title: 'Finding 2 (Fig. 6): other-source crops harmonised into one scene (± s.e.)', x: 'where the crops come from', y: MEASURE_LABELS.harmonised,
  });
}

/** The three other-source sets together: the mean of the set means (equal sizes) and its s.e. */
function pooledOther(x: Row, m: Measure): { mean: number | null; se: number | null } {
  const ms = OTHER_SOURCES.map((k) => x.otherSource?.[k][m] ?? null);
  const ses = OTHER_SOURCES.map((k) => x.otherSourceSe?.[k][m] ?? null);
  if (ms.some((v) => v === null)) return { mean: null, se: null };
  const mean = (ms as number[]).reduce((a, b) => a + b, 0) / ms.length;
  const se = ses.some((v) => v === null) ? null : Math.sqrt((ses as number[]).reduce((a, b) => a + b * b, 0)) / ses.length;
  return { mean, se };
}

/** §7 (Fig. 12): the misleading metric and the harm, with and without crop augmentation (both at 64 tokens). */
export function augmentationFigure(r: Pick<Results, 'runs'>): Figure {
  const sets = [find(r, 'mumu', 64), find(r, 'no-augment', 64)].filter((x): x is Row => !!x);
  const cats = ['crop–region CLIP-I (same-source)', 'copy share (other-source)', 'harmonised (other-source)'];
  return groupedBars(sets, cats, (x, i) => (i === 0 ? { mean: x.sameSource.cropClipI, se: x.sameSourceSe.cropClipI } : pooledOther(x, i === 1 ? 'copied' : 'harmonised')), {
    title: '§7 (Fig. 12): crop augmentation on (mumu) and off (no-augment), ± s.e.', x: 'measure (held-out prompts)', y: 'score (CLIP-I: cosine; others: share)',
  });
}

/** Identity accuracy and crop CLIP-I (same-source) of the run sets given that are there. */
export function detailFigure(r: Pick<Results, 'runs'>, runs: ReadonlyArray<{ arm: Arm; tokensPerCrop: number | null }>, title: string): Figure {
  const sets = runs.map((x) => find(r, x.arm, x.tokensPerCrop)).filter((x): x is Row => !!x);
  return groupedBars(sets, [SHORT.identity, SHORT.cropClipI], (x, i) => {
    const m = i === 0 ? 'identity' : 'cropClipI';
    return { mean: x.sameSource[m], se: x.sameSourceSe[m] };
  }, { title, x: 'measure (held-out same-source prompts)', y: 'score (identity: share; CLIP-I: cosine)' });
}

/** A claim's paired differences A − B from the results' comparisons, ± 2 s.e. (the criterion's threshold). */
export function comparisonsFigure(r: Pick<Results, 'comparisons'>, claim: string): Figure {
  const cs = r.comparisons.filter((c) => c.claim === claim);
  if (cs.length === 0) throw new Error(`mumu.comparisonsFigure: no comparisons for '${claim}'`);
  const labels = cs.map((c) => `${c.a} − ${c.b}: ${SHORT[c.measure]} (${c.set})`);
  return {
    data: [{
      type: 'bar', orientation: 'h', name: 'A − B', y: labels, x: cs.map((c) => c.mean), error_x: { type: 'data', array: cs.map((c) => 2 * c.standardError), visible: true },
      marker: { color: cs.map((c) => (Math.abs(c.mean) > 2 * c.standardError ? COLORS[0] : '#bbb')) }, hovertemplate: '%{y}: %{x:.4f}<extra></extra>',
    }],
    layout: {
      title: { text: `${claim}: paired differences over held-out prompts (± 2 s.e.)` },
      xaxis: { title: { text: 'A − B (score units: share or CLIP-I cosine)' }, zeroline: true, zerolinecolor: '#444' },
      yaxis: { title: { text: 'comparison' }, automargin: true },
      height: 140 + 40 * cs.length,
      margin: { ...MARGIN, l: 300 },
    },
  };
}

/** Beyond the paper: the routing measures per layer: 'jsd' (crop vs text, crop vs its word) or 'kept' (the word's experts kept, named vs generic). */
export function routingFigure(routing: PromptRouting, which: 'jsd' | 'kept'): Figure {
  const x = routing.layers.map((l) => l.layer);
  const lines = which === 'jsd'
    ? [{ name: 'crop codes vs text tokens', y: routing.layers.map((l) => l.cropVsText) }, { name: 'crop codes vs the word after the crop', y: routing.layers.map((l) => l.cropVsWord) }]
    : [{ name: `named prompts (${routing.words.named} words)`, y: routing.layers.map((l) => l.wordKeptNamed) }, { name: `generic-word prompts (${routing.words.generic} words)`, y: routing.layers.map((l) => l.wordKeptGeneric) }];
  return {
    data: lines.map((l, i) => ({ type: 'scatter', mode: 'lines+markers', name: l.name, x, y: l.y, line: { color: COLORS[i] } })),
    layout: {
      title: { text: which === 'jsd' ? `Beyond the paper: where crop codes are routed, by depth (${routing.prompts} prompts)` : `Beyond the paper: does a crop change its word’s experts? (${routing.prompts} prompts)` },
      xaxis: { title: { text: 'MoE layer' }, dtick: 1 },
      yaxis: which === 'jsd' ? { title: { text: 'JSD between expert choices (bits)' }, rangemode: 'tozero' } : { title: { text: 'word’s experts kept (share)' }, range: [0, 1.05] },
      legend: { orientation: 'h', y: -0.25 },
      height: 380,
      margin: { ...MARGIN, b: 90 },
    },
  };
}

/** Router probabilities at `layer` for each word of a prompt and each crop (its codes averaged), top-k of words marked. */
export function promptRoutingFigure(trace: RoutingTrace, o: { layer: number; title?: string }): Figure {
  const { numExperts: E, topK: k } = trace;
  if (!(Number.isInteger(o.layer) && o.layer >= 0 && o.layer < trace.numLayers)) throw new Error(`mumu.promptRoutingFigure: layer ${o.layer} is outside the model's ${trace.numLayers} layers`);
  const probs = trace.layers[o.layer].probs;
  const rows: Array<{ label: string; z: number[] }> = [];
  let crop = -1;
  let acc: number[] | null = null;
  let n = 0;
  trace.ids.forEach((_, t) => {
    const m = trace.modalities[t];
    const p = Array.from(probs.subarray(t * E, (t + 1) * E));
    if (m === 'image') {
      if (acc === null) (acc = new Array<number>(E).fill(0), (n = 0), crop++);
      p.forEach((v, e) => (acc![e] += v));
      n++;
      return;
    }
    if (acc !== null) {
      rows.push({ label: `[crop ${crop + 1}: ${n} codes, mean]`, z: acc.map((v) => v / n) });
      acc = null;
    }
    if (m === 'text') rows.push({ label: pieceLabel(trace.pieces[t]), z: p });
  });
  const xs = Array.from({ length: E }, (_, e) => `E${e}`);
  return {
    data: [{ type: 'heatmap', z: rows.map((r) => r.z), x: xs, y: rows.map((r, i) => `${i + 1}. ${r.label}`), zmin: 0, colorscale: 'Viridis', colorbar: { title: { text: 'router prob' } }, hovertemplate: '%{y} %{x}: %{z:.3f}<extra></extra>' }],
    layout: {
      title: { text: o.title ?? `Routing of the prompt at layer ${o.layer} (top-${k} of ${E} experts): words and crops` },
      xaxis: { title: { text: 'expert' } },
      yaxis: { title: { text: 'prompt position (word, or a crop’s codes)' }, autorange: 'reversed', automargin: true },
      height: Math.max(320, 120 + 22 * rows.length),
      margin: { ...MARGIN, l: 200 },
    },
  };
}
