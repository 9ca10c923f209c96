/**
 * Notebook 03's figures, built from the results JSON's fields (so the notebook, which builds them from what
 * it just measured, and a reader of the committed file draw the same picture). Every figure has a title and
 * labelled axes, with units where there are.
 *
 *   languageCostFigure  experiment 1: Δ held-out Brown log-perplexity (mixed − text-only) vs size, ± s.e.
 *   scalingStepFigure   experiment 2: a held-out measure along each size's mixed run (seed mean ± s.e.)
 *   scalingSizeFigure   experiment 2: the same measure at the last checkpoint vs size
 *   computeFigure       experiment 2: image-code NLL vs training FLOPs (log–log), with the fitted power law
 *   imageCostFigure     experiment 3: mixed − generation-only image-code NLL and drawn-scene accuracy vs size
 *   mutualFigure        experiment 4: one measure per arm (1:1:1, +T2I, +I2T and the two controls), ± s.e. over seeds
 *   routingFigure       beyond the paper: exclusivity per layer, one line per size (papers/figures.ts)
 *   routingSizeFigure   beyond the paper: exclusivity averaged over layers vs size, mixed and experiment-4 arms
 *   vocabularyFigure    the unified vocabulary: next-token mass on text, image codes and specials after two contexts
 */
import type { Figure, PlotlyTrace } from '../../display/plotly';
import { exclusivityFigure, MARGIN, PALETTE, seedMeanSe } from '../figures';
import type { CurvePoint, Results } from './results';
import type { VocabularyView } from './live';

const PARAMS_AXIS = { title: { text: 'non-embedding parameters (log scale)' }, type: 'log' };

type StepMeasure = Exclude<keyof CurvePoint, 'step' | 'textTokens' | 'tokens' | 'flops'>;

const LABELS: Record<StepMeasure, string> = {
  brownNll: 'held-out Brown NLL (nats per token)',
  imageNll: 'held-out image-code NLL (nats per code)',
  imageAccuracy: 'held-out image-code token accuracy',
  conditioningGap: 'NLL after a wrong caption − own (nats per code)',
  captionNll: 'held-out caption NLL (nats per token)',
  questionAccuracy: 'held-out question accuracy',
  clipOwn: 'CLIP-T of drawn images with their caption',
  clipShuffled: 'CLIP-T of drawn images with a wrong caption',
  checker: 'drawn scenes: objects in place (share)',
};

/** Short names for titles (a title must fit one line of a notebook's width). */
const SHORT: Record<StepMeasure, string> = {
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
      xaxis: PARAMS_AXIS,
      yaxis: { title: { text: 'Δ log-perplexity (nats per token)' } },
      height: 400,
      margin: MARGIN,
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
      title: { text: `Scaling with steps: ${SHORT[measure]} along each size's run (seed mean ± s.e.)` },
      xaxis: { title: { text: 'training step' } },
      yaxis: { title: { text: LABELS[measure] } },
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
    layout: { title: { text: `Scaling with size: ${SHORT[measure]} at the last checkpoint (seed mean ± s.e.)` }, xaxis: PARAMS_AXIS, yaxis: { title: { text: LABELS[measure] } }, height: 380, margin: MARGIN },
  };
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
    layout: { title: { text: 'Loss vs compute: held-out image-code NLL of the mixed runs at each checkpoint' }, xaxis: { title: { text: 'training FLOPs (log scale)' }, type: 'log' }, yaxis: { title: { text: LABELS.imageNll }, type: 'log' }, legend: { orientation: 'h', y: -0.2 }, height: 400, margin: { ...MARGIN, b: 90 } },
  };
}

/** Experiment 3: the loss gap (mixed − generation-only image-code NLL) and the drawn gap (generation-only − mixed checker accuracy) vs size. */
export function imageCostFigure(r: Pick<Results, 'imageCost'>): Figure {
  if (r.imageCost.length === 0) throw new Error('imageCostFigure: no image-cost measurements');
  const rows = [...r.imageCost].sort((a, b) => a.params - b.params);
  const drawn = rows.filter((x) => x.drawn);
  const data: PlotlyTrace[] = [
    { type: 'scatter', mode: 'lines+markers', name: 'image-code NLL, mixed − generation-only (nats per code)', x: rows.map((x) => x.params), y: rows.map((x) => x.loss.mean), error_y: { type: 'data', array: rows.map((x) => x.loss.standardError), visible: true } },
  ];
  if (drawn.length > 0) data.push({ type: 'scatter', mode: 'lines+markers', name: 'objects in place, generation-only − mixed', x: drawn.map((x) => x.params), y: drawn.map((x) => x.drawn?.mean), error_y: { type: 'data', array: drawn.map((x) => x.drawn?.standardError), visible: true }, yaxis: 'y2' });
  return {
    data,
    layout: {
      title: { text: 'Image cost of mixing: the loss gap and the drawn-image gap by size (± s.e.)' },
      xaxis: PARAMS_AXIS,
      yaxis: { title: { text: 'Δ image-code NLL (nats per code)' } },
      yaxis2: { title: { text: 'Δ share of objects in place' }, overlaying: 'y', side: 'right' },
      legend: { orientation: 'h', y: -0.2 },
      height: 400,
      margin: { ...MARGIN, r: 80, b: 90 },
    },
  };
}

type MutualMeasure = 'imageNll' | 'questionAccuracy' | 'captionNll' | 'conditioningGap' | 'checker';
const MUTUAL_NAMES: Record<string, string> = { base: '1:1:1 baseline', addT2i: '1:2:1 (+T2I)', addI2t: '1:1:2 (+I2T)', matched: '1:1:1 compute-matched (control)', addText: '2:1:1 extra text (control)' };
const MUTUAL_COLORS: Record<string, string> = { base: '#797979', addT2i: '#ee854a', addI2t: '#4878d0', matched: '#c9c9c9', addText: '#b8a07a' };

/** Experiment 4: one bar per arm (the two controls in muted colours), seed mean ± s.e. over seeds. */
export function mutualFigure(r: Pick<Results, 'mutual'>, measure: MutualMeasure): Figure {
  if (!r.mutual) throw new Error('mutualFigure: no mutual-improvement measurements');
  const m = r.mutual;
  const stats = m.arms.map((a) => seedMeanSe((a[measure] as Array<number | null>).filter((x): x is number => typeof x === 'number')));
  return {
    data: [{
      type: 'bar', x: m.arms.map((a) => MUTUAL_NAMES[a.role]), y: stats.map((s) => s.mean), error_y: { type: 'data', array: stats.map((s) => s.se), visible: true },
      marker: { color: m.arms.map((a) => MUTUAL_COLORS[a.role]) }, text: m.arms.map((a) => `${a.steps} steps · ${a.seeds.length} seed${a.seeds.length === 1 ? '' : 's'}`),
      hovertemplate: '%{x}: %{y:.4f} ± %{error_y.array:.4f}<br>%{text}<extra></extra>',
    }],
    layout: {
      title: { text: `Mutual improvement at ${m.size}: ${SHORT[measure]} by mixture (mean ± s.e. over seeds)` },
      xaxis: { title: { text: 'mixture (text : caption → image : understanding)' } },
      yaxis: { title: { text: LABELS[measure] } },
      height: 420,
      margin: MARGIN,
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

/** Beyond the paper: exclusivity averaged over layers against size, for the mixed runs and the other arms of experiment 4. */
export function routingSizeFigure(r: Pick<Results, 'routing'>): Figure {
  const avg = (xs: ReadonlyArray<number | null>) => {
    const f = xs.filter((x): x is number => x !== null);
    return f.length === 0 ? null : f.reduce((a, b) => a + b, 0) / f.length;
  };
  const groups = new Map<string, Results['routing']>();
  for (const x of r.routing) {
    const kind = x.arm.slice(x.size.length + 1);
    if (kind === 'text') continue;
    groups.set(kind, [...(groups.get(kind) ?? []), x]);
  }
  if (groups.size === 0) throw new Error('routingSizeFigure: no routing measurements');
  const data: PlotlyTrace[] = [...groups].map(([kind, rows]) => {
    const sorted = [...rows].sort((a, b) => a.params - b.params);
    return { type: 'scatter', mode: kind === 'mixed' ? 'lines+markers' : 'markers', name: kind, x: sorted.map((x) => x.params), y: sorted.map((x) => avg(x.exclusivity)), text: sorted.map((x) => `${x.size} seed ${x.seed}`) };
  });
  return {
    data,
    layout: { title: { text: 'Beyond the paper: text vs image routing exclusivity against size (mean over layers)' }, xaxis: PARAMS_AXIS, yaxis: { title: { text: 'mean JSD text vs image routing (bits)' }, rangemode: 'tozero' }, legend: { orientation: 'h', y: -0.2 }, height: 400, margin: { ...MARGIN, b: 90 } },
  };
}
