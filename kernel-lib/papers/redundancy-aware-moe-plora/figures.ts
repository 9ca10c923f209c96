/**
 * The paper's figures at workbench scale, built from the results JSON's fields (so the notebook, which
 * builds them from what it just measured, and `npm run figures`, which builds them from the committed
 * file, draw the same picture). Every figure has a title and labelled axes, with units where there are.
 *
 *   initFigure          GW vs mean initialisation: early held-out image-code NLL (nats per code)
 *   coActivationFigure  Fig. 3: strongest-partner co-activation per layer, before and after
 *   routingFigure       Fig. 4: share of each modality's top-k picks per expert at one layer (JSD in the title)
 *   exclusivityFigure   Fig. 4: routing exclusivity (JSD, bits) by depth, before and after
 *   clipTFigure         CLIP-T of drawn and real images with their own vs shuffled captions
 *   armsTextFigure      issue #18: text perplexity change by variant (seed means ± s.e.) and mechanism arm
 *   armsImageFigure     issue #18: what each arm costs the images (CLIP-T own − shuffled ± s.e., image-code NLL)
 *   damageFigure        issue #18: each arm's text NLL rise split into new-id mass and text-id prediction
 */
import type { Figure, PlotlyTrace } from '../../display/plotly';
import type { Results } from './results';
import { damageDecomposition } from './seeds';

const MARGIN = { l: 80, r: 30, t: 60, b: 60 };
const COLORS = { before: '#9ab', plora: '#4878d0', lora: '#ee854a', gw: '#4878d0', mean: '#ee854a', reference: '#888' };
const layerNames = (n: number): string[] => Array.from({ length: n }, (_, l) => `layer ${l}`);

/** Held-out image-code NLL during the first low-res steps, GW vs mean-initialised new rows. */
export function initFigure(init: Results['init'], o: { numCodes?: number } = {}): Figure {
  const codes = o.numCodes ?? 512;
  const last = Math.max(init.gw.at(-1)?.[0] ?? 0, init.mean.at(-1)?.[0] ?? 0);
  const curve = (name: string, pts: [number, number][], color: string): PlotlyTrace => ({
    type: 'scatter', mode: 'lines+markers', name, x: pts.map((p) => p[0]), y: pts.map((p) => p[1]), line: { color },
  });
  return {
    data: [
      curve('Gromov–Wasserstein init', init.gw, COLORS.gw),
      curve('mean init', init.mean, COLORS.mean),
      { type: 'scatter', mode: 'lines', name: `uniform over ${codes} codes`, x: [0, last], y: [Math.log(codes), Math.log(codes)], line: { dash: 'dot', color: COLORS.reference } },
    ],
    layout: {
      title: { text: 'Early image loss by initialisation of the new rows (held-out scenes, 4×4 codes)' },
      xaxis: { title: { text: 'low-res training step' } },
      yaxis: { title: { text: 'image-code NLL (nats per code)' } },
      legend: { orientation: 'h', y: -0.2 },
      height: 380,
      margin: { ...MARGIN, b: 90 },
    },
  };
}

/** Fig. 3: mean over experts of max_j N(i,j)/N(i) per layer, before training and after each fine-tune. */
export function coActivationFigure(eca: Results['eca']): Figure {
  const x = layerNames(eca.before.length);
  const bars = (name: string, y: number[], color: string): PlotlyTrace => ({ type: 'bar', name, x, y, marker: { color } });
  return {
    data: [
      bars('before', eca.before, COLORS.before),
      bars('after (+PLoRA)', eca.plora, COLORS.plora),
      bars('after (+LoRA)', eca.lora, COLORS.lora),
      { type: 'scatter', mode: 'lines', name: 'all-pairs mean (any router)', x, y: eca.allPairsMean, line: { dash: 'dot', color: COLORS.reference } },
    ],
    layout: {
      title: { text: 'Fig. 3 analogue: expert co-activation (strongest partner) per layer' },
      barmode: 'group',
      xaxis: { title: { text: 'MoE layer' } },
      yaxis: { title: { text: 'co-activation max<sub>j</sub> N(i,j)/N(i) (fraction of tokens)' }, range: [0, 1] },
      legend: { orientation: 'h', y: -0.2 },
      height: 400,
      margin: { ...MARGIN, b: 90 },
    },
  };
}

/** Fig. 4: one layer's share of the text and of the image tokens' top-k picks per expert. */
export function routingFigure(r: Results['routing'][number], o: { model?: string } = {}): Figure {
  const experts = r.text.map((_, e) => `E${e}`);
  return {
    data: [
      {
        type: 'heatmap',
        x: experts,
        y: ['text', 'image'],
        z: [r.text, r.image],
        zmin: 0,
        colorscale: 'Viridis',
        colorbar: { title: { text: 'share of picks' }, tickformat: '.0%' },
        hovertemplate: '%{y} tokens → %{x}: %{z:.1%} of their picks<extra></extra>',
      },
    ],
    layout: {
      title: {
        text: `Fig. 4 analogue${o.model ? ` (${o.model})` : ''}, layer ${r.layer}: JSD text vs image ${r.exclusivity.toFixed(3)} bits` +
          `<br><sub>share of each modality's top-k picks per expert; ${r.tokens.text} text, ${r.tokens.image} image tokens</sub>`,
      },
      xaxis: { title: { text: 'expert' }, type: 'category' },
      yaxis: { title: { text: 'token modality' }, type: 'category' },
      height: 280,
      margin: { ...MARGIN, t: 80 },
    },
  };
}

/** Fig. 4: routing exclusivity (Jensen–Shannon divergence of text vs image picks, bits) by depth. */
export function exclusivityFigure(ex: Results['exclusivity']): Figure {
  const x = layerNames(ex.before.length);
  const line = (name: string, y: number[], color: string): PlotlyTrace => ({ type: 'scatter', mode: 'lines+markers', name, x, y, line: { color } });
  return {
    data: [line('before', ex.before, COLORS.before), line('after (+PLoRA)', ex.plora, COLORS.plora), line('after (+LoRA)', ex.lora, COLORS.lora)],
    layout: {
      title: { text: 'Fig. 4 analogue: routing exclusivity by depth (0 = shared experts, 1 = disjoint)' },
      xaxis: { title: { text: 'MoE layer' } },
      yaxis: { title: { text: 'JSD text vs image (bits)' }, range: [0, 1] },
      legend: { orientation: 'h', y: -0.2 },
      height: 360,
      margin: { ...MARGIN, b: 90 },
    },
  };
}

/** CLIP-T (cosine) of images with their own caption vs a shuffled one: the drawn images and the real scenes. */
export function clipTFigure(clipT: Results['clipT']): Figure {
  const sets = [['+PLoRA', clipT.plora], ['+LoRA', clipT.lora], ['real scenes', clipT.real]] as const;
  const x = sets.map(([name]) => name);
  return {
    data: [
      { type: 'bar', name: 'own caption', x, y: sets.map(([, c]) => c.own), marker: { color: '#2ca02c' } },
      { type: 'bar', name: 'shuffled caption', x, y: sets.map(([, c]) => c.shuffled), marker: { color: '#999' } },
    ],
    layout: {
      title: { text: `Do the images follow their captions? CLIP-T on ${clipT.plora.captions} held-out scene captions<br><sub>own − shuffled, paired (± s.e.): ${sets.map(([name, c]) => `${name} ${c.difference >= 0 ? '+' : ''}${c.difference.toFixed(3)} ± ${c.standardError.toFixed(3)}`).join(' · ')}</sub>` },
      barmode: 'group',
      xaxis: { title: { text: 'images' } },
      yaxis: { title: { text: 'CLIP-T (cosine similarity)' } },
      height: 360,
      margin: { ...MARGIN, t: 90 },
    },
  };
}

const ARM_LABELS: Record<string, string> = {
  paper: 'paper recipe',
  frozen: 'routers + experts frozen',
  routers: 'routers only',
  experts: 'experts only',
  replay: 'paper + 25 % text',
};

/** Text perplexity change vs the base: both variants over seeds (mean ± s.e.), then PLoRA's arms (seed 0). */
export function armsTextFigure(seeds: Results['seeds']): Figure {
  const { plora, lora } = seeds.summary;
  const arms = seeds.arms.filter((a) => a.arm !== 'paper');
  const x = [`PLoRA (${plora.seeds.length} seeds)`, `LoRA (${lora.seeds.length} seeds)`, ...arms.map((a) => ARM_LABELS[a.arm])];
  return {
    data: [
      {
        type: 'bar', name: 'perplexity change', x, y: [plora.perplexityChangePercent.mean, lora.perplexityChangePercent.mean, ...arms.map((a) => a.perplexityChangePercent)],
        error_y: { type: 'data', array: [plora.perplexityChangePercent.se, lora.perplexityChangePercent.se, ...arms.map(() => 0)], visible: true },
        marker: { color: [COLORS.plora, COLORS.lora, ...arms.map(() => '#6a9')] },
      },
      { type: 'scatter', mode: 'lines', name: 'paper’s bar for “preserved” (+5 %)', x: [x[0], x.at(-1)], y: [5, 5], line: { dash: 'dot', color: COLORS.reference } },
    ],
    layout: {
      title: { text: 'Which trainable part costs the text? Held-out Brown perplexity change vs text-moe-small<br><sub>error bars: ± s.e. over seeds; the arms (PLoRA, one change each) are seed 0</sub>' },
      xaxis: { title: { text: 'fine-tune' } },
      yaxis: { title: { text: 'perplexity change vs base (%)' } },
      showlegend: true,
      legend: { orientation: 'h', y: -0.5 },
      height: 460,
      margin: { ...MARGIN, t: 90, b: 170 },
    },
  };
}

/** What each arm costs the images: CLIP-T own − shuffled (± s.e. over captions) and the held-out image-code NLL. */
export function armsImageFigure(seeds: Results['seeds']): Figure {
  const x = seeds.arms.map((a) => ARM_LABELS[a.arm]);
  return {
    data: [
      { type: 'bar', name: 'CLIP-T own − shuffled caption', x, y: seeds.arms.map((a) => a.clipT.difference), error_y: { type: 'data', array: seeds.arms.map((a) => a.clipT.standardError), visible: true }, marker: { color: '#2ca02c' } },
      { type: 'scatter', mode: 'markers', name: 'held-out image-code NLL (right axis)', x, y: seeds.arms.map((a) => a.imageNll), yaxis: 'y2', marker: { color: '#d62728', size: 11, symbol: 'diamond' } },
    ],
    layout: {
      title: { text: `What each arm costs the images (PLoRA, seed 0; ${seeds.arms[0]?.clipT.captions ?? 0} held-out captions)<br><sub>CLIP-T error bars: ± s.e. of the paired per-caption difference</sub>` },
      xaxis: { title: { text: 'arm' } },
      yaxis: { title: { text: 'CLIP-T own − shuffled (cosine)' } },
      yaxis2: { title: { text: 'image-code NLL (nats per code)' }, overlaying: 'y', side: 'right', tickformat: '.2f', showgrid: false },
      legend: { orientation: 'h', y: -0.5 },
      height: 460,
      margin: { ...MARGIN, r: 80, t: 90, b: 170 },
    },
  };
}

/** Each arm's rise of the held-out text NLL (nats per token), stacked: mass on the new ids + worse text-id prediction. */
export function damageFigure(seeds: Results['seeds']): Figure {
  const d = damageDecomposition(seeds, seeds.basePerplexity);
  const x = d.map((r) => ARM_LABELS[r.arm]);
  return {
    data: [
      { type: 'bar', name: 'worse prediction among text ids', x, y: d.map((r) => r.textIds), marker: { color: '#c44e52' } },
      { type: 'bar', name: 'probability given to the new ids (image codes, <boi>, …)', x, y: d.map((r) => r.newIds), marker: { color: '#8c8c8c' } },
    ],
    layout: {
      title: { text: `Where the text loss goes (PLoRA, seed 0): held-out NLL rise over the base (perplexity ${seeds.basePerplexity.toFixed(1)})<br><sub>ln(ppl ÷ ppl over text ids) + ln(ppl over text ids ÷ base ppl) = ln(ppl ÷ base ppl)</sub>` },
      barmode: 'stack',
      xaxis: { title: { text: 'arm' } },
      yaxis: { title: { text: 'NLL rise over the base (nats per token)' } },
      legend: { orientation: 'h', y: -0.5 },
      height: 460,
      margin: { ...MARGIN, t: 90, b: 170 },
    },
  };
}

/** The figures worth a picture in the README, by file name (`npm run figures` renders them). */
export function keyFigures(r: Results): { name: string; figure: Figure }[] {
  return [
    { name: 'plora-init', figure: initFigure(r.init) },
    { name: 'plora-fig3-coactivation', figure: coActivationFigure(r.eca) },
    ...r.routing.map((g) => ({ name: `plora-fig4-routing-layer${g.layer}`, figure: routingFigure(g, { model: '+PLoRA' }) })),
    { name: 'plora-fig4-exclusivity', figure: exclusivityFigure(r.exclusivity) },
    { name: 'plora-clip-t', figure: clipTFigure(r.clipT) },
    { name: 'plora-arms-text', figure: armsTextFigure(r.seeds) },
    { name: 'plora-arms-images', figure: armsImageFigure(r.seeds) },
    { name: 'plora-arms-damage', figure: damageFigure(r.seeds) },
  ];
}
