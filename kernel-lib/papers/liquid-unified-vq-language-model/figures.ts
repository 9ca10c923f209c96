/**
 * Notebook 03's figures, built from the results JSON's fields (so the notebook, which builds them from what
 * it just measured, and a reader of the committed file draw the same picture). Every figure has a title and
 * labelled axes, with units where there are.
 *
 *   languageCostFigure  experiment 1: Δ held-out Brown log-perplexity (mixed − text-only) vs size, ± s.e.
 *   scalingStepFigure   experiment 2: a held-out measure along each size's mixed run (seed mean ± s.e.)
 *   scalingSizeFigure   experiment 2: the same measure at the last checkpoint vs size
 *   computeFigure       experiment 2: image-code NLL vs training FLOPs (log–log), with the fitted power law
 *   imageCostFigure     experiment 3: mixed − generation-only image-code NLL and drawn-scene accuracy vs size,
 *                       two panels over one size axis
 *   mutualFigure        experiment 4: one measure per arm (1:1:1, +T2I, +I2T and the two controls), ± s.e. over seeds
 *   routingFigure       beyond the paper: exclusivity per layer, one line per size (papers/figures.ts)
 *   routingSizeFigure   beyond the paper: exclusivity averaged over layers vs size (seed mean ± s.e.), per kind of arm
 *
 * Size axes put a tick at each size (sizeAxis); shares and accuracies start their axis at 0.
 *   vocabularyFigure    the unified vocabulary: next-token mass on text, image codes and specials after two contexts
 */
import type { Figure, PlotlyTrace } from '../../display/plotly';
import { exclusivityFigure, MARGIN, PALETTE, seedMeanSe } from '../figures';
import type { CurvePoint, Results } from './results';
import type { VocabularyView } from './live';

/**
 * The size axis: non-embedding parameters on a log scale, one tick at each size shown, named and counted
 * ("moe-h64" over "0.46M"), so every point says which model it is (Plotly's own log ticks skip the smallest).
 */
export function sizeAxis(rows: ReadonlyArray<{ size: string; params: number }>): Record<string, unknown> {
  const sizes = [...new Map(rows.map((r) => [r.size, r.params])).entries()].sort((a, b) => a[1] - b[1]);
  return {
    title: { text: 'non-embedding parameters (log scale)' }, type: 'log', tickmode: 'array',
    tickvals: sizes.map(([, p]) => p), ticktext: sizes.map(([size, p]) => `${size}<br>${(p / 1e6).toFixed(2)}M`),
  };
}

type StepMeasure = Exclude<keyof CurvePoint, 'step' | 'textTokens' | 'tokens' | 'flops'>;

const LABELS: Record<StepMeasure, string> = {
  brownNll: 'held-out Brown NLL (nats per token)',
  imageNll: 'held-out image-code NLL (nats per code)',
  imageAccuracy: 'held-out image-code token accuracy',
  conditioningGap: 'wrong − own caption NLL (nats per code)',
  captionNll: 'held-out caption NLL (nats per token)',
  questionAccuracy: 'held-out question accuracy',
  clipOwn: 'CLIP-T with own caption (cosine)',
  clipShuffled: 'CLIP-T with a wrong caption (cosine)',
  checker: 'drawn scenes: objects in place (share)',
};

/** Shares and accuracies: their axes start at 0 (a flat line at 0.07 would otherwise be drawn from −0.5 to 1). */
const FROM_ZERO: ReadonlySet<StepMeasure> = new Set(['imageAccuracy', 'questionAccuracy', 'checker']);
const yAxis = (m: StepMeasure) => ({ title: { text: LABELS[m] }, ...(FROM_ZERO.has(m) ? { rangemode: 'tozero' } : {}) });

/** Short names for titles and tables (a title must fit one line of a notebook's width). */
export const MEASURE_NAMES: Record<StepMeasure, string> = {
  brownNll: 'Brown NLL',
  imageNll: 'image-code NLL',
  imageAccuracy: 'image-code accuracy',
  conditioningGap: 'conditioning gap',
  captionNll: 'caption NLL',
  questionAccuracy: 'question accuracy',
  clipOwn: 'CLIP-T, own caption',
  clipShuffled: 'CLIP-T, wrong caption',
  checker: 'drawn objects in place',
};

/** Experiment 1: Δ per size with its standard error (paired over held-out windows). */
export function languageCostFigure(r: Pick<Results, 'languageCost'>): Figure {
  if (r.languageCost.length === 0) throw new Error('languageCostFigure: no language-cost measurements');
  const rows = [...r.languageCost].sort((a, b) => a.params - b.params);
  return {
    data: [
      {
        type: 'scatter', mode: 'lines+markers', name: 'Δ (mixed − text-only)', x: rows.map((x) => x.params), y: rows.map((x) => x.mean),
        error_y: { type: 'data', array: rows.map((x) => x.standardError), visible: true }, text: rows.map((x) => x.size),
        hovertemplate: '%{text}: Δ %{y:.4f} ± %{error_y.array:.4f}<extra></extra>', line: { color: '#4878d0' },
      },
      { type: 'scatter', mode: 'lines', name: 'no cost', x: [rows[0].params, rows[rows.length - 1].params], y: [0, 0], line: { color: '#999', dash: 'dot' }, hoverinfo: 'skip' },
    ],
    layout: {
      title: { text: 'Language cost: Δ held-out Brown NLL, mixed − text-only, same text tokens (± s.e.)' },
      xaxis: sizeAxis(rows),
      yaxis: { title: { text: 'Δ log-perplexity (nats per token)' } },
      height: 420,
      margin: { ...MARGIN, b: 80 },
    },
  };
}

/** The `<size>-mixed` curves (or those of `arm` suffix), grouped by size. */
function curvesBySize(r: Pick<Results, 'curves'>, suffix: string): Map<string, Results['curves']> {
  const out = new Map<string, Results['curves']>();
  for (const c of r.curves) if (c.arm === `${c.size}-${suffix}`) out.set(c.size, [...(out.get(c.size) ?? []), c]);
  return out;
}

/** Experiment 2: `measure` against training step, one line per size (the mixed runs; seed mean ± s.e.). */
export function scalingStepFigure(r: Pick<Results, 'curves'>, measure: StepMeasure, o: { suffix?: string } = {}): Figure {
  const by = curvesBySize(r, o.suffix ?? 'mixed');
  const data: PlotlyTrace[] = [];
  [...by].forEach(([size, runs], i) => {
    const steps = runs[0].points.map((p) => p.step);
    const stats = steps.map((_, k) => seedMeanSe(runs.map((c) => c.points[k]?.[measure]).filter((x): x is number => typeof x === 'number')));
    data.push({ type: 'scatter', mode: 'lines+markers', name: size, x: steps, y: stats.map((s) => s.mean), error_y: { type: 'data', array: stats.map((s) => s.se), visible: true }, line: { color: PALETTE[i % PALETTE.length] } });
  });
  if (data.length === 0) throw new Error(`scalingStepFigure: no ${o.suffix ?? 'mixed'} runs`);
  return {
    data,
    layout: {
      title: { text: `Scaling with steps: ${MEASURE_NAMES[measure]} along each size's run (seed mean ± s.e.)` },
      xaxis: { title: { text: 'training step' } },
      yaxis: yAxis(measure),
      legend: { orientation: 'h', y: -0.2 },
      height: 400,
      margin: { ...MARGIN, b: 90 },
    },
  };
}

/** Experiment 2: `measure` at each size's last checkpoint against its non-embedding parameters. */
export function scalingSizeFigure(r: Pick<Results, 'curves' | 'sizes'>, measure: StepMeasure, o: { suffix?: string } = {}): Figure {
  const by = curvesBySize(r, o.suffix ?? 'mixed');
  const rows = [...by].map(([size, runs]) => {
    const p = r.sizes.find((s) => s.size === size);
    if (!p) throw new Error(`scalingSizeFigure: ${size} is not among the sizes`);
    return { size, params: p.nonEmbedding, ...seedMeanSe(runs.map((c) => c.points[c.points.length - 1][measure]).filter((x): x is number => typeof x === 'number')) };
  }).sort((a, b) => a.params - b.params);
  if (rows.length === 0) throw new Error(`scalingSizeFigure: no ${o.suffix ?? 'mixed'} runs`);
  return {
    data: [{ type: 'scatter', mode: 'lines+markers', name: LABELS[measure], x: rows.map((x) => x.params), y: rows.map((x) => x.mean), error_y: { type: 'data', array: rows.map((x) => x.se), visible: true }, text: rows.map((x) => x.size), hovertemplate: '%{text}: %{y:.4f}<extra></extra>' }],
    layout: { title: { text: `Scaling with size: ${MEASURE_NAMES[measure]} at the last checkpoint (seed mean ± s.e.)` }, xaxis: sizeAxis(rows), yaxis: yAxis(measure), height: 400, margin: { ...MARGIN, b: 80 } },
  };
}

/** Ticks at 1, 2 and 5 × 10^k spanning `xs` (labelled 200G, 500G, 1T: Plotly's own log ticks label only some digits). */
export function logTicks(xs: readonly number[]): number[] {
  const pos = xs.filter((x) => x > 0 && Number.isFinite(x));
  if (pos.length === 0) return [];
  const lo = Math.min(...pos);
  const hi = Math.max(...pos);
  const out: number[] = [];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** k;
      if (v >= lo / 1.5 && v <= hi * 1.5) out.push(v);
    }
  }
  return out;
}

/** Experiment 2: image-code NLL of every mixed checkpoint against training FLOPs, log–log, with the fit. */
export function computeFigure(r: Pick<Results, 'curves' | 'computeFit'>): Figure {
  const by = curvesBySize(r, 'mixed');
  const data: PlotlyTrace[] = [...by].map(([size, runs], i) => {
    const pts = runs.flatMap((c) => c.points.filter((p) => p.imageNll !== null));
    return { type: 'scatter', mode: 'markers', name: size, x: pts.map((p) => p.flops), y: pts.map((p) => p.imageNll), marker: { color: PALETTE[i % PALETTE.length] } };
  });
  if (data.length === 0) throw new Error('computeFigure: no mixed runs');
  const f = r.computeFit;
  if (f) {
    const xs = data.flatMap((d) => d.x as number[]);
    const lo = Math.min(...xs);
    const hi = Math.max(...xs);
    data.push({ type: 'scatter', mode: 'lines', name: `fit: ${f.prefactor.toPrecision(3)} · C^${f.exponent.toFixed(3)} (r² ${f.r2.toFixed(2)})`, x: [lo, hi], y: [f.prefactor * lo ** f.exponent, f.prefactor * hi ** f.exponent], line: { color: '#333', dash: 'dash' } });
  }
  return {
    data,
    layout: {
      title: { text: 'Loss vs compute: held-out image-code NLL of the mixed runs at each checkpoint' },
      xaxis: { title: { text: 'training FLOPs (log scale)' }, type: 'log', tickmode: 'array', tickvals: logTicks(data.flatMap((d) => d.x as number[])), tickformat: '~s' },
      yaxis: { title: { text: LABELS.imageNll }, type: 'log' },
      legend: { orientation: 'h', y: -0.2 },
      height: 400,
      margin: { ...MARGIN, b: 90 },
    },
  };
}

/**
 * Experiment 3 in two panels over one size axis: above, the loss gap (mixed − generation-only image-code NLL);
 * below, the drawn gap (generation-only − mixed share of objects in place). Two panels rather than two y axes
 * on one plot: the gaps have different units, and a second axis would invent a common zero line.
 */
export function imageCostFigure(r: Pick<Results, 'imageCost'>): Figure {
  if (r.imageCost.length === 0) throw new Error('imageCostFigure: no image-cost measurements');
  const rows = [...r.imageCost].sort((a, b) => a.params - b.params);
  const drawn = rows.filter((x) => x.drawn);
  const zero = (yaxis: string): PlotlyTrace => ({ type: 'scatter', mode: 'lines', x: [rows[0].params, rows[rows.length - 1].params], y: [0, 0], yaxis, line: { color: '#999', dash: 'dot' }, hoverinfo: 'skip', showlegend: false });
  const data: PlotlyTrace[] = [
    zero('y'),
    {
      type: 'scatter', mode: 'lines+markers', name: 'image-code NLL, mixed − generation-only', x: rows.map((x) => x.params), y: rows.map((x) => x.loss.mean),
      error_y: { type: 'data', array: rows.map((x) => x.loss.standardError), visible: true }, line: { color: PALETTE[0] }, text: rows.map((x) => x.size), hovertemplate: '%{text}: %{y:.4f} ± %{error_y.array:.4f}<extra></extra>',
    },
  ];
  if (drawn.length > 0) {
    data.push(zero('y2'), {
      type: 'scatter', mode: 'lines+markers', name: 'objects in place, generation-only − mixed', x: drawn.map((x) => x.params), y: drawn.map((x) => x.drawn?.mean), yaxis: 'y2',
      error_y: { type: 'data', array: drawn.map((x) => x.drawn?.standardError), visible: true }, line: { color: PALETTE[1] }, text: drawn.map((x) => x.size), hovertemplate: '%{text}: %{y:.3f} ± %{error_y.array:.3f}<extra></extra>',
    });
  }
  return {
    data,
    layout: {
      title: { text: 'Image cost of mixing by size: the loss gap (top) and the drawn-image gap (bottom), ± s.e.' },
      xaxis: { ...sizeAxis(rows), anchor: drawn.length > 0 ? 'y2' : 'y' },
      yaxis: { title: { text: 'Δ image-code NLL (nats/code)' }, domain: drawn.length > 0 ? [0.55, 1] : [0, 1] },
      ...(drawn.length > 0 ? { yaxis2: { title: { text: 'Δ objects in place (share)' }, domain: [0, 0.42], anchor: 'x' } } : {}),
      legend: { orientation: 'h', y: -0.22 },
      height: drawn.length > 0 ? 560 : 420,
      margin: { ...MARGIN, b: 110 },
    },
  };
}

type MutualMeasure = 'imageNll' | 'questionAccuracy' | 'captionNll' | 'conditioningGap' | 'checker';
const MUTUAL_NAMES: Record<string, string> = { base: '1:1:1 baseline', addT2i: '1:2:1 (+T2I)', addI2t: '1:1:2 (+I2T)', matched: '1:1:1 compute-matched (control)', addText: '2:1:1 extra text (control)' };
const MUTUAL_COLORS: Record<string, string> = { base: '#797979', addT2i: '#ee854a', addI2t: '#4878d0', matched: '#c9c9c9', addText: '#b8a07a' };

/**
 * Experiment 4: one point per arm with its s.e. over seeds (the two controls in muted colours), each arm's steps and
 * seeds under its name. Points, not bars: the arms differ by a few hundredths of a nat, which bars drawn from zero hide.
 */
export function mutualFigure(r: Pick<Results, 'mutual'>, measure: MutualMeasure): Figure {
  if (!r.mutual) throw new Error('mutualFigure: no mutual-improvement measurements');
  const m = r.mutual;
  const stats = m.arms.map((a) => {
    const xs = (a[measure] as Array<number | null>).filter((x): x is number => typeof x === 'number');
    return xs.length > 0 ? seedMeanSe(xs) : null;
  });
  const names = m.arms.map((a) => `${MUTUAL_NAMES[a.role]}<br>${a.steps} steps · ${a.seeds.length} seed${a.seeds.length === 1 ? '' : 's'}`);
  return {
    data: [{
      type: 'scatter', mode: 'markers', x: names, y: stats.map((s) => s?.mean ?? null), error_y: { type: 'data', array: stats.map((s) => s?.se ?? 0), visible: true },
      marker: { color: m.arms.map((a) => MUTUAL_COLORS[a.role]), size: 12, line: { color: '#444', width: 1 } },
      hovertemplate: '%{x}: %{y:.4f} ± %{error_y.array:.4f}<extra></extra>',
    }],
    layout: {
      title: { text: `Mutual improvement at ${m.size}: ${MEASURE_NAMES[measure]} by mixture (mean ± s.e. over seeds)` },
      xaxis: { title: { text: 'mixture (text : caption → image : understanding)' } },
      yaxis: { title: { text: LABELS[measure] } }, // not from 0: the differences between arms are the point
      height: 420,
      margin: { ...MARGIN, b: 100 },
    },
  };
}

/** Beyond the paper: exclusivity per layer of each size's mixed run (seed 0's: the lowest seed); `title` for other rows than the runs' own. */
export function routingFigure(r: Pick<Results, 'routing'>, o: { title?: string } = {}): Figure {
  const rows = r.routing.filter((x) => x.arm === `${x.size}-mixed`).sort((a, b) => a.params - b.params || a.seed - b.seed);
  const first = rows.filter((x, i) => rows.findIndex((y) => y.size === x.size) === i);
  return exclusivityFigure(first.map((x) => ({ model: x.size, exclusivity: x.exclusivity })), { title: o.title ?? 'Beyond the paper: text vs image routing by depth at each size (mixed runs)' });
}

const MODALITY_COLORS = { text: '#4878d0', image: '#ee854a', special: '#8c8c8c' } as const;

/** One vocabulary, one softmax: the next-token probability mass by modality after each context of a vocabulary view (live.ts). */
export function vocabularyFigure(v: Pick<VocabularyView, 'next'>, o: { model?: string } = {}): Figure {
  if (v.next.length === 0) throw new Error('vocabularyFigure: no contexts');
  return {
    data: (['text', 'image', 'special'] as const).map((m) => ({
      type: 'bar', name: `${m} ids`, x: v.next.map((n) => n.context), y: v.next.map((n) => n.mass[m]), marker: { color: MODALITY_COLORS[m] },
      hovertemplate: `${m}: %{y:.4f}<extra></extra>`,
    })),
    layout: {
      barmode: 'stack',
      title: { text: `One softmax over text and image codes: next-token mass by modality${o.model ? ` (${o.model})` : ''}` },
      xaxis: { title: { text: 'context (the next token follows it)' } },
      yaxis: { title: { text: 'next-token probability' }, range: [0, 1] },
      legend: { orientation: 'h', y: -0.25 },
      height: 380,
      margin: { ...MARGIN, b: 110 },
    },
  };
}

/** The arms of the routing-by-size figure by their kind (the arm name after the size). */
const ROUTING_KINDS: Record<string, string> = {
  mixed: '1:1:1 mixed', gen: 'generation only', 'add-t2i': '1:2:1 (+T2I)', 'add-i2t': '1:1:2 (+I2T)', matched: '1:1:1 compute-matched', 'add-text': '2:1:1 extra text',
};

/**
 * Beyond the paper: exclusivity averaged over layers against size, one series per kind of arm (the mixed runs as
 * a line), each point the mean over that arm's seeds ± s.e. (every seed on its own is in the table under it).
 */
export function routingSizeFigure(r: Pick<Results, 'routing'>): Figure {
  const avg = (xs: ReadonlyArray<number | null>) => {
    const f = xs.filter((x): x is number => x !== null);
    return f.length === 0 ? null : f.reduce((a, b) => a + b, 0) / f.length;
  };
  const groups = new Map<string, Map<string, { params: number; values: number[] }>>();
  for (const x of r.routing) {
    const kind = x.arm.slice(x.size.length + 1);
    const v = avg(x.exclusivity);
    if (kind === 'text' || v === null) continue;
    const bySize = groups.get(kind) ?? new Map<string, { params: number; values: number[] }>();
    const cell = bySize.get(x.size) ?? { params: x.params, values: [] };
    cell.values.push(v);
    bySize.set(x.size, cell);
    groups.set(kind, bySize);
  }
  if (groups.size === 0) throw new Error('routingSizeFigure: no routing measurements');
  const kinds = [...groups.keys()].sort((a, b) => Object.keys(ROUTING_KINDS).indexOf(a) - Object.keys(ROUTING_KINDS).indexOf(b));
  const data: PlotlyTrace[] = kinds.map((kind, i) => {
    const cells = [...groups.get(kind)!].map(([size, c]) => ({ size, params: c.params, seeds: c.values.length, ...seedMeanSe(c.values) })).sort((a, b) => a.params - b.params);
    // the kinds side by side around each size (a few per cent apart on the log axis), so experiment 4's arms do not overlap
    const dodge = 1.03 ** (i - (kinds.length - 1) / 2);
    return {
      type: 'scatter', mode: kind === 'mixed' ? 'lines+markers' : 'markers', name: ROUTING_KINDS[kind] ?? kind, x: cells.map((c) => c.params * dodge), y: cells.map((c) => c.mean),
      error_y: { type: 'data', array: cells.map((c) => c.se), visible: true }, marker: { color: PALETTE[i % PALETTE.length], size: 9 }, line: { color: PALETTE[i % PALETTE.length] },
      text: cells.map((c) => `${c.size}, ${c.seeds} seed${c.seeds === 1 ? '' : 's'}`), hovertemplate: '%{text}: %{y:.3f} ± %{error_y.array:.3f} bits<extra></extra>',
    };
  });
  const sizes = [...new Map(r.routing.map((x) => [x.size, x.params]))].map(([size, params]) => ({ size, params }));
  return {
    data,
    layout: {
      title: { text: 'Beyond the paper: text vs image routing exclusivity against size (mean over layers, ± s.e. over seeds)' },
      xaxis: sizeAxis(sizes), yaxis: { title: { text: 'mean JSD text vs image (bits)' }, rangemode: 'tozero' },
      legend: { orientation: 'h', y: -0.25 }, height: 440, margin: { ...MARGIN, b: 120 },
    },
  };
}
