/**
 * Colours shared by every display, so a modality or a probability looks the same in a Plotly figure,
 * the live decoding view and a PNG.
 */
import type { Modality } from '../tokenizer';
import type { RGB } from '../image/types';

export type { RGB };

/** One colour per modality (Plotly's default blue, orange and grey). */
export const MODALITY_COLORS: Record<Modality, string> = {
  text: '#1f77b4',
  image: '#ff7f0e',
  special: '#7f7f7f',
};

export const MODALITIES: readonly Modality[] = ['text', 'image', 'special'];

// Plotly's 'Viridis' colour scale, so static SVG heatmaps match the Plotly ones.
const VIRIDIS = [
  '#440154', '#48186a', '#472d7b', '#424086', '#3b528b', '#33638d', '#2c728e', '#26828e', '#21918c',
  '#1fa088', '#28ae80', '#3fbc73', '#5ec962', '#84d44b', '#addc30', '#d8e219', '#fde725',
].map(hexToRgb);
const VIRIDIS_AT = VIRIDIS.map((_, i) => Math.min(1, (i * 16) / 255));

export function hexToRgb(hex: string): RGB {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

export function rgbToHex([r, g, b]: RGB): string {
  return `#${((1 << 24) | (r << 16) | (g << 8) | b).toString(16).slice(1)}`;
}

/** Viridis at t ∈ [0, 1] (clamped; NaN → the low end). */
export function viridis(t: number): RGB {
  const x = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  let i = 1;
  while (i < VIRIDIS_AT.length - 1 && VIRIDIS_AT[i] < x) i++;
  const a = VIRIDIS_AT[i - 1];
  const f = (x - a) / (VIRIDIS_AT[i] - a);
  const lo = VIRIDIS[i - 1];
  const hi = VIRIDIS[i];
  return [0, 1, 2].map((c) => Math.round(lo[c] + f * (hi[c] - lo[c]))) as RGB;
}

/** A fixed colour per image code: a hash of the code picks hue, saturation and lightness. */
export function codeColor(code: number): RGB {
  let h = Math.imul(code ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  const hue = (h >>> 0) % 360;
  const sat = 0.45 + ((h >>> 9) % 40) / 100; // 0.45–0.84
  const light = 0.35 + ((h >>> 17) % 35) / 100; // 0.35–0.69
  return hslToRgb(hue, sat, light);
}

function hslToRgb(h: number, s: number, l: number): RGB {
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs(((h / 60) % 2) - 1));
  const m = l - c / 2;
  const [r, g, b] = h < 60 ? [c, x, 0] : h < 120 ? [x, c, 0] : h < 180 ? [0, c, x] : h < 240 ? [0, x, c] : h < 300 ? [x, 0, c] : [c, 0, x];
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}
