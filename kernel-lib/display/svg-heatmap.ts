/**
 * A static SVG heatmap (Viridis, like the Plotly figures) for views that must stay readable with no
 * script at all: the live decoding view, whose last frame is what a saved notebook keeps.
 */
import { rgbToHex, viridis } from './colors';
import { escapeHtml } from './html';

export interface SvgHeatmapOptions {
  /** rows × columns values. */
  z: number[][];
  /** Value at the top of the colour scale (default 1). */
  zmax?: number;
  cellWidth?: number;
  cellHeight?: number;
  rowLabels?: string[];
  colLabels?: string[];
  /** Cells outlined (e.g. the chosen experts), as [row, col]. */
  marks?: [number, number][];
  /** Tooltip per cell. */
  cellTitle?: (row: number, col: number) => string;
}

export function svgHeatmap(o: SvgHeatmapOptions): string {
  const R = o.z.length;
  const C = o.z[0]?.length ?? 0;
  const cw = o.cellWidth ?? 22;
  const ch = o.cellHeight ?? 18;
  const zmax = o.zmax ?? 1;
  const left = o.rowLabels ? 8 + 7 * Math.max(...o.rowLabels.map((s) => s.length)) : 0;
  const top = o.colLabels ? 16 : 0;
  const W = left + C * cw + 2;
  const H = top + R * ch + 2;
  const parts: string[] = [];
  const showEvery = Math.max(1, Math.ceil(22 / cw)); // column labels need ~22 px each
  o.colLabels?.forEach((s, c) => {
    if (c % showEvery === 0) parts.push(`<text x="${left + c * cw + cw / 2}" y="11" text-anchor="middle">${escapeHtml(s)}</text>`);
  });
  o.rowLabels?.forEach((s, r) => parts.push(`<text x="${left - 4}" y="${top + r * ch + ch / 2 + 4}" text-anchor="end">${escapeHtml(s)}</text>`));
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      const v = o.z[r][c];
      const fill = rgbToHex(viridis(v / zmax));
      const tip = o.cellTitle ? `<title>${escapeHtml(o.cellTitle(r, c))}</title>` : '';
      parts.push(`<rect x="${left + c * cw}" y="${top + r * ch}" width="${cw}" height="${ch}" fill="${fill}">${tip}</rect>`);
    }
  }
  for (const [r, c] of o.marks ?? []) {
    parts.push(`<rect x="${left + c * cw + 1}" y="${top + r * ch + 1}" width="${cw - 2}" height="${ch - 2}" fill="none" stroke="#ff2d55" stroke-width="2"/>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="10" fill="#333">${parts.join('')}</svg>`;
}

/** A horizontal Viridis legend bar, 0 … zmax. */
export function svgColorbar(label: string, zmax = 1, width = 120): string {
  const stops = Array.from({ length: 11 }, (_, i) => `<stop offset="${i * 10}%" stop-color="${rgbToHex(viridis(i / 10))}"/>`).join('');
  const id = `sbcb${Math.random().toString(36).slice(2, 8)}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width + 70}" height="14" font-family="sans-serif" font-size="10" fill="#333">` +
    `<defs><linearGradient id="${id}">${stops}</linearGradient></defs>` +
    `<text x="0" y="10">0</text><rect x="10" y="2" width="${width}" height="9" fill="url(#${id})"/>` +
    `<text x="${width + 14}" y="10">${zmax} ${escapeHtml(label)}</text></svg>`;
}
