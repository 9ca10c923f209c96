/**
 * Notebook 04's figures, built from the results JSON's fields (and, for the routing heatmaps and the CFG
 * sweep's error bars, from the runs' held-out files). Every figure has a title and labelled axes, with units
 * where there are.
 *
 *   architectureFigure  the pieces and shapes: LM with vokens → h_voken → MLP → enc-dec with queries → ĥ → decoder
 *   imageArmsFigure     Tables 5 and 7: one measure per arm, mean over seeds ± s.e. over seeds
 *   contextFigure       Table 6: CLIP-I of the last frame per context, MiniGPT-5 vs two-stage, ± s.e. over seeds
 *   narrationFigure     Table 2: held-out narration NLL, MiniGPT-5 vs text-only, ± s.e. over seeds
 *   cfgSweepFigure      CLIP-I and CLIP-T against the CFG scale γ (full arm), ± s.e. over seeds
 *   vokenRoutingFigure  beyond the paper: JSD of voken vs text and voken vs image-code routing per layer
 *   vokenExpertsFigure  beyond the paper: share of the vokens' expert picks per layer and expert (heatmap)
 */
import type { Figure, PlotlyTrace } from '../../display/plotly';
import { MARGIN, PALETTE, seedMeanSe } from '../figures';
import type { Results } from './results';
import type { RoutingCounts } from './eval-file';
import { CONTEXTS } from './claims';

type ImageMeasure = 'clipI' | 'clipT' | 'scene' | 'fid';
const LABEL: Record<ImageMeasure, string> = {
  clipI: 'CLIP-I vs the true scene (cosine)',
  clipT: 'CLIP-T vs the caption (cosine)',
  scene: 'objects in place (share, scene checker)',
  fid: 'FID on CLIP features (lower is better)',
};
const SHORT: Record<ImageMeasure, string> = { clipI: 'CLIP-I', clipT: 'CLIP-T', scene: 'objects in place', fid: 'FID' };
const PER_SEED = { clipI: 'clipIPerSeed', clipT: 'clipTPerSeed', scene: 'scenePerSeed', fid: 'fidPerSeed' } as const;

const bars = (name: string, x: string[], rows: number[][], color: string): PlotlyTrace => {
  const s = rows.map((r) => seedMeanSe(r));
  return { type: 'bar', name, x, y: s.map((v) => v.mean), error_y: { type: 'data', array: s.map((v) => v.se), visible: true }, marker: { color }, hovertemplate: '%{x}: %{y:.4f} ± %{error_y.array:.4f}<extra></extra>' };
};

/** Tables 5 and 7: `measure` per arm of `arms` (mean over seeds, ± s.e. over seeds). */
export function imageArmsFigure(r: Pick<Results, 'imageArms'>, measure: ImageMeasure, o: { arms: readonly string[]; table: string }): Figure {
  const rows = o.arms.map((a) => r.imageArms.find((x) => x.arm === a)).filter((x): x is Results['imageArms'][number] => x !== undefined);
  if (rows.length === 0) throw new Error(`imageArmsFigure: none of ${o.arms.join(', ')} is measured`);
  return {
    data: [bars(SHORT[measure], rows.map((x) => x.arm), rows.map((x) => x[PER_SEED[measure]]), measure === 'fid' ? PALETTE[3] : PALETTE[0])],
    layout: {
      title: { text: `${o.table} analogue: ${SHORT[measure]} of held-out scenes by arm` },
      xaxis: { title: { text: 'arm (stage 1)' } },
      yaxis: { title: { text: LABEL[measure] }, rangemode: 'tozero' },
      height: 360,
      margin: MARGIN,
    },
  };
}

/** Table 6: CLIP-I of the last frame per context, both models. */
export function contextFigure(r: Pick<Results, 'contexts'>): Figure {
  if (!r.contexts || r.contexts.length === 0) throw new Error('contextFigure: no context measurements');
  const row = (m: 'minigpt5' | 'twoStage') => CONTEXTS.map((c) => r.contexts!.find((x) => x.model === m && x.context === c)!.clipIPerSeed);
  return {
    data: [bars('MiniGPT-5 (vokens)', [...CONTEXTS], row('minigpt5'), PALETTE[0]), bars('two-stage (LM caption → decoder)', [...CONTEXTS], row('twoStage'), PALETTE[1])],
    layout: {
      title: { text: 'Table 6 analogue: the last frame of held-out stories by context' },
      xaxis: { title: { text: 'context before the last frame' } },
      yaxis: { title: { text: 'CLIP-I vs the true last frame (cosine)' }, rangemode: 'tozero' },
      barmode: 'group',
      legend: { orientation: 'h', y: -0.25 },
      height: 380,
      margin: { ...MARGIN, b: 100 },
    },
  };
}

/** Table 2: held-out narration NLL, MiniGPT-5 (stage 2 with vokens) vs the text-only baseline. */
export function narrationFigure(r: Pick<Results, 'narration'>): Figure {
  if (!r.narration || r.narration.length === 0) throw new Error('narrationFigure: no narration measurements');
  const names = { minigpt5: 'MiniGPT-5 (vokens)', textOnly: 'text-only LoRA' };
  return {
    data: [bars('narration NLL', r.narration.map((x) => names[x.model]), r.narration.map((x) => x.nllPerSeed), PALETTE[2])],
    layout: {
      title: { text: 'Table 2 analogue: do vokens cost narration?' },
      xaxis: { title: { text: 'stage-2 model' } },
      yaxis: { title: { text: 'held-out narration NLL (nats per token)' }, rangemode: 'tozero' },
      height: 340,
      margin: MARGIN,
    },
  };
}

/** CLIP-I and CLIP-T against γ (the full arm's sweep), ± s.e. over seeds. */
export function cfgSweepFigure(rows: ReadonlyArray<{ scale: number; clipIPerSeed: readonly number[]; clipTPerSeed: readonly number[] }>): Figure {
  if (rows.length === 0) throw new Error('cfgSweepFigure: no sweep');
  const line = (name: string, ys: ReadonlyArray<readonly number[]>, color: string): PlotlyTrace => {
    const s = ys.map((y) => seedMeanSe(y));
    return { type: 'scatter', mode: 'lines+markers', name, x: rows.map((x) => x.scale), y: s.map((v) => v.mean), error_y: { type: 'data', array: s.map((v) => v.se), visible: true }, line: { color } };
  };
  return {
    data: [line('CLIP-I vs the true scene', rows.map((x) => x.clipIPerSeed), PALETTE[0]), line('CLIP-T vs the caption', rows.map((x) => x.clipTPerSeed), PALETTE[1])],
    layout: {
      title: { text: 'CFG over vokens: image faithfulness against the guidance scale γ' },
      xaxis: { title: { text: 'CFG scale γ (1 = no guidance)' } },
      yaxis: { title: { text: 'cosine similarity (CLIP)' } },
      legend: { orientation: 'h', y: -0.25 },
      height: 360,
      margin: { ...MARGIN, b: 100 },
    },
  };
}

/** Beyond the paper: per layer, how differently vokens are routed from text and from image-code tokens. */
export function vokenRoutingFigure(r: Pick<Results, 'routing'>, o: { models?: readonly string[] } = {}): Figure {
  const rows = (r.routing ?? []).filter((x) => !o.models || o.models.includes(x.model));
  if (rows.length === 0) throw new Error('vokenRoutingFigure: no routing measurements');
  const models = [...new Set(rows.map((x) => x.model))];
  const data: PlotlyTrace[] = models.flatMap((m, i) => {
    const mr = rows.filter((x) => x.model === m).sort((a, b) => a.layer - b.layer);
    const color = PALETTE[i % PALETTE.length];
    return [
      { type: 'scatter', mode: 'lines+markers', name: `${m}: vokens vs text`, x: mr.map((x) => x.layer), y: mr.map((x) => x.vokensVsText), line: { color } },
      { type: 'scatter', mode: 'lines+markers', name: `${m}: vokens vs image codes`, x: mr.map((x) => x.layer), y: mr.map((x) => x.vokensVsImage), line: { color, dash: 'dot' } },
    ];
  });
  return {
    data,
    layout: {
      title: { text: 'Beyond the paper: are vokens routed like text or like image codes?' },
      xaxis: { title: { text: 'MoE layer' }, dtick: 1 },
      yaxis: { title: { text: 'JSD of expert picks (bits; 0 = same experts)' }, rangemode: 'tozero' },
      legend: { orientation: 'h', y: -0.25 },
      height: 400,
      margin: { ...MARGIN, b: 120 },
    },
  };
}

/** Share of a group's expert picks per layer and expert, as a heatmap (rows: layers). */
export function vokenExpertsFigure(c: RoutingCounts, o: { model: string; group?: 'voken' | 'text' | 'image' }): Figure {
  const g = o.group ?? 'voken';
  const z = c[g].map((row) => {
    const s = row.reduce((a, b) => a + b, 0);
    return row.map((x) => (s > 0 ? x / s : 0));
  });
  return {
    data: [{ type: 'heatmap', z, x: z[0].map((_, e) => `E${e}`), y: z.map((_, l) => `layer ${l}`), colorscale: 'Viridis', colorbar: { title: { text: 'share of picks' } } }],
    layout: {
      title: { text: `Where the ${g === 'voken' ? 'vokens' : g === 'text' ? 'text tokens' : 'image codes'} go: ${o.model} (${c.tokens[g]} tokens, ${c.rows} held-out rows)` },
      xaxis: { title: { text: 'expert' } },
      yaxis: { title: { text: 'MoE layer' }, autorange: 'reversed' },
      height: 300,
      margin: MARGIN,
    },
  };
}

/** The architecture with its shapes (n vokens of width H → L × d̂ for the decoder), as boxes and arrows. */
export function architectureFigure(s: { vokens: number; hidden: number; mapperDim: number; length: number; encoderLayers: number; decoderLayers: number; kind: string }): Figure {
  const boxes: Array<[number, string, string]> = [
    [0, 'LM (MoE)', `text … [IMG1]…[IMG${s.vokens}]<br>s1: voken rows train<br>s2: + LoRA`],
    [1, 'h_voken', `${s.vokens} × ${s.hidden}<br>final-norm states<br>zeros 10 % (CFG)`],
    [2, 'MLP', `${s.hidden} → ${s.mapperDim}<br>→ ${s.mapperDim}`],
    [3, s.kind === 'enc-dec' ? 'enc–dec' : 'decoder-only', `${s.encoderLayers} + ${s.decoderLayers} layers<br>${s.kind === 'enc-dec' ? `${s.length} queries q` : `padded to ${s.length}`}`],
    [4, 'ĥ', `${s.length} × ${s.mapperDim}<br>L_CAP:<br>MSE to τ(caption)`],
    [5, 'frozen decoder', 'cross-attends ĥ<br>L_LDM<br>CFG vs ĥ₀'],
  ];
  const shapes = boxes.map(([i]) => ({ type: 'rect', x0: i * 2, x1: i * 2 + 1.7, y0: 0, y1: 1, line: { color: i >= 2 && i <= 4 ? PALETTE[1] : PALETTE[0] }, fillcolor: i >= 2 && i <= 4 ? '#fdebd9' : '#e3ebf8' }));
  const annotations = [
    ...boxes.map(([i, head, body]) => ({ x: i * 2 + 0.85, y: 0.5, text: `<b>${head}</b><br>${body}`, showarrow: false, font: { size: 10 } })),
    ...boxes.slice(1).map(([i]) => ({ x: i * 2, y: 0.5, ax: i * 2 - 0.3, ay: 0.5, xref: 'x', yref: 'y', axref: 'x', ayref: 'y', text: '', showarrow: true, arrowhead: 2 })),
  ];
  return {
    data: [{ type: 'scatter', mode: 'markers', x: [0, 11.7], y: [0, 1], marker: { opacity: 0 }, hoverinfo: 'skip', showlegend: false }],
    layout: {
      title: { text: 'MiniGPT-5 at workbench scale: vokens → feature mapper → frozen decoder' },
      xaxis: { title: { text: 'data flow (left to right; orange: the feature mapper)' }, showticklabels: false, showgrid: false, zeroline: false, range: [-0.2, 11.9] },
      yaxis: { title: { text: 'one forward' }, showticklabels: false, showgrid: false, zeroline: false, range: [-0.1, 1.1] },
      shapes,
      annotations,
      height: 300,
      margin: MARGIN,
    },
  };
}
