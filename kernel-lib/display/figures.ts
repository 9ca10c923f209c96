/**
 * The figures the notebooks reuse, as Plotly specs (`{data, layout}`: plain JSON a test can check and a
 * paper notebook can restyle), each with a `show…` twin that displays it.
 *
 *   routingHeatmap     layers × experts router probabilities of one token (top-k marked)
 *   tokensByExperts    tokens × experts router probabilities at one layer
 *   expertUsageBars    share of top-k assignments per expert, one bar series per modality
 *   coActivationMatrix experts × experts: how often two experts are chosen for the same token (counts, or
 *                      CA(i, j) = N(i, j)/N(i) from analysis/co-activation — one definition for both)
 *
 * (Training curves are in loss-curves.ts.)
 */
import type { RoutingTrace } from '../session';
import type { Step } from '../decode/generate';
import type { Modality } from '../tokenizer';
import { MODALITIES, MODALITY_COLORS } from './colors';
import { controlPictures } from './html';
import { Figure, PlotlyTrace, ShowOptions, showFigure } from './plotly';
import { expertCoActivation } from '../analysis/co-activation';
import { expertUsageCounts } from '../util/stats';

const MARGIN = { l: 70, r: 20, t: 50, b: 50 };

export function expertLabels(E: number): string[] {
  return Array.from({ length: E }, (_, e) => `E${e}`);
}

export function layerLabels(L: number): string[] {
  return Array.from({ length: L }, (_, l) => `L${l}`);
}

/** A token piece as a label: whitespace made visible, and escaped for Plotly's HTML-like text. */
export function pieceLabel(piece: string): string {
  const vis = controlPictures(piece.replace(/ /g, '·').replace(/\n/g, '↵').replace(/\t/g, '→'));
  return vis.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// ─── routing of one token ─────────────────────────────────────────────────────────────────────────────

export interface RoutingHeatmapOptions {
  /** Which token of a trace (default: the last). Ignored for a Step. */
  token?: number;
  /** Colour by router probabilities (default) or by the gate weights of the chosen experts (0 elsewhere). */
  value?: 'probs' | 'weights';
  /** Top of the colour scale (default: the data's maximum). */
  zmax?: number;
  title?: string;
}

/** One token's routing: [L][E] values and the chosen experts per layer. */
export interface TokenRouting {
  label: string;
  modality: Modality;
  values: number[][];
  chosen: number[][];
}

export function tokenRouting(source: RoutingTrace | Step, opts: { token?: number; value?: 'probs' | 'weights' } = {}): TokenRouting {
  const value = opts.value ?? 'probs';
  if (isStep(source)) {
    if (source.routing.length === 0) throw new Error("this step has no routing (it was decoded with capture: 'none')");
    const E = source.routing[0].probs.length;
    return {
      label: `#${source.position} ${pieceLabel(source.piece)}`,
      modality: source.modality,
      values: source.routing.map((r) => (value === 'probs' ? r.probs.slice() : scatterWeights(E, r.experts, r.weights))),
      chosen: source.routing.map((r) => r.experts.slice()),
    };
  }
  const N = source.ids.length;
  const t = opts.token ?? N - 1;
  if (!Number.isInteger(t) || t < 0 || t >= N) throw new Error(`token ${t} is outside the trace's ${N} tokens`);
  const { numExperts: E, topK: k } = source;
  return {
    label: `#${t} ${pieceLabel(source.pieces[t])}`,
    modality: source.modalities[t],
    values: source.layers.map((l) => {
      if (value === 'probs') return Array.from(l.probs.subarray(t * E, (t + 1) * E));
      return scatterWeights(E, Array.from(l.experts.subarray(t * k, (t + 1) * k)), Array.from(l.weights.subarray(t * k, (t + 1) * k)));
    }),
    chosen: source.layers.map((l) => Array.from(l.experts.subarray(t * k, (t + 1) * k))),
  };
}

function isStep(x: RoutingTrace | Step): x is Step {
  return (x as Step).routing !== undefined && (x as RoutingTrace).layers === undefined;
}

function scatterWeights(E: number, experts: number[], weights: number[]): number[] {
  const row = new Array<number>(E).fill(0);
  experts.forEach((e, i) => (row[e] = weights[i]));
  return row;
}

/** Open circles on the chosen experts of a heatmap whose axes are category labels. */
function chosenMarks(xs: string[], ys: (string | number)[]): PlotlyTrace {
  return {
    type: 'scatter',
    mode: 'markers',
    name: 'top-k',
    x: xs,
    y: ys,
    marker: { symbol: 'circle-open', size: 9, color: '#ff2d55', line: { width: 2 } },
    hoverinfo: 'skip',
    showlegend: false,
  };
}

/** Layers × experts router probabilities of one token (a trace's token, or a decoded Step). */
export function routingHeatmap(source: RoutingTrace | Step, opts: RoutingHeatmapOptions = {}): Figure {
  const r = tokenRouting(source, opts);
  const L = r.values.length;
  const E = r.values[0]?.length ?? 0;
  const xs = expertLabels(E);
  const ys = layerLabels(L);
  const marks = { x: [] as string[], y: [] as string[] };
  r.chosen.forEach((row, l) => row.forEach((e) => (marks.x.push(xs[e]), marks.y.push(ys[l]))));
  const what = opts.value === 'weights' ? 'gate weight' : 'router prob';
  return {
    data: [
      {
        type: 'heatmap',
        z: r.values,
        x: xs,
        y: ys,
        zmin: 0,
        ...(opts.zmax !== undefined ? { zmax: opts.zmax } : {}),
        colorscale: 'Viridis',
        colorbar: { title: { text: what } },
        hovertemplate: `%{y} %{x}<br>${what} %{z:.3f}<extra></extra>`,
      },
      chosenMarks(marks.x, marks.y),
    ],
    layout: {
      title: { text: opts.title ?? `Routing of token ${r.label} (${r.modality}) · ○ top-${r.chosen[0]?.length ?? 0}` },
      xaxis: { title: { text: 'expert' }, type: 'category' },
      yaxis: { title: { text: 'layer' }, type: 'category', autorange: 'reversed' },
      height: Math.max(240, 110 + 34 * L),
      margin: MARGIN,
    },
  };
}

// ─── tokens × experts at one layer ────────────────────────────────────────────────────────────────────

export interface TokensByExpertsOptions {
  layer?: number;
  /** Show at most this many tokens (the last ones). Default 96. */
  maxTokens?: number;
  zmax?: number;
  title?: string;
}

/** Tokens (rows, labels coloured by modality) × experts router probabilities at one layer; top-k marked. */
export function tokensByExperts(trace: RoutingTrace, opts: TokensByExpertsOptions = {}): Figure {
  const layer = opts.layer ?? 0;
  checkLayer(trace, layer);
  const { numExperts: E, topK: k } = trace;
  const N = trace.ids.length;
  const start = Math.max(0, N - (opts.maxTokens ?? 96));
  const rows = range(start, N);
  const l = trace.layers[layer];
  const z = rows.map((t) => Array.from(l.probs.subarray(t * E, (t + 1) * E)));
  const xs = expertLabels(E);
  const marks = { x: [] as string[], y: [] as number[] };
  for (const t of rows) for (const e of l.experts.subarray(t * k, (t + 1) * k)) marks.x.push(xs[e]), marks.y.push(t);
  const ticktext = rows.map((t) => `<span style="color:${MODALITY_COLORS[trace.modalities[t]]}">${pieceLabel(trace.pieces[t])}</span>`);
  return {
    data: [
      {
        type: 'heatmap',
        z,
        x: xs,
        y: rows,
        zmin: 0,
        ...(opts.zmax !== undefined ? { zmax: opts.zmax } : {}),
        colorscale: 'Viridis',
        colorbar: { title: { text: 'router prob' } },
        customdata: rows.map((t) => xs.map(() => `${pieceLabel(trace.pieces[t])} (${trace.modalities[t]})`)),
        hovertemplate: 'token %{y}: %{customdata}<br>%{x} router prob %{z:.3f}<extra></extra>',
      },
      chosenMarks(marks.x, marks.y),
    ],
    layout: {
      // the expert axis sits on top, so the title goes to the very top of the figure, above the axis title
      title: { text: opts.title ?? `Router probabilities at layer ${layer}${start > 0 ? ` (last ${rows.length} tokens)` : ''} · ○ top-${k}`, yref: 'container', y: 1, yanchor: 'top', pad: { t: 14 } },
      xaxis: { type: 'category', side: 'top', title: { text: 'expert' } },
      yaxis: { title: { text: 'token' }, autorange: 'reversed', tickmode: 'array', tickvals: rows, ticktext },
      height: Math.min(1400, Math.max(260, 120 + 16 * rows.length)),
      margin: { ...MARGIN, l: 110, t: 120, b: 20 },
    },
  };
}

// ─── expert usage by modality ─────────────────────────────────────────────────────────────────────────

export interface ExpertUsageOptions {
  /** One layer, or every layer (default) on a two-level layer/expert axis. */
  layer?: number;
  /** Shares of each modality's top-k assignments (default, comparable across modalities) or raw counts. */
  normalize?: boolean;
  modalities?: Modality[];
  title?: string;
}

/** Top-k assignments counted per [layer][modality][expert], with token counts per modality. */
export function expertUsage(traces: RoutingTrace | RoutingTrace[]): { counts: Record<Modality, number[][]>; tokens: Record<Modality, number> } {
  const list = Array.isArray(traces) ? traces : [traces];
  if (list.length === 0) throw new Error('expertUsage needs at least one trace');
  const { numLayers: L, numExperts: E, topK: k } = list[0];
  for (const tr of list) {
    if (tr.numLayers !== L || tr.numExperts !== E || tr.topK !== k) {
      throw new Error(`traces disagree on the model: ${tr.numLayers} layers × ${tr.numExperts} experts (top-${tr.topK}) vs ${L} × ${E} (top-${k})`);
    }
  }
  return expertUsageCounts(list, E, MODALITIES, range(0, L));
}

/** Expert usage split by modality: one bar series per modality. */
export function expertUsageBars(traces: RoutingTrace | RoutingTrace[], opts: ExpertUsageOptions = {}): Figure {
  const first = Array.isArray(traces) ? traces[0] : traces;
  if (first === undefined) throw new Error('expertUsageBars needs at least one trace');
  if (opts.layer !== undefined) checkLayer(first, opts.layer);
  const { counts, tokens } = expertUsage(traces);
  const { numLayers: L, numExperts: E, topK: k } = first;
  const normalize = opts.normalize ?? true;
  const layers = opts.layer !== undefined ? [opts.layer] : range(0, L);
  const xs = expertLabels(E);
  const x = opts.layer !== undefined
    ? xs
    : [layers.flatMap((l) => xs.map(() => `L${l}`)), layers.flatMap(() => xs)]; // multicategory axis
  const mods = (opts.modalities ?? MODALITIES).filter((m) => tokens[m] > 0);
  const data: PlotlyTrace[] = mods.map((m) => ({
    type: 'bar',
    name: `${m} (${tokens[m]} tokens)`,
    x,
    y: layers.flatMap((l) => counts[m][l].map((c) => (normalize ? c / (tokens[m] * k) : c))),
    marker: { color: MODALITY_COLORS[m] },
    hovertemplate: `${m}<br>%{x}: %{y:${normalize ? '.1%' : 'd'}}<extra></extra>`,
  }));
  const shapes = normalize
    ? [{ type: 'line', xref: 'paper', x0: 0, x1: 1, y0: 1 / E, y1: 1 / E, line: { dash: 'dot', color: '#444', width: 1 } }]
    : [];
  return {
    data,
    layout: {
      title: { text: opts.title ?? `Expert usage by modality${opts.layer !== undefined ? ` at layer ${opts.layer}` : ''}${normalize ? ' (dotted: uniform)' : ''}` },
      barmode: 'group',
      xaxis: { title: { text: opts.layer !== undefined ? 'expert' : 'layer / expert' } },
      yaxis: { title: { text: normalize ? "share of the modality's top-k picks" : 'top-k picks' }, ...(normalize ? { tickformat: '.0%' } : {}) },
      shapes,
      height: 400,
      margin: { ...MARGIN, b: 80 },
    },
  };
}

// ─── co-activation ────────────────────────────────────────────────────────────────────────────────────

export interface CoActivationOptions {
  /** For a trace: which layer (default 0). */
  layer?: number;
  /** For a trace: token counts N(i, j) (default), or the co-activation ratio N(i, j)/N(i) (rows: i). */
  value?: 'counts' | 'ratio';
  labels?: string[];
  title?: string;
}

/** For a trace: C[i][j] = tokens whose top-k includes both i and j at the layer; C[i][i] = tokens choosing i. */
export function coActivationCounts(trace: RoutingTrace, layer = 0): number[][] {
  checkLayer(trace, layer);
  return expertCoActivation(trace, { layer }).counts;
}

/** An experts × experts matrix (given, or counted from a trace at one layer) as a square heatmap. */
export function coActivationMatrix(source: number[][] | RoutingTrace, opts: CoActivationOptions = {}): Figure {
  const ratio = !Array.isArray(source) && opts.value === 'ratio';
  const m = Array.isArray(source) ? source : ratio ? expertCoActivation(source, { layer: opts.layer ?? 0 }).matrix : coActivationCounts(source, opts.layer ?? 0);
  const E = m.length;
  m.forEach((row, i) => {
    if (row.length !== E) throw new Error(`coActivationMatrix needs a square matrix; row ${i} has ${row.length} entries, not ${E}`);
  });
  const labels = opts.labels ?? expertLabels(E);
  if (labels.length !== E) throw new Error(`coActivationMatrix: ${labels.length} labels for ${E} experts`);
  const side = Math.min(700, Math.max(320, 140 + 26 * E));
  return {
    data: [
      {
        type: 'heatmap',
        z: m,
        x: labels,
        y: labels,
        zmin: 0,
        ...(ratio ? { zmax: 1 } : {}),
        colorscale: 'Viridis',
        colorbar: { title: { text: ratio ? 'N(i,j)/N(i)' : Array.isArray(source) ? 'value' : 'tokens' } },
        hovertemplate: ratio ? 'with %{y}, %{x} too: %{z:.2f}<extra></extra>' : '%{y} with %{x}: %{z}<extra></extra>',
      },
    ],
    layout: {
      title: { text: opts.title ?? `Expert co-activation${ratio ? ' N(i,j)/N(i)' : ''}${Array.isArray(source) ? '' : ` at layer ${opts.layer ?? 0}`}` },
      xaxis: { type: 'category', title: { text: 'expert' } },
      yaxis: { type: 'category', title: { text: 'expert' }, autorange: 'reversed', scaleanchor: 'x' },
      width: side + 80,
      height: side,
      margin: MARGIN,
    },
  };
}

// ─── show… twins (they return nothing: a cell ending in one would print a returned spec) ─────────────

export function showRoutingHeatmap(source: RoutingTrace | Step, opts: RoutingHeatmapOptions & ShowOptions = {}): void {
  showFigure(routingHeatmap(source, opts), opts);
}
export function showTokensByExperts(trace: RoutingTrace, opts: TokensByExpertsOptions & ShowOptions = {}): void {
  showFigure(tokensByExperts(trace, opts), opts);
}
export function showExpertUsageBars(traces: RoutingTrace | RoutingTrace[], opts: ExpertUsageOptions & ShowOptions = {}): void {
  showFigure(expertUsageBars(traces, opts), opts);
}
export function showCoActivationMatrix(source: number[][] | RoutingTrace, opts: CoActivationOptions & ShowOptions = {}): void {
  showFigure(coActivationMatrix(source, opts), opts);
}

function checkLayer(trace: RoutingTrace, layer: number): void {
  if (!Number.isInteger(layer) || layer < 0 || layer >= trace.numLayers) {
    throw new Error(`layer ${layer} is outside the model's ${trace.numLayers} layers`);
  }
}

function range(a: number, b: number): number[] {
  return Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
}
