/**
 * The token stream: one chip per generated token, coloured by modality (image codes by their palette
 * colour). Hovering a chip shows that token's routing at every layer — chosen experts with their gate
 * weights and a bar per expert for the router probabilities — and points the heatmap at it.
 */
import { codeColor, css } from './colors';
import { h } from './dom';
import type { StepRecord } from './heatmap';

export class TokenStream {
  readonly root: HTMLElement;
  private readonly list: HTMLElement;
  private readonly tip: HTMLElement;
  private readonly records: StepRecord[] = [];
  private E = 1;

  constructor(private readonly onHover: (rec: StepRecord | null) => void) {
    this.list = h('div', { class: 'sbw-tokens', 'data-count': 0 });
    this.tip = h('div', { class: 'sbw-tip', hidden: true });
    this.root = h('div', { class: 'sbw-stream' }, this.list, this.tip);
    this.reset('Generated tokens appear here; hover one to see its routing.');
  }

  configure(experts: number): void {
    this.E = experts;
  }

  /** Empties the stream; `note` says why it is empty until the first token comes. */
  reset(note?: string): void {
    this.records.length = 0;
    this.list.replaceChildren(...(note ? [h('span', { class: 'sbw-empty', text: note })] : []));
    this.list.dataset.count = '0';
    this.tip.hidden = true;
  }

  get count(): number {
    return this.records.length;
  }

  add(rec: StepRecord): void {
    if (this.records.length === 0) this.list.replaceChildren(); // the note goes with the first token
    this.records.push(rec);
    const chip = h('span', { class: `sbw-tok sbw-tok-${rec.modality}`, 'data-index': rec.index });
    if (rec.modality === 'image' && rec.code !== undefined) {
      chip.style.setProperty('--sbw-code', css(codeColor(rec.code)));
      chip.textContent = String(rec.code);
    } else {
      chip.textContent = visible(rec.piece);
    }
    chip.onmouseenter = () => this.hover(rec, chip);
    chip.onmouseleave = () => {
      this.tip.hidden = true;
      this.onHover(null);
    };
    this.list.append(chip);
    this.list.dataset.count = String(this.records.length);
    this.list.scrollTop = this.list.scrollHeight;
  }

  private hover(rec: StepRecord, chip: HTMLElement): void {
    this.onHover(rec);
    const E = this.E;
    const rows: HTMLElement[] = [];
    const L = rec.probs ? rec.probs.length / E : 0;
    for (let l = 0; l < L; l++) {
      const bars = h('span', { class: 'sbw-tip-bars' });
      bars.style.setProperty('--sbw-bar-w', `${Math.max(2, Math.min(10, Math.floor(120 / E)))}px`);
      const chosen: HTMLElement[] = [];
      for (let e = 0; e < E; e++) {
        const p = (rec.probs as Float32Array)[l * E + e];
        const g = rec.gates ? rec.gates[l * E + e] : 0;
        const bar = h('span', { class: g > 0 ? 'sbw-bar sbw-bar-on' : 'sbw-bar', title: `expert ${e}: p=${p.toFixed(3)}` });
        bar.style.height = `${Math.max(1, Math.round(p * 18))}px`;
        bars.append(bar);
        if (g > 0) chosen.push(h('span', { class: 'sbw-tip-expert', text: `e${e} ${(g * 100).toFixed(0)}%` }));
      }
      // Each "eN p%" stays whole; a long list wraps between entries and its row grows (never a fixed height).
      rows.push(h('div', { class: 'sbw-tip-row' }, h('span', { class: 'sbw-tip-layer', text: `L${l}` }), bars, h('span', { class: 'sbw-tip-experts' }, ...chosen)));
    }
    const head = `#${rec.index} ${JSON.stringify(rec.piece)} · ${rec.modality} · id ${rec.tokenId} · logp ${rec.logprob.toFixed(2)}`;
    const alts = rec.top.slice(0, 3).map((t) => `${visible(t.piece)} ${(t.prob * 100).toFixed(0)}%`).join('  ');
    this.tip.replaceChildren(
      h('div', { class: 'sbw-tip-head', text: head }),
      h('div', { class: 'sbw-tip-alts', text: `top: ${alts}` }),
      ...(rows.length ? rows : [h('div', { text: 'routing not received yet' })]),
    );
    this.tip.hidden = false;
    // Above the chip (over the controls), so the heatmap below stays visible while it follows the hover.
    const box = this.root.getBoundingClientRect();
    const r = chip.getBoundingClientRect();
    this.tip.style.left = `${Math.max(0, Math.min(r.left - box.left, box.width - this.tip.offsetWidth))}px`;
    this.tip.style.top = `${r.top - box.top - this.tip.offsetHeight - 6}px`;
  }
}

/** Whitespace made visible, so a space or newline token is still a chip you can hover. */
function visible(piece: string): string {
  if (piece === '') return '∅';
  return piece.replace(/ /g, '·').replace(/\n/g, '⏎').replace(/\t/g, '⇥');
}
