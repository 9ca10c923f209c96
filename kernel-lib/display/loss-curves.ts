/**
 * Training curves: loss (and optionally its parts and the learning rate) against step, for one run or
 * several side by side. Takes `session.train`'s history as it is (TrainEvent[]).
 */
import { Figure, PlotlyTrace, ShowOptions, showFigure } from './plotly';

const MARGIN = { l: 70, r: 20, t: 50, b: 50 };

/** A training history: TrainEvent[] fits, and so does any list of {step, loss}. */
export type LossHistory = readonly { step: number; loss: number; lmLoss?: number; auxLoss?: number; lr?: number }[];

export interface LossCurvesOptions {
  /** Which series per run (default ['loss']). */
  series?: ('loss' | 'lmLoss' | 'auxLoss')[];
  /** Exponential moving average weight in [0, 1): the raw curve is kept, faded (default 0 = off). */
  smooth?: number;
  logY?: boolean;
  /** Learning rate on a right-hand axis (first run only). */
  lr?: boolean;
  title?: string;
}

const DASH: Record<string, string> = { loss: 'solid', lmLoss: 'dash', auxLoss: 'dot' };
const RUN_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];

export function ema(ys: number[], w: number): number[] {
  if (!(w >= 0 && w < 1)) throw new Error(`smooth must be in [0, 1), got ${w}`);
  let acc = NaN;
  return ys.map((y) => (acc = Number.isNaN(acc) ? y : w * acc + (1 - w) * y));
}

/** Loss against step for one run (`history`) or several (`{name: history}`). */
export function lossCurves(runs: LossHistory | Record<string, LossHistory>, opts: LossCurvesOptions = {}): Figure {
  const named: [string, LossHistory][] = Array.isArray(runs) ? [['run', runs as LossHistory]] : Object.entries(runs);
  const series = opts.series ?? ['loss'];
  const smooth = opts.smooth ?? 0;
  const data: PlotlyTrace[] = [];
  named.forEach(([name, h], r) => {
    const color = RUN_COLORS[r % RUN_COLORS.length];
    const x = h.map((e) => e.step);
    for (const s of series) {
      const y = h.map((e) => (e[s] ?? NaN) as number);
      const label = named.length > 1 ? `${name} ${s}` : s;
      const line = { color, dash: DASH[s] };
      data.push({ type: 'scatter', mode: 'lines', name: label, x, y, line, opacity: smooth > 0 ? 0.3 : 1, showlegend: smooth === 0 });
      if (smooth > 0) data.push({ type: 'scatter', mode: 'lines', name: label, x, y: ema(y, smooth), line });
    }
  });
  const layout: Record<string, unknown> = {
    title: { text: opts.title ?? 'Training loss' },
    xaxis: { title: { text: 'step' } },
    yaxis: { title: { text: 'loss' }, ...(opts.logY ? { type: 'log' } : {}) },
    height: 360,
    margin: MARGIN,
    legend: { orientation: 'h', y: 1.12 },
  };
  if (opts.lr && named.length > 0) {
    const [, h] = named[0];
    data.push({ type: 'scatter', mode: 'lines', name: 'lr', x: h.map((e) => e.step), y: h.map((e) => e.lr ?? NaN), yaxis: 'y2', line: { color: '#999', width: 1 } });
    layout.yaxis2 = { title: { text: 'learning rate' }, overlaying: 'y', side: 'right', showgrid: false, tickformat: '.1e' };
    layout.margin = { ...MARGIN, r: 80 };
  }
  return { data, layout };
}

export function showLossCurves(runs: LossHistory | Record<string, LossHistory>, opts: LossCurvesOptions & ShowOptions = {}): void {
  showFigure(lossCurves(runs, opts), opts);
}
