/**
 * The live decoding view: the state of a decode (prompt, steps so far, images filling in) drawn as
 * one self-contained HTML fragment with no script — inline SVG and PNG data URIs only — so every
 * frame, the last one included, renders the same in the live notebook, the saved .ipynb and
 * nbconvert's HTML.
 *
 *   header           progress, tokens/s, stop reason
 *   token stream     prompt (grey) then generated tokens coloured by modality; image codes as small
 *                    squares in their palette colour; hover: logprob and top experts per layer
 *   images           each generated image so far (PatchRenderer), the current patch outlined
 *   current token    layers × experts router probabilities (SVG), chosen experts outlined
 *   sequence         (layer, expert) rows × generated tokens, gate weights of chosen experts (PNG)
 */
import type { Step } from '../decode/generate';
import type { GridPos, Modality } from '../tokenizer';
import { codeColor, hexToRgb, MODALITY_COLORS, MODALITIES, RGB, rgbToHex, viridis } from './colors';
import { controlPictures, escapeAttr, escapeHtml, pngDataUri } from './html';
import { rgbPng, upscaleNearest } from '../image/png';
import type { RGBImage } from '../image/types';
import type { PatchRenderer } from '../image/types';
import { svgColorbar, svgHeatmap } from './svg-heatmap';

export interface LiveViewConfig {
  numLayers: number;
  numExperts: number;
  topK: number;
  /** Grid of generated images, or null when the vocabulary has none. */
  grid: { height: number; width: number } | null;
  renderer: PatchRenderer;
  maxHeatmapTokens: number;
  maxNewTokens: number;
  prompt: { piece: string; modality: Modality }[];
  /** Image code of a token id (−1 when not an image code). */
  codeOf(tokenId: number): number;
}

/** A generated image so far: codes row-major, −1 where not generated yet. */
export interface LiveImage {
  /** The image's index in the sequence (0 = the first image, prompt images included). */
  index: number;
  height: number;
  width: number;
  codes: number[];
  complete: boolean;
}

const MARK = '#ff2d55';
const CANVAS_PX = 192;

export class LiveView {
  readonly steps: Step[] = [];
  readonly images = new Map<number, LiveImage>();
  private current: GridPos | null = null;
  stopReason: string | null = null;
  error: string | null = null;
  final = false;
  private readonly started = Date.now();
  elapsedMs = 0;

  constructor(readonly cfg: LiveViewConfig) {}

  add(step: Step): void {
    this.steps.push(step);
    this.elapsedMs = Date.now() - this.started;
    this.current = null;
    const g = step.grid;
    if (g && this.cfg.grid) {
      const { height: H, width: W } = this.cfg.grid;
      let img = this.images.get(g.image);
      if (!img) {
        img = { index: g.image, height: H, width: W, codes: new Array<number>(H * W).fill(-1), complete: false };
        this.images.set(g.image, img);
      }
      if (g.row < H && g.col < W) img.codes[g.row * W + g.col] = this.cfg.codeOf(step.tokenId);
      img.complete = img.codes.every((c) => c >= 0);
      this.current = { image: g.image, row: g.row, col: g.col };
    }
  }

  finish(stopReason: string | null, error: unknown): void {
    this.final = true;
    this.stopReason = stopReason;
    this.error = error === null || error === undefined ? null : error instanceof Error ? error.message : String(error);
    this.elapsedMs = Date.now() - this.started;
  }

  headline(): string {
    const n = this.steps.length;
    const secs = this.elapsedMs / 1000;
    const rate = secs > 0 ? ` · ${(n / secs).toFixed(1)} tok/s` : '';
    if (this.error) return `stopped by an error after ${n} tokens: ${this.error}`;
    if (this.final) return `done: ${n} tokens in ${secs.toFixed(2)} s${rate} · stop: ${this.stopReason ?? '?'}`;
    return `decoding… ${n}/${this.cfg.maxNewTokens} tokens${rate}`;
  }

  async html(): Promise<string> {
    const parts = [
      `<div style="font-weight:bold;margin-bottom:4px">${escapeHtml(this.headline())}</div>`,
      this.legendHtml(),
      `<div style="line-height:1.9;margin:6px 0;max-height:220px;overflow-y:auto">${this.streamHtml()}</div>`,
    ];
    const row: string[] = [];
    for (const img of this.images.values()) row.push(await this.imageHtml(img));
    const last = this.steps[this.steps.length - 1];
    if (last && last.routing.length > 0) row.push(this.currentHtml(last));
    if (this.steps.some((s) => s.routing.length > 0)) row.push(await this.sequenceHtml());
    if (row.length > 0) parts.push(`<div style="display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start">${row.join('')}</div>`);
    return `<div class="switchboard-live" style="font-family:sans-serif;font-size:12px">${parts.join('\n')}</div>`;
  }

  /** What a terminal gets at the end. */
  text(): string {
    const lines = [`liveDecode: ${this.headline()}`];
    const out = this.steps.map((s) => (s.modality === 'image' ? '■' : s.piece)).join('');
    lines.push(`generated: ${out}`);
    for (const img of this.images.values()) {
      lines.push(`image ${img.index}: ${img.height}×${img.width} codes${img.complete ? '' : ' (incomplete)'}: ${img.codes.map((c) => (c < 0 ? '·' : c)).join(' ')}`);
    }
    return lines.join('\n');
  }

  private legendHtml(): string {
    const chip = (m: Modality): string =>
      `<span style="border-bottom:3px solid ${MODALITY_COLORS[m]};padding:0 4px;margin-right:8px">${m}</span>`;
    return `<div style="display:flex;align-items:center;gap:4px;color:#333">${MODALITIES.map(chip).join('')}` +
      `<span style="color:#999;margin-right:8px">prompt</span>` +
      `<span style="outline:2px solid ${MARK};padding:0 4px;margin-right:8px">chosen / current</span>${svgColorbar('')}</div>`;
  }

  private streamHtml(): string {
    const prompt = this.cfg.prompt
      .map((p) => `<span style="color:#999;white-space:pre-wrap" title="prompt (${p.modality})">${escapeHtml(visible(p.piece, p.modality))}</span>`)
      .join('');
    const gen = this.steps.map((s) => this.tokenHtml(s)).join('');
    return `${prompt}<span style="color:#999"> ▸ </span>${gen}`;
  }

  private tokenHtml(s: Step): string {
    const title = escapeAttr(tokenTitle(s));
    const color = MODALITY_COLORS[s.modality];
    if (s.modality === 'image') {
      const fill = rgbToHex(codeColor(this.cfg.codeOf(s.tokenId)));
      return `<span title="${title}" style="display:inline-block;width:9px;height:9px;margin:0 1px;background:${fill};border:1px solid ${color}"></span>`;
    }
    const bg = `${color}22`;
    return `<span title="${title}" style="white-space:pre-wrap;background:${bg};border-bottom:2px solid ${color};padding:0 1px;margin:0 1px">${escapeHtml(visible(s.piece, s.modality))}</span>`;
  }

  private async imageHtml(img: LiveImage): Promise<string> {
    const P = this.cfg.renderer.patchSize;
    const W = img.width * P;
    const H = img.height * P;
    const rgb = this.cfg.renderer.render(img.codes, { height: img.height, width: img.width });
    if (rgb.length !== W * H * 3) throw new Error(`PatchRenderer returned ${rgb.length} bytes; a ${W}×${H} RGB image has ${W * H * 3}`);
    const scale = Math.max(1, Math.floor(CANVAS_PX / Math.max(W, H)));
    const big = upscaleNearest({ width: W, height: H, pixels: rgb }, scale);
    const cur = this.current;
    if (cur && cur.image === img.index && !this.final) {
      const side = P * scale;
      outline(big, cur.col * side, cur.row * side, side, side, side >= 12 ? 2 : 1, [255, 45, 85]);
    }
    const png = await rgbPng(big);
    const done = img.codes.filter((c) => c >= 0).length;
    return `<figure style="margin:0"><img src="${pngDataUri(png)}" width="${big.width}" height="${big.height}" style="image-rendering:pixelated;border:1px solid #ccc" alt="image ${img.index}"/>` +
      `<figcaption>image ${img.index}: ${done}/${img.codes.length} patches</figcaption></figure>`;
  }

  private currentHtml(s: Step): string {
    const { numLayers: L, numExperts: E } = this.cfg;
    const cw = Math.max(6, Math.min(24, Math.floor(320 / E)));
    const svg = svgHeatmap({
      z: s.routing.map((r) => r.probs),
      cellWidth: cw,
      cellHeight: Math.max(8, Math.min(20, Math.floor(160 / L))),
      rowLabels: s.routing.map((r) => `L${r.layer}`),
      colLabels: Array.from({ length: E }, (_, e) => `E${e}`),
      marks: s.routing.flatMap((r, l) => r.experts.map((e) => [l, e] as [number, number])),
      cellTitle: (l, e) => `L${l} E${e}: p=${s.routing[l].probs[e].toFixed(3)}`,
    });
    return `<figure style="margin:0">${svg}<figcaption>current token ${escapeHtml(JSON.stringify(s.piece))}: router probs</figcaption></figure>`;
  }

  /** Rows: (layer, expert), layers separated by a gap; columns: the last maxHeatmapTokens steps. */
  private async sequenceHtml(): Promise<string> {
    const { numLayers: L, numExperts: E, maxHeatmapTokens } = this.cfg;
    const steps = this.steps.filter((s) => s.routing.length > 0).slice(-maxHeatmapTokens);
    const cw = Math.max(3, Math.min(12, Math.floor(512 / maxHeatmapTokens)));
    const ch = Math.max(3, Math.min(12, Math.floor(160 / (L * E))));
    const gap = 3;
    const strip = 5;
    const width = Math.max(1, steps.length) * cw;
    const height = L * E * ch + (L - 1) * gap + 2 + strip;
    const img: RGBImage = { width, height, pixels: new Uint8Array(width * height * 3).fill(255) };
    steps.forEach((s, t) => {
      for (const r of s.routing) {
        const w = new Array<number>(E).fill(0);
        r.experts.forEach((e, i) => (w[e] = r.weights[i]));
        for (let e = 0; e < E; e++) fillRect(img, t * cw, r.layer * (E * ch + gap) + e * ch, cw, ch, viridis(w[e]));
      }
      fillRect(img, t * cw, height - strip, cw, strip, hexToRgb(MODALITY_COLORS[s.modality]));
    });
    const png = await rgbPng(img);
    return `<figure style="margin:0"><img src="${pngDataUri(png)}" width="${width}" height="${height}" style="image-rendering:pixelated;border:1px solid #ccc" alt="routing of the sequence"/>` +
      `<figcaption>sequence (last ${steps.length} tokens →): rows L0…L${L - 1} × E0…E${E - 1}, gate weights; strip: modality</figcaption></figure>`;
  }
}

function visible(piece: string, modality: Modality): string {
  if (modality === 'special') return ` ${piece} `;
  return controlPictures(piece.replace(/\n/g, '↵\n'));
}

function tokenTitle(s: Step): string {
  const head = `#${s.position} ${JSON.stringify(s.piece)} (${s.modality}${s.grid ? ` r${s.grid.row} c${s.grid.col}` : ''})` +
    ` logprob ${s.logprob.toFixed(2)}${s.forced ? ' · forced' : ''}`;
  const routes = s.routing.map((r) => `L${r.layer}: ${r.experts.map((e, i) => `E${e} ${r.weights[i].toFixed(2)}`).join(', ')}`);
  return [head, ...routes].join('\n');
}

function fillRect(img: RGBImage, x0: number, y0: number, w: number, h: number, rgb: RGB): void {
  for (let y = Math.max(0, y0); y < Math.min(img.height, y0 + h); y++) {
    for (let x = Math.max(0, x0); x < Math.min(img.width, x0 + w); x++) img.pixels.set(rgb, (y * img.width + x) * 3);
  }
}

function outline(img: RGBImage, x: number, y: number, w: number, h: number, t: number, rgb: RGB): void {
  fillRect(img, x, y, w, t, rgb);
  fillRect(img, x, y + h - t, w, t, rgb);
  fillRect(img, x, y, t, h, rgb);
  fillRect(img, x + w - t, y, t, h, rgb);
}
