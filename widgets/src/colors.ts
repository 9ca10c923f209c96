/** Colours: a perceptual scale for probabilities and a fixed palette for image codes. */

/** Viridis at a few stops, linearly interpolated; t in [0, 1]. */
const VIRIDIS: [number, number, number][] = [
  [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37],
];

export function viridis(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i];
  const b = VIRIDIS[i + 1];
  return [0, 1, 2].map((k) => Math.round(a[k] + f * (b[k] - a[k]))) as [number, number, number];
}

export const css = ([r, g, b]: [number, number, number]): string => `rgb(${r},${g},${b})`;

/**
 * The colour of image code `code`: a hash of the code picks hue, saturation and lightness, so
 * neighbouring codes differ and a code is always the same colour. The same function as
 * kernel-lib/display/colors.ts `codeColor`, so a code looks the same here and in liveDecode.
 */
export function codeColor(code: number): [number, number, number] {
  let h = Math.imul(code ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  const hue = (h >>> 0) % 360;
  const sat = 0.45 + ((h >>> 9) % 40) / 100; // 0.45–0.84
  const light = 0.35 + ((h >>> 17) % 35) / 100; // 0.35–0.69
  return hslToRgb(hue, sat, light);
}

function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const hp = h / 60;
  const x = c * (1 - Math.abs((hp % 2) - 1));
  const [r, g, b] = hp < 1 ? [c, x, 0] : hp < 2 ? [x, c, 0] : hp < 3 ? [0, c, x] : hp < 4 ? [0, x, c] : hp < 5 ? [x, 0, c] : [c, 0, x];
  const m = l - c / 2;
  return [r, g, b].map((v) => Math.round((v + m) * 255)) as [number, number, number];
}

/** Modality colours, as kernel-lib/display/colors.ts MODALITY_COLORS (Plotly's blue, orange, grey). */
export const MODALITY_COLOR = { text: '#1f77b4', image: '#ff7f0e', special: '#7f7f7f' } as const;
