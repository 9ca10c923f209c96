/**
 * Figure pieces the paper folders share: error bars over seeds, and routing exclusivity by layer (one
 * line per model: MoSS's adapters, Liquid's sizes). Every figure has a title and labelled axes.
 */
import type { Figure } from '../display/plotly';

/** Plot margins the paper figures use. */
export const MARGIN = { l: 80, r: 30, t: 60, b: 60 };

/** The line and bar colours the paper figures cycle through (seaborn's "muted"). */
export const PALETTE: readonly string[] = ['#4878d0', '#ee854a', '#6acc64', '#d65f5f', '#956cb4', '#8c613c'];

/** Mean and standard error of per-seed values (s.e. 0 for one seed: the figure then shows no bar). */
export function seedMeanSe(xs: readonly number[]): { mean: number; se: number } {
  if (xs.length === 0) throw new Error('seedMeanSe: no seeds');
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length === 1) return { mean, se: 0 };
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1));
  return { mean, se: sd / Math.sqrt(xs.length) };
}

/** JSD between text and image tokens' routing per layer (bits), one line per model (null: a layer without both modalities). */
export function exclusivityFigure(routing: ReadonlyArray<{ model: string; exclusivity: ReadonlyArray<number | null> }>, o: { title?: string } = {}): Figure {
  if (routing.length === 0) throw new Error('exclusivityFigure: no routing measurements');
  return {
    data: routing.map((m) => ({ type: 'scatter', mode: 'lines+markers', name: m.model, x: m.exclusivity.map((_, l) => l), y: [...m.exclusivity] })),
    layout: {
      title: { text: o.title ?? 'How separately text and image tokens are routed, by depth' },
      xaxis: { title: { text: 'MoE layer' }, dtick: 1 },
      yaxis: { title: { text: 'JSD text vs image routing (bits)' }, rangemode: 'tozero' },
      legend: { orientation: 'h', y: -0.2 },
      height: 380,
      margin: { ...MARGIN, b: 90 },
    },
  };
}
