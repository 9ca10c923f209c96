/**
 * The image being generated, filled patch by patch: each image code paints its grid cell with its
 * palette colour at once, and an RGB patch from the kernel's decoder (when it has one) replaces it.
 */
import type { GridPos } from '../../kernel-lib/server/protocol';
import type { Patch } from '../../kernel-lib/server/frames';
import { codeColor, css } from './colors';
import { h, hiDpiCanvas } from './dom';

const SIZE = 180;

export class ImageCanvas {
  readonly root: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  private readonly caption: HTMLElement;
  private ctx: CanvasRenderingContext2D;
  private gh = 1;
  private gw = 1;
  private image = -1;
  private filled = 0;

  constructor() {
    this.canvas = h('canvas', { class: 'sbw-image', 'data-patches': 0 });
    this.caption = h('div', { class: 'sbw-caption', text: 'no image yet' });
    this.root = h('div', { class: 'sbw-panel' }, h('div', { class: 'sbw-panel-title', text: 'Image' }), this.canvas, this.caption);
    this.ctx = hiDpiCanvas(this.canvas, SIZE, SIZE);
    this.clear();
  }

  configure(grid: { height: number; width: number } | null): void {
    this.gh = grid?.height ?? 1;
    this.gw = grid?.width ?? 1;
    this.root.hidden = grid === null;
    this.reset();
  }

  reset(): void {
    this.image = -1;
    this.clear();
    this.caption.textContent = 'no image yet — tick “start with image”, or let the model open one';
  }

  /** A generated code at its grid position. */
  paintCode(pos: GridPos, code: number): void {
    this.begin(pos.image);
    const [x, y, w, hh] = this.cell(pos.row, pos.col);
    this.ctx.fillStyle = css(codeColor(code));
    this.ctx.fillRect(x, y, w, hh);
    this.count();
  }

  /** Decoded pixels for a cell (drawn scaled, without smoothing, over the palette colour). */
  paintPatch(p: Patch): void {
    if (p.height === 0 || p.width === 0) return;
    const tile = document.createElement('canvas');
    tile.width = p.width;
    tile.height = p.height;
    const tctx = tile.getContext('2d');
    if (!tctx) return;
    const img = tctx.createImageData(p.width, p.height);
    for (let i = 0; i < p.width * p.height; i++) img.data.set([p.rgb[3 * i], p.rgb[3 * i + 1], p.rgb[3 * i + 2], 255], 4 * i);
    tctx.putImageData(img, 0, 0);
    const [x, y, w, hh] = this.cell(p.row, p.col);
    this.ctx.imageSmoothingEnabled = false;
    this.ctx.drawImage(tile, x, y, w, hh);
    this.canvas.dataset.rgbPatches = String(Number(this.canvas.dataset.rgbPatches ?? 0) + 1);
  }

  private begin(image: number): void {
    if (image === this.image) return;
    this.image = image; // a new image replaces the previous one
    this.clear();
    this.caption.textContent = `image ${image} · ${this.gw}×${this.gh} codes`;
  }

  private count(): void {
    this.filled++;
    this.canvas.dataset.patches = String(this.filled);
    this.caption.textContent = `image ${this.image} · ${this.filled} / ${this.gw * this.gh} patches`;
  }

  private cell(row: number, col: number): [number, number, number, number] {
    const w = SIZE / this.gw;
    const hh = SIZE / this.gh;
    return [col * w, row * hh, Math.ceil(w), Math.ceil(hh)];
  }

  private clear(): void {
    this.filled = 0;
    this.canvas.dataset.patches = '0';
    this.canvas.dataset.rgbPatches = '0';
    const c = this.ctx;
    c.fillStyle = '#f9fafb';
    c.fillRect(0, 0, SIZE, SIZE);
    c.strokeStyle = '#e5e7eb';
    c.lineWidth = 1;
    for (let i = 1; i < this.gw; i++) line(c, (i * SIZE) / this.gw, 0, (i * SIZE) / this.gw, SIZE);
    for (let i = 1; i < this.gh; i++) line(c, 0, (i * SIZE) / this.gh, SIZE, (i * SIZE) / this.gh);
  }
}

function line(c: CanvasRenderingContext2D, x0: number, y0: number, x1: number, y1: number): void {
  c.beginPath();
  c.moveTo(Math.round(x0) + 0.5, Math.round(y0) + 0.5);
  c.lineTo(Math.round(x1) + 0.5, Math.round(y1) + 0.5);
  c.stroke();
}
