/**
 * Notebook 02's figures, built from the results JSON's fields (so the notebook, which builds them from what
 * it just measured, and a reader of the committed file draw the same picture). Every figure has a title and
 * labelled axes, with units where there are.
 *
 *   causalKernelFigure  Fig. 2: which cells of the code grid the causal 2×2 ConvLoRA lets one position see
 *   armsFigure          Table 2 / 10 / 12: held-out image-code or text NLL per arm at one rank (seed mean ± s.e.)
 *   rankFigure          Fig. 5: held-out image-code NLL against adapter rank, one line per arm (± s.e. over seeds)
 *   decodeFigure        C.3: milliseconds per generated image (cached step decoding) by model
 *   exclusivityFigure   beyond the paper: routing exclusivity of text vs image tokens per layer, by model
 *   coActivationFigure  beyond the paper: the image tokens' strongest-partner expert co-activation per layer, by model
 */
import type { Figure, PlotlyTrace } from '../../display/plotly';
import type { Results } from './results';
import type { Arm } from './arms';
import { exclusivityFigure as sharedExclusivityFigure, MARGIN, seedMeanSe } from '../figures';

export { seedMeanSe };

const ARM_COLORS: Record<Arm, string> = {
  lora: '#ee854a', 'moe-lora': '#6acc64', 'moe-lora-matched': '#8c613c', moss: '#4878d0', 'sam-convlora': '#956cb4', full: '#797979',
};
const ARM_LABELS: Record<Arm, string> = {
  lora: 'LoRA', 'moe-lora': 'MoE-LoRA', 'moe-lora-matched': 'MoE-LoRA (params of MoSS)', moss: 'MoSS (ConvLoRA)', 'sam-convlora': 'SAM-ConvLoRA', full: 'full fine-tuning',
};

/** The paper's table each arm belongs to (Table 2: the three adapters and the matched one; 10: SAM-ConvLoRA; 12: full). */
const PAPER_TABLE: Record<Arm, 2 | 10 | 12> = { lora: 2, 'moe-lora': 2, 'moe-lora-matched': 2, moss: 2, 'sam-convlora': 10, full: 12 };

/**
 * Fig. 2 on the code grid: for the position that outputs the code at `cell`, the cells its causal 2×2
 * convolution reads (itself and its top, left and top-left neighbours, where they exist), the cells
 * generated before it that it does not read, and those generated after it (never read: causality).
 */
export function causalKernelFigure(grid: { height: number; width: number }, cell: { row: number; col: number }): Figure {
  const { height: H, width: W } = grid;
  if (!(Number.isInteger(cell.row) && Number.isInteger(cell.col) && cell.row >= 0 && cell.row < H && cell.col >= 0 && cell.col < W)) {
    throw new Error(`causalKernelFigure: cell (${cell.row}, ${cell.col}) is outside the ${H}×${W} grid`);
  }
  const k = cell.row * W + cell.col;
  const z: number[][] = [];
  const text: string[][] = [];
  for (let i = 0; i < H; i++) {
    z.push([]);
    text.push([]);
    for (let j = 0; j < W; j++) {
      const idx = i * W + j;
      const reads = i >= cell.row - 1 && i <= cell.row && j >= cell.col - 1 && j <= cell.col;
      const v = idx === k ? 3 : reads ? 2 : idx < k ? 1 : 0;
      z[i].push(v);
      text[i].push(['after: never read', 'before: not in the kernel', 'read by the 2×2 kernel', 'this position'][v]);
    }
  }
  return {
    data: [{
      type: 'heatmap', z, text, hoverinfo: 'text', zmin: 0, zmax: 3, showscale: false, xgap: 2, ygap: 2,
      x: Array.from({ length: W }, (_, j) => j), y: Array.from({ length: H }, (_, i) => i),
      colorscale: [[0, '#f2f2f2'], [0.33, '#c9d6ea'], [0.67, '#4878d0'], [1, '#d62728']],
    }],
    layout: {
      title: { text: `Fig. 2 analogue: the causal 2×2 ConvLoRA at cell (${cell.row}, ${cell.col}) of the ${H}×${W} code grid<br><sub>red: this position · blue: cells it reads · light blue: earlier cells it does not read · grey: later cells (never read)</sub>` },
      // square cells: the x axis keeps the grid's range and gives up width (plotly's scaleanchor would
      // otherwise widen the range to fill the plot: columns −9…16 around an 8-wide grid)
      xaxis: { title: { text: 'grid column (code cell)' }, dtick: 1, range: [-0.5, W - 0.5], constrain: 'domain' },
      yaxis: { title: { text: 'grid row (code cell)' }, autorange: 'reversed', dtick: 1, scaleanchor: 'x' },
      height: 420,
      margin: { ...MARGIN, t: 90 },
    },
  };
}

/** One bar per arm at `rank` (full fine-tuning too, when present): the held-out NLL, seed mean ± s.e. */
export function armsFigure(r: Pick<Results, 'runs'>, o: { measure: 'image' | 'text'; rank?: number; arms?: Arm[] }): Figure {
  const rank = o.rank ?? 8;
  const rows = r.runs.filter((x) => (x.arm === 'full' || x.rank === rank) && (!o.arms || o.arms.includes(x.arm)));
  if (rows.length === 0) throw new Error(`armsFigure: no runs at rank ${rank}`);
  const stats = rows.map((x) => seedMeanSe(o.measure === 'image' ? x.imageNllPerSeed : x.textNllPerSeed));
  const trace: PlotlyTrace = {
    type: 'bar',
    x: rows.map((x) => ARM_LABELS[x.arm]),
    y: stats.map((s) => s.mean),
    error_y: { type: 'data', array: stats.map((s) => s.se), visible: true },
    marker: { color: rows.map((x) => ARM_COLORS[x.arm]) },
    text: rows.map((x) => `${x.seeds.length} seed${x.seeds.length === 1 ? '' : 's'} · ${x.params.toLocaleString('en-US')} params`),
    hovertemplate: '%{x}: %{y:.4f} ± %{error_y.array:.4f}<br>%{text}<extra></extra>',
  };
  const lo = Math.min(...stats.map((s) => s.mean - s.se));
  const hi = Math.max(...stats.map((s) => s.mean + s.se));
  const pad = Math.max((hi - lo) * 0.6, 0.01);
  const what = o.measure === 'image' ? 'image-code NLL' : 'narration NLL';
  // the paper's table the bars stand for: Table 10 for SAM-ConvLoRA, Table 12 for full fine-tuning, else Table 2
  const tables = [...new Set(rows.map((x) => PAPER_TABLE[x.arm]))].filter((t) => t !== 2);
  const label = tables.length === 0 ? 'Table 2 analogue' : `Table ${tables.join(' and ')} analogue`;
  return {
    data: [trace],
    layout: {
      title: { text: `${label}: held-out ${what}, rank ${rank} (lower is better; mean ± s.e. over seeds)` },
      xaxis: { title: { text: 'adapter' } },
      yaxis: { title: { text: o.measure === 'image' ? 'image-code NLL (nats per code)' : 'text NLL (nats per token)' }, range: [lo - pad, hi + pad] },
      height: 400,
      margin: MARGIN,
    },
  };
}

/** Fig. 5: image-code NLL against rank, one line per arm with runs at two or more ranks. */
export function rankFigure(r: Pick<Results, 'runs'>, o: { measure?: 'image' | 'text'; x?: 'rank' | 'params' } = {}): Figure {
  const measure = o.measure ?? 'image';
  const byParams = o.x === 'params';
  const byArm = new Map<Arm, Results['runs']>();
  for (const x of r.runs) if (x.rank !== undefined) byArm.set(x.arm, [...(byArm.get(x.arm) ?? []), x]);
  const data: PlotlyTrace[] = [];
  for (const [arm, rows] of byArm) {
    // against the rank a curve needs two ranks; against the weight count one run (the matched arm, SAM-ConvLoRA) is a point
    if (new Set(rows.map((x) => x.rank)).size < (byParams ? 1 : 2)) continue;
    const sorted = [...rows].sort((a, b) => (a.rank as number) - (b.rank as number));
    const stats = sorted.map((x) => seedMeanSe(measure === 'image' ? x.imageNllPerSeed : x.textNllPerSeed));
    data.push({
      type: 'scatter', mode: 'lines+markers', name: ARM_LABELS[arm], x: sorted.map((x) => (byParams ? x.params : (x.rank as number))), y: stats.map((s) => s.mean),
      error_y: { type: 'data', array: stats.map((s) => s.se), visible: true }, line: { color: ARM_COLORS[arm] },
      ...(byParams ? { text: sorted.map((x) => `r = ${x.rank}`), hovertemplate: `${ARM_LABELS[arm]}, %{text}: %{x:,} weights, %{y:.4f}<extra></extra>` } : {}),
    });
  }
  if (data.length === 0) throw new Error(byParams ? 'rankFigure: no adapter runs' : 'rankFigure: no arm has runs at two or more ranks');
  const what = measure === 'image' ? 'image-code' : 'text';
  return {
    data,
    layout: {
      title: { text: byParams
        ? `Fig. 5 at equal size: held-out ${what} NLL by the adapter's trainable weights (mean ± s.e. over seeds)`
        : `Fig. 5 analogue: held-out ${what} NLL by adapter rank (mean ± s.e. over seeds)` },
      xaxis: byParams ? { title: { text: 'trainable adapter weights (count, log scale)' }, type: 'log' } : { title: { text: 'adapter rank r' }, type: 'log', tickvals: [4, 8, 16, 32] },
      yaxis: { title: { text: measure === 'image' ? 'image-code NLL (nats per code)' : 'text NLL (nats per token)' } },
      legend: { orientation: 'h', y: -0.2 },
      height: 400,
      margin: { ...MARGIN, b: 90 },
    },
  };
}

/** C.3: milliseconds per generated image (64 codes, cached step decoding) by model. */
export function decodeFigure(decode: NonNullable<Results['decode']>): Figure {
  if (decode.length === 0) throw new Error('decodeFigure: no decode timings');
  return {
    data: [{ type: 'bar', x: decode.map((d) => d.model), y: decode.map((d) => d.msPerImage), marker: { color: '#4878d0' }, hovertemplate: '%{x}: %{y:.0f} ms<extra></extra>' }],
    layout: {
      title: { text: 'C.3 analogue: time to generate one image (64 codes, cached step decoding, one core)' },
      xaxis: { title: { text: 'model' } },
      yaxis: { title: { text: 'milliseconds per image' }, rangemode: 'tozero' },
      height: 360,
      margin: MARGIN,
    },
  };
}

/** Beyond the paper: JSD between text and image tokens' routing per layer (bits), one line per model (papers/figures.ts). */
export function exclusivityFigure(routing: NonNullable<Results['routing']>): Figure {
  return sharedExclusivityFigure(routing, { title: 'Beyond the paper: how separately text and image tokens are routed, by depth and adapter' });
}

/** Beyond the paper: the image tokens' strongest-partner co-activation per layer, one line per model. */
export function coActivationFigure(routing: NonNullable<Results['routing']>): Figure {
  if (routing.length === 0) throw new Error('coActivationFigure: no routing measurements');
  return {
    data: routing.map((m) => ({ type: 'scatter', mode: 'lines+markers', name: m.model, x: m.coActivation.map((_, l) => l), y: m.coActivation })),
    layout: {
      title: { text: 'Beyond the paper: how often an expert fires with its strongest partner on image tokens, by depth and adapter' },
      xaxis: { title: { text: 'MoE layer' }, dtick: 1 },
      yaxis: { title: { text: 'strongest-partner co-activation (share of the expert’s tokens)' }, range: [0, 1] },
      legend: { orientation: 'h', y: -0.2 },
      height: 380,
      margin: { ...MARGIN, b: 90 },
    },
  };
}
