/**
 * Routing heatmap: layers (rows) × experts (columns) for one token — the latest, or the one under
 * the mouse in the token stream. Colour is the router probability relative to the token's largest;
 * the experts the token was actually sent to (top-k) are outlined.
 */
import { css, viridis } from './colors';
import { h, hiDpiCanvas } from './dom';

/** One received token with its routing (routing arrives in a binary frame right after the JSON step). */
export interface StepRecord {
  index: number;
  piece: string;
  modality: 'text' | 'image' | 'special';
  tokenId: number;
  logprob: number;
  top: { piece: string; prob: number }[];
  code?: number;
  probs?: Float32Array; // [L, E]
  gates?: Float32Array; // [L, E], 0 where not chosen
}

const WIDTH = 300;
const LEFT = 30;
const TOP = 16;

export class Heatmap {
  readonly root: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  private readonly caption: HTMLElement;
  private L = 1;
  private E = 1;

  constructor() {
    this.canvas = h('canvas', { class: 'sbw-heatmap', 'data-step': -1 });
    this.caption = h('div', { class: 'sbw-caption', text: 'no token yet' });
    const legend = h('div', { class: 'sbw-caption sbw-legend' }, h('i', { class: 'sbw-ramp' }), 'router prob (÷ token max) · outlined: chosen');
    this.root = h('div', { class: 'sbw-panel' }, h('div', { class: 'sbw-panel-title', text: 'Routing · layers × experts' }), this.canvas, this.caption, legend);
    this.draw(null);
  }

  configure(layers: number, experts: number): void {
    this.L = Math.max(1, layers);
    this.E = Math.max(1, experts);
    this.draw(null);
  }

  show(rec: StepRecord | null, hovered = false): void {
    this.draw(rec);
    this.canvas.dataset.step = String(rec?.probs ? rec.index : -1);
    this.caption.textContent = rec ? `${hovered ? 'hovered' : 'latest'}: #${rec.index} ${JSON.stringify(rec.piece)} (${rec.modality})` : 'no token yet';
  }

  private draw(rec: StepRecord | null): void {
    const { L, E } = this;
    const cw = Math.max(3, Math.min(40, Math.floor((WIDTH - LEFT) / E)));
    const ch = Math.max(3, Math.min(28, Math.floor(200 / L)));
    const ctx = hiDpiCanvas(this.canvas, LEFT + cw * E + 2, TOP + ch * L + 2);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, LEFT + cw * E + 2, TOP + ch * L + 2);
    ctx.font = '10px system-ui, sans-serif';
    ctx.fillStyle = '#6b7280';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    const every = Math.ceil(L / Math.max(1, Math.floor((ch * L) / 12)));
    for (let l = 0; l < L; l += every) ctx.fillText(`L${l}`, LEFT - 4, TOP + l * ch + ch / 2);
    ctx.textAlign = 'center';
    const everyE = Math.ceil(E / Math.max(1, Math.floor((cw * E) / 16)));
    for (let e = 0; e < E; e += everyE) ctx.fillText(String(e), LEFT + e * cw + cw / 2, TOP / 2);
    const probs = rec?.probs;
    let max = 0;
    if (probs) for (let i = 0; i < probs.length; i++) max = Math.max(max, probs[i]);
    for (let l = 0; l < L; l++) {
      for (let e = 0; e < E; e++) {
        const p = probs ? probs[l * E + e] : 0;
        ctx.fillStyle = probs ? css(viridis(max > 0 ? p / max : 0)) : '#f3f4f6';
        ctx.fillRect(LEFT + e * cw, TOP + l * ch, cw - 1, ch - 1);
        if (rec?.gates && rec.gates[l * E + e] > 0 && cw >= 6 && ch >= 6) {
          ctx.strokeStyle = '#fff';
          ctx.lineWidth = 1.5;
          ctx.strokeRect(LEFT + e * cw + 1.5, TOP + l * ch + 1.5, cw - 4, ch - 4);
        }
      }
    }
  }
}
