/**
 * Expert usage by modality: for each expert, the share of text tokens' and of image tokens' top-k
 * slots that went to it (over all layers, or one). Shares rather than counts, so a run with 3 text
 * tokens and 200 image codes still shows both modalities' preferences side by side.
 */
import { MODALITY_COLOR } from './colors';
import { h } from './dom';

type Kind = 'text' | 'image';

export class UsageBars {
  readonly root: HTMLElement;
  private readonly bars: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly layerSelect: HTMLSelectElement;
  private L = 1;
  private E = 1;
  /** [modality][layer * E + expert] → chosen count. */
  private counts: Record<Kind, Float64Array> = { text: new Float64Array(1), image: new Float64Array(1) };
  private tokens: Record<Kind, number> = { text: 0, image: 0 };
  private pending = false;

  constructor() {
    this.layerSelect = h('select', { class: 'sbw-mini-select', title: 'Which layers to count' });
    this.layerSelect.onchange = () => this.render();
    this.bars = h('div', { class: 'sbw-usage' });
    this.legend = h('div', { class: 'sbw-caption' });
    const title = h('div', { class: 'sbw-panel-title' }, 'Expert usage by modality ', this.layerSelect);
    this.root = h('div', { class: 'sbw-panel sbw-panel-wide' }, title, this.bars, this.legend);
  }

  configure(layers: number, experts: number): void {
    this.L = layers;
    this.E = experts;
    this.layerSelect.replaceChildren(h('option', { value: 'all', text: 'all layers' }));
    for (let l = 0; l < layers; l++) this.layerSelect.append(h('option', { value: String(l), text: `layer ${l}` }));
    this.reset();
  }

  reset(): void {
    this.counts = { text: new Float64Array(this.L * this.E), image: new Float64Array(this.L * this.E) };
    this.tokens = { text: 0, image: 0 };
    this.render();
  }

  /** One token's dense gates [L, E]; special tokens are not counted. */
  add(modality: string, gates: Float32Array): void {
    if (modality !== 'text' && modality !== 'image') return;
    const c = this.counts[modality];
    for (let i = 0; i < c.length && i < gates.length; i++) if (gates[i] > 0) c[i]++;
    this.tokens[modality]++;
    // Redraw at most once a frame: image runs can deliver hundreds of steps a second.
    if (!this.pending) {
      this.pending = true;
      requestAnimationFrame(() => {
        this.pending = false;
        this.render();
      });
    }
  }

  private shares(kind: Kind): number[] {
    const { L, E } = this;
    const sel = this.layerSelect.value;
    const layers = sel === 'all' || sel === '' ? [...Array(L).keys()] : [Number(sel)];
    const per = new Array<number>(E).fill(0);
    for (const l of layers) for (let e = 0; e < E; e++) per[e] += this.counts[kind][l * E + e];
    const total = per.reduce((a, b) => a + b, 0);
    return per.map((v) => (total > 0 ? v / total : 0));
  }

  private render(): void {
    const text = this.shares('text');
    const image = this.shares('image');
    const max = Math.max(1e-9, ...text, ...image);
    const cols = [];
    for (let e = 0; e < this.E; e++) {
      const bar = (kind: Kind, v: number): HTMLElement => {
        const b = h('span', { class: 'sbw-ubar', title: `expert ${e}: ${(v * 100).toFixed(1)}% of ${kind} slots` });
        b.style.height = `${Math.round((v / max) * 64)}px`;
        b.style.background = MODALITY_COLOR[kind];
        return b;
      };
      cols.push(h('div', { class: 'sbw-ucol' }, h('div', { class: 'sbw-ubars' }, bar('text', text[e]), bar('image', image[e])), h('span', { class: 'sbw-ulabel', text: String(e) })));
    }
    this.bars.replaceChildren(...cols);
    this.bars.dataset.text = String(this.tokens.text);
    this.bars.dataset.image = String(this.tokens.image);
    const key = (kind: Kind): HTMLElement => h('span', { class: 'sbw-key' }, h('i', { style: `background:${MODALITY_COLOR[kind]}` }), `${kind} (${this.tokens[kind]} tokens)`);
    this.legend.replaceChildren(key('text'), key('image'));
    this.legend.title = 'Bar height: the share of that modality’s top-k routing slots that went to the expert';
  }
}
